/**
 * X.509 certificates and CRLs as SGX DCAP uses them: ECDSA P-256 keys, ecdsa-with-SHA256 signatures,
 * parsed by the strict DER reader in `der.ts` (raw issuer/subject names kept for byte comparison, as
 * Intel's QVL compares them) and verified with Node's native crypto. Parses and signature checks are
 * memoised by content, so verifying the same chain or CRL twice costs a hash lookup.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AttestationError } from '../errors.js';
import { ContentMemo, asBuffer, registerMemo, registerWeakMemo, sha256, toHex } from './bytes.js';
import { bytesOf, immutable } from './frozen.js';
import {
  TAG,
  bitStringBytes,
  boolean,
  children,
  derFail,
  directoryString,
  encoding,
  expectTag,
  integerBytes,
  octetString,
  oid,
  readRoot,
  readTlv,
  sequence,
  smallInt,
  time,
  value,
  type DerContext,
  type Tlv,
} from './der.js';

export const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  crlNumber: '2.5.29.20',
  sgxExtension: '1.2.840.113741.1.13.1',
} as const;

const NAME_LABELS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
};

/** A distinguished name: raw DER (for exact comparison) and a readable RFC 4514-style rendering. */
export interface DistinguishedName {
  der: Uint8Array;
  /** Attributes in encoded order. */
  attributes: { oid: string; value: string }[];
  commonName: string | undefined;
  /** Attributes in encoding order as OpenSSL shows them, e.g. `CN=Intel SGX Root CA,O=Intel Corporation,...`. */
  text: string;
}

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export interface Certificate {
  der: Uint8Array;
  /** The signed bytes (TBSCertificate). */
  tbs: Uint8Array;
  serial: Uint8Array;
  serialHex: string;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** 65-byte uncompressed P-256 point, or undefined for other key types. */
  publicKeyPoint: Uint8Array | undefined;
  signatureAlgorithm: string;
  /** DER ECDSA-Sig-Value. */
  signature: Uint8Array;
  extensions: Extension[];
  /** From BasicConstraints; false when absent. */
  isCa: boolean;
  /** KeyUsage bits (bit 0 = digitalSignature … bit 6 = cRLSign), undefined when absent. */
  keyUsage: number | undefined;
  /** Lowercase hex SHA-256 of the DER. */
  sha256: string;
}

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  issuer: DistinguishedName;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Revoked serial numbers (hex of the minimal DER INTEGER content). */
  revokedSerials: ReadonlySet<string>;
  crlNumber: number | undefined;
  signatureAlgorithm: string;
  signature: Uint8Array;
  sha256: string;
}

export const KEY_USAGE = { digitalSignature: 0x01, keyCertSign: 0x20, cRLSign: 0x40 } as const;

const certMemo = registerMemo<Certificate>(512);
const crlMemo = registerMemo<Crl>(64);
const keyMemo = registerMemo<KeyObject>(512);
/** Signature results for parsed (immutable) certificates and CRLs, per issuer certificate. */
const signedByMemo = registerWeakMemo<Certificate | Crl, WeakMap<Certificate, boolean>>();
/** Signature results over caller-supplied documents: by document bytes, then signature bytes, then signer. */
const docSigMemo = registerMemo<ContentMemo<WeakMap<Certificate, boolean>>>(64);

/**
 * Parse a DER certificate strictly. `what` names it in errors ("PCK leaf certificate"); `stage`/`code` say
 * where the failure belongs in a verdict. Memoised by content: the result is shared and deeply immutable
 * (frozen; dates cannot be moved; every byte field returns a fresh copy), see frozen.ts.
 */
export function parseCertificate(der: Uint8Array, ctx: DerContext): Certificate {
  return certMemo.get(der, (copy) => parseCertificateUncached(copy, ctx));
}

