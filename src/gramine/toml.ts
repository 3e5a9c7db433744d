/**
 * Gramine manifests as TOML: a strict reader that gives what Python's `tomli` 2.0.1 gives (the parser
 * `gramine-sgx-sign` uses), and a writer that produces the bytes `tomli_w` 1.0.0 writes (the serializer
 * whose output Gramine measures).
 *
 * The document model keeps key insertion order, as Python dicts do: tables are `Map`s, integers `bigint`s.
 * Reading goes through smol-toml (already a dependency) with three guards, because smol-toml alone does
 * not give what tomli gives:
 * - smol-toml implements TOML 1.1 and tomli TOML 1.0: newlines and trailing commas in inline tables and
 *   the `\e` / `\xHH` escapes are refused here before parsing (Gramine's signer would fail on them);
 * - JavaScript objects list integer-like keys (`"1"`, `"42"`) first in numeric order, whatever their
 *   position in the file, so a table holding such a key among others is refused (its order is lost);
 * - floats (`1.0` and `1` both become the number 1 in JavaScript, and Python prints floats its own way),
 *   dates and times are refused, naming the key: Gramine's manifest syntax uses none of them.
 * The text is decoded as strict UTF-8 with universal newlines (`\r\n` and a lone `\r` become `\n`), as
 * Python's text mode reads the manifest; a byte-order mark is refused (tomli fails on it).
 */
import { parse, TomlError } from 'smol-toml';
import { InputError } from '../errors.js';

/** With the `u` flag a surrogate pair is one code point: this matches only lone (ill-formed) surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** A TOML value as Gramine's signer sees it (no floats, no dates). */
export type TomlValue = string | bigint | boolean | TomlValue[] | TomlTable;
/** A TOML table; iteration order is insertion order (the order keys first appear in the file). */
export type TomlTable = Map<string, TomlValue>;

/** True for a table (as opposed to an array or a scalar). */
export function isTomlTable(value: TomlValue | undefined): value is TomlTable {
  return value instanceof Map;
}

/** A dotted key path for messages, quoting parts that are not bare keys (`loader.env."A B"`). */
export function keyPath(parts: readonly string[]): string {
  return parts.map((p) => (isBareKey(p) ? p : JSON.stringify(p))).join('.');
}

function tomlError(code: string, message: string, hint: string, cause?: unknown): InputError {
  return new InputError(code, message, { hint, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Decode manifest bytes as Python's text mode does for `gramine-sgx-sign --manifest` (strict UTF-8,
 * universal newlines). Throws `ERR_GRAMINE_MANIFEST_ENCODING`.
 */
export function decodeManifestText(input: string | Uint8Array, what = 'manifest'): string {
  let text: string;
  if (typeof input === 'string') {
    if (LONE_SURROGATE.test(input)) {
      throw tomlError('ERR_GRAMINE_MANIFEST_ENCODING', `${what} is not well-formed Unicode`, 'Save it as UTF-8.');
    }
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch (error) {
      throw tomlError('ERR_GRAMINE_MANIFEST_ENCODING', `${what} is not valid UTF-8`, 'Save it as UTF-8.', error);
    }
  }
  if (text.startsWith('\ufeff')) {
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_ENCODING',
      `${what} starts with a byte-order mark, which Gramine's TOML parser rejects`,
      'Save it as UTF-8 without a BOM.',
    );
  }
  return text.replace(/\r\n?/g, '\n');
}

/** Position (1-based line and column) of offset `i` in `text`, for messages. */
function position(text: string, i: number): string {
  const before = text.slice(0, i);
  const line = before.split('\n').length;
  return `line ${line}, column ${i - before.lastIndexOf('\n')}`;
}

const TOML10_ESCAPES = new Set(['b', 't', 'n', 'f', 'r', '"', '\\', 'u', 'U']);

/**
 * Refuse the TOML 1.1 syntax smol-toml accepts and tomli (TOML 1.0) does not. A lexical pass: it tracks
 * strings, comments and bracket nesting only; everything else is left to the parser.
 */
function refuseToml11(text: string, what: string): void {
  const fail = (i: number, msg: string): never => {
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_TOML',
      `${what}: ${msg} at ${position(text, i)} (TOML 1.1 syntax; Gramine's signer reads TOML 1.0)`,
      'Write the manifest in TOML 1.0: inline tables on one line without a trailing comma, \\uXXXX escapes.',
    );
  };
  const stack: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const multi = text.startsWith(c.repeat(3), i);
      i += multi ? 3 : 1;
      while (i < n) {
        const d = text[i]!;
        if (c === '"' && d === '\\') {
          const e = text[i + 1];
          if (e === undefined) break;
          if (!TOML10_ESCAPES.has(e) && !(multi && /[ \t\n]/.test(e))) {
            if (e === 'e' || e === 'x') fail(i, `escape \\${e}`);
            break; // any other bad escape: the parser reports it
          }
          i += 2;
          continue;
        }
        if (!multi && d === '\n') break;
        if (multi ? text.startsWith(c.repeat(3), i) : d === c) {
          if (!multi) {
            i++;
          } else {
            while (text[i] === c) i++; // up to two quotes may end the content
          }
          break;
        }
        i++;
      }
      continue;
    }
    const top = stack[stack.length - 1];
    if (c === '[' || c === '{') stack.push(c);
    else if ((c === ']' && top === '[') || (c === '}' && top === '{')) stack.pop();
    else if (c === '\n' && top === '{') fail(i, 'a newline inside an inline table');
    else if (c === ',' && top === '{') {
      let j = i + 1;
      while (text[j] === ' ' || text[j] === '\t') j++;
      if (text[j] === '}') fail(i, 'a trailing comma in an inline table');
    }
    i++;
  }
}

