/**
 * A small, strict DER reader: exactly what X.509 certificates, CRLs and Intel's PCK extension need, and
 * nothing that BER allows but DER forbids (indefinite or non-minimal lengths, non-minimal integers,
 * BOOLEANs other than 00/FF, high tag numbers, padding bits). Every failure is an
 * {@link AttestationError} whose message names the structure being read, so a malformed certificate in a
 * quote says which certificate and which field.
 */
import { AttestationError } from '../errors.js';

/** Where a DER failure is reported: verification stage, error code and the thing being read. */
export interface DerContext {
  stage: string;
  code: string;
  /** E.g. "PCK leaf certificate". */
  what: string;
}

/** One tag-length-value element inside `buf`. */
export interface Tlv {
  buf: Uint8Array;
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first value byte. */
  valueStart: number;
  /** Offset just past the value. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Throw the context's error with `detail`. */
export function derFail(ctx: DerContext, detail: string): never {
  throw new AttestationError(ctx.stage, ctx.code, `${ctx.what}: ${detail}`, {
    hint: 'The structure is not valid DER; the data is corrupted or was not produced by a conforming issuer.',
  });
}

/**
 * A list whose first `N` elements are known to be present (a tuple of `N`, then any number more), as
 * {@link sequence} returns for a minimum count `N`. A plain array when `N` is not a literal.
 */
export type AtLeast<N extends number, T, Head extends T[] = []> = number extends N
  ? T[]
  : Head['length'] extends N
    ? [...Head, ...T[]]
    : AtLeast<N, T, [...Head, T]>;

/** Byte `i` of `buf`: a read past the end is the context's error, never an undefined byte. */
export function byteAt(buf: Uint8Array, i: number, ctx: DerContext, name: string): number {
  const b = buf[i];
  if (b === undefined) derFail(ctx, `${name} truncated at offset ${i}`);
  return b;
}

/** Read one element starting at `pos`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, ctx: DerContext, name = 'element'): Tlv {
  if (pos + 2 > limit) derFail(ctx, `${name} truncated at offset ${pos}`);
  const tag = byteAt(buf, pos, ctx, name);
  if ((tag & 0x1f) === 0x1f) derFail(ctx, `${name} uses a high tag number at offset ${pos}`);
  if (tag === 0) derFail(ctx, `${name} has the reserved tag 0 (end-of-contents) at offset ${pos}`);
  let len = byteAt(buf, pos + 1, ctx, name);
  let valueStart = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) derFail(ctx, `${name} has an indefinite length (BER, not DER)`);
    if (n > 4) derFail(ctx, `${name} length field of ${n} bytes is too large`);
    if (valueStart + n > limit) derFail(ctx, `${name} length truncated at offset ${pos}`);
    if (buf[valueStart] === 0) derFail(ctx, `${name} length is not minimally encoded`);
    len = 0;
    for (const b of buf.subarray(valueStart, valueStart + n)) len = len * 256 + b;
    if (len < 0x80) derFail(ctx, `${name} length ${len} should use the short form`);
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > limit) derFail(ctx, `${name} (${len} bytes) overruns its container at offset ${pos}`);
  return { buf, tag, start: pos, valueStart, end };
}

/** Parse `buf` as exactly one element (no trailing bytes). */
export function readRoot(buf: Uint8Array, ctx: DerContext, expectedTag?: number): Tlv {
  const t = readTlv(buf, 0, buf.length, ctx, 'outer element');
  if (t.end !== buf.length) derFail(ctx, `${buf.length - t.end} trailing bytes after the DER structure`);
  if (expectedTag !== undefined) expectTag(t, expectedTag, ctx, 'outer element');
  return t;
}

/** Children of a constructed element. */
export function children(t: Tlv, ctx: DerContext, name = 'element'): Tlv[] {
  if ((t.tag & 0x20) === 0) derFail(ctx, `${name} is primitive, expected a constructed element`);
  const out: Tlv[] = [];
  let pos = t.valueStart;
  while (pos < t.end) {
    const c = readTlv(t.buf, pos, t.end, ctx, `${name}[${out.length}]`);
    out.push(c);
    pos = c.end;
  }
  return out;
}

/**
 * Children of a SEQUENCE, checking the tag and (optionally) the count range. The first `min` children are
 * typed as present (see {@link AtLeast}); those past it may be absent.
 */
export function sequence<N extends number = 0>(
  t: Tlv,
  ctx: DerContext,
  name: string,
  min?: N,
  max = Infinity,
): AtLeast<N, Tlv> {
  expectTag(t, TAG.SEQUENCE, ctx, name);
  const c = children(t, ctx, name);
  const least = min ?? 0;
  if (c.length < least || c.length > max) {
    derFail(ctx, `${name} has ${c.length} elements, expected ${least === max ? least : `${least}..${max}`}`);
  }
  // The count was checked just above: the first `min` elements exist.
  return c as AtLeast<N, Tlv>;
}

export function expectTag(t: Tlv, tag: number, ctx: DerContext, name: string): void {
  if (t.tag !== tag) {
    derFail(ctx, `${name} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
}

/** The value bytes (a view, not a copy). */
export function value(t: Tlv): Uint8Array {
  return t.buf.subarray(t.valueStart, t.end);
}

/** The whole encoding, tag and length included (a view). */
export function encoding(t: Tlv): Uint8Array {
  return t.buf.subarray(t.start, t.end);
}

/** INTEGER content bytes, checked for minimal two's-complement encoding. */
export function integerBytes(t: Tlv, ctx: DerContext, name: string): Uint8Array {
  expectTag(t, TAG.INTEGER, ctx, name);
  return checkedInteger(t, ctx, name);
}

function checkedInteger(t: Tlv, ctx: DerContext, name: string): Uint8Array {
  const [first, second] = value(t);
  if (first === undefined) derFail(ctx, `${name} is an empty INTEGER`);
  if (second !== undefined && ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80))) {
    derFail(ctx, `${name} INTEGER is not minimally encoded`);
  }
  return value(t);
}

/** A non-negative INTEGER (or ENUMERATED) that fits in a JS safe integer. */
export function smallInt(t: Tlv, ctx: DerContext, name: string, tag: number = TAG.INTEGER): number {
  expectTag(t, tag, ctx, name);
  const v = checkedInteger(t, ctx, name);
  if (byteAt(v, 0, ctx, name) & 0x80) derFail(ctx, `${name} is negative`);
  if (v.length > 6) derFail(ctx, `${name} is too large`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

export function boolean(t: Tlv, ctx: DerContext, name: string): boolean {
  expectTag(t, TAG.BOOLEAN, ctx, name);
  const v = value(t);
  if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) derFail(ctx, `${name} is not a DER BOOLEAN`);
  return v[0] === 0xff;
}

export function octetString(t: Tlv, ctx: DerContext, name: string, size?: number): Uint8Array {
  expectTag(t, TAG.OCTET_STRING, ctx, name);
  const v = value(t);
  if (size !== undefined && v.length !== size) derFail(ctx, `${name} is ${v.length} bytes, expected ${size}`);
  return v;
}

/** BIT STRING content with no unused bits (keys and signatures). */
export function bitStringBytes(t: Tlv, ctx: DerContext, name: string): Uint8Array {
  expectTag(t, TAG.BIT_STRING, ctx, name);
  const v = value(t);
  if (v.length === 0) derFail(ctx, `${name} is an empty BIT STRING`);
  if (v[0] !== 0) derFail(ctx, `${name} has ${v[0]} unused bits, expected 0`);
  return v.subarray(1);
}

export function nullValue(t: Tlv, ctx: DerContext, name: string): void {
  expectTag(t, TAG.NULL, ctx, name);
  if (t.end !== t.valueStart) derFail(ctx, `${name} NULL has content`);
}

/** OBJECT IDENTIFIER in dotted form, checked for minimal base-128 arcs. */
export function oid(t: Tlv, ctx: DerContext, name: string): string {
  expectTag(t, TAG.OID, ctx, name);
  const v = value(t);
  if (v.length === 0) derFail(ctx, `${name} is an empty OID`);
  const arcs: number[] = [];
  let n = 0;
  let first = true;
  for (const [i, b] of v.entries()) {
    if (first && b === 0x80) derFail(ctx, `${name} OID arc is not minimally encoded`);
    first = false;
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) derFail(ctx, `${name} OID arc is too large`);
    if ((b & 0x80) === 0) {
      arcs.push(n);
      n = 0;
      first = true;
    } else if (i === v.length - 1) {
      derFail(ctx, `${name} OID ends inside an arc`);
    }
  }
  const [head] = arcs;
  // A non-empty value whose last byte closes an arc (checked in the loop) holds at least one arc.
  if (head === undefined) derFail(ctx, `${name} OID has no arc`);
  const a = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [a, head - a * 40, ...arcs.slice(1)].join('.');
}

/**
 * UTCTime or GeneralizedTime, in the DER forms RFC 5280 allows (seconds, `Z`, no fractions). With
 * `fractions`, a GeneralizedTime may also carry milliseconds in X.690's canonical form (1 to 3 digits, no
 * trailing zero), as RA-TLS certificates were always read.
 */
export function time(t: Tlv, ctx: DerContext, name: string, options: { fractions?: boolean } = {}): Date {
  const s = latin1(value(t));
  let m: RegExpExecArray | null;
  let year: number;
  let millis = 0;
  if (t.tag === TAG.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
    if (!m) derFail(ctx, `${name} is not a DER UTCTime: '${printable(s)}'`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d{0,2}[1-9]))?Z$/.exec(s);
    if (!m || (m[7] !== undefined && !options.fractions)) {
      derFail(ctx, `${name} is not a DER GeneralizedTime: '${printable(s)}'`);
    }
    year = Number(m[1]);
    if (m[7] !== undefined) millis = Number(m[7].padEnd(3, '0'));
  } else {
    derFail(ctx, `${name} has tag 0x${t.tag.toString(16)}, expected a time`);
  }
  const groups = m;
  const field = (i: number): number => Number(groups[i]);
  const [mo, d, h, mi, se] = [field(2), field(3), field(4), field(5), field(6)];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se, millis);
  const date = new Date(ms);
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== se
  ) {
    derFail(ctx, `${name} is not a real date: '${s}'`);
  }
  return date;
}

// ---------------------------------------------------------------------------------------------------
// Writing (small canonical encodings, e.g. to sort the attributes of a multi-valued RDN as DER does)

/** One DER element: `tag`, minimal length, `content`. */
export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len: number[] = [];
  if (n < 0x80) len.push(n);
  else {
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v % 256);
    len.unshift(0x80 | len.length);
  }
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** DER of an OBJECT IDENTIFIER given in dotted form (at least two arcs, first arc 0..2). */
export function encodeOid(dotted: string): Uint8Array {
  const [a0, a1, ...rest] = dotted.split('.').map(Number);
  if (
    a0 === undefined ||
    a1 === undefined ||
    [a0, a1, ...rest].some((a) => !Number.isSafeInteger(a) || a < 0) ||
    a0 > 2
  ) {
    throw new RangeError(`not an OID: ${dotted}`);
  }
  const bytes: number[] = [];
  for (const arc of [a0 * 40 + a1, ...rest]) {
    const base128: number[] = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v % 128));
    bytes.push(...base128);
  }
  return encodeTlv(TAG.OID, Uint8Array.from(bytes));
}

/** A directory string (UTF8String, PrintableString, IA5String, T61String, BMPString) as text. */
export function directoryString(t: Tlv, ctx: DerContext, name: string): string {
  const v = value(t);
  switch (t.tag) {
    case TAG.UTF8_STRING: {
      const s = Buffer.from(v).toString('utf8');
      if (!Buffer.from(s, 'utf8').equals(Buffer.from(v))) derFail(ctx, `${name} is not valid UTF-8`);
      return s;
    }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.T61_STRING:
      for (const b of v) if (b > 0x7e || b < 0x20) derFail(ctx, `${name} has a non-printable character`);
      return latin1(v);
    case TAG.BMP_STRING: {
      if (v.length % 2) derFail(ctx, `${name} BMPString has an odd length`);
      const units = Buffer.from(v);
      let s = '';
      for (let i = 0; i < units.length; i += 2) s += String.fromCharCode(units.readUInt16BE(i));
      return s;
    }
    default:
      return derFail(ctx, `${name} has tag 0x${t.tag.toString(16)}, expected a string`);
  }
}

function latin1(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
}
