/**
 * RA-TLS certificates: the self-signed X.509 certificate an enclave serves TLS with, carrying its SGX quote.
 *
 * Layout (compatible with Cosmian's MSE): X.509 v3, ECDSA P-256 key, signed with ECDSA-SHA256 by that same
 * key, subject = issuer, random positive serial, exactly one subjectAltName entry (iPAddress when the SAN
 * parses as an IP address, dNSName otherwise), the raw quote bytes as the value of the non-critical
 * extension {@link SGX_QUOTE_EXTENSION_OID}, and BasicConstraints CA=TRUE (critical) so TLS clients accept
 * the certificate as its own trust anchor. The quote's report_data binds the certificate key:
 * `report_data[0:32] = SHA-256(uncompressed P-256 point, 65 bytes)`, `report_data[32:64]` = the enclave's
 * X25519 public key, to which secrets are sealed.
 *
 * ASN.1 structure comes from `@peculiar/asn1-x509`; keys, signatures and hashes from Node's crypto.
 * Parsing is strict (canonical DER only, one certificate, each extension at most once, no unknown critical
 * extension) and only ever throws {@link AttestationError} with stage `ratls`. Parsing the quote itself is
 * the attestation component's job (`parseQuote`); here it is only sliced for report_data.
 */
import { createHash, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { AttestationError, InputError } from '../errors.js';
import { formatSubject, parseSubject, subjectFromName, subjectToName } from './subject.js';

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
/** Largest certificate accepted (quote + X.509 overhead). */
const MAX_CERT_SIZE = MAX_QUOTE_SIZE + 16 * 1024;

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
/** DER of the OBJECT IDENTIFIER prime256v1 (1.2.840.10045.3.1.7), the EC key's curve parameter. */
const DER_OID_PRIME256V1 = Buffer.from('06082a8648ce3d030107', 'hex');
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** Critical extensions a reader of RA-TLS certificates understands. */
const KNOWN_CRITICAL = new Set([id_ce_basicConstraints, id_ce_keyUsage]);

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
  /** Serial number, lowercase hex of its minimal big-endian bytes. */
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

/** Options of {@link createRatlsCertificate}. */
export interface CreateRatlsOptions {
  /** ECDSA P-256 private key; signs the certificate. */
  privateKey: KeyObject;
  /** Its public key; placed in the certificate and bound by the quote. */
  publicKey: KeyObject;
  /** Raw SGX quote (at least {@link MIN_QUOTE_SIZE} bytes). */
  quote: Uint8Array;
  /** RFC 4514 subject, also used as issuer. */
  subject: string;
  /** The single subjectAltName: an IP address or a DNS name. */
  san: string;
  /** Default: now. Truncated to whole seconds. */
  notBefore?: Date;
  /** Truncated to whole seconds; must be after notBefore. */
  notAfter: Date;
}

function ratlsError(code: string, message: string, hint?: string, cause?: unknown): AttestationError {
  return new AttestationError('ratls', code, message, { hint, cause });
}

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

/** A random positive serial: 16 bytes, top bit clear and second bit set, so the DER INTEGER is minimal. */
function randomSerial(): ArrayBuffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return new Uint8Array(serial).buffer;
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

function sanGeneralName(san: string): GeneralName {
  // Node's URL parser canonicalizes IPv6 (including embedded IPv4) into the hex form asn1-x509 encodes.
  if (isIP(san)) return new GeneralName({ iPAddress: normalizeSan(san) });
  // A DNS name, possibly a wildcard or a single label like `localhost`.
  if (
    !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(san)
  ) {
    throw new InputError(
      'ERR_RATLS_SAN_INVALID',
      `subject alternative name ${JSON.stringify(san)} is neither an IP address nor a DNS name`,
      {
        hint: 'Use a host name such as app.example.com or localhost, or an IP address such as 192.0.2.1.',
      },
    );
  }
  if (san.length > 253)
    throw new InputError('ERR_RATLS_SAN_INVALID', 'subject alternative name is longer than 253 characters');
  return new GeneralName({ dNSName: san });
}

function wholeSeconds(date: Date, what: string): Date {
  const t = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(t)) throw new InputError('ERR_RATLS_DATE_INVALID', `${what} is not a valid date`);
  return new Date(Math.floor(t / 1000) * 1000);
}

function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/**
 * Build and self-sign an RA-TLS certificate. The quote is embedded as given; whether it binds the key is
 * checked by {@link checkRatlsBinding}, which callers creating a certificate for real should run on the
 * result. Throws `InputError` for a bad subject, SAN, key, dates or quote size.
 */
