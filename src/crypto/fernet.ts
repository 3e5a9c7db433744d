/**
 * Fernet (https://github.com/fernet/spec), as Python's `cryptography.fernet` and MSE apps produce it:
 * token = base64url(0x80 ‖ timestamp u64 BE ‖ IV (16) ‖ AES-128-CBC/PKCS#7 ciphertext ‖ HMAC-SHA256 (32)).
 * Key = URL-safe base64 of 32 bytes: signing key ‖ encryption key.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CryptoError, InputError } from '../errors.js';
import { decodeBase64 } from './bytes.js';

export interface FernetKey {
  signingKey: Buffer;
  encryptionKey: Buffer;
}

const VERSION = 0x80;
const HEADER = 1 + 8 + 16;
const MAC = 32;
/** Python's `_MAX_CLOCK_SKEW`. */
const MAX_CLOCK_SKEW_S = 60;

/** Parse a Fernet key (URL-safe base64 of 32 bytes; surrounding whitespace such as a final newline is ignored). */
export function parseFernetKey(text: string, what = 'Fernet key'): FernetKey {
  let bytes: Buffer;
  try {
    bytes = decodeBase64(text.trim(), what, 'url');
  } catch {
    throw new InputError('ERR_FERNET_KEY', `${what} is not URL-safe base64`, {
      hint: 'A Fernet key is 44 characters of URL-safe base64 (32 bytes), e.g. from `mse home keygen --fernet`.',
    });
  }
  if (bytes.length !== 32) {
    throw new InputError('ERR_FERNET_KEY', `${what} decodes to ${bytes.length} bytes, expected 32`, {
      hint: 'A Fernet key is 44 characters of URL-safe base64 (32 bytes), e.g. from `mse home keygen --fernet`.',
    });
  }
  return { signingKey: bytes.subarray(0, 16), encryptionKey: bytes.subarray(16, 32) };
}

/** A fresh Fernet key in its text form. */
export function generateFernetKey(): string {
  return toPaddedBase64Url(randomBytes(32));
}

export interface FernetEncryptOptions {
  /** Seconds since the epoch written in the token; default now. */
  now?: number;
  /** 16-byte IV; default random. Only tests should set it. */
  iv?: Uint8Array;
}

/** Encrypt `plaintext` into a Fernet token (text). */
export function fernetEncrypt(plaintext: Uint8Array, key: FernetKey, options: FernetEncryptOptions = {}): string {
  const iv = options.iv ? Buffer.from(options.iv) : randomBytes(16);
  if (iv.length !== 16) throw new InputError('ERR_FERNET_IV', 'Fernet IV must be 16 bytes');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const header = Buffer.alloc(HEADER);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(now), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
  const body = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', key.signingKey).update(body).digest();
  return toPaddedBase64Url(Buffer.concat([body, mac]));
}

/** Fernet tokens and keys are URL-safe base64 *with* padding, as Python writes them. */
export function toPaddedBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export interface FernetDecryptOptions {
  /** Reject tokens older than this many seconds (and from more than 60 s in the future). Default: no TTL, as MSE. */
  ttlSeconds?: number;
  /** Current time in seconds since the epoch; default now. */
  now?: number;
}

/** Decrypt a Fernet token. Throws a `CryptoError` naming exactly what is wrong. */
export function fernetDecrypt(token: string | Uint8Array, key: FernetKey, options: FernetDecryptOptions = {}): Buffer {
  const text = (typeof token === 'string' ? token : Buffer.from(token).toString('latin1')).trim();
  let data: Buffer;
  try {
    data = decodeBase64(text, 'Fernet token', 'url');
  } catch {
    throw new CryptoError('ERR_FERNET_TOKEN_ENCODING', 'input is not a Fernet token: not URL-safe base64', {
      hint: 'Pass the token exactly as the app returned it.',
    });
  }
  if (data.length < 1 || data[0] !== VERSION) {
    throw new CryptoError('ERR_FERNET_TOKEN_VERSION', 'input is not a Fernet token: wrong version byte');
  }
  if (data.length < HEADER + 16 + MAC) {
    throw new CryptoError(
      'ERR_FERNET_TOKEN_TRUNCATED',
      `Fernet token is ${data.length} bytes, too short to hold a ciphertext`,
      {
        hint: 'The token was truncated.',
      },
    );
  }
  const signed = data.subarray(0, data.length - MAC);
  const expected = createHmac('sha256', key.signingKey).update(signed).digest();
  if (!timingSafeEqual(expected, data.subarray(data.length - MAC))) {
    throw new CryptoError('ERR_FERNET_MAC', 'Fernet token authentication failed: wrong key, or the token was altered', {
      hint: 'Check that the key is the one the app used.',
    });
  }
  const ciphertext = data.subarray(HEADER, data.length - MAC);
  if (ciphertext.length % 16 !== 0) {
    throw new CryptoError('ERR_FERNET_TOKEN_MALFORMED', 'Fernet ciphertext is not a whole number of AES blocks');
  }
  if (options.ttlSeconds !== undefined) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    const ts = Number(data.readBigUInt64BE(1));
    if (ts + options.ttlSeconds < now)
      throw new CryptoError('ERR_FERNET_EXPIRED', `Fernet token expired ${now - ts - options.ttlSeconds} s ago`);
    if (now + MAX_CLOCK_SKEW_S < ts)
      throw new CryptoError(
        'ERR_FERNET_FUTURE',
        'Fernet token timestamp is in the future beyond the allowed clock skew',
      );
  }
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, data.subarray(9, HEADER));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (cause) {
    throw new CryptoError('ERR_FERNET_PADDING', 'Fernet token has invalid padding after authentication', { cause });
  }
}