/**
 * The fields of a certificate as encoded, checked for DER framing and ASN.1 structure only (RFC 5280's
 * `Certificate`: tags, field order, minimal lengths, canonical BOOLEANs, OIDs and times) and not for what
 * they say: no version, algorithm or key policy, duplicate extensions kept. {@link parseCertificate} (PCK
 * chains) and the RA-TLS reader each apply their own policy, with their own error codes, on top.
 */
export interface CertificateFields {
  /** The signed bytes (TBSCertificate, whole encoding). */
  tbs: Uint8Array;
  /** Content of the explicit `[0] version` INTEGER (checked minimal), undefined when absent (v1). */
  version: Uint8Array | undefined;
  /** The serialNumber INTEGER element, not checked for minimal encoding (policies differ). */
  serial: Tlv;
  /** TBSCertificate.signature and Certificate.signatureAlgorithm. */
  innerAlgorithm: AlgorithmIdentifier;
  outerAlgorithm: AlgorithmIdentifier;
  issuer: NameFields;
  subject: NameFields;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo: whole encoding, its algorithm, the key bits (BIT STRING with no unused bits). */
  spki: { der: Uint8Array; algorithm: AlgorithmIdentifier; key: Uint8Array };
  /** Whether issuerUniqueID / subjectUniqueID ([1], [2]) are present. */
  uniqueIds: boolean;
  /** `[3]` extensions in encoded order, undefined when absent (may be empty or hold duplicates). */
  extensions: Extension[] | undefined;
  /** The signatureValue BIT STRING content (no unused bits). */
  signature: Uint8Array;
}

/** An AlgorithmIdentifier: the algorithm OID and its parameters element, if any. */
export interface AlgorithmIdentifier {
  oid: string;
  parameters: Tlv | undefined;
  /** Whole encoding. */
  der: Uint8Array;
}

/** A Name as encoded: its whole DER and each RDN's attributes (type OID, value element of any tag). */
export interface NameFields {
  der: Uint8Array;
  rdns: { oid: string; value: Tlv }[][];
}

/** Read a certificate's structure (see {@link CertificateFields}). `timeOptions` is passed to `time`. */
export function readCertificateFields(
  der: Uint8Array,
  ctx: DerContext,
  timeOptions: { fractions?: boolean } = {},
): CertificateFields {
  const root = readRoot(der, ctx, TAG.SEQUENCE);
  const [tbsT, algT, sigT] = sequence(root, ctx, 'Certificate', 3, 3);
  const parts = sequence(tbsT, ctx, 'TBSCertificate', 6, 10);
  let i = 0;
  let version: Uint8Array | undefined;
  if (parts[0].tag === 0xa0) {
    const [v, ...extra] = children(parts[0], ctx, 'version');
    if (!v || extra.length > 0) derFail(ctx, 'version must hold exactly one INTEGER');
    version = integerBytes(v, ctx, 'version');
    // DEFAULT v1 is omitted in DER, never written.
    if (version.length === 1 && version[0] === 0) derFail(ctx, 'version v1 is encoded explicitly (not DER)');
    i = 1;
  }
  const need = (name: string): Tlv => {
    const t = parts[i++];
    if (!t) derFail(ctx, `TBSCertificate ends before ${name}`);
    return t;
  };
  const serial = need('serialNumber');
  expectTag(serial, TAG.INTEGER, ctx, 'serialNumber');
  const innerAlgorithm = readAlgorithmIdentifier(need('signature'), ctx, 'signature');
  const issuer = readName(need('issuer'), ctx, 'issuer');
  const [notBeforeT, notAfterT] = sequence(need('validity'), ctx, 'validity', 2, 2);
  const notBefore = time(notBeforeT, ctx, 'notBefore', timeOptions);
  const notAfter = time(notAfterT, ctx, 'notAfter', timeOptions);
  const subject = readName(need('subject'), ctx, 'subject');
  const spkiT = need('subjectPublicKeyInfo');
  const [spkiAlgT, keyT] = sequence(spkiT, ctx, 'subjectPublicKeyInfo', 2, 2);
  const spki = {
    der: encoding(spkiT),
    algorithm: readAlgorithmIdentifier(spkiAlgT, ctx, 'subjectPublicKeyInfo.algorithm'),
    key: bitStringBytes(keyT, ctx, 'subjectPublicKey'),
  };
  // Optional tail, in this order: [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
  let uniqueIds = false;
  let extensions: Extension[] | undefined;
  let next = 0x81;
  const tail = parts.slice(i);
  for (const [at, t] of tail.entries()) {
    if ((t.tag === 0x81 || t.tag === 0x82) && t.tag >= next) {
      uniqueIds = true;
      next = t.tag + 1;
    } else if (t.tag === 0xa3 && at === tail.length - 1) {
      extensions = readExtensions(
        onlyChild(t, ctx, 'extensions', 'extensions wrapper must hold exactly one SEQUENCE'),
        ctx,
      );
    } else {
      derFail(ctx, `unexpected field with tag 0x${t.tag.toString(16)}`);
    }
  }
  const outerAlgorithm = readAlgorithmIdentifier(algT, ctx, 'signatureAlgorithm');
  const signature = bitStringBytes(sigT, ctx, 'signatureValue');
  return {
    tbs: encoding(tbsT),
    version,
    serial,
    innerAlgorithm,
    outerAlgorithm,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    uniqueIds,
    extensions,
    signature,
  };
}

