/**
 * Immutable values for the parsers whose results are memoised and shared (certificates, CRLs, PCK
 * extensions, TCB info, QE identity). A cached object is handed to every caller that parses the same
 * bytes, so a caller that edits one (clears a CRL's revoked serials, moves a certificate's notAfter,
 * raises a TCB component) would change every later appraisal in the process. {@link immutable} makes
 * such values deeply read-only once, when they are built, so that the appraisal's hot path pays nothing
 * for it:
 *
 * - plain objects and arrays are frozen (assignments throw in strict mode);
 * - `Date`s become {@link FrozenDate}s, whose setters throw;
 * - `Set`s become {@link FrozenSet}s (read-only, backed by a private set no caller can reach);
 * - byte fields (`Uint8Array`) become getters returning a fresh copy on every read: JavaScript cannot
 *   freeze a typed array, so the shared bytes are never handed out. The verifier itself reads them
 *   without copying through {@link bytesOf}, which callers outside src/attestation must not use.
 */

const DATE_SETTERS = [
  'setDate',
  'setFullYear',
  'setHours',
  'setMilliseconds',
  'setMinutes',
  'setMonth',
  'setSeconds',
  'setTime',
  'setUTCDate',
  'setUTCFullYear',
  'setUTCHours',
  'setUTCMilliseconds',
  'setUTCMinutes',
  'setUTCMonth',
  'setUTCSeconds',
  'setYear',
] as const;

/** A `Date` whose setters throw: a shared, parsed time cannot be moved. */
export class FrozenDate extends Date {
  constructor(time: number | Date) {
    super(typeof time === 'number' ? time : time.getTime());
    Object.freeze(this);
  }
}
for (const name of DATE_SETTERS) {
  Object.defineProperty(FrozenDate.prototype, name, {
    value(): never {
      throw new TypeError(`Date.prototype.${name}: this date belongs to a shared parsed value and is read-only`);
    },
  });
}
Object.freeze(FrozenDate.prototype);

/** A read-only set. Its contents live in a private field, so no `Set.prototype` method can reach them. */
export class FrozenSet<T> implements ReadonlySet<T> {
  readonly #set: Set<T>;
  constructor(values: Iterable<T>) {
    this.#set = new Set(values);
    Object.freeze(this);
  }
  get size(): number {
    return this.#set.size;
  }
  has(value: T): boolean {
    return this.#set.has(value);
  }
  forEach(fn: (value: T, key: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    for (const v of this.#set) fn.call(thisArg, v, v, this);
  }
  entries(): IterableIterator<[T, T]> {
    return this.#set.entries();
  }
  keys(): IterableIterator<T> {
    return this.#set.keys();
  }
  values(): IterableIterator<T> {
    return this.#set.values();
  }
  [Symbol.iterator](): IterableIterator<T> {
    return this.#set.values();
  }
  /** JSON: the members, as an array. */
  toJSON(): T[] {
    return [...this.#set];
  }
}
Object.freeze(FrozenSet.prototype);

/** Where an immutable value keeps the views behind its byte getters (non-enumerable, never exported). */
const RAW = Symbol('mse-home.raw-bytes');

type ByteKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends Uint8Array ? K : never }[keyof T];

/**
 * The byte fields of a value made by {@link immutable}, as zero-copy views, for the verifier's hot path
 * (a getter would copy on every read). The views are shared: read them, never write them or hand them to
 * a caller. For any other object, its own fields.
 */
export function bytesOf<T extends object>(value: T): { readonly [K in ByteKeys<T>]: T[K] } {
  return ((value as Record<symbol, unknown>)[RAW] ?? value) as { readonly [K in ByteKeys<T>]: T[K] };
}

/**
 * Make `value` deeply immutable in place (see the module comment) and return it. Objects that are already
 * frozen are left as they are (they were made immutable before, or are not ours to change).
 */
export function immutable<T>(value: T): T {
  freezeDeep(value);
  return value;
}

function freezeDeep(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof Set || value instanceof Map) {
    // Reached only as a top-level value; fields are converted by their owner below.
    throw new TypeError('immutable(): a bare typed array, Date, Set or Map cannot be frozen in place');
  }
  const o = value as Record<string, unknown>;
  let raw: Record<string, Uint8Array> | undefined;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v instanceof Uint8Array) {
      const bytes = v;
      (raw ??= {})[key] = bytes;
      Object.defineProperty(o, key, { get: () => new Uint8Array(bytes), enumerable: true, configurable: false });
    } else if (v instanceof Date && !(v instanceof FrozenDate)) {
      o[key] = new FrozenDate(v);
    } else if (v instanceof Set) {
      o[key] = new FrozenSet(v);
    } else {
      freezeDeep(v);
    }
  }
  if (raw) Object.defineProperty(o, RAW, { value: Object.freeze(raw), enumerable: false });
  Object.freeze(o);
}
