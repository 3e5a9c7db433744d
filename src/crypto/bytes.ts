/** Strict decoders for keys and payloads given as text. Each rejects anything non-canonical. */
import { InputError } from '../errors.js';

/** Decode lowercase or uppercase hex of exactly `length` bytes (if given). `what` names the value in errors. */
export function decodeHex(text: string, what: string, lengths?: number[]): Buffer {
  const t = text.trim();
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) {
    throw new InputError('ERR_BAD_HEX', `${what} is not valid hex`, {
      hint: 'Expected an even number of characters 0-9, a-f.',
    });
  }
  const bytes = Buffer.from(t, 'hex');
  if (lengths && !lengths.includes(bytes.length)) {
    throw new InputError('ERR_KEY_LENGTH', `${what} is ${bytes.length} bytes, expected ${lengths.join(' or ')}`, {
      hint: `Give ${lengths.map((l) => l * 2).join(' or ')} hex characters.`,
    });
  }
  return bytes;
}

const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const B64STD = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decode base64 strictly: the given alphabet only, padding optional but correct when present, and the
 * encoding must be canonical (re-encoding gives the same text), so two texts never decode to one value.
 */
export function decodeBase64(text: string, what: string, alphabet: 'url' | 'std'): Buffer {
  const re = alphabet === 'url' ? B64URL : B64STD;
  const bad = (): InputError =>
    new InputError('ERR_BAD_BASE64', `${what} is not valid ${alphabet === 'url' ? 'URL-safe ' : ''}base64`);
  if (!re.test(text)) throw bad();
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) throw bad();
  if (text.length !== unpadded.length && text.length % 4 !== 0) throw bad();
  const bytes = Buffer.from(unpadded, alphabet === 'url' ? 'base64url' : 'base64');
  const again = bytes.toString(alphabet === 'url' ? 'base64url' : 'base64').replace(/=+$/, '');
  if (again !== unpadded) throw bad();
  return bytes;
}
