/**
 * Gramine manifest finalization, as `gramine-sgx-sign` (Gramine v1.9) does it before measuring:
 * defaults added in Gramine's order, `loader.entrypoint` hashed, trusted files expanded (directories
 * walked, names sorted, duplicates merged) and hashed, then the manifest written back with tomli_w's
 * formatting. Those output bytes (plus a NUL) are what MRENCLAVE covers.
 *
 * Where Gramine's signer would accept something we cannot reproduce exactly, or that cannot make a working
 * enclave, we refuse it with an error naming the key instead (see docs/measurement.md, "Gramine
 * measurement"): non-boolean flags, out-of-range ids, unknown `cpu_features`, sizes that are not a power of
 * two, deprecated `sgx.require_*` options, malformed pre-set hashes, non-regular trusted files.
 */
import { InputError } from '../errors.js';
import { formatBytes, MEASUREMENT_LIMITS } from '../fs/limits.js';
import { joinPath, sha256Source, uriPath, type FileSource } from './files.js';
import { dumpToml, isTomlTable, keyPath, parseManifestToml, type TomlTable, type TomlValue } from './toml.js';

/** Gramine's library directory in its Debian/Ubuntu packages (`_CONFIG_PKGLIBDIR`). */
export const GRAMINE_PKGLIBDIR = '/usr/lib/x86_64-linux-gnu/gramine';
/** `loader.entrypoint.uri` when the manifest gives none: the LibOS, `libsysdb.so`. */
export const DEFAULT_LIBOS_URI = `file:${GRAMINE_PKGLIBDIR}/libsysdb.so`;
/** Default `sgx.enclave_size` without / with EDMM. */
export const DEFAULT_ENCLAVE_SIZE = '256M';
export const DEFAULT_ENCLAVE_SIZE_EDMM = '1024G';
/** Default `sgx.max_threads`. */
export const DEFAULT_MAX_THREADS = 4;
/** Largest number of trusted files one manifest may expand to (a bound on memory and manifest size). */
export const MAX_TRUSTED_FILES = 1_000_000;

/** What the enclave's measurement and SIGSTRUCT take from the final manifest's `sgx` table. */
export interface EnclaveAttributes {
  /** `sgx.enclave_size` in bytes (a power of two). */
  enclaveSize: number;
  maxThreads: number;
  /** `sgx.edmm_enable`: the heap is then not added (measured) at build time. */
  edmm: boolean;
  debug: boolean;
  isvProdId: number;
  isvSvn: number;
  /** SIGSTRUCT ATTRIBUTES.FLAGS: MODE64BIT, plus DEBUG when `sgx.debug`. */
  flags: bigint;
  /** SIGSTRUCT ATTRIBUTES.XFRM and ATTRIBUTEMASK.XFRM from `sgx.cpu_features`. */
  xfrm: bigint;
  xfrmMask: bigint;
  /** SIGSTRUCT MISCSELECT: EXINFO when `sgx.use_exinfo`. */
  miscSelect: number;
}

/** One `sgx.trusted_files` entry (or `loader.entrypoint`) of a final manifest. */
export interface TrustedFile {
  uri: string;
  /** Lowercase hex when computed here; as written in the manifest when it was pre-set. */
  sha256: string;
  /** False when the manifest already gave the hash (kept verbatim, the file is not read). */
  hashed: boolean;
}

/** The result of {@link finalizeManifest}: what `gramine-sgx-sign --output` writes, and what it means. */
export interface FinalManifest {
  /** The final manifest text, exactly as Gramine's signer writes it. */
  text: string;
  /** `text` as UTF-8: the bytes that are measured (followed by one NUL). */
  bytes: Uint8Array;
  /** The final document. */
  table: TomlTable;
  entrypoint: TrustedFile;
  trustedFiles: TrustedFile[];
  attributes: EnclaveAttributes;
}

export interface FinalizeOptions {
  /** `loader.entrypoint.uri` when the manifest has none (default {@link DEFAULT_LIBOS_URI}). */
  libosUri?: string;
  /** Called before each file is hashed (progress). */
  onHash?: (uri: string) => void;
}