export function createRatlsCertificate(opts: CreateRatlsOptions): { pem: string; der: Uint8Array } {
  const { privateKey, publicKey, quote } = opts;
  if (privateKey.type !== 'private') throw new InputError('ERR_RATLS_KEY_TYPE', 'privateKey is not a private key');
  const point = p256PublicPoint(publicKey);
  if (!Buffer.from(p256PublicPoint(privateKey)).equals(point)) {
    throw new InputError('ERR_RATLS_KEY_MISMATCH', 'publicKey does not belong to privateKey');
  }
  if (!(quote instanceof Uint8Array) || quote.length < MIN_QUOTE_SIZE || quote.length > MAX_QUOTE_SIZE) {
    throw new InputError(
      'ERR_RATLS_QUOTE_SIZE',
      `quote is ${quote?.length ?? 0} bytes, expected ${MIN_QUOTE_SIZE} to ${MAX_QUOTE_SIZE}`,
    );
  }
  const notBefore = wholeSeconds(opts.notBefore ?? new Date(), 'notBefore');
  const notAfter = wholeSeconds(opts.notAfter, 'notAfter');
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new InputError(
      'ERR_RATLS_DATE_INVALID',
      `certificate expiry ${notAfter.toISOString()} is not after its start ${notBefore.toISOString()}`,
      { hint: 'Choose an expiration date in the future.' },
    );
  }
  const name = subjectToName(parseSubject(opts.subject));
  const algorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const extensions = new Extensions([
    new Extension({
      extnID: id_ce_subjectAltName,
      critical: false,
      extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName([sanGeneralName(opts.san)]))),
    }),
    new Extension({ extnID: SGX_QUOTE_EXTENSION_OID, critical: false, extnValue: new OctetString(quote) }),
    new Extension({
      extnID: id_ce_basicConstraints,
      critical: true,
      extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: true }))),
    }),
  ]);
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: randomSerial(),
    signature: algorithm,
    issuer: name,
    validity: new Validity({ notBefore, notAfter }),
    subject: name,
    subjectPublicKeyInfo: spki,
    extensions,
  });
  const tbs = Buffer.from(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const cert = new Certificate({
    tbsCertificate,
    signatureAlgorithm: algorithm,
    signatureValue: new Uint8Array(signature).buffer,
  });
  const der = new Uint8Array(AsnConvert.serialize(cert));
  return { pem: toPem(der), der };
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
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch (error) {
    throw ratlsError(
      'ERR_RATLS_DER',
      `malformed certificate DER: ${(error as Error)?.message ?? error}`,
      undefined,
      error,
    );
  }
  let reencoded: Buffer;
  try {
    reencoded = Buffer.from(AsnConvert.serialize(cert));
  } catch (error) {
    throw ratlsError('ERR_RATLS_DER', 'malformed certificate DER', undefined, error);
  }
  if (!reencoded.equals(der)) throw ratlsError('ERR_RATLS_DER', 'certificate is not canonical DER');

  const tbsCert = cert.tbsCertificate;
  if (tbsCert.version !== Version.v3)
    throw ratlsError('ERR_RATLS_VERSION', `certificate is X.509 v${tbsCert.version + 1}, expected v3`);
  if (tbsCert.issuerUniqueID || tbsCert.subjectUniqueID)
    throw ratlsError('ERR_RATLS_DER', 'certificate has unique identifiers');
  const serial = new Uint8Array(tbsCert.serialNumber);
  if (serial.length === 0 || serial[0]! & 0x80 || serial.every((b) => b === 0)) {
    throw ratlsError('ERR_RATLS_SERIAL', 'certificate serial number is not a positive integer');
  }
  for (const alg of [tbsCert.signature, cert.signatureAlgorithm]) {
    if (alg.algorithm !== OID_ECDSA_WITH_SHA256 || alg.parameters != null) {
      throw ratlsError(
        'ERR_RATLS_SIGNATURE_ALGORITHM',
        `signature algorithm ${alg.algorithm} is not ecdsa-with-SHA256`,
      );
    }
  }
  const issuerDer = Buffer.from(AsnConvert.serialize(tbsCert.issuer));
  const subjectDer = Buffer.from(AsnConvert.serialize(tbsCert.subject));
  if (!issuerDer.equals(subjectDer))
    throw ratlsError('ERR_RATLS_NOT_SELF_ISSUED', 'certificate issuer differs from its subject');
  if (tbsCert.subject.length === 0) throw ratlsError('ERR_RATLS_SUBJECT', 'certificate subject is empty');

  // Key: ECDSA P-256, uncompressed point.
  const spkiAlg = tbsCert.subjectPublicKeyInfo.algorithm;
  const curve = spkiAlg.parameters ? Buffer.from(spkiAlg.parameters) : undefined;
  if (spkiAlg.algorithm !== OID_EC_PUBLIC_KEY || !curve?.equals(DER_OID_PRIME256V1)) {
    throw ratlsError('ERR_RATLS_KEY_TYPE', 'certificate key is not an ECDSA P-256 key');
  }
  const point = new Uint8Array(tbsCert.subjectPublicKeyInfo.subjectPublicKey);
  if (point.length !== 65 || point[0] !== 0x04)
    throw ratlsError('ERR_RATLS_KEY_TYPE', 'certificate key is not an uncompressed P-256 point');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({
      key: Buffer.from(AsnConvert.serialize(tbsCert.subjectPublicKeyInfo)),
      format: 'der',
      type: 'spki',
    });
  } catch (error) {
    throw ratlsError('ERR_RATLS_KEY_TYPE', 'certificate key is not a valid P-256 point', undefined, error);
  }

  // Extensions.
  const exts = tbsCert.extensions ?? [];
  const seen = new Set<string>();
  let quote: Uint8Array | undefined;
  let san: { value: string; type: 'dns' | 'ip' } | undefined;
  let isCa = false;
  for (const ext of exts) {
    if (seen.has(ext.extnID))
      throw ratlsError('ERR_RATLS_DUPLICATE_EXTENSION', `extension ${ext.extnID} appears more than once`);
    seen.add(ext.extnID);
    const value = new Uint8Array(ext.extnValue.buffer);
    if (ext.critical && !KNOWN_CRITICAL.has(ext.extnID)) {
      throw ratlsError('ERR_RATLS_CRITICAL_EXTENSION', `unknown critical extension ${ext.extnID}`);
    }
    if (ext.extnID === SGX_QUOTE_EXTENSION_OID) {
      if (ext.critical) throw ratlsError('ERR_RATLS_CRITICAL_EXTENSION', 'the quote extension must not be critical');
      quote = value;
    } else if (ext.extnID === id_ce_subjectAltName) {
      san = readSan(value);
    } else if (ext.extnID === id_ce_basicConstraints) {
      try {
        isCa = AsnConvert.parse(value, BasicConstraints).cA;
      } catch (error) {
        throw ratlsError('ERR_RATLS_DER', 'malformed BasicConstraints extension', undefined, error);
      }
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
  const tbsRaw = cert.tbsCertificateRaw
    ? new Uint8Array(cert.tbsCertificateRaw)
    : new Uint8Array(AsnConvert.serialize(tbsCert));
  return {
    der,
    pem: toPem(der),
    subject: formatSubject(subjectFromName(tbsCert.subject)),
    san: san.value,
    sanType: san.type,
    serialNumber: Buffer.from(serial).toString('hex'),
    notBefore: tbsCert.validity.notBefore.getTime(),
    notAfter: tbsCert.validity.notAfter.getTime(),
    isCa,
    publicKey,
    publicKeyPoint: point,
    quote,
    reportData,
    x25519PublicKey: reportData.slice(32, 64),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    tbs: tbsRaw,
    signature: new Uint8Array(cert.signatureValue),
  };
}

function readSan(value: Uint8Array): { value: string; type: 'dns' | 'ip' } {
  let names: SubjectAlternativeName;
  try {
    names = AsnConvert.parse(value, SubjectAlternativeName);
  } catch (error) {
    throw ratlsError('ERR_RATLS_SAN', 'malformed subjectAltName extension', undefined, error);
  }
  if (names.length !== 1)
    throw ratlsError('ERR_RATLS_SAN', `certificate has ${names.length} subjectAltName entries, expected exactly one`);
  const name = names[0]!;
  if (name.dNSName !== undefined) return { value: name.dNSName, type: 'dns' };
  if (name.iPAddress !== undefined) {
    // asn1-x509 renders 8/32-byte values as CIDR and other lengths as hex: only real addresses pass isIP.
    if (!isIP(name.iPAddress)) throw ratlsError('ERR_RATLS_SAN', 'the subjectAltName IP address is malformed');
    return { value: name.iPAddress, type: 'ip' };
  }
  throw ratlsError('ERR_RATLS_SAN', 'the subjectAltName entry is neither a DNS name nor an IP address');
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
