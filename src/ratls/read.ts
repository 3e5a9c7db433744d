/**
 * Reading RA-TLS certificates: the self-signed X.509 certificate an enclave serves TLS with, carrying its
 * SGX quote (layout in `certificate.ts`, which builds them; constants and key helpers in `format.ts`). The quote's report_data binds the
 * certificate key: `report_data[0:32] = SHA-256(uncompressed P-256 point, 65 bytes)`,
 * `report_data[32:64]` = the enclave's X25519 public key, to which secrets are sealed.
 *
 * Structure is read by the strict DER reader of `attestation/der.ts` and `attestation/x509.ts`; keys,
 * signatures and hashes come from Node's crypto. This module loads no ASN.1 library, so `verify`, `seal`,
 * `quote show` and the enclave clients stay fast. Parsing is strict (canonical DER only, one certificate,
 * each extension at most once, no unknown critical extension) and only ever throws {@link AttestationError}
 * with stage `ratls`. Parsing the quote itself is the attestation component's job (`parseQuote`); here it
 * is only sliced for report_data.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import { TAG, boolean, children, derFail, nullValue, readRoot, smallInt, type DerContext } from '../attestation/der.js';
import {
  OID,
  publicKeyFromRawP256,
  readCertificateFields,
  readSubjectAltName,
  type AlgorithmIdentifier,
  type CertificateFields,
} from '../attestation/x509.js';
import { AttestationError } from '../errors.js';
import { formatSubject, subjectFromAttributes } from './dn.js';
import {
  MAX_QUOTE_SIZE,
  MIN_QUOTE_SIZE,
  QUOTE_REPORT_DATA_OFFSET,
  REPORT_DATA_SIZE,
  SGX_QUOTE_EXTENSION_OID,
  toPem,
} from './format.js';

/** Largest certificate accepted (quote + X.509 overhead). */
const MAX_CERT_SIZE = MAX_QUOTE_SIZE + 16 * 1024;

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** Critical extensions a reader of RA-TLS certificates understands. */
const KNOWN_CRITICAL = new Set<string>([OID.basicConstraints, OID.keyUsage]);

/** A parsed RA-TLS certificate (see {@link readRatlsCertificate}). */
export interface RatlsCertificate {
  /** Exact DER bytes. */
  der: Uint8Array;
  /** PEM (one `CERTIFICATE` block, 64-column base64, trailing newline). */
  pem: string;
  /** Subject as a canonical RFC 4514 string (equal to the issuer). */
  subject: string;
  /** The single subjectAltName entry: a DNS name or an IP address in its textual form. */
  san: string;
  /** Whether {@link san} is a dNSName or an iPAddress entry. */
  sanType: 'dns' | 'ip';
  /** Serial number, lowercase hex of its big-endian bytes as encoded. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** BasicConstraints cA flag (false when the extension is absent, as in MSE's lib < 2.2). */
  isCa: boolean;
  /** The certificate's P-256 public key. */
  publicKey: KeyObject;
  /** The public key as a 65-byte uncompressed point (0x04 ‖ X ‖ Y). */
  publicKeyPoint: Uint8Array;
  /** Raw quote bytes from extension {@link SGX_QUOTE_EXTENSION_OID}. */
  quote: Uint8Array;
  /** The 64 bytes at quote offset 368. */
  reportData: Uint8Array;
  /** `reportData[32:64]`: the enclave's X25519 public key, the recipient of sealed secrets. */
  x25519PublicKey: Uint8Array;
  /** SHA-256 of {@link der}, lowercase hex. */
  fingerprint: string;
  /** The signed part (DER) and the signature (DER ECDSA-Sig-Value), for {@link verifyRatlsSignature}. */
  tbs: Uint8Array;
  signature: Uint8Array;
}

function ratlsError(code: string, message: string, hint?: string, cause?: unknown): AttestationError {
  return new AttestationError('ratls', code, message, { hint, cause });
}

/** Decode PEM text holding exactly one CERTIFICATE block (and nothing else but whitespace). */
function pemToDer(text: string): Uint8Array {
  const blocks = text.match(/-----BEGIN [^-]+-----/g) ?? [];
  if (blocks.length === 0) {
    throw ratlsError('ERR_RATLS_PEM', 'no "-----BEGIN CERTIFICATE-----" block found', 'Pass a PEM or DER certificate.');
  }
  if (blocks.length > 1) {
    throw ratlsError(
      'ERR_RATLS_PEM',
      `expected exactly one PEM block, found ${blocks.length}`,
      'Pass the RA-TLS certificate alone, not a chain.',
    );
  }
  const m = /^\s*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\s*$/.exec(text);
  if (!m) throw ratlsError('ERR_RATLS_PEM', 'malformed PEM: expected one CERTIFICATE block with base64 content');
  const b64 = m[1]!.replace(/\r?\n/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw ratlsError('ERR_RATLS_PEM', 'malformed PEM: the base64 content is not canonical');
  }
  const der = Buffer.from(b64, 'base64');
  if (der.toString('base64') !== b64) throw ratlsError('ERR_RATLS_PEM', 'malformed PEM: non-canonical base64');
  return new Uint8Array(der);
}

