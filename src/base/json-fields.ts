/**
 * One reader for untrusted JSON: every field is read through a {@link JsonValue} that knows its path
 * (`input_args.size`, `platform.tcbComponents[3]`), and every failure is one call of the caller's
 * {@link FieldFail} with that path and a detail in one vocabulary (`is missing`, `must be a string`,
 * `must be an integer in 0..65535`, …). The caller decides the error: its code, its class, how the path is
 * worded (`evidence field input_args.size must be …`), its hint. So each file format keeps its own stable
 * error code, and all of them read fields the same way.
 *
 * Pure: no I/O, no error class of its own.
 */

/** Report the field at `path` (empty for the document itself) as bad; `detail` says why. Never returns. */
export type FieldFail = (path: string, detail: string) => never;

/** What a string must be. */
export interface StringRule {
  /** Refuse the empty string (`must be a non-empty string`). */
  nonEmpty?: boolean;
  /** Largest length in UTF-16 code units. */
  maxLength?: number;
  /** The value must match; `what` says what it must be (`must be <what>`). */
  pattern?: RegExp;
  what?: string;
}

/** What an integer must be: a JSON number that is a safe integer within [min, max]. */
export interface IntegerRule {
  /** Default 0. */
  min?: number;
  /** Default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
}

/** The detail for an integer outside `rule` (one wording everywhere). */
export function integerDetail(rule: IntegerRule = {}): string {
  const min = rule.min ?? 0;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  if (max === Number.MAX_SAFE_INTEGER)
    return min === 0 ? 'must be a non-negative integer' : `must be an integer ≥ ${min}`;
  return `must be an integer in ${min}..${max}`;
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** An untrusted JSON value at a path. */
export class JsonValue {
  constructor(
    readonly value: unknown,
    readonly path: string,
    readonly fail: FieldFail,
  ) {}

  /** The value is absent (`undefined`: a missing member). */
  get missing(): boolean {
    return this.value === undefined;
  }

  /** The value is JSON `null` or absent. */
  get isNull(): boolean {
    return this.value === null || this.value === undefined;
  }

  private bad(detail: string): never {
    return this.fail(this.path, this.value === undefined ? 'is missing' : detail);
  }

  /** A JSON object (not null, not an array). */
  object(): JsonObject {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.bad('must be an object');
    return new JsonObject(v as Record<string, unknown>, this.path, this.fail);
  }

  /** A JSON array, optionally of exactly `length` items; its items as values at `path[i]`. */
  array(rule: { length?: number; min?: number; max?: number } = {}): JsonValue[] {
    const v = this.value;
    if (!Array.isArray(v)) this.bad('must be an array');
    if (rule.length !== undefined && v.length !== rule.length)
      this.bad(`must hold ${rule.length} items, not ${v.length}`);
    if (rule.min !== undefined && v.length < rule.min) {
      this.bad(rule.min === 1 ? 'must not be empty' : `must hold at least ${rule.min} items`);
    }
    if (rule.max !== undefined && v.length > rule.max) this.bad(`must hold at most ${rule.max} items`);
    return v.map((item, i) => new JsonValue(item, `${this.path}[${i}]`, this.fail));
  }

  /** A string following `rule`. */
  string(rule: StringRule = {}): string {
    const v = this.value;
    if (typeof v !== 'string' || (rule.nonEmpty && v.length === 0)) {
      this.bad(rule.nonEmpty ? 'must be a non-empty string' : 'must be a string');
    }
    if (rule.maxLength !== undefined && v.length > rule.maxLength) {
      this.bad(`must be at most ${rule.maxLength} characters long`);
    }
    if (rule.pattern && !rule.pattern.test(v)) this.bad(`must be ${rule.what ?? `a string matching ${rule.pattern}`}`);
    return v;
  }

  /** A safe integer within `rule` (default: non-negative). */
  integer(rule: IntegerRule = {}): number {
    const v = this.value;
    const min = rule.min ?? 0;
    const max = rule.max ?? Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.bad(integerDetail(rule));
    return v;
  }

  /** `true` or `false`. */
  boolean(): boolean {
    if (typeof this.value !== 'boolean') this.bad('must be true or false');
    return this.value;
  }

  /** Hex text of exactly `size` bytes (`lowercase`: only a–f accepted); the bytes. */
  hex(size: number, options: { lowercase?: boolean } = {}): Uint8Array {
    const re = options.lowercase ? /^(?:[0-9a-f]{2})*$/ : /^(?:[0-9a-fA-F]{2})*$/;
    const v = this.value;
    if (typeof v !== 'string' || v.length !== size * 2 || !re.test(v)) {
      this.bad(`must be ${size * 2} ${options.lowercase ? 'lowercase ' : ''}hex characters`);
    }
    return new Uint8Array(Buffer.from(v, 'hex'));
  }

  /** One of `choices` (compared with ===). */
  oneOf<T extends string | number>(choices: readonly T[]): T {
    if (!choices.includes(this.value as T)) this.bad(`must be ${choices.map((c) => JSON.stringify(c)).join(' or ')}`);
    return this.value as T;
  }

  /** Fail at this value's path with `detail` (for checks beyond the reader's rules). */
  reject(detail: string): never {
    return this.fail(this.path, detail);
  }
}

/** An untrusted JSON object at a path: its members as {@link JsonValue}s. */
export class JsonObject {
  constructor(
    readonly value: Record<string, unknown>,
    readonly path: string,
    readonly fail: FieldFail,
  ) {}

  /** The member `key` (missing members are `undefined` values that fail with `is missing`). */
  get(key: string): JsonValue {
    const v = Object.prototype.hasOwnProperty.call(this.value, key) ? this.value[key] : undefined;
    return new JsonValue(v, joinPath(this.path, key), this.fail);
  }

  /** True when the member is present (even as null). */
  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.value, key) && this.value[key] !== undefined;
  }

  /** The member's value read by `read`, or undefined when it is absent. */
  optional<T>(key: string, read: (v: JsonValue) => T): T | undefined {
    return this.has(key) ? read(this.get(key)) : undefined;
  }

  string(key: string, rule?: StringRule): string {
    return this.get(key).string(rule);
  }

  integer(key: string, rule?: IntegerRule): number {
    return this.get(key).integer(rule);
  }

  object(key: string): JsonObject {
    return this.get(key).object();
  }

  /**
   * Refuse members other than `keys`: the first unknown one fails at its path with `detail` (default: a
   * list of the known keys).
   */
  onlyKeys(keys: readonly string[], detail?: string): void {
    for (const key of Object.keys(this.value)) {
      if (!keys.includes(key)) this.fail(joinPath(this.path, key), detail ?? `is not one of ${keys.join(', ')}`);
    }
  }
}

/** Read `value` (a parsed JSON document) at path `path` (default: the document, path ''). */
export function readJson(value: unknown, fail: FieldFail, path = ''): JsonValue {
  return new JsonValue(value, path, fail);
}

/**
 * Parse the text of a JSON file (collateral, evidence, state files): exactly one leading UTF-8 byte order
 * mark (U+FEFF, which some editors write) is dropped first. It sits outside every value, so no signed byte
 * moves: signed documents are JSON string values (or base64) inside the file, cut out from their own text.
 * A second BOM, or any other invalid JSON, calls `fail` with the reason.
 */
export function parseJsonFile(text: string, fail: (reason: string) => never): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.charCodeAt(0) === 0xfeff) fail('it starts with two byte order marks (U+FEFF)');
  try {
    return JSON.parse(body);
  } catch (error) {
    fail((error as Error).message);
  }
}