function parseCertificateUncached(der: Uint8Array, ctx: DerContext): Certificate {
  const f = readCertificateFields(der, ctx);
  if (f.version === undefined) derFail(ctx, 'only X.509 v3 certificates are supported (version field missing)');
  if (f.version.length !== 1 || f.version[0] !== 2) derFail(ctx, 'only X.509 v3 certificates are supported');
  const serial = integerBytes(f.serial, ctx, 'serialNumber');
  const issuer = parseName(f.issuer, ctx, 'issuer');
  const subject = parseName(f.subject, ctx, 'subject');
  const publicKeyPoint = p256Point(f.spki, ctx);
  if (f.uniqueIds) derFail(ctx, 'unique identifiers are not supported');
  const extensions = f.extensions ?? [];
  if (f.extensions?.length === 0) derFail(ctx, 'extensions has 0 elements, expected 1..Infinity');
  const seen = new Set<string>();
  for (const e of extensions) {
    if (seen.has(e.oid)) derFail(ctx, `extension ${e.oid} appears twice`);
    seen.add(e.oid);
  }
  const signatureAlgorithm = checkSignatureAlgorithm(f.outerAlgorithm, ctx, 'signatureAlgorithm');
  if (!sameBytes(f.innerAlgorithm.der, f.outerAlgorithm.der)) {
    derFail(ctx, 'the inner and outer signature algorithms differ');
  }
  let isCa = false;
  let keyUsage: number | undefined;
  for (const e of extensions) {
    if (e.oid === OID.basicConstraints) isCa = parseBasicConstraints(e.value, ctx);
    else if (e.oid === OID.keyUsage) keyUsage = parseKeyUsage(e.value, ctx);
  }
  return immutable({
    der,
    tbs: f.tbs,
    serial,
    serialHex: toHex(serial),
    issuer,
    subject,
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    spki: f.spki.der,
    publicKeyPoint,
    signatureAlgorithm,
    signature: f.signature,
    extensions,
    isCa,
    keyUsage,
    sha256: toHex(sha256(der)),
  });
}

/**
 * Parse a DER CRL (X.509 v2) strictly; `nextUpdate` is required. Memoised by content: the result is shared
 * and deeply immutable (`revokedSerials` is read-only), like {@link parseCertificate}'s.
 */
export function parseCrl(der: Uint8Array, ctx: DerContext): Crl {
  return crlMemo.get(der, (copy) => parseCrlUncached(copy, ctx));
}

