/**
 * Why two enclaves differ: the entries of two final Gramine manifests that are not the same (options,
 * spawn arguments, trusted files), so that a MRENCLAVE mismatch names its cause. Pure.
 */
import { createHash } from 'node:crypto';
import { isTomlTable, keyPath, type TomlTable, type TomlValue } from '../gramine/index.js';
import { maskAppId } from '../launch/evidence.js';
import { serializeArgvFile } from '../launch/args.js';
import { ARGS_FILE } from './enclave-manifest.js';

export interface ManifestDifference {
  /** `option`: a manifest key; `argument`: one spawn argument; `trusted-file`: a file's hash or presence. */
  kind: 'option' | 'argument' | 'trusted-file';
  /** The key path (`sgx.enclave_size`), the argument (`--subject`) or the file URI. */
  name: string;
  /** The value on the package's side (recomputed here); absent when only the enclave has the entry. */
  package?: string;
  /** The value in the enclave's manifest; absent when only the package has the entry. */
  enclave?: string;
}

/** One side: a final manifest, and the argv its args file holds when known. */
export interface ManifestSide {
  table: TomlTable;
  argv?: readonly string[];
}

function render(v: TomlValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(render).join(', ')}]`;
  return `{ ${[...v].map(([k, x]) => `${keyPath([k])} = ${render(x)}`).join(', ')} }`;
}

/** Every leaf option of `t` (arrays are one value) except `sgx.trusted_files`, by key path, in order. */
function options(t: TomlTable, at: string[] = [], out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of t) {
    const p = [...at, k];
    if (p.length === 2 && p[0] === 'sgx' && p[1] === 'trusted_files') continue;
    if (isTomlTable(v)) options(v, p, out);
    else out.set(keyPath(p), render(v));
  }
  return out;
}

function trustedFiles(t: TomlTable): Map<string, string> {
  const out = new Map<string, string>();
  const sgx = t.get('sgx');
  const files = isTomlTable(sgx) ? sgx.get('trusted_files') : undefined;
  for (const f of Array.isArray(files) ? files : []) {
    if (!isTomlTable(f)) continue;
    const uri = f.get('uri');
    const sha = f.get('sha256');
    if (typeof uri === 'string') out.set(uri, typeof sha === 'string' ? sha : '');
  }
  return out;
}

function compareMaps(kind: ManifestDifference['kind'], ours: Map<string, string>, theirs: Map<string, string>) {
  const out: ManifestDifference[] = [];
  for (const [name, v] of ours) {
    const w = theirs.get(name);
    if (w !== v) out.push({ kind, name, package: v, ...(w !== undefined ? { enclave: w } : {}) });
  }
  for (const [name, w] of theirs) if (!ours.has(name)) out.push({ kind, name, enclave: w });
  return out;
}

/** Pair up `--name value` words; the words before the first option (program, script) are `argv[i]`. */
function argumentMap(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  for (; i < argv.length && !argv[i]!.startsWith('--'); i++) out.set(`argv[${i}]`, JSON.stringify(argv[i]));
  for (; i < argv.length; i++) {
    const name = argv[i]!;
    const value = argv[i + 1];
    if (name.startsWith('--') && value !== undefined && !value.startsWith('--')) {
      out.set(name, JSON.stringify(value));
      i++;
    } else {
      out.set(name, name.startsWith('--') ? 'true' : JSON.stringify(name));
    }
  }
  return out;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * The differences between the package's final manifest and the enclave's, in this order: options (the
 * key path, e.g. `sgx.enclave_size`), then spawn arguments when both argv are known and the enclave's
 * matches the args file its manifest trusts (its `ARGS_FILE` entry is then reported as arguments), then
 * trusted files (URI and both hashes; one side missing means the file is only on the other side).
 */
export function diffManifests(ours: ManifestSide, theirs: ManifestSide): ManifestDifference[] {
  const out = compareMaps('option', options(ours.table), options(theirs.table));
  const oursFiles = trustedFiles(ours.table);
  const theirsFiles = trustedFiles(theirs.table);
  const argsUri = `file:${ARGS_FILE}`;
  const theirsArgsHash = theirsFiles.get(argsUri);
  if (
    ours.argv &&
    theirs.argv &&
    theirsArgsHash !== undefined &&
    oursFiles.get(argsUri) !== theirsArgsHash &&
    sha256(serializeArgvFile(theirs.argv)) === theirsArgsHash
  ) {
    // compared whole; the deployment UUID (a credential) is shown masked: the difference names it
    const mask = (v: string | undefined): string | undefined =>
      v === undefined ? undefined : JSON.stringify(maskAppId(JSON.parse(v) as string));
    for (const d of compareMaps('argument', argumentMap(ours.argv), argumentMap(theirs.argv))) {
      if (d.name !== '--id') out.push(d);
      else {
        const [p, e] = [mask(d.package), mask(d.enclave)];
        out.push({ ...d, ...(p !== undefined ? { package: p } : {}), ...(e !== undefined ? { enclave: e } : {}) });
      }
    }
    oursFiles.delete(argsUri);
    theirsFiles.delete(argsUri);
  }
  out.push(...compareMaps('trusted-file', oursFiles, theirsFiles));
  return out;
}

/** One line per difference, for reports. */
export function describeDifference(d: ManifestDifference): string {
  const what =
    d.kind === 'trusted-file' ? `trusted file ${d.name}` : d.kind === 'argument' ? `argument ${d.name}` : d.name;
  if (d.enclave === undefined) return `${what}: only in the package's manifest (${d.package})`;
  if (d.package === undefined) return `${what}: only in the enclave's manifest (${d.enclave})`;
  return `${what}: package ${d.package}, enclave ${d.enclave}`;
}