const SGX_FLAGS_DEBUG = 0x2n;
const SGX_FLAGS_MODE64BIT = 0x4n;
const SGX_MISCSELECT_EXINFO = 0x1;
const SGX_XFRM_LEGACY = 0x3n;
const SGX_XFRM_MASK_CONST = 0xfffffffffff9ff1bn;

/** `sgx.cpu_features` in the order Gramine applies them; mpx and pkru cannot be "unspecified". */
const CPU_FEATURES: { name: string; bits: bigint; unspecifiedAllowed: boolean }[] = [
  { name: 'avx', bits: 0x4n, unspecifiedAllowed: true },
  { name: 'avx512', bits: 0xe4n, unspecifiedAllowed: true },
  { name: 'amx', bits: 0x60000n, unspecifiedAllowed: true },
  { name: 'mpx', bits: 0x18n, unspecifiedAllowed: false },
  { name: 'pkru', bits: 0x200n, unspecifiedAllowed: false },
];

/** Options deprecated in Gramine v1.6 whose handling differs between versions: refused. */
const DEPRECATED_SGX = [
  'require_avx',
  'require_avx512',
  'require_amx',
  'require_mpx',
  'require_pkru',
  'require_exinfo',
];

function valueError(key: string[], message: string, hint?: string): InputError {
  return new InputError('ERR_GRAMINE_MANIFEST_VALUE', `manifest: '${keyPath(key)}' ${message}`, {
    hint: hint ?? 'See Gramine’s manifest syntax documentation.',
  });
}

/** `table[key]` as a table, created (appended) when absent, like Python's `dict.setdefault(key, {})`. */
function tableAt(table: TomlTable, key: string, at: string[]): TomlTable {
  const v = table.get(key);
  if (v === undefined) {
    const created: TomlTable = new Map();
    table.set(key, created);
    return created;
  }
  if (!isTomlTable(v)) throw valueError([...at, key], 'must be a table');
  return v;
}

function setDefault(table: TomlTable, key: string, value: TomlValue): void {
  if (!table.has(key)) table.set(key, value);
}

/**
 * Add the defaults `graminelibos.Manifest` adds, in its order (a missing key is appended to its table,
 * so this order shows in the output), and turn string trusted-file entries into `{ uri }` tables.
 * Does not touch `loader.entrypoint` (see {@link finalizeManifest}). Mutates `doc`.
 */
export function applyManifestDefaults(doc: TomlTable): void {
  const sgx = tableAt(doc, 'sgx', []);
  for (const k of DEPRECATED_SGX) {
    if (sgx.has(k)) {
      throw new InputError('ERR_GRAMINE_MANIFEST_UNSUPPORTED', `manifest: 'sgx.${k}' is deprecated and not supported`, {
        hint:
          k === 'require_exinfo'
            ? 'Use sgx.use_exinfo = true instead.'
            : `Use sgx.cpu_features.${k.slice('require_'.length)} = "required" instead.`,
      });
    }
  }
  setDefault(sgx, 'trusted_files', []);
  setDefault(sgx, 'max_threads', BigInt(DEFAULT_MAX_THREADS));
  setDefault(sgx, 'isvprodid', 0n);
  setDefault(sgx, 'isvsvn', 0n);
  setDefault(sgx, 'remote_attestation', 'none');
  setDefault(sgx, 'debug', false);
  setDefault(sgx, 'enable_stats', false);
  setDefault(sgx, 'edmm_enable', false);
  const edmm = sgx.get('edmm_enable');
  if (typeof edmm !== 'boolean') throw valueError(['sgx', 'edmm_enable'], 'must be true or false');
  setDefault(sgx, 'enclave_size', edmm ? DEFAULT_ENCLAVE_SIZE_EDMM : DEFAULT_ENCLAVE_SIZE);
  setDefault(sgx, 'use_exinfo', false);
  const features = tableAt(sgx, 'cpu_features', ['sgx']);
  for (const f of CPU_FEATURES) setDefault(features, f.name, f.unspecifiedAllowed ? 'unspecified' : 'disabled');

  const files = sgx.get('trusted_files');
  if (!Array.isArray(files)) {
    throw valueError(['sgx', 'trusted_files'], 'must be an array', 'Use sgx.trusted_files = [ "file:…", … ].');
  }
  sgx.set(
    'trusted_files',
    files.map((tf, i) => {
      if (typeof tf === 'string') return new Map([['uri', tf]]);
      if (isTomlTable(tf) && tf.has('uri')) return tf;
      throw new InputError(
        'ERR_GRAMINE_TRUSTED_FILE',
        `manifest: sgx.trusted_files[${i}] is neither a URI string nor a table with 'uri'`,
        { hint: 'Write "file:PATH" or { uri = "file:PATH", sha256 = "…" }.' },
      );
    }),
  );
}

