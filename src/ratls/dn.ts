/**
 * Distinguished names as RFC 4514 strings (`CN=app.example,O=Acme,C=FR`).
 *
 * RFC 4514 writes the RDNs in the reverse of their DER order: `CN=a,O=b,C=FR` is the DER sequence
 * `C=FR, O=b, CN=a` (what `openssl x509 -text` prints and what Python's
 * `x509.Name.from_rfc4514_string` builds). {@link parseSubject} returns DER order, {@link formatSubject}
 * takes DER order, so `formatSubject(parseSubject(s))` is the canonical spelling of `s` and two subjects are
 * equal exactly when their canonical spellings are equal ({@link normalizeSubject}).
 *
 * The parser is strict: RFC 4514 syntax only (no spaces around `,` `+` `=`, no `;` separators, no
 * `#hex` values), known short names (`CN L ST O OU C STREET DC UID`, case-insensitive) or dotted OIDs,
 * non-empty values, `C` exactly two printable characters. Attribute values are encoded as Python's
 * `cryptography` does: `C` as PrintableString, `DC` as IA5String, everything else as UTF8String.
 *
 * This module has no ASN.1 library dependency (the strict DER reader of `attestation/der.ts` reads names),
 * so verifying evidence does not load one; `subject.ts` adds the `@peculiar` `Name` conversions the
 * certificate builder needs.
 */
import { TAG, derFail, encodeOid, encodeTlv, encoding, value, type DerContext, type Tlv } from '../attestation/der.js';
import { InputError } from '../errors.js';

/** One attribute of a relative distinguished name. */
export interface SubjectAttribute {
  /** Dotted object identifier, e.g. `2.5.4.3` for CN. */
  oid: string;
  /** Decoded value (Unicode). */
  value: string;
  /** Set only when read from a certificate whose value type is not a string: its DER, shown as `#hex`. */
  der?: Uint8Array;
}

/** A relative distinguished name: one attribute, or several joined with `+`. */
export type SubjectRdn = SubjectAttribute[];

/** RFC 4514 §3 short names (the only ones emitted; parsing accepts them case-insensitively). */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  STREET: '2.5.4.9',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
};
const NAME_BY_OID: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SHORT_NAMES).map(([name, oid]) => [oid, name]),
);
const OID_COUNTRY = '2.5.4.6';
const OID_DOMAIN_COMPONENT = '0.9.2342.19200300.100.1.25';

const NUMERIC_OID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;
/** Longest subject string accepted (a DN is a few hundred characters at most). */
const MAX_SUBJECT_LENGTH = 4096;

function subjectError(text: string, why: string): InputError {
  return new InputError('ERR_SUBJECT_INVALID', `invalid subject ${JSON.stringify(text)}: ${why}`, {
    hint: 'Write the subject as an RFC 4514 string, e.g. "CN=app.example.com,O=Example Corp,C=FR" (no spaces around "," or "=").',
  });
}

/**
 * Parse an RFC 4514 distinguished name into RDNs in **DER order** (the last RDN of the string first).
 * Throws `InputError` `ERR_SUBJECT_INVALID` naming the problem.
 */
