/**
 * Declarative little-endian layouts for fixed-size binary structures. A layout is an ordered list of named
 * fields; decoding checks the whole size up front and, when it does not fit, names the first field that
 * runs past the end. Byte fields are views into the input (callers copy the input once).
 */
import { AttestationError } from '../errors.js';

export interface Field<T> {
  size: number;
  read(bytes: Uint8Array, view: DataView, offset: number): T;
}

export const u8: Field<number> = { size: 1, read: (b, _v, o) => b[o]! };
export const u16: Field<number> = { size: 2, read: (_b, v, o) => v.getUint16(o, true) };
export const u32: Field<number> = { size: 4, read: (_b, v, o) => v.getUint32(o, true) };
export const u64: Field<bigint> = { size: 8, read: (_b, v, o) => v.getBigUint64(o, true) };
export function bytes(size: number): Field<Uint8Array> {
  return { size, read: (b, _v, o) => b.subarray(o, o + size) };
}

type Spec = Record<string, Field<unknown>>;
export type Decoded<S extends Spec> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface Layout<S extends Spec> {
  /** Name used in errors, e.g. `quote header`. */
  name: string;
  size: number;
  /** Offset of each field inside the structure. */
  offsets: { [K in keyof S]: number };
  /** Decode at `offset`; throws ERR_QUOTE_TRUNCATED naming the field that does not fit. */
  decode(bytes: Uint8Array, offset: number, stage?: string): Decoded<S>;
}

/** Define a packed little-endian structure from an ordered field spec. */
export function layout<S extends Spec>(name: string, spec: S): Layout<S> {
  const entries = Object.entries(spec);
  const offsets = {} as Record<string, number>;
  let size = 0;
  for (const [k, f] of entries) {
    offsets[k] = size;
    size += f.size;
  }
  return {
    name,
    size,
    offsets: offsets as { [K in keyof S]: number },
    decode(input, offset, stage = 'quote') {
      if (offset + size > input.length) {
        for (const [k, f] of entries) {
          const at = offset + offsets[k]!;
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
      for (const [k, f] of entries) out[k] = f.read(input, view, offset + offsets[k]!);
      return out as Decoded<S>;
    },
  };
}