function parseCrlUncached(der: Uint8Array, ctx: DerContext): Crl {
  const root = readRoot(der, ctx, TAG.SEQUENCE);
  const [tbsT, algT, sigT] = sequence(root, ctx, 'CertificateList', 3, 3);
  // At least version, signature, issuer and thisUpdate; nextUpdate is checked below.
  const [versionT, innerAlg, issuerT, thisUpdateT, nu, ...tail] = sequence(tbsT, ctx, 'TBSCertList', 4, 7);
  if (versionT.tag !== TAG.INTEGER) derFail(ctx, 'only v2 CRLs are supported (version field missing)');
  if (smallInt(versionT, ctx, 'version') !== 1) derFail(ctx, 'only v2 CRLs are supported');
  const issuer = parseName(readName(issuerT, ctx, 'issuer'), ctx, 'issuer');
  const thisUpdate = time(thisUpdateT, ctx, 'thisUpdate');
  if (!nu || (nu.tag !== TAG.UTC_TIME && nu.tag !== TAG.GENERALIZED_TIME)) derFail(ctx, 'nextUpdate is missing');
  const nextUpdate = time(nu, ctx, 'nextUpdate');
  const revokedSerials = new Set<string>();
  let crlNumber: number | undefined;
  let sawRevoked = false;
  for (const [at, t] of tail.entries()) {
    if (t.tag === TAG.SEQUENCE && !sawRevoked) {
      sawRevoked = true;
      const entries = children(t, ctx, 'revokedCertificates');
      if (entries.length === 0) derFail(ctx, 'revokedCertificates is present but empty');
      entries.forEach((entry, n) => {
        const [serialT, dateT, entryExtensions] = sequence(entry, ctx, `revokedCertificates[${n}]`, 2, 3);
        const serial = toHex(integerBytes(serialT, ctx, `revokedCertificates[${n}].userCertificate`));
        time(dateT, ctx, `revokedCertificates[${n}].revocationDate`);
        if (entryExtensions) parseExtensions(entryExtensions, ctx);
        if (revokedSerials.has(serial)) derFail(ctx, `serial ${serial} is listed twice`);
        revokedSerials.add(serial);
      });
    } else if (t.tag === 0xa0 && at === tail.length - 1) {
      const inner = onlyChild(t, ctx, 'crlExtensions', 'crlExtensions wrapper must hold exactly one SEQUENCE');
      for (const e of parseExtensions(inner, ctx)) {
        if (e.oid === OID.crlNumber) {
          crlNumber = smallInt(readRoot(e.value, ctx), ctx, 'cRLNumber');
        } else if (e.critical && e.oid !== '2.5.29.35') {
          derFail(ctx, `unsupported critical CRL extension ${e.oid}`);
        }
      }
    } else {
      derFail(ctx, `unexpected TBSCertList field with tag 0x${t.tag.toString(16)}`);
    }
  }
  const signatureAlgorithm = checkSignatureAlgorithm(
    readAlgorithmIdentifier(algT, ctx, 'signatureAlgorithm'),
    ctx,
    'signatureAlgorithm',
  );
  if (!sameBytes(encoding(innerAlg), encoding(algT))) derFail(ctx, 'the inner and outer signature algorithms differ');
  const signature = bitStringBytes(sigT, ctx, 'signatureValue');
  return immutable({
    der,
    tbs: encoding(tbsT),
    issuer,
    thisUpdate,
    nextUpdate,
    revokedSerials,
    crlNumber,
    signatureAlgorithm,
    signature,
    sha256: toHex(sha256(der)),
  });
}

/** Read a Name's RDNs without interpreting the values (see {@link NameFields}); RDNs may be empty here. */
export function readName(t: Tlv, ctx: DerContext, name: string): NameFields {
  const rdns = sequence(t, ctx, name).map((rdn, r) => {
    expectTag(rdn, TAG.SET, ctx, `${name} RDN ${r}`);
    return children(rdn, ctx, `${name} RDN ${r}`).map((atv) => {
      const [o, v] = sequence(atv, ctx, `${name} attribute`, 2, 2);
      return { oid: oid(o, ctx, `${name} attribute type`), value: v };
    });
  });
  return { der: encoding(t), rdns };
}

