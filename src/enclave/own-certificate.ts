/**
 * The enclave's own RA-TLS certificate read back: right after `createRatlsCertificate` made it, and at every
 * restart from the private state (`/key/cert.ratls.pem`). The enclave checks that certificate against what it
 * holds (its RA-TLS key, its X25519 key, its command line), so it reads it with what it already carries:
 * Node's `X509Certificate` (OpenSSL, the parser its TLS server uses on the same PEM) for the signature and
 * the key, and the `@peculiar/asn1-x509` schema the certificate was built with for the fields. It never
 * loads the verifier's strict reader (`ratls/read.ts`, `attestation/x509.ts`), which stays out of the
 * bootstrap bundle; verifiers check these certificates with that reader (docs/architecture.md).
 *
 * Failures are `AttestationError`s of stage `ratls` with the reader's codes (`ERR_RATLS_DER`,
 * `ERR_RATLS_SIGNATURE`, `ERR_RATLS_NOT_YET_VALID`, `ERR_RATLS_EXPIRED`, `ERR_RATLS_KEY_BINDING`).
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { AttestationError } from '../errors.js';
import {
  MAX_QUOTE_SIZE,
  MIN_QUOTE_SIZE,
  QUOTE_REPORT_DATA_OFFSET,
  REPORT_DATA_SIZE,
  SGX_QUOTE_EXTENSION_OID,
  p256PublicPoint,
} from '../ratls/format.js';
import { formatSubject, subjectFromName } from '../ratls/subject.js';

/** The enclave's certificate as read back (the fields its checks and logs use). */
export interface OwnCertificate {
  /** Exact DER bytes. */
  der: Uint8Array;
  /** Subject as a canonical RFC 4514 string. */
  subject: string;
  /** The subjectAltName entry: a DNS name or an IP address. */
  san: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** The 64 bytes of report_data of the quote the certificate carries. */
  reportData: Uint8Array;
  /** `reportData[32:64]`: the X25519 public key secrets are sealed to. */
  x25519PublicKey: Uint8Array;
  /** SHA-256 of {@link der}, lowercase hex. */
  fingerprint: string;
}

function ratlsError(code: string, message: string, cause?: unknown): AttestationError {
  return new AttestationError('ratls', code, message, {
    hint: "The enclave's RA-TLS certificate is not the one it made: remove the deployment and spawn it again.",
    cause,
  });
}

/**
 * Read the enclave's certificate (PEM) and check that it is self-signed by its own key and that its quote
 * binds that key (`report_data[0:32]` = SHA-256 of the key's point). Validity dates are not checked here
 * (see {@link checkOwnCertificateValidity}).
 */
export function readOwnCertificate(pem: string): OwnCertificate {
  let x509: X509Certificate;
  let cert: Certificate;
  try {
    x509 = new X509Certificate(pem);
    cert = AsnConvert.parse(x509.raw, Certificate);
  } catch (cause) {
    throw ratlsError('ERR_RATLS_DER', `malformed RA-TLS certificate: ${(cause as Error).message}`, cause);
  }
  if (!x509.verify(x509.publicKey)) {
    throw ratlsError('ERR_RATLS_SIGNATURE', 'the RA-TLS certificate signature does not verify with its own key');
  }
  const extensions = cert.tbsCertificate.extensions ?? [];
  const extension = (oid: string): Uint8Array | undefined => {
    const found = extensions.filter((e) => e.extnID === oid);
    if (found.length > 1) throw ratlsError('ERR_RATLS_DER', `extension ${oid} appears ${found.length} times`);
    return found[0] ? new Uint8Array(found[0].extnValue.buffer) : undefined;
  };
  const quote = extension(SGX_QUOTE_EXTENSION_OID);
  if (!quote || quote.length < MIN_QUOTE_SIZE || quote.length > MAX_QUOTE_SIZE) {
    throw ratlsError('ERR_RATLS_DER', 'the RA-TLS certificate carries no quote of a valid size');
  }
  const sanValue = extension(id_ce_subjectAltName);
  const names = sanValue ? AsnConvert.parse(sanValue, SubjectAlternativeName) : [];
  const only = names.length === 1 ? names[0] : undefined;
  const san = only?.dNSName ?? only?.iPAddress;
  if (san === undefined) throw ratlsError('ERR_RATLS_DER', 'the RA-TLS certificate has not exactly one DNS or IP SAN');
  const reportData = quote.slice(QUOTE_REPORT_DATA_OFFSET, QUOTE_REPORT_DATA_OFFSET + REPORT_DATA_SIZE);
  const keyHash = createHash('sha256').update(p256PublicPoint(x509.publicKey)).digest();
  if (!keyHash.equals(reportData.subarray(0, 32))) {
    throw ratlsError(
      'ERR_RATLS_KEY_BINDING',
      'the quote report_data does not bind the certificate key (SHA-256 of the public key differs from report_data[0:32])',
    );
  }
  const der = new Uint8Array(x509.raw);
  return {
    der,
    subject: formatSubject(subjectFromName(cert.tbsCertificate.subject)),
    san,
    notBefore: cert.tbsCertificate.validity.notBefore.getTime(),
    notAfter: cert.tbsCertificate.validity.notAfter.getTime(),
    publicKey: x509.publicKey,
    reportData,
    x25519PublicKey: reportData.slice(32, 64),
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

/** Check that `at` lies within the certificate's [notBefore, notAfter] (both inclusive, as RFC 5280 says). */
export function checkOwnCertificateValidity(cert: OwnCertificate, at: Date): void {
  if (at.getTime() < cert.notBefore.getTime()) {
    throw ratlsError(
      'ERR_RATLS_NOT_YET_VALID',
      `the RA-TLS certificate is not valid before ${cert.notBefore.toISOString()}`,
    );
  }
  if (at.getTime() > cert.notAfter.getTime()) {
    throw ratlsError('ERR_RATLS_EXPIRED', `the RA-TLS certificate expired at ${cert.notAfter.toISOString()}`);
  }
}
