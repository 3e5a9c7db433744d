/** Reading a quote given on the command line: raw bytes, hex, base64, or an RA-TLS certificate (PEM/DER). */
import { InputError } from '../errors.js';
import { readUserFile } from '../fs/files.js';
import { readRatlsCertificate } from '../ratls/read.js';

/** Largest quote file read (DCAP quotes with their chain are ~5 KiB; certificates a bit more). */
const MAX_QUOTE_FILE = 1024 * 1024;

export interface QuoteInput {
  bytes: Uint8Array;
  /** How the file was encoded. */
  format: 'binary' | 'hex' | 'base64' | 'ratls-certificate';
}

/** Decode the contents of a quote file; `file` names it in errors. */
export function decodeQuoteFile(raw: Uint8Array, file: string): QuoteInput {
  const buf = Buffer.from(raw);
  // A binary quote starts with two little-endian u16s, version and key type (03 00 02 00 for DCAP v3; EPID
  // v2 is 02 00 0x 00, TDX v5 05 00 02 00): bytes 1 and 3 are zero, which no text encoding (hex, base64,
  // PEM) and no DER certificate (30 8x …) has. Any version is handed to the quote parser, which names an
  // unsupported one (ERR_QUOTE_VERSION_UNSUPPORTED) rather than "not a quote".
  if (buf.length >= 4 && buf[0] !== 0 && buf[1] === 0 && buf[3] === 0) {
    return { bytes: new Uint8Array(buf), format: 'binary' };
  }
  const text = buf.toString('latin1').trim();
  if (text.startsWith('-----BEGIN CERTIFICATE-----')) {
    return { bytes: readRatlsCertificate(text + '\n').quote, format: 'ratls-certificate' };
  }
  // Hex before DER: hex text of a quote starts with '0' (0x30), like a DER SEQUENCE.
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return { bytes: new Uint8Array(Buffer.from(text, 'hex')), format: 'hex' };
  if (buf[0] === 0x30) return { bytes: readRatlsCertificate(new Uint8Array(buf)).quote, format: 'ratls-certificate' };
  const b64 = text.replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(b64) && b64.length % 4 === 0) {
    return { bytes: new Uint8Array(Buffer.from(b64, 'base64')), format: 'base64' };
  }
  throw new InputError('ERR_QUOTE_FILE', `${file} is not a quote (binary, hex or base64) nor an RA-TLS certificate`, {
    hint: 'Pass the raw quote bytes (e.g. from /dev/attestation/quote), its hex or base64, or the enclave certificate.',
  });
}

/** Read a quote file. */
export async function readQuoteFile(file: string): Promise<QuoteInput> {
  return decodeQuoteFile(await readUserFile(file, 'quote file', MAX_QUOTE_FILE), file);
}