const INDEX_KEY = /^(?:0|[1-9][0-9]{0,9})$/;

function isIndexKey(k: string): boolean {
  return INDEX_KEY.test(k) && Number(k) < 2 ** 32 - 1;
}

function toModel(value: unknown, path: string[], what: string): TomlValue {
  const at = (): string => `'${keyPath(path)}'`;
  if (typeof value === 'string' || typeof value === 'bigint' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_VALUE',
      `${what}: ${at()} is a float; floats are not supported`,
      'Gramine manifest options take integers, booleans and strings (sizes are strings such as "256M").',
    );
  }
  if (value instanceof Date) {
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_VALUE',
      `${what}: ${at()} is a date or time; dates and times are not supported`,
      'Gramine manifest options take integers, booleans and strings.',
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => toModel(v, [...path, String(i)], what));
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length > 1) {
      const bad = keys.find(isIndexKey);
      if (bad !== undefined) {
        throw tomlError(
          'ERR_GRAMINE_MANIFEST_UNSUPPORTED',
          `${what}: key '${keyPath([...path, bad])}' is an integer-like key in a table with other keys; its position cannot be preserved`,
          'Rename the key (for example prefix it with a letter).',
        );
      }
    }
    const table: TomlTable = new Map();
    for (const k of keys) table.set(k, toModel((value as Record<string, unknown>)[k], [...path, k], what));
    return table;
  }
  throw tomlError('ERR_GRAMINE_MANIFEST_VALUE', `${what}: ${at()} has an unsupported value`, 'Check the manifest.');
}

/**
 * Parse a Gramine manifest as `tomli.loads` would, into the ordered model. `input` bytes are decoded with
 * {@link decodeManifestText}. Throws `ERR_GRAMINE_MANIFEST_ENCODING`, `ERR_GRAMINE_MANIFEST_TOML` (with
 * the line and column), `ERR_GRAMINE_MANIFEST_VALUE` or `ERR_GRAMINE_MANIFEST_UNSUPPORTED` (naming the key).
 */
export function parseManifestToml(input: string | Uint8Array, what = 'manifest'): TomlTable {
  const text = decodeManifestText(input, what);
  refuseToml11(text, what);
  let raw: unknown;
  try {
    raw = parse(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'keep' });
  } catch (error) {
    const detail = error instanceof TomlError ? error.message.split('\n')[0]! : String(error);
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_TOML',
      `${what} is not valid TOML${where}: ${detail.replace(/^Invalid TOML document: /, '')}`,
      'Fix the TOML syntax (Gramine reads TOML 1.0).',
      error,
    );
  }
  return toModel(raw, [], what) as TomlTable;
}

// ---------------------------------------------------------------------------------------------------------
// Writer: tomli_w 1.0.0's output, byte for byte.

const ARRAY_INDENT = '    ';
const MAX_LINE_LENGTH = 100;