function parseName(n: NameFields, ctx: DerContext, name: string): DistinguishedName {
  const attributes: { oid: string; value: string }[] = [];
  n.rdns.forEach((rdn, r) => {
    if (rdn.length === 0) derFail(ctx, `${name} RDN ${r} is empty`);
    for (const atv of rdn) attributes.push({ oid: atv.oid, value: directoryString(atv.value, ctx, `${name} value`) });
  });
  const cn = attributes.filter((a) => a.oid === OID.commonName);
  if (cn.length > 1) derFail(ctx, `${name} has several common names`);
  const text = attributes
    .map((a) => `${NAME_LABELS[a.oid] ?? a.oid}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`)
    .join(',');
  return { der: n.der, attributes, commonName: cn[0]?.value, text };
}

/** Read an AlgorithmIdentifier: SEQUENCE { OID, parameters ANY OPTIONAL }. */
export function readAlgorithmIdentifier(t: Tlv, ctx: DerContext, name: string): AlgorithmIdentifier {
  const [algorithm, parameters] = sequence(t, ctx, name, 1, 2);
  return { oid: oid(algorithm, ctx, name), parameters, der: encoding(t) };
}

function checkSignatureAlgorithm(alg: AlgorithmIdentifier, ctx: DerContext, name: string): string {
  if (alg.oid !== OID.ecdsaWithSha256) derFail(ctx, `${name} ${alg.oid} is not ecdsa-with-SHA256`);
  if (alg.parameters) derFail(ctx, `${name} must not carry parameters`);
  return alg.oid;
}

/** Returns the uncompressed point for P-256 keys, undefined for other algorithms. */
function p256Point(spki: CertificateFields['spki'], ctx: DerContext): Uint8Array | undefined {
  const { algorithm: alg, key } = spki;
  if (alg.oid !== OID.ecPublicKey) return undefined;
  if (alg.parameters?.tag !== TAG.OID || oid(alg.parameters, ctx, 'curve') !== OID.prime256v1) return undefined;
  if (key.length !== 65 || key[0] !== 0x04) derFail(ctx, 'P-256 public key is not a 65-byte uncompressed point');
  return key;
}

/**
 * Read an Extensions SEQUENCE in encoded order: each `SEQUENCE { OID, critical BOOLEAN DEFAULT FALSE,
 * OCTET STRING }` with `critical` absent or TRUE (DER). Empty lists and duplicates are left to the caller.
 */
export function readExtensions(t: Tlv, ctx: DerContext): Extension[] {
  return sequence(t, ctx, 'extensions').map((e, n) => {
    const [idT, second, third] = sequence(e, ctx, `extension ${n}`, 2, 3);
    const id = oid(idT, ctx, `extension ${n} id`);
    let critical = false;
    if (third) {
      critical = boolean(second, ctx, `extension ${id} critical`);
      if (!critical) derFail(ctx, `extension ${id} encodes critical=FALSE explicitly (not DER)`);
    }
    const v = octetString(third ?? second, ctx, `extension ${id} value`);
    return { oid: id, critical, value: v };
  });
}

/** {@link readExtensions}, at least one, each OID at most once. */
function parseExtensions(t: Tlv, ctx: DerContext): Extension[] {
  const list = readExtensions(t, ctx);
  if (list.length === 0) derFail(ctx, 'extensions has 0 elements, expected 1..Infinity');
  const seen = new Set<string>();
  for (const e of list) {
    if (seen.has(e.oid)) derFail(ctx, `extension ${e.oid} appears twice`);
    seen.add(e.oid);
  }
  return list;
}

/** One GeneralName of a subjectAltName: its context tag number and content (IMPLICIT, so raw). */
export interface GeneralName {
  /** Context tag number: 1 rfc822Name, 2 dNSName, 6 URI, 7 iPAddress, … */
  tag: number;
  constructed: boolean;
  value: Uint8Array;
}