/** An integer option of the `sgx` table, within [min, max]. */
function intOption(sgx: TomlTable, key: string, min: number, max: number): number {
  const v = sgx.get(key);
  if (typeof v !== 'bigint' || v < BigInt(min) || v > BigInt(max)) {
    throw valueError(['sgx', key], `must be an integer from ${min} to ${max}, got ${describe(v)}`);
  }
  return Number(v);
}

function boolOption(sgx: TomlTable, key: string): boolean {
  const v = sgx.get(key);
  if (typeof v !== 'boolean') throw valueError(['sgx', key], `must be true or false, got ${describe(v)}`);
  return v;
}

function describe(v: TomlValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : 'a table';
}

const SIZE_NUMBER = /^(?:0(?:_?0)*|[1-9](?:_?[0-9])*|0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+)$/;

/**
 * A size as the signer's `parse_size` reads it: an integer in Python's base-0 syntax (decimal without
 * leading zeros, `0x…`, `0o…`, `0b…`, single `_` between digits), optionally followed by an uppercase
 * `K`, `M` or `G` (×1024, ×1024², ×1024³). Whitespace and signs, which Python would also accept, are
 * refused. `key` names the option in errors (`ERR_GRAMINE_ENCLAVE_SIZE`).
 */
export function parseSize(value: string, key: string): number {
  const fail = (why: string): never => {
    throw new InputError('ERR_GRAMINE_ENCLAVE_SIZE', `manifest: '${key}' = ${JSON.stringify(value)} ${why}`, {
      hint: 'Write a power of two such as "256M", "1G" or "4G" (uppercase K, M or G).',
    });
  };
  const scale = { K: 1024n, M: 1024n ** 2n, G: 1024n ** 3n }[value.slice(-1)] ?? 1n;
  const digits = scale === 1n ? value : value.slice(0, -1);
  if (!SIZE_NUMBER.test(digits)) fail('is not a size');
  const n = BigInt(digits.replace(/_/g, '')) * scale;
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail('is too large');
  return Number(n);
}

/**
 * The enclave attributes of a manifest whose defaults are applied ({@link applyManifestDefaults}), with
 * every value checked: `ERR_GRAMINE_MANIFEST_VALUE`, `ERR_GRAMINE_ENCLAVE_SIZE` (not a size, or not a
 * power of two as SGX requires), `ERR_GRAMINE_CPU_FEATURE`.
 */