export function parseSubject(text: string): SubjectRdn[] {
  if (typeof text !== 'string' || text.length === 0) throw subjectError(String(text), 'it is empty');
  if (text.length > MAX_SUBJECT_LENGTH) throw subjectError(text.slice(0, 40) + '…', 'it is too long');
  const rdns: SubjectRdn[] = [];
  let i = 0;
  let rdn: SubjectRdn = [];
  for (;;) {
    // attributeType
    const eq = text.indexOf('=', i);
    if (eq < 0) throw subjectError(text, `missing "=" after position ${i}`);
    const type = text.slice(i, eq);
    const oid = attributeOid(text, type);
    // attributeValue
    let j = eq + 1;
    if (text[j] === '#') throw subjectError(text, `hex-encoded value for ${type} is not supported`);
    const bytes: number[] = [];
    let lastEscapedSpaceEnd = -1;
    while (j < text.length && text[j] !== ',' && text[j] !== '+') {
      const ch = text.charAt(j);
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === undefined) throw subjectError(text, 'it ends with a lone "\\"');
        if (/[0-9a-fA-F]/.test(next)) {
          const pair = text.slice(j + 1, j + 3);
          if (!/^[0-9a-fA-F]{2}$/.test(pair)) throw subjectError(text, `bad escape "\\${pair}" at position ${j}`);
          bytes.push(parseInt(pair, 16));
          j += 3;
          lastEscapedSpaceEnd = bytes.length;
        } else if (' "#+,;<=>\\'.includes(next)) {
          bytes.push(next.charCodeAt(0));
          j += 2;
          lastEscapedSpaceEnd = bytes.length;
        } else {
          throw subjectError(text, `bad escape "\\${next}" at position ${j}`);
        }
        continue;
      }
      if (ch === '"' || ch === ';' || ch === '<' || ch === '>' || ch === '\0') {
        throw subjectError(text, `character ${JSON.stringify(ch)} at position ${j} must be escaped with "\\"`);
      }
      if (ch === ' ' && j === eq + 1) throw subjectError(text, `value of ${type} starts with an unescaped space`);
      const cp = text.codePointAt(j);
      if (cp === undefined) throw subjectError(text, `it ends inside a value at position ${j}`);
      const encoded = Buffer.from(String.fromCodePoint(cp), 'utf8');
      bytes.push(...encoded);
      j += cp > 0xffff ? 2 : 1;
    }
    if (bytes.length === 0) throw subjectError(text, `value of ${type} is empty`);
    if (bytes[bytes.length - 1] === 0x20 && lastEscapedSpaceEnd !== bytes.length) {
      throw subjectError(text, `value of ${type} ends with an unescaped space`);
    }
    const raw = Buffer.from(bytes);
    const value = raw.toString('utf8');
    if (!Buffer.from(value, 'utf8').equals(raw)) throw subjectError(text, `value of ${type} is not valid UTF-8`);
    checkValue(text, oid, type, value);
    rdn.push({ oid, value });
    if (j >= text.length) {
      rdns.push(rdn);
      break;
    }
    if (text[j] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i = j + 1;
    if (i >= text.length) throw subjectError(text, `it ends with "${text[j]}"`);
  }
  for (const r of rdns) {
    const seen = new Set<string>();
    for (const a of r) {
      if (seen.has(a.oid)) throw subjectError(text, `attribute ${shortName(a.oid)} appears twice in one "+" group`);
      seen.add(a.oid);
    }
  }
  // DER sorts the attributes of a multi-valued RDN (SET OF): use that order so spellings are canonical.
  return rdns.reverse().map(sortedRdn);
}

function sortedRdn(rdn: SubjectRdn): SubjectRdn {
  if (rdn.length < 2) return rdn;
  return rdn
    .map((attr) => ({ attr, der: Buffer.from(attributeDer(attr)) }))
    .sort((x, y) => Buffer.compare(x.der, y.der))
    .map((e) => e.attr);
}

/**
 * DER of an AttributeTypeAndValue as the certificate builder encodes it (`C` PrintableString, `DC`
 * IA5String, others UTF8String, `der` values as given): DER sorts a multi-valued RDN by these bytes.
 */
export function attributeDer(a: SubjectAttribute): Uint8Array {
  let v: Uint8Array;
  if (a.der) v = a.der;
  else if (a.oid === OID_COUNTRY) v = encodeTlv(TAG.PRINTABLE_STRING, Buffer.from(a.value, 'latin1'));
  else if (a.oid === OID_DOMAIN_COMPONENT) v = encodeTlv(TAG.IA5_STRING, Buffer.from(a.value, 'latin1'));
  else v = encodeTlv(TAG.UTF8_STRING, Buffer.from(a.value, 'utf8'));
  return encodeTlv(TAG.SEQUENCE, Buffer.concat([encodeOid(a.oid), v]));
}

function attributeOid(text: string, type: string): string {
  if (type.length === 0) throw subjectError(text, 'an attribute type is empty');
  const known = SHORT_NAMES[type.toUpperCase()];
  if (known) return known;
  const dotted = type.replace(/^oid\./i, '');
  if (NUMERIC_OID.test(dotted)) return dotted;
  throw subjectError(
    text,
    `unknown attribute type "${type}" (use CN, O, OU, L, ST, C, STREET, DC, UID or a dotted OID)`,
  );
}

function checkValue(text: string, oid: string, type: string, value: string): void {
  if (oid === OID_COUNTRY && !(value.length === 2 && PRINTABLE.test(value))) {
    throw subjectError(text, `country ${type}=${value} must be a two-letter code`);
  }
  // eslint-disable-next-line no-control-regex
  if (oid === OID_DOMAIN_COMPONENT && !/^[\x00-\x7f]+$/.test(value)) {
    throw subjectError(text, `domain component ${type}=${value} must be ASCII`);
  }
}

function shortName(oid: string): string {
  return NAME_BY_OID[oid] ?? oid;
}

/** Escape one attribute value per RFC 4514 §2.4. */
function escapeValue(value: string): string {
  let out = '';
  for (let k = 0; k < value.length; k++) {
    const ch = value.charAt(k);
    if ('"+,;<>\\'.includes(ch)) out += '\\' + ch;
    else if (ch === '\0') out += '\\00';
    else if (k === 0 && (ch === ' ' || ch === '#')) out += '\\' + ch;
    else if (k === value.length - 1 && ch === ' ') out += '\\ ';
    else out += ch;
  }
  return out;
}

