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

/**
 * A cache key for content: the bytes themselves as a latin1 string, each part prefixed by its length so
 * that (ab, c) and (a, bc) differ. Faster than hashing for the few-KB items cached here (V8 hashes and
 * compares the string), and exact: no collision is possible.
 */
export function contentKey(...parts: (Uint8Array | string)[]): string {
  let key = '';
  for (const p of parts) {
    const s = typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1');
    key += `${s.length}:${s}`;
  }
  return key;
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

/**
 * Memoise a pure function of a byte string. Lookups by object identity are checked against a private
 * snapshot (a memcmp), so a caller that mutates its buffer in place never gets a stale result; lookups by
 * content (a new buffer with the same bytes) fall back to a bounded content-keyed cache. `compute`
 * receives a private copy of the bytes that it may keep views into.
 */
export class ContentMemo<V> {
  private byRef = new WeakMap<Uint8Array, { copy: Buffer; value: V }>();
  private readonly byContent: BoundedCache<V>;

  constructor(capacity: number) {
    this.byContent = new BoundedCache<V>(capacity);
  }

  get(bytes: Uint8Array, compute: (stableCopy: Uint8Array) => V): V {
    const hit = this.byRef.get(bytes);
    if (hit && hit.copy.equals(bytes)) return hit.value;
    const key = contentKey(bytes);
    const copy = Buffer.from(bytes);
    let value = this.byContent.get(key);
    if (value === undefined)
      value = this.byContent.set(key, compute(new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength)));
    this.byRef.set(bytes, { copy, value });
    return value;
  }

  clear(): void {
    this.byRef = new WeakMap();
    this.byContent.clear();
  }
}

/** Every cache the attestation code keeps, so that tests and benchmarks can start cold. */
const registered: { clear(): void }[] = [];

/** Create a cache that {@link clearAttestationCaches} empties. */
export function registerCache<V>(capacity: number): BoundedCache<V> {
  const c = new BoundedCache<V>(capacity);
  registered.push(c);
  return c;
}

/** Create a content memo that {@link clearAttestationCaches} empties. */
export function registerMemo<V>(capacity: number): ContentMemo<V> {
  const m = new ContentMemo<V>(capacity);
  registered.push(m);
  return m;
}

/** Create a WeakMap-backed memo (keyed by immutable parsed objects) that {@link clearAttestationCaches} empties. */
export function registerWeakMemo<K extends object, V>(): { get(k: K): V | undefined; set(k: K, v: V): V } {
  let map = new WeakMap<K, V>();
  registered.push({ clear: () => (map = new WeakMap<K, V>()) });
  return {
    get: (k) => map.get(k),
    set: (k, v) => (map.set(k, v), v),
  };
}

/** Drop every memoised parse and signature check (benchmarks use it to measure cold appraisals). */
export function clearAttestationCaches(): void {
  for (const c of registered) c.clear();
}
