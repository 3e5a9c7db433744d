/**
 * Declarative little-endian layouts for fixed-size binary structures: one definition that both decodes and
 * encodes. A layout is an ordered list of named fields; decoding checks the whole size up front and, when it
 * does not fit, names the first field that runs past the end. Byte fields are views into the input (callers
 * copy the input once). Encoding checks every value (integer range, byte length) and reports a bad one to
 * the caller's `fail(field, detail)`, so each writer keeps its own error code.
 */
import { AttestationError } from '../errors.js';

export interface Field<T> {
  size: number;
  read(bytes: Uint8Array, view: DataView, offset: number): T;
  /** Write `value` at `offset`, or return what is wrong with it (`must be …`). */
  write(value: unknown, bytes: Uint8Array, view: DataView, offset: number): string | undefined;
}

function uint(size: 1 | 2 | 4): Field<number> {
  const max = 2 ** (8 * size) - 1;
  return {
    size,
    read: (_b, v, o) => (size === 1 ? v.getUint8(o) : size === 2 ? v.getUint16(o, true) : v.getUint32(o, true)),
    write(value, _b, v, o) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        return `must be an integer in 0..${max}`;
      }
      if (size === 1) v.setUint8(o, value);
      else if (size === 2) v.setUint16(o, value, true);
      else v.setUint32(o, value, true);
      return undefined;
    },
  };
}

export const u8 = uint(1);
export const u16 = uint(2);
export const u32 = uint(4);
export const u64: Field<bigint> = {
  size: 8,
  read: (_b, v, o) => v.getBigUint64(o, true),
  write(value, _b, v, o) {
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) return 'must be an integer in 0..2^64-1';
    v.setBigUint64(o, value, true);
    return undefined;
  },
};
export function bytes(size: number): Field<Uint8Array> {
  return {
    size,
    read: (b, _v, o) => b.subarray(o, o + size),
    write(value, b, _v, o) {
      if (!(value instanceof Uint8Array)) return 'must be a byte array';
      if (value.length !== size) return `must be ${size} bytes, got ${value.length}`;
      b.set(value, o);
      return undefined;
    },
  };
}

type Spec = Record<string, Field<unknown>>;
export type Decoded<S extends Spec> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };
/** The values of a layout's fields. */
export type ValuesOf<L> = L extends Layout<infer S> ? Decoded<S> : never;

export interface Layout<S extends Spec> {
  /** Name used in errors, e.g. `quote header`. */
  name: string;
  size: number;
  /** Offset of each field inside the structure. */
  offsets: { [K in keyof S]: number };
  /** Decode at `offset`; throws ERR_QUOTE_TRUNCATED naming the field that does not fit. */
  decode(bytes: Uint8Array, offset: number, stage?: string): Decoded<S>;
  /**
   * Encode `values` (every field; byte fields of exactly their size) into a new `size`-byte array. The first
   * bad value calls `fail(field, detail)`.
   */
  encode(values: Decoded<S>, fail: (field: string, detail: string) => never): Uint8Array;
}

/** Define a packed little-endian structure from an ordered field spec. */
export function layout<S extends Spec>(name: string, spec: S): Layout<S> {
  // each field with its offset in the structure, in declaration order
  const fields: { k: string; f: Field<unknown>; at: number }[] = [];
  const offsets = {} as Record<string, number>;
  let size = 0;
  for (const [k, f] of Object.entries(spec)) {
    fields.push({ k, f, at: size });
    offsets[k] = size;
    size += f.size;
  }
  return {
    name,
    size,
    offsets: offsets as { [K in keyof S]: number },
    decode(input, offset, stage = 'quote') {
      if (offset + size > input.length) {
        for (const { k, f, at: rel } of fields) {
          const at = offset + rel;
          if (at + f.size > input.length) {
            const left = Math.max(0, input.length - at);
            throw new AttestationError(
              stage,
              'ERR_QUOTE_TRUNCATED',
              `quote truncated: ${name} field ${k} needs ${f.size} bytes at offset ${at}, only ${left} remain`,
              { hint: 'The quote is incomplete; obtain it again from the enclave.' },
            );
          }
        }
      }
      const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
      const out = {} as Record<string, unknown>;
      for (const { k, f, at } of fields) out[k] = f.read(input, view, offset + at);
      return out as Decoded<S>;
    },
    encode(values, fail) {
      const out = new Uint8Array(size);
      const view = new DataView(out.buffer);
      for (const { k, f, at } of fields) {
        const problem = f.write((values as Record<string, unknown>)[k], out, view, at);
        if (problem) fail(k, problem);
      }
      return out;
    },
  };
}
