/**
 * Byte helpers for the attestation code: strict hex, constant-shape comparisons, a tiny bounded cache.
 * Everything here is pure and allocation-light because it sits on the appraisal hot path.
 */
import { createHash } from 'node:crypto';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Decode hex strictly (even length, hex digits only, either case). Returns undefined when `text` is not
 * canonical hex so that callers can raise an error naming their own field.
 */
export function fromHexStrict(text: string): Uint8Array | undefined {
  if (!HEX_RE.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** True when `a` and `b` hold the same bytes. Not constant-time: nothing compared here is secret. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A Buffer view over `bytes` without copying (Node APIs want Buffers or ArrayBufferViews). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** A cache key for content: SHA-256 of the parts, base64. */
export function contentKey(...parts: (Uint8Array | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
    h.update('\u0000'); // separate parts so that (ab, c) and (a, bc) differ
  }
  return h.digest('base64');
}

/**
 * A small least-recently-inserted cache with a fixed capacity. Used to memoise pure functions of content
 * (parsed certificates, signature checks over collateral), so repeat appraisals skip the expensive work
 * while every time-dependent check still runs.
 */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): V {
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
    return value;
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/** Every cache the attestation code keeps, so that tests and benchmarks can start cold. */
const registeredCaches: BoundedCache<unknown>[] = [];

/** Create a cache that {@link clearAttestationCaches} empties. */
export function registerCache<V>(capacity: number): BoundedCache<V> {
  const c = new BoundedCache<V>(capacity);
  registeredCaches.push(c as BoundedCache<unknown>);
  return c;
}

/** Drop every memoised parse and signature check (benchmarks use it to measure cold appraisals). */
export function clearAttestationCaches(): void {
  for (const c of registeredCaches) c.clear();
}