/** Read a subjectAltName extension value (`SEQUENCE OF GeneralName`, canonical DER, nothing after it). */
export function readSubjectAltName(v: Uint8Array, ctx: DerContext): GeneralName[] {
  const root = readRoot(v, ctx, TAG.SEQUENCE);
  return children(root, ctx, 'subjectAltName').map((g, n) => {
    if ((g.tag & 0xc0) !== 0x80) derFail(ctx, `subjectAltName entry ${n} is not a context-tagged GeneralName`);
    return { tag: g.tag & 0x1f, constructed: (g.tag & 0x20) !== 0, value: value(g) };
  });
}

function parseBasicConstraints(v: Uint8Array, ctx: DerContext): boolean {
  const t = readRoot(v, ctx, TAG.SEQUENCE);
  const [first, pathLen, ...extra] = children(t, ctx, 'basicConstraints');
  if (!first) return false;
  if (first.tag === TAG.BOOLEAN) {
    const ca = boolean(first, ctx, 'basicConstraints.cA');
    if (!ca) derFail(ctx, 'basicConstraints encodes cA=FALSE explicitly (not DER)');
    if (extra.length > 0) derFail(ctx, 'basicConstraints has too many fields');
    if (pathLen) smallInt(pathLen, ctx, 'basicConstraints.pathLenConstraint');
    return true;
  }
  derFail(ctx, 'basicConstraints has a path length without cA');
}

function parseKeyUsage(v: Uint8Array, ctx: DerContext): number {
  const t = readRoot(v, ctx, TAG.BIT_STRING);
  const [unused, ...data] = value(t);
  if (unused === undefined || unused > 7 || data.length < 1 || data.length > 2) {
    derFail(ctx, 'keyUsage is not a valid BIT STRING');
  }
  // Bit 0 is the most significant bit of the first content byte; fold to bit n => 1 << n.
  let bits = 0;
  for (const [n, byte] of data.entries()) {
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits |= 1 << (n * 8 + b);
  }
  return bits;
}

/** The single child of a constructed wrapper such as `[3] EXPLICIT`; `detail` is the error otherwise. */
function onlyChild(t: Tlv, ctx: DerContext, name: string, detail: string): Tlv {
  const [only, ...extra] = children(t, ctx, name);
  if (!only || extra.length > 0) derFail(ctx, detail);
  return only;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return asBuffer(a).equals(asBuffer(b));
}

// ---------------------------------------------------------------------------------------------------
// PEM

/**
 * Split PEM text into the DER of each `label` block. Strict: only whitespace between blocks, canonical
 * base64 inside (so a flipped bit that base64 would silently ignore is still caught).
 */
export function pemBlocks(text: string, label: string, ctx: DerContext): Uint8Array[] {
  const out: Uint8Array[] = [];
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  let pos = 0;
  for (;;) {
    while (text[pos] === '\r' || text[pos] === '\n') pos++;
    if (pos >= text.length) break;
    if (!text.startsWith(begin, pos)) {
      derFail(ctx, `expected '${begin}' at character ${pos}, found '${printable(text.slice(pos, pos + 30))}'`);
    }
    const stop = text.indexOf(end, pos + begin.length);
    if (stop < 0) derFail(ctx, `'${begin}' at character ${pos} has no matching '${end}'`);
    const body = text.slice(pos + begin.length, stop);
    if (!/^[\r\n]/.test(body)) derFail(ctx, `no line break after '${begin}'`);
    const b64 = body.replace(/\r?\n/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
      derFail(ctx, `block ${out.length + 1} is not valid base64`);
    }
    const der = Buffer.from(b64, 'base64');
    if (der.toString('base64') !== b64) derFail(ctx, `block ${out.length + 1} is not canonical base64`);
    out.push(new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
    pos = stop + end.length;
  }
  return out;
}

/** Encode DER as one PEM block with 64-character lines. */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = asBuffer(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

// ---------------------------------------------------------------------------------------------------
// Keys and signatures

/**
 * A KeyObject for a P-256 public key given as X‖Y (64 bytes, as in quotes) or as the 65-byte uncompressed
 * point of a certificate (memoised). Imported as JWK: Node decodes that about twice as fast as DER SPKI.
 * Throws when the point is not on the curve.
 */
function p256Key(point: Uint8Array): KeyObject {
  return keyMemo.get(point, (copy) => {
    const xy = copy.length === 65 ? copy.subarray(1) : copy;
    if (xy.length !== 64) throw new Error(`a P-256 public key has 64 coordinate bytes, not ${xy.length}`);
    const b = asBuffer(xy);
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: b.subarray(0, 32).toString('base64url'),
        y: b.subarray(32).toString('base64url'),
      },
      format: 'jwk',
    });
  });
}