export function enclaveAttributes(doc: TomlTable): EnclaveAttributes {
  const sgx = doc.get('sgx') as TomlTable;
  const sizeValue = sgx.get('enclave_size');
  if (typeof sizeValue !== 'string') {
    throw valueError(['sgx', 'enclave_size'], `must be a string such as "256M", got ${describe(sizeValue)}`);
  }
  const enclaveSize = parseSize(sizeValue, 'sgx.enclave_size');
  if (enclaveSize < 2 * 4096 || (BigInt(enclaveSize) & (BigInt(enclaveSize) - 1n)) !== 0n) {
    throw new InputError(
      'ERR_GRAMINE_ENCLAVE_SIZE',
      `manifest: 'sgx.enclave_size' = ${JSON.stringify(sizeValue)} (${enclaveSize} bytes) is not a power of two`,
      { hint: 'SGX requires the enclave size to be a power of two, such as "256M", "1G" or "4G".' },
    );
  }
  const maxThreads = intOption(sgx, 'max_threads', 1, 1 << 20);
  const edmm = boolOption(sgx, 'edmm_enable');
  checkMeasurementLimits({ enclaveSize, maxThreads, edmm }, JSON.stringify(sizeValue));
  const debug = boolOption(sgx, 'debug');
  const useExinfo = boolOption(sgx, 'use_exinfo');
  const isvProdId = intOption(sgx, 'isvprodid', 0, 0xffff);
  const isvSvn = intOption(sgx, 'isvsvn', 0, 0xffff);

  const features = sgx.get('cpu_features') as TomlTable;
  for (const k of features.keys()) {
    if (!CPU_FEATURES.some((f) => f.name === k)) {
      throw new InputError('ERR_GRAMINE_CPU_FEATURE', `manifest: unknown option 'sgx.cpu_features.${k}'`, {
        hint: `Known CPU features: ${CPU_FEATURES.map((f) => f.name).join(', ')}.`,
      });
    }
  }
  let xfrm = SGX_XFRM_LEGACY;
  let xfrmMask = SGX_XFRM_MASK_CONST;
  for (const f of CPU_FEATURES) {
    const v = features.get(f.name);
    if (v === 'required') {
      xfrm |= f.bits;
      xfrmMask |= f.bits;
    } else if (v === 'disabled') {
      xfrm &= ~f.bits;
      xfrmMask |= f.bits;
    } else if (!(v === 'unspecified' && f.unspecifiedAllowed)) {
      const allowed = f.unspecifiedAllowed ? '"required", "disabled" or "unspecified"' : '"required" or "disabled"';
      throw new InputError(
        'ERR_GRAMINE_CPU_FEATURE',
        `manifest: 'sgx.cpu_features.${f.name}' = ${describe(v)} is not allowed (${allowed})`,
        { hint: `Set sgx.cpu_features.${f.name} to ${allowed}.` },
      );
    }
  }
  return {
    enclaveSize,
    maxThreads,
    edmm,
    debug,
    isvProdId,
    isvSvn,
    flags: SGX_FLAGS_MODE64BIT | (debug ? SGX_FLAGS_DEBUG : 0n),
    xfrm,
    xfrmMask,
    miscSelect: useExinfo ? SGX_MISCSELECT_EXINFO : 0,
  };
}

/**
 * Refuse an enclave larger than mse-home measures (`ERR_GRAMINE_MEASUREMENT_LIMIT`): more than
 * `MEASUREMENT_LIMITS.maxThreads` threads, or more than `maxEnclaveBytes` without EDMM (every page of it
 * would be hashed). Checked when the manifest is read, before any file is hashed or page measured.
 */
export function checkMeasurementLimits(
  a: Pick<EnclaveAttributes, 'enclaveSize' | 'maxThreads' | 'edmm'>,
  sizeText = formatBytes(a.enclaveSize),
): void {
  if (a.maxThreads > MEASUREMENT_LIMITS.maxThreads) {
    throw new InputError(
      'ERR_GRAMINE_MEASUREMENT_LIMIT',
      `manifest: 'sgx.max_threads' = ${a.maxThreads} is more than the ${MEASUREMENT_LIMITS.maxThreads} threads mse-home measures`,
      { hint: 'Each thread adds 360 KiB of measured pages; see docs/cli.md, "Input limits".' },
    );
  }
  if (!a.edmm && a.enclaveSize > MEASUREMENT_LIMITS.maxEnclaveBytes) {
    throw new InputError(
      'ERR_GRAMINE_MEASUREMENT_LIMIT',
      `manifest: 'sgx.enclave_size' = ${sizeText} without EDMM is more than the ` +
        `${formatBytes(MEASUREMENT_LIMITS.maxEnclaveBytes)} mse-home measures`,
      {
        hint: 'Without EDMM every page of the enclave is measured; enable sgx.edmm_enable or use a smaller enclave (docs/cli.md, "Input limits").',
      },
    );
  }
}

/**
 * Read a final manifest (`.manifest.sgx` bytes) as the measurement step does: parse it, apply the
 * defaults (a no-op on a manifest Gramine finalized) and return its enclave attributes. Reads no file.
 */