function isBareKey(k: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(k);
}

/** True when {@link formatString} escapes nothing in `s` (no `"`, `\`, or control character but TAB). */
function plainString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || (c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** A basic string: `"`, `\` and control characters escaped (compact forms where TOML has them), TAB raw. */
function formatString(s: string): string {
  // Most strings (paths, hashes) escape nothing: one scan, no per-character concatenation.
  if (plainString(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      if (c === 0x08) out += '\\b';
      else if (c === 0x0a) out += '\\n';
      else if (c === 0x0c) out += '\\f';
      else if (c === 0x0d) out += '\\r';
      else out += '\\u' + c.toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}

function formatKey(k: string): string {
  return isBareKey(k) ? k : formatString(k);
}

function formatInlineTable(t: TomlTable): string {
  if (t.size === 0) return '{}';
  // Values inside an inline table are formatted at nesting level 0, as tomli_w does.
  return '{ ' + [...t].map(([k, v]) => `${formatKey(k)} = ${formatLiteral(v, 0)}`).join(', ') + ' }';
}

function formatArray(a: TomlValue[], nest: number): string {
  if (a.length === 0) return '[]';
  const itemIndent = ARRAY_INDENT.repeat(nest + 1);
  return '[\n' + a.map((v) => itemIndent + formatLiteral(v, nest + 1)).join(',\n') + `,\n${ARRAY_INDENT.repeat(nest)}]`;
}

function formatLiteral(v: TomlValue, nest: number): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return formatString(v);
  if (Array.isArray(v)) return formatArray(v, nest);
  return formatInlineTable(v);
}

function isArrayOfTables(v: TomlValue): v is TomlTable[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => isTomlTable(t));
}

/** Code points in `s` (Python's `len`): UTF-16 units minus one per surrogate pair. */
function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** tomli_w writes an array of tables inline when each `    { … },` line fits in 100 characters. */
function fitsInline(t: TomlTable): boolean {
  const line = `${ARRAY_INDENT}${formatInlineTable(t)},`;
  if (line.includes('\n')) return false;
  // Python counts code points, never more than UTF-16 units: count them only when the units do not fit.
  return line.length <= MAX_LINE_LENGTH || codePointLength(line) <= MAX_LINE_LENGTH;
}

function writeTable(table: TomlTable, name: string, insideAot: boolean, out: string[]): void {
  const literals: [string, TomlValue][] = [];
  const tables: [string, TomlTable, boolean][] = [];
  for (const [k, v] of table) {
    if (isTomlTable(v)) tables.push([k, v, false]);
    else if (isArrayOfTables(v) && !v.every(fitsInline)) for (const t of v) tables.push([k, t, true]);
    else literals.push([k, v]);
  }
  let wrote = false;
  if (insideAot || (name !== '' && (literals.length > 0 || tables.length === 0))) {
    out.push(insideAot ? `[[${name}]]\n` : `[${name}]\n`);
    wrote = true;
  }
  for (const [k, v] of literals) {
    out.push(`${formatKey(k)} = ${formatLiteral(v, 0)}\n`);
    wrote = true;
  }
  for (const [k, t, aot] of tables) {
    if (wrote) out.push('\n');
    wrote = true;
    writeTable(t, name === '' ? formatKey(k) : `${name}.${formatKey(k)}`, aot, out);
  }
}

/**
 * Serialize `table` exactly as `tomli_w.dumps` 1.0.0 does: at each level the plain values first, then
 * sub-tables and arrays of tables in insertion order under `[a.b]` / `[[a.b]]` headers separated by blank
 * lines (no header for a table holding only sub-tables); arrays multi-line with a 4-space indent and a
 * trailing comma; arrays of tables inline when every element fits on a 100-character line. Throws
 * `ERR_GRAMINE_MANIFEST_ENCODING` for a string that is not well-formed Unicode.
 */
export function dumpToml(table: TomlTable): string {
  const out: string[] = [];
  writeTable(table, '', false, out);
  const text = out.join('');
  if (LONE_SURROGATE.test(text)) {
    throw tomlError(
      'ERR_GRAMINE_MANIFEST_ENCODING',
      'the manifest holds a string that is not well-formed Unicode',
      'Check file names and values for invalid characters.',
    );
  }
  return text;
}