/** The KeyObject of a certificate's P-256 key (memoised); throws if it has none or it is invalid. */
export function certificateKey(cert: Certificate): KeyObject {
  const point = bytesOf(cert).publicKeyPoint;
  if (!point) throw new Error(`"${cert.subject.text}" does not have a P-256 key`);
  return p256Key(point);
}

/**
 * A KeyObject for a raw P-256 public key, 64 bytes X‖Y as in quotes (memoised). Throws a typed error when
 * the point is not on the curve.
 */
export function publicKeyFromRawP256(xy: Uint8Array, stage: string, code: string, what: string): KeyObject {
  try {
    return p256Key(xy);
  } catch (error) {
    throw new AttestationError(stage, code, `${what} is not a valid P-256 public key`, { cause: error });
  }
}

/** Verify a raw r‖s (IEEE P1363) ECDSA-P256-SHA256 signature. Never throws. */
export function verifyP1363(data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== 64) return false;
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Verify that `issuer` signed the parsed certificate or CRL `signed` (its TBS and DER ECDSA signature),
 * memoised per (object, issuer). Never throws: a malformed signature is simply invalid.
 */
export function verifySignedBy(signed: Certificate | Crl, issuer: Certificate): boolean {
  if (!bytesOf(issuer).publicKeyPoint) return false;
  let perIssuer = signedByMemo.get(signed);
  if (!perIssuer) perIssuer = signedByMemo.set(signed, new WeakMap());
  const hit = perIssuer.get(issuer);
  if (hit !== undefined) return hit;
  let ok: boolean;
  try {
    const b = bytesOf<Certificate | Crl>(signed);
    ok = cryptoVerify('sha256', b.tbs, certificateKey(issuer), b.signature);
  } catch {
    ok = false;
  }
  perIssuer.set(issuer, ok);
  return ok;
}

/**
 * Verify a raw r‖s signature with a certificate's key. With `memo` (collateral documents, which are
 * static) the result is memoised by content; per-quote signatures pass `memo = false`. Never throws.
 */
export function verifyP1363WithCert(
  data: Uint8Array,
  signature: Uint8Array,
  signer: Certificate,
  memo = true,
): boolean {
  if (!bytesOf(signer).publicKeyPoint || signature.length !== 64) return false;
  const compute = (): boolean => {
    try {
      return verifyP1363(data, signature, certificateKey(signer));
    } catch {
      return false;
    }
  };
  if (!memo) return compute();
  const bySig = docSigMemo.get(data, () => new ContentMemo<WeakMap<Certificate, boolean>>(8));
  const bySigner = bySig.get(signature, () => new WeakMap());
  const hit = bySigner.get(signer);
  if (hit !== undefined) return hit;
  const ok = compute();
  bySigner.set(signer, ok);
  return ok;
}

/** The certificate's own extension `oid`, if present. */
export function findExtension(cert: Certificate, extOid: string): Extension | undefined {
  return cert.extensions.find((e) => e.oid === extOid);
}

/** Re-export for modules that read extension payloads with the same strict reader. */
export { readRoot, readTlv };
