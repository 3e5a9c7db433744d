/**
 * Distinguished names: everything of `dn.ts` (RFC 4514 parsing, formatting, comparison) plus the
 * conversions to and from `@peculiar/asn1-x509`'s `Name` that the certificate builder uses. Readers
 * (verification, sealing, quote display) import `dn.ts` directly so that they never load the ASN.1 library.
 */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { attributeDer, type SubjectAttribute, type SubjectRdn } from './dn.js';

export * from './dn.js';

const OID_COUNTRY = '2.5.4.6';
const OID_DOMAIN_COMPONENT = '0.9.2342.19200300.100.1.25';

/** Build the ASN.1 `Name` for RDNs in DER order; multi-valued RDNs are sorted as DER's SET OF requires. */
export function subjectToName(rdns: readonly SubjectRdn[]): Name {
  return new Name(
    rdns.map((rdn) => {
      const sorted =
        rdn.length < 2
          ? rdn
          : rdn
              .map((attr) => ({ attr, der: Buffer.from(attributeDer(attr)) }))
              .sort((x, y) => Buffer.compare(x.der, y.der))
              .map((e) => e.attr);
      return new RelativeDistinguishedName(
        sorted.map((a) => new AttributeTypeAndValue({ type: a.oid, value: encodeValue(a) })),
      );
    }),
  );
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