/** Length of the outer DER TLV of `der`, or -1 when it is not a definite-length SEQUENCE header. */
function outerTlvLength(der: Uint8Array): number {
  if (der.length < 2 || der[0] !== 0x30) return -1;
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return -1;
  let len = 0;
  for (let k = 0; k < n; k++) len = len * 256 + der[2 + k]!;
  return 2 + n + len;
}

const DER_CTX: DerContext = { stage: 'ratls', code: 'ERR_RATLS_DER', what: 'malformed RA-TLS certificate' };

/**
 * The version as a number, or undefined when it cannot be one exactly (such a certificate is rejected as
 * malformed, as it always was). DER INTEGER content, two's complement.
 */
function versionNumber(bytes: Uint8Array): number | undefined {
  if (bytes.length > 7) return undefined;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if (bytes[0]! & 0x80) n -= 1n << BigInt(8 * bytes.length);
  const v = Number(n);
  return BigInt(v) === n ? v : undefined;
}

/** The structural checks an ASN.1 round trip made before any RA-TLS rule: NULL parameters have no content. */
function checkNullParameters(alg: AlgorithmIdentifier): void {
  if (alg.parameters?.tag === TAG.NULL) nullValue(alg.parameters, DER_CTX, 'algorithm parameters');
}

/**
 * Parse an RA-TLS certificate (PEM text, PEM bytes, or DER) strictly. Checks the structure only — one
 * canonical DER certificate, v3, self-issued, ECDSA-SHA256 over a P-256 key, exactly one SAN entry (DNS
 * or IP), the quote extension exactly once and long enough to hold report_data, no duplicate or unknown
 * critical extension — not the signature, the dates or the key binding (see {@link checkRatlsBinding}).
 */
