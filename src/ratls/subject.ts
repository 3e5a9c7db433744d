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
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
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
      const ch = text[j]!;
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
      const cp = text.codePointAt(j)!;
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
  return rdns.reverse().map((rdn) => sortedRdn(rdn).map((e) => e.attr));
}

function sortedRdn(rdn: SubjectRdn): { attr: SubjectAttribute; atv: AttributeTypeAndValue }[] {
  const items = rdn.map((attr) => {
    const atv = new AttributeTypeAndValue({ type: attr.oid, value: encodeValue(attr) });
    return { attr, atv, der: Buffer.from(AsnConvert.serialize(atv)) };
  });
  if (items.length > 1) items.sort((x, y) => Buffer.compare(x.der, y.der));
  return items;
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
    const ch = value[k]!;
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

/** Build the ASN.1 `Name` for RDNs in DER order; multi-valued RDNs are sorted as DER's SET OF requires. */
export function subjectToName(rdns: readonly SubjectRdn[]): Name {
  return new Name(rdns.map((rdn) => new RelativeDistinguishedName(sortedRdn(rdn).map((e) => e.atv))));
}

function encodeValue(a: SubjectAttribute): AttributeValue {
  if (a.der) return new AttributeValue({ anyValue: new Uint8Array(a.der).buffer });
  if (a.oid === OID_COUNTRY) return new AttributeValue({ printableString: a.value });
  if (a.oid === OID_DOMAIN_COMPONENT) return new AttributeValue({ ia5String: a.value });
  return new AttributeValue({ utf8String: a.value });
}

/**
 * Read RDNs (DER order) from a parsed `Name`. Values of a type this module cannot decode are returned as
 * RFC 4514 `#hex` of their DER encoding, which never equals a parsed subject.
 */
export function subjectFromName(name: Name): SubjectRdn[] {
  return name.map((rdn) =>
    rdn.map((atv) => {
      const v = atv.value;
      const text =
        v.utf8String ?? v.printableString ?? v.ia5String ?? v.bmpString ?? v.universalString ?? v.teletexString;
      if (text !== undefined) return { oid: atv.type, value: text };
      const der = new Uint8Array(v.anyValue ?? new ArrayBuffer(0));
      return { oid: atv.type, value: '#' + Buffer.from(der).toString('hex'), der };
    }),
  );
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
