/**
 * The RA-TLS format's small contract, shared by the enclave that makes certificates and everyone who reads
 * them: the quote extension's OID, where report_data sits in a quote and how it binds the certificate key
 * and the enclave's X25519 key, the quote size bounds, a SAN's canonical text, PEM. No certificate parsing
 * here (that is `read.ts`, which the enclave bootstrap never loads): only Node's crypto.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { InputError } from '../errors.js';

/** X.509 extension carrying the raw SGX quote (Cosmian/Intel RA-TLS). */
export const SGX_QUOTE_EXTENSION_OID = '1.2.840.113741.1337.6';
/** Offset of report_data in an SGX ECDSA quote (48-byte header + 320 bytes into the report body). */
export const QUOTE_REPORT_DATA_OFFSET = 368;
/** Size of report_data. */
export const REPORT_DATA_SIZE = 64;
/** Shortest quote from which report_data can be read (header + report body). */
export const MIN_QUOTE_SIZE = 432;
/** Largest quote accepted in a certificate (DCAP quotes with their PCK chain are about 5 KiB). */
export const MAX_QUOTE_SIZE = 64 * 1024;

/** The uncompressed point (0x04 ‖ X ‖ Y) of a P-256 key; throws `InputError` for any other key. */
export function p256PublicPoint(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ec' || pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InputError('ERR_RATLS_KEY_TYPE', 'the RA-TLS key must be an ECDSA P-256 (prime256v1) key', {
      hint: "Generate it with crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).",
    });
  }
  const jwk = pub.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  if (x.length !== 32 || y.length !== 32) throw new InputError('ERR_RATLS_KEY_TYPE', 'malformed P-256 public key');
  return new Uint8Array(Buffer.concat([Buffer.of(4), x, y]));
}

/** report_data an enclave asks its quote for: SHA-256(RA-TLS point) ‖ X25519 public key (64 bytes). */
export function ratlsReportData(ratlsPublicKey: KeyObject, x25519PublicKey: Uint8Array): Uint8Array {
  if (x25519PublicKey.length !== 32) {
    throw new InputError('ERR_X25519_KEY_LENGTH', `X25519 public key is ${x25519PublicKey.length} bytes, expected 32`);
  }
  const hash = createHash('sha256').update(p256PublicPoint(ratlsPublicKey)).digest();
  return new Uint8Array(Buffer.concat([hash, x25519PublicKey]));
}

/**
 * Canonical text of a SAN for comparisons: IP addresses in their shortest standard form (IPv6 compressed,
 * lowercase), DNS names lowercased. Returns the input unchanged if it is neither.
 */
export function normalizeSan(san: string): string {
  const v = isIP(san);
  if (v === 4) return san;
  if (v === 6) return new URL(`http://[${san}]/`).hostname.slice(1, -1);
  return san.toLowerCase();
}

/** PEM of one certificate: 64-column base64 and a trailing newline. */
export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}