export function readRatlsCertificate(pemOrDer: string | Uint8Array): RatlsCertificate {
  let der: Uint8Array;
  if (typeof pemOrDer === 'string') der = pemToDer(pemOrDer);
  else if (pemOrDer instanceof Uint8Array) {
    der = pemOrDer[0] === 0x30 ? new Uint8Array(pemOrDer) : pemToDer(Buffer.from(pemOrDer).toString('latin1'));
  } else throw ratlsError('ERR_RATLS_DER', 'certificate must be PEM text or DER bytes');
  if (der.length > MAX_CERT_SIZE)
    throw ratlsError('ERR_RATLS_DER', `certificate is ${der.length} bytes, more than ${MAX_CERT_SIZE}`);
  const outer = outerTlvLength(der);
  if (outer < 0) throw ratlsError('ERR_RATLS_DER', 'not a DER certificate (no outer SEQUENCE)');
  if (outer !== der.length) {
    throw ratlsError(
      'ERR_RATLS_DER',
      `certificate DER is ${outer} bytes but ${der.length} were given (trailing data or truncation)`,
    );
  }

  // Structure first (every failure ERR_RATLS_DER), then the RA-TLS rules in a fixed order.
  const f: CertificateFields = readCertificateFields(der, DER_CTX, { fractions: true });
  const version = f.version === undefined ? 0 : versionNumber(f.version);
  if (version === undefined) derFail(DER_CTX, 'version is out of range');
  checkNullParameters(f.innerAlgorithm);
  checkNullParameters(f.outerAlgorithm);
  subjectFromAttributes(f.issuer.rdns, DER_CTX, { anyTag: true });
  subjectFromAttributes(f.subject.rdns, DER_CTX, { anyTag: true });

  if (version !== 2) throw ratlsError('ERR_RATLS_VERSION', `certificate is X.509 v${version + 1}, expected v3`);
  if (f.uniqueIds) throw ratlsError('ERR_RATLS_DER', 'certificate has unique identifiers');
  const serial = f.serial.buf.subarray(f.serial.valueStart, f.serial.end);
  if (serial.length === 0 || serial[0]! & 0x80 || serial.every((b) => b === 0)) {
    throw ratlsError('ERR_RATLS_SERIAL', 'certificate serial number is not a positive integer');
  }
  for (const alg of [f.innerAlgorithm, f.outerAlgorithm]) {
    // Absent or NULL parameters, as the reader has always accepted.
    if (alg.oid !== OID.ecdsaWithSha256 || (alg.parameters && alg.parameters.tag !== TAG.NULL)) {
      throw ratlsError('ERR_RATLS_SIGNATURE_ALGORITHM', `signature algorithm ${alg.oid} is not ecdsa-with-SHA256`);
    }
  }
  if (!Buffer.from(f.issuer.der).equals(f.subject.der))
    throw ratlsError('ERR_RATLS_NOT_SELF_ISSUED', 'certificate issuer differs from its subject');
  if (f.subject.rdns.length === 0) throw ratlsError('ERR_RATLS_SUBJECT', 'certificate subject is empty');
  const subjectRdns = subjectFromAttributes(f.subject.rdns, DER_CTX);

  // Key: ECDSA P-256, uncompressed point.
  const spkiAlg = f.spki.algorithm;
  if (
    spkiAlg.oid !== OID.ecPublicKey ||
    spkiAlg.parameters?.tag !== TAG.OID ||
    !Buffer.from(spkiAlg.parameters.buf.subarray(spkiAlg.parameters.start, spkiAlg.parameters.end)).equals(
      DER_OID_PRIME256V1,
    )
  ) {
    throw ratlsError('ERR_RATLS_KEY_TYPE', 'certificate key is not an ECDSA P-256 key');
  }
  const point = new Uint8Array(f.spki.key);
  if (point.length !== 65 || point[0] !== 0x04)
    throw ratlsError('ERR_RATLS_KEY_TYPE', 'certificate key is not an uncompressed P-256 point');
  const publicKey = publicKeyFromRawP256(point, 'ratls', 'ERR_RATLS_KEY_TYPE', 'the certificate key');

  // Extensions.
  const seen = new Set<string>();
  let quote: Uint8Array | undefined;
  let san: { value: string; type: 'dns' | 'ip' } | undefined;
  let isCa = false;
  for (const ext of f.extensions ?? []) {
    if (seen.has(ext.oid))
      throw ratlsError('ERR_RATLS_DUPLICATE_EXTENSION', `extension ${ext.oid} appears more than once`);
    seen.add(ext.oid);
    if (ext.critical && !KNOWN_CRITICAL.has(ext.oid)) {
      throw ratlsError('ERR_RATLS_CRITICAL_EXTENSION', `unknown critical extension ${ext.oid}`);
    }
    if (ext.oid === SGX_QUOTE_EXTENSION_OID) {
      if (ext.critical) throw ratlsError('ERR_RATLS_CRITICAL_EXTENSION', 'the quote extension must not be critical');
      quote = new Uint8Array(ext.value);
    } else if (ext.oid === OID_SUBJECT_ALT_NAME) {
      san = readSan(ext.value);
    } else if (ext.oid === OID.basicConstraints) {
      isCa = readBasicConstraints(ext.value);
    }
  }
  if (!quote) {
    throw ratlsError(
      'ERR_RATLS_NO_QUOTE',
      `certificate has no SGX quote extension (${SGX_QUOTE_EXTENSION_OID})`,
      'This is not an RA-TLS certificate.',
    );
  }
  if (quote.length < MIN_QUOTE_SIZE || quote.length > MAX_QUOTE_SIZE) {
    throw ratlsError(
      'ERR_RATLS_QUOTE_SIZE',
      `quote in the certificate is ${quote.length} bytes, expected ${MIN_QUOTE_SIZE} to ${MAX_QUOTE_SIZE}`,
    );
  }
  if (!san) throw ratlsError('ERR_RATLS_SAN', 'certificate has no subjectAltName extension');

  const reportData = quote.slice(QUOTE_REPORT_DATA_OFFSET, QUOTE_REPORT_DATA_OFFSET + REPORT_DATA_SIZE);
  return {
    der,
    pem: toPem(der),
    subject: formatSubject(subjectRdns),
    san: san.value,
    sanType: san.type,
    serialNumber: Buffer.from(serial).toString('hex'),
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    isCa,
    publicKey,
    publicKeyPoint: point,
    quote,
    reportData,
    x25519PublicKey: reportData.slice(32, 64),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    tbs: new Uint8Array(f.tbs),
    signature: new Uint8Array(f.signature),
  };
}

/** DER of the OBJECT IDENTIFIER prime256v1 (1.2.840.10045.3.1.7), the EC key's curve parameter. */
const DER_OID_PRIME256V1 = Buffer.from('06082a8648ce3d030107', 'hex');

const SAN_CTX: DerContext = { stage: 'ratls', code: 'ERR_RATLS_SAN', what: 'malformed subjectAltName extension' };

