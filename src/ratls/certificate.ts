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
 * This module builds certificates ({@link createRatlsCertificate}, with `@peculiar/asn1-x509`). The reader is
 * `read.ts` (it loads no ASN.1 library, so verification, sealing and the enclave clients stay fast); the
 * constants and key helpers both sides share are `format.ts`. The enclave bootstrap loads this module and
 * `format.ts`, never the reader.
 */
import { randomBytes, sign, type KeyObject } from 'node:crypto';
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
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { InputError } from '../errors.js';
import {
  MAX_QUOTE_SIZE,
  MIN_QUOTE_SIZE,
  SGX_QUOTE_EXTENSION_OID,
  normalizeSan,
  p256PublicPoint,
  toPem,
} from './format.js';
import { parseSubject, subjectToName } from './subject.js';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

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

/** A random positive serial: 16 bytes, top bit clear and second bit set, so the DER INTEGER is minimal. */
function randomSerial(): ArrayBuffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return new Uint8Array(serial).buffer;
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
