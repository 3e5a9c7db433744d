/**
 * Certificates and CRLs for the simulated platform, built with @peculiar/asn1-x509 and signed with Node's
 * native ECDSA. The profiles mirror Intel's PCS PKI (see docs/simulation.md): ECDSA P-256 / SHA-256
 * everywhere; CA serial numbers equal to their subject key identifier; AKI, CRL distribution point, SKI,
 * critical KeyUsage and BasicConstraints in Intel's order; X.509 v2 CRLs with CRL Number and AKI.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificateList,
  CRLDistributionPoints,
  CRLNumber,
  CRLReason,
  CRLReasons,
  DistributionPoint,
  DistributionPointName,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  RevokedCertificate,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertList,
  TBSCertificate,
  Time,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { positiveIntegerBytes } from './der.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

/** A distinguished name as ordered (attribute OID, UTF8String value) pairs, one RDN each. */
export type DnSpec = readonly { oid: string; value: string }[];

export const dn = (cn: string, o: string): DnSpec => [
  { oid: OID_CN, value: cn },
  { oid: OID_O, value: o },
];

function buildName(spec: DnSpec): Name {
  return new Name(
    spec.map(
      (a) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({ type: a.oid, value: new AttributeValue({ utf8String: a.value }) }),
        ]),
    ),
  );
}

const toBuf = (ab: ArrayBuffer | Uint8Array): Buffer =>
  ab instanceof Uint8Array ? Buffer.from(ab.buffer, ab.byteOffset, ab.byteLength) : Buffer.from(ab);

const ab = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;

function ext(oid: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  return new Uint8Array(createHash('sha1').update(toBuf(spki.subjectPublicKey)).digest());
}

function ecdsaSha256Der(data: Uint8Array, key: KeyObject): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key, dsaEncoding: 'der' }));
}

export interface CertificateSpec {
  /** Raw big-endian serial; made a canonical positive INTEGER. */
  serial: Uint8Array;
  subject: DnSpec;
  issuer: DnSpec;
  notBefore: Date;
  notAfter: Date;
  subjectPublicKey: KeyObject;
  /** Key identifier of the issuer (AKI); equals the subject's own SKI for a self-signed root. */
  authorityKeyId: Uint8Array;
  crlDistributionPoint: string;
  /** CA certificates: pathLen; leaf: undefined. */
  ca?: { pathLen: number };
  /** Extra non-critical extensions appended after Intel's standard ones (the SGX extension). */
  extraExtensions?: { oid: string; value: Uint8Array }[];
  issuerKey: KeyObject;
}

/** Build and sign an X.509 v3 certificate; returns its DER. */
export function buildCertificate(spec: CertificateSpec): Uint8Array {
  const sigAlg = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const ski = keyIdentifier(spec.subjectPublicKey);
  const extensions = new Extensions([
    ext(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ab(spec.authorityKeyId)) }),
    ),
    ext(
      id_ce_cRLDistributionPoints,
      false,
      new CRLDistributionPoints([
        new DistributionPoint({
          distributionPoint: new DistributionPointName({
            fullName: [new GeneralName({ uniformResourceIdentifier: spec.crlDistributionPoint })],
          }),
        }),
      ]),
    ),
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ab(ski))),
    ext(
      id_ce_keyUsage,
      true,
      new KeyUsage(
        spec.ca
          ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign
          : KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation,
      ),
    ),
    ext(
      id_ce_basicConstraints,
      true,
      spec.ca
        ? new BasicConstraints({ cA: true, pathLenConstraint: spec.ca.pathLen })
        : new BasicConstraints({ cA: false }),
    ),
  ]);
  for (const e of spec.extraExtensions ?? []) {
    extensions.push(new Extension({ extnID: e.oid, critical: false, extnValue: new OctetString(ab(e.value)) }));
  }
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(positiveIntegerBytes(spec.serial)),
    signature: sigAlg,
    issuer: buildName(spec.issuer),
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: buildName(spec.subject),
    subjectPublicKeyInfo: AsnConvert.parse(
      spec.subjectPublicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    ),
    extensions,
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: sigAlg,
    signatureValue: ab(ecdsaSha256Der(tbsDer, spec.issuerKey)),
  });
  const der = new Uint8Array(AsnConvert.serialize(cert));
  // The signature covers tbsDer; make sure re-serialization inside Certificate produced the same bytes.
  if (!toBuf(der).includes(toBuf(tbsDer))) throw new Error('internal: TBSCertificate re-serialized differently');
  return der;
}

export interface CrlSpec {
  issuer: DnSpec;
  issuerKey: KeyObject;
  authorityKeyId: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
  /** Revoked serials (raw big-endian), all with reason keyCompromise and revocationDate = thisUpdate. */
  revoked?: readonly Uint8Array[];
}

/** Build and sign an X.509 v2 CRL; returns its DER. */
export function buildCrl(spec: CrlSpec): Uint8Array {
  const sigAlg = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const revoked = (spec.revoked ?? []).map(
    (serial) =>
      new RevokedCertificate({
        userCertificate: ab(positiveIntegerBytes(serial)),
        revocationDate: new Time(spec.thisUpdate),
        crlEntryExtensions: [ext(id_ce_cRLReasons, false, new CRLReason(CRLReasons.keyCompromise))],
      }),
  );
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: sigAlg,
    issuer: buildName(spec.issuer),
    thisUpdate: new Time(spec.thisUpdate),
    nextUpdate: new Time(spec.nextUpdate),
    revokedCertificates: revoked.length ? revoked : undefined,
    crlExtensions: [
      ext(id_ce_cRLNumber, false, new CRLNumber(spec.crlNumber)),
      ext(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ab(spec.authorityKeyId)) }),
      ),
    ],
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const crl = new CertificateList({
    tbsCertList: tbs,
    signatureAlgorithm: sigAlg,
    signature: ab(ecdsaSha256Der(tbsDer, spec.issuerKey)),
  });
  const der = new Uint8Array(AsnConvert.serialize(crl));
  if (!toBuf(der).includes(toBuf(tbsDer))) throw new Error('internal: TBSCertList re-serialized differently');
  return der;
}

/** PEM armour with 64-column lines, as Intel's PCS serves it. */
export function toPem(der: Uint8Array, label: 'CERTIFICATE' | 'X509 CRL'): string {
  const b64 = toBuf(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Uncompressed-point coordinates X‖Y (64 bytes) of a P-256 public key, as SGX quotes carry them. */
export function rawP256PublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('internal: not a P-256 key');
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  return new Uint8Array(Buffer.concat([x, y]));
}