export function readFinalManifest(bytes: Uint8Array): { table: TomlTable; attributes: EnclaveAttributes } {
  const table = parseManifestToml(bytes, 'final manifest');
  applyManifestDefaults(table);
  return { table, attributes: enclaveAttributes(table) };
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function presetHash(v: TomlValue | undefined, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !SHA256_HEX.test(v)) {
    throw new InputError(
      'ERR_GRAMINE_TRUSTED_FILE',
      `manifest: ${key}.sha256 must be 64 hex digits, got ${describe(v)}`,
      {
        hint: 'Remove the sha256 to let it be computed, or give the file’s SHA-256 in hex.',
      },
    );
  }
  return v;
}

function trustedError(message: string, hint: string): InputError {
  return new InputError('ERR_GRAMINE_TRUSTED_FILE', `manifest: ${message}`, { hint });
}

interface Candidate {
  uri: string;
  path: string;
  sha256: string | undefined;
}

/** UTF-8 byte order equals code point order, which is how Python sorts the names of a directory. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The files under `dir`, depth first, names sorted per directory. One generator with an explicit stack of
 * directories (not one generator per level: each file would pass through every level's `yield*`).
 */
async function* walkDirectory(source: FileSource, dir: string): AsyncGenerator<Candidate> {
  const stack = [{ dir, names: (await source.list(dir)).sort(byCodePoint), next: 0 }];
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    const name = top.names[top.next];
    if (name === undefined) {
      stack.pop(); // every name of this directory seen
      continue;
    }
    top.next++;
    const child = joinPath(top.dir, name);
    const entry = await source.stat(child);
    // As Gramine: skip what is neither a file nor a directory, or unreadable; do not enter linked dirs.
    if (!entry || entry.kind === 'other' || !entry.readable) continue;
    if (entry.kind === 'directory') {
      if (!entry.symlink) stack.push({ dir: child, names: (await source.list(child)).sort(byCodePoint), next: 0 });
    } else {
      yield { uri: `file:${child}`, path: child, sha256: undefined };
    }
  }
}

async function* expandEntry(source: FileSource, tf: TomlTable, index: number): AsyncGenerator<Candidate> {
  const key = `sgx.trusted_files[${index}]`;
  for (const k of tf.keys()) {
    if (k !== 'uri' && k !== 'sha256') {
      throw trustedError(`${key} has an unknown key '${k}'`, 'A trusted file is { uri = "file:…", sha256 = "…" }.');
    }
  }
  const uri = tf.get('uri');
  if (typeof uri !== 'string') throw trustedError(`${key}.uri must be a string`, 'Write uri = "file:PATH".');
  const sha256 = presetHash(tf.get('sha256'), key);
  const p = uriPath(uri, key);
  const entry = await source.stat(p);
  if (uri.endsWith('/')) {
    if (entry?.kind !== 'directory') {
      throw trustedError(
        `URI '${uri}' ends with "/" but is not a directory in ${source.description}`,
        'Remove the "/" for a file.',
      );
    }
    if (sha256 !== undefined) {
      throw trustedError(`directory URI '${uri}' has a sha256`, 'Directories are hashed file by file: remove sha256.');
    }
    yield* walkDirectory(source, p);
  } else {
    if (entry?.kind === 'directory') {
      throw trustedError(`directory URI '${uri}' does not end with "/"`, `Write '${uri}/' to trust every file in it.`);
    }
    yield { uri, path: p, sha256 };
  }
}

async function hashFile(source: FileSource, p: string, uri: string, options: FinalizeOptions): Promise<string> {
  options.onHash?.(uri);
  const entry = await source.stat(p);
  if (!entry) {
    throw new InputError('ERR_GRAMINE_FILE_MISSING', `manifest: '${uri}' does not exist in ${source.description}`, {
      hint: 'Relative file: URIs are resolved from the manifest’s folder; or give its sha256 in the manifest.',
    });
  }
  if (entry.kind !== 'file') {
    throw new InputError('ERR_GRAMINE_FILE_TYPE', `manifest: '${uri}' is not a regular file in ${source.description}`, {
      hint: 'Trusted files must be regular files (or directories given with a trailing "/").',
    });
  }
  return sha256Source(source, p);
}