/**
 * Format RDNs given in **DER order** as an RFC 4514 string (reversed order, short names where RFC 4514
 * defines them, dotted OIDs otherwise, minimal escaping).
 */
export function formatSubject(rdns: readonly SubjectRdn[]): string {
  return [...rdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => `${shortName(a.oid)}=${a.der ? '#' + Buffer.from(a.der).toString('hex') : escapeValue(a.value)}`)
        .join('+'),
    )
    .join(',');
}

/**
 * The canonical RFC 4514 spelling of `text` (throws like {@link parseSubject}): short names upper-case,
 * minimal escaping, attributes of a `+` group in DER order. Equals the `subject` read from a certificate
 * created with `text`.
 */
export function normalizeSubject(text: string): string {
  return formatSubject(parseSubject(text));
}

/**
 * Read RDNs (DER order) from the attributes of a certificate Name (`readName` in `attestation/x509.ts`),
 * decoding values as RA-TLS certificates have always been read: UTF8String must be valid UTF-8,
 * PrintableString, IA5String and TeletexString map each byte to one character, BMPString is UTF-16BE,
 * UniversalString holds 4-byte characters up to U+FFFF. Other primitive string-like values (NumericString,
 * VisibleString, OCTET STRING, a minimal INTEGER, …) are kept as RFC 4514 `#hex` of their DER, which never
 * equals a parsed subject. Anything else fails with `ctx`, unless `anyTag` (a first pass that only checks
 * the string types, so that an issuer with an odd value is reported as a different issuer).
 */
export function subjectFromAttributes(
  rdns: readonly { oid: string; value: Tlv }[][],
  ctx: DerContext,
  options: { anyTag?: boolean } = {},
): SubjectRdn[] {
  return rdns.map((rdn) => rdn.map((atv) => decodeAttribute(atv.oid, atv.value, ctx, options.anyTag === true)));
}

/** Primitive universal types kept as `#hex`: string types with no character set to check, and OCTET STRING. */
const OPAQUE_TAGS = new Set([0x04, 0x12, 0x15, 0x19, 0x1a, 0x1b]);

function decodeAttribute(oid: string, t: Tlv, ctx: DerContext, anyTag: boolean): SubjectAttribute {
  const v = value(t);
  const name = `subject attribute ${oid}`;
  switch (t.tag) {
    case TAG.UTF8_STRING: {
      const s = Buffer.from(v).toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(v)) derFail(ctx, `${name} is not valid UTF-8`);
      return { oid, value: s };
    }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.T61_STRING:
      return { oid, value: Buffer.from(v).toString('latin1') };
    case TAG.BMP_STRING: {
      if (v.length % 2) derFail(ctx, `${name} BMPString has an odd length`);
      const units = Buffer.from(v);
      let s = '';
      for (let i = 0; i < units.length; i += 2) s += String.fromCharCode(units.readUInt16BE(i));
      return { oid, value: s };
    }
    case 0x1c: {
      // UniversalString (UCS-4): only characters of the Basic Multilingual Plane round-trip.
      if (v.length % 4) derFail(ctx, `${name} UniversalString length is not a multiple of 4`);
      const units = Buffer.from(v);
      let s = '';
      for (let i = 0; i < units.length; i += 4) {
        const unit = units.readUInt32BE(i);
        if (unit > 0xffff) derFail(ctx, `${name} UniversalString has a character above U+FFFF`);
        s += String.fromCharCode(unit);
      }
      return { oid, value: s };
    }
    default: {
      if (anyTag) {
        // checked by the strict pass
      } else if (t.tag === TAG.INTEGER) {
        const [b0, b1] = v;
        if (b0 === undefined || (b1 !== undefined && ((b0 === 0 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80)))) {
          derFail(ctx, `${name} INTEGER is not minimally encoded`);
        }
      } else if (!OPAQUE_TAGS.has(t.tag)) {
        derFail(ctx, `${name} has tag 0x${t.tag.toString(16)}, expected a string`);
      }
      const der = new Uint8Array(encoding(t));
      return { oid, value: '#' + Buffer.from(der).toString('hex'), der };
    }
  }
}

/**
 * Compare two RFC 4514 subjects. By default the RDN order matters (what X.509 name matching does);
 * `anyOrder` compares the multisets of attributes instead, for MSE's certificates, whose bootstrap writes
 * the RDNs in a fixed order (C, ST, L, O, CN) whatever the order of the `--subject` string.
 * Throws `ERR_SUBJECT_INVALID` when either is not a valid subject.
 */
export function subjectsEqual(a: string, b: string, options: { anyOrder?: boolean } = {}): boolean {
  if (!options.anyOrder) return normalizeSubject(a) === normalizeSubject(b);
  const key = (s: string): string =>
    parseSubject(s)
      .map((rdn) => formatSubject([rdn]))
      .sort()
      .join('\n');
  return key(a) === key(b);
}