function readSan(v: Uint8Array): { value: string; type: 'dns' | 'ip' } {
  const names = readSubjectAltName(v, SAN_CTX);
  if (names.length !== 1)
    throw ratlsError('ERR_RATLS_SAN', `certificate has ${names.length} subjectAltName entries, expected exactly one`);
  const name = names[0]!;
  if (name.constructed || (name.tag !== 2 && name.tag !== 7)) {
    throw ratlsError('ERR_RATLS_SAN', 'the subjectAltName entry is neither a DNS name nor an IP address');
  }
  // dNSName is an IA5String: each byte one character, unchecked (as always read; never equal to a valid name).
  if (name.tag === 2) return { value: Buffer.from(name.value).toString('latin1'), type: 'dns' };
  if (name.value.length === 4) return { value: name.value.join('.'), type: 'ip' };
  if (name.value.length === 16) return { value: formatIpv6(name.value), type: 'ip' };
  throw ratlsError('ERR_RATLS_SAN', 'the subjectAltName IP address is malformed');
}

/**
 * IPv6 text as RA-TLS SANs have always been shown: groups in lowercase hex without leading zeros, the first
 * longest run of two or more zero groups written `::`, no embedded IPv4 form (`::ffff:a01:203`).
 */
function formatIpv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const BC_CTX: DerContext = { stage: 'ratls', code: 'ERR_RATLS_DER', what: 'malformed BasicConstraints extension' };

/**
 * BasicConstraints `SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }`, read as
 * RA-TLS certificates always were: an explicit cA FALSE (non-DER, written by some encoders) and a path
 * length without cA both mean "not a CA".
 */
function readBasicConstraints(v: Uint8Array): boolean {
  const fields = children(readRoot(v, BC_CTX, TAG.SEQUENCE), BC_CTX, 'basicConstraints');
  let i = 0;
  let ca = false;
  if (fields[i]?.tag === TAG.BOOLEAN) ca = boolean(fields[i++]!, BC_CTX, 'cA');
  if (fields[i]) smallInt(fields[i++]!, BC_CTX, 'pathLenConstraint');
  if (i !== fields.length) derFail(BC_CTX, 'basicConstraints has unexpected fields');
  return ca;
}

function asCertificate(cert: RatlsCertificate | string | Uint8Array): RatlsCertificate {
  return typeof cert === 'string' || cert instanceof Uint8Array ? readRatlsCertificate(cert) : cert;
}

/** Check that the certificate's signature verifies with its own public key (self-signed). */
export function verifyRatlsSignature(cert: RatlsCertificate): void {
  let ok: boolean;
  try {
    ok = verify('sha256', cert.tbs, cert.publicKey, cert.signature);
  } catch {
    ok = false; // a malformed DER signature
  }
  if (!ok) {
    throw ratlsError(
      'ERR_RATLS_SIGNATURE',
      'the RA-TLS certificate signature does not verify with its own key',
      'The certificate was altered after it was signed.',
    );
  }
}

/** Check that `at` lies within [notBefore, notAfter] (both inclusive, as RFC 5280 says). */
export function checkRatlsValidity(cert: RatlsCertificate, at: Date = new Date()): void {
  const t = at.getTime();
  if (t < cert.notBefore.getTime()) {
    throw ratlsError(
      'ERR_RATLS_NOT_YET_VALID',
      `the RA-TLS certificate is not valid before ${cert.notBefore.toISOString()} (checked at ${at.toISOString()})`,
      'Check the clocks, or pass the verification time explicitly.',
    );
  }
  if (t > cert.notAfter.getTime()) {
    throw ratlsError(
      'ERR_RATLS_EXPIRED',
      `the RA-TLS certificate expired at ${cert.notAfter.toISOString()} (checked at ${at.toISOString()})`,
      'Spawn the enclave again with a later expiration.',
    );
  }
}

/** Check that report_data[0:32] equals SHA-256 of the certificate's 65-byte public key point. */
export function checkRatlsKeyBinding(cert: RatlsCertificate): void {
  const expected = createHash('sha256').update(cert.publicKeyPoint).digest();
  if (!expected.equals(cert.reportData.subarray(0, 32))) {
    throw ratlsError(
      'ERR_RATLS_KEY_BINDING',
      'the quote report_data does not bind the certificate key (SHA-256 of the public key differs from report_data[0:32])',
      'The certificate key was not the one the enclave attested: do not trust this certificate.',
    );
  }
}

/**
 * Full self-consistency check of an RA-TLS certificate: strict parse (when given PEM/DER), signature with
 * its own key, validity at `at` (default now), and the report_data binding of the key. Returns the parsed
 * certificate; throws the first failure as `AttestationError` (stage `ratls`). It does not appraise the quote.
 */
export function checkRatlsBinding(
  cert: RatlsCertificate | string | Uint8Array,
  options: { at?: Date } = {},
): RatlsCertificate {
  const parsed = asCertificate(cert);
  verifyRatlsSignature(parsed);
  checkRatlsValidity(parsed, options.at ?? new Date());
  checkRatlsKeyBinding(parsed);
  return parsed;
}