/**
 * Finalize a Gramine manifest as `gramine-sgx-sign` does, reading the files it names from `source`:
 * 1. parse (TOML 1.0, UTF-8) and add the defaults in Gramine's order ({@link applyManifestDefaults});
 * 2. `loader.entrypoint.uri` defaults to `options.libosUri`; its `sha256` is computed when absent;
 * 3. trusted files: `file:DIR/` entries are walked recursively (names sorted per directory, entries that
 *    are neither regular files nor directories or are unreadable skipped, symlinked directories not
 *    entered), entries are merged by URI (first position kept; a pre-set hash wins; two different
 *    pre-set hashes are an error), each missing `sha256` is computed (lowercase hex) by streaming the file;
 * 4. the document is written with tomli_w's formatting.
 * The enclave attributes are checked before any file is read. Throws `InputError`s with `ERR_GRAMINE_*`
 * codes naming the key or URI at fault.
 */
export async function finalizeManifest(
  input: string | Uint8Array,
  source: FileSource,
  options: FinalizeOptions = {},
): Promise<FinalManifest> {
  const doc = parseManifestToml(input);
  applyManifestDefaults(doc);
  const attributes = enclaveAttributes(doc);

  const loader = tableAt(doc, 'loader', []);
  const ep = tableAt(loader, 'entrypoint', ['loader']);
  setDefault(ep, 'uri', options.libosUri ?? DEFAULT_LIBOS_URI);
  const epUri = ep.get('uri');
  if (typeof epUri !== 'string') throw valueError(['loader', 'entrypoint', 'uri'], 'must be a string');
  const epPath = uriPath(epUri, 'loader.entrypoint.uri');
  let entrypoint: TrustedFile;
  const epPreset = presetHash(ep.get('sha256'), 'loader.entrypoint');
  if (epPreset !== undefined) {
    entrypoint = { uri: epUri, sha256: epPreset, hashed: false };
  } else {
    entrypoint = { uri: epUri, sha256: await hashFile(source, epPath, epUri, options), hashed: true };
    ep.set('sha256', entrypoint.sha256);
  }

  const sgx = doc.get('sgx') as TomlTable;
  const merged = new Map<string, Candidate>();
  const entries = sgx.get('trusted_files') as TomlTable[];
  for (const [i, tf] of entries.entries()) {
    for await (const c of expandEntry(source, tf, i)) {
      const old = merged.get(c.uri);
      if (old?.sha256 !== undefined) {
        if (c.sha256 !== undefined && c.sha256 !== old.sha256) {
          throw trustedError(
            `two different sha256 values (${old.sha256} and ${c.sha256}) for '${c.uri}'`,
            'Keep one entry for the file.',
          );
        }
        continue;
      }
      if (!old && merged.size >= MAX_TRUSTED_FILES) {
        throw new InputError('ERR_GRAMINE_TOO_MANY_FILES', `manifest: more than ${MAX_TRUSTED_FILES} trusted files`, {
          hint: 'Trust fewer directories.',
        });
      }
      merged.set(c.uri, c); // an existing key keeps its position, as in a Python dict
    }
  }
  await source.prefetch?.([...merged.values()].filter((c) => c.sha256 === undefined).map((c) => c.path));
  const trustedFiles: TrustedFile[] = [];
  for (const c of merged.values()) {
    trustedFiles.push(
      c.sha256 !== undefined
        ? { uri: c.uri, sha256: c.sha256, hashed: false }
        : { uri: c.uri, sha256: await hashFile(source, c.path, c.uri, options), hashed: true },
    );
  }
  sgx.set(
    'trusted_files',
    trustedFiles.map(
      (t) =>
        new Map<string, TomlValue>([
          ['uri', t.uri],
          ['sha256', t.sha256],
        ]),
    ),
  );
  const text = dumpToml(doc);
  return { text, bytes: new Uint8Array(Buffer.from(text, 'utf8')), table: doc, entrypoint, trustedFiles, attributes };
}
