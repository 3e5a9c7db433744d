/**
 * A tiny DER *writer* for the few universal types the SGX PCK extension uses. Certificates and CRLs are
 * built with @peculiar/asn1-x509; this exists because the SGX extension is an untyped
 * `SEQUENCE OF SEQUENCE { OID, ANY }` whose exact bytes we want to control (and test against Intel's).
 * Everything produced is canonical DER: minimal lengths, minimal two's-complement integers.
 */

/** Tag-length-value with a definite, minimal length. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else {
    const lenBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    header = [tag, 0x80 | lenBytes.length, ...lenBytes];
  }
  const out = new Uint8Array(header.length + n);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, concat(items));
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);
export const boolean = (value: boolean): Uint8Array => tlv(0x01, Uint8Array.of(value ? 0xff : 0x00));

/** Minimal two's-complement content bytes of a non-negative integer (255 → 00 FF). */
function unsignedContent(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`DER integer out of range: ${value}`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] as number) & 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

export const integer = (value: number): Uint8Array => tlv(0x02, unsignedContent(value));
export const enumerated = (value: number): Uint8Array => tlv(0x0a, unsignedContent(value));

/** OBJECT IDENTIFIER from dotted notation. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => {
    if (!/^(0|[1-9][0-9]*)$/.test(a)) throw new RangeError(`bad OID arc in ${dotted}`);
    return Number(a);
  });
  const [a0, a1, ...rest] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2 || (a0 < 2 && a1 > 39)) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a0 * 40 + a1, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/**
 * Canonical DER INTEGER content for a certificate serial number given as raw big-endian bytes: leading
 * zero bytes stripped, one 0x00 prepended when the top bit is set (serials are positive).
 */
export function positiveIntegerBytes(raw: Uint8Array): Uint8Array {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const trimmed = raw.subarray(i);
  if (trimmed.length === 0) return Uint8Array.of(0);
  return (trimmed[0] as number) & 0x80 ? concat([Uint8Array.of(0), trimmed]) : Uint8Array.from(trimmed);
}
