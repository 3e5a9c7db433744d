// The layer order of src/ (docs/architecture.md), as data, and the ESLint rule that enforces it.
//
// Every folder of src/ (and each file directly under it: errors.ts, version.ts) sits in one layer. A source
// file may import its own folder and any folder of a LOWER layer; never a folder of its own layer or of a
// higher one, so no folder cycle can form. Test files (*.test.ts) and src/testing/ may import anything;
// source files may not import them. A folder missing from the table is an error too: a new folder takes a
// place in the order (and in docs/architecture.md) when it is created.
//
// Used by eslint.config.js (rule `layers/layers`) and scripts/import-graph.js (which also checks the whole
// graph). Plain JS with no dependency, so that both load it as is.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bottom first. `folders` are the first path segment under src/ (a top-level file counts without `.ts`). */
export const LAYERS = [
  { name: 'core', folders: ['errors', 'version'], what: 'typed errors and exit codes, the version' },
  { name: 'base', folders: ['base', 'fs'], what: 'logging and option types; bounded file input, atomic output' },
  { name: 'crypto', folders: ['crypto'], what: 'Fernet, sealed boxes, AES-GCM, key files' },
  {
    name: 'attestation',
    folders: ['attestation'],
    what: 'DCAP quote, DER/X.509, collateral, appraisal, evidence.json',
  },
  {
    name: 'formats & clients',
    folders: ['ratls', 'gramine', 'pccs'],
    what: 'RA-TLS certificates, Gramine measurement, PCCS client',
  },
  {
    name: 'contracts',
    folders: ['launch', 'verify'],
    what: 'spawn arguments and container layout; evidence verification',
  },
  { name: 'project', folders: ['project'], what: 'mse.toml, scaffold, tests runner' },
  { name: 'package', folders: ['package'], what: 'package format, deterministic and strict tars' },
  {
    name: 'runtime',
    folders: ['enclave', 'image', 'docker'],
    what: 'the enclave bootstrap; image.tar file system; Docker engine',
  },
  {
    name: 'platforms',
    folders: ['sim', 'sgx', 'provider'],
    what: 'simulated and SGX platforms; the provider’s packaging',
  },
  { name: 'flows', folders: ['deploy'], what: 'the operator’s flows: spawn, evidence, run, status' },
  { name: 'cli', folders: ['cli'], what: 'commands: argument parsing and output' },
];

/** Folders that only tests may import. */
export const TEST_ONLY = ['testing'];

export const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

const RANK = new Map(LAYERS.flatMap((l, i) => l.folders.map((f) => [f, i])));

/** The folder of a src-relative POSIX path: its first segment, or the file's name without `.ts` at the top. */
export function folderOf(rel) {
  const parts = rel.split('/');
  return parts.length === 1 ? parts[0].replace(/\.(ts|js)$/, '') : parts[0];
}

/** Test code: exempt from the order, and importable by tests only. */
export function isTestPath(rel) {
  return /\.test\.ts$/.test(rel) || TEST_ONLY.includes(folderOf(rel));
}

/**
 * Why `fromRel` may not import `toRel` (src-relative POSIX paths), or undefined when it may. Test files
 * may import anything.
 */
export function layerViolation(fromRel, toRel) {
  if (isTestPath(fromRel)) return undefined;
  const from = folderOf(fromRel);
  const to = folderOf(toRel);
  if (isTestPath(toRel)) return `src/${from}/ may not import test code (${toRel}): only tests may`;
  if (from === to) return undefined;
  for (const f of [from, to]) {
    if (!RANK.has(f))
      return `src/${f} is in no layer: add it to LAYERS in scripts/layers.js and to docs/architecture.md`;
  }
  const a = RANK.get(from);
  const b = RANK.get(to);
  if (b < a) return undefined;
  const where =
    b === a ? `the same layer (${LAYERS[a].name})` : `a higher layer (${LAYERS[b].name} above ${LAYERS[a].name})`;
  return `src/${from}/ may not import src/${to}/ (${toRel}): it is in ${where}; see docs/architecture.md`;
}

/** The src-relative POSIX path a relative specifier of `fromRel` names (with `.ts`), or undefined. */
export function resolveSpecifier(fromRel, specifier) {
  if (typeof specifier !== 'string' || !specifier.startsWith('.')) return undefined;
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), specifier));
  if (target.startsWith('..')) return undefined;
  return target.replace(/\.js$/, '.ts');
}

/** ESLint rule: report every import of a source file under src/ that breaks the layer order. */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep src/ layered: import only your own folder and lower layers (docs/architecture.md)' },
    schema: [],
  },
  create(context) {
    const rel = path.relative(SRC, context.filename).split(path.sep).join('/');
    if (rel.startsWith('..') || path.isAbsolute(rel) || isTestPath(rel)) return {};
    const check = (node, specifier) => {
      const target = resolveSpecifier(rel, specifier);
      if (target === undefined) return;
      const message = layerViolation(rel, target);
      if (message) context.report({ node, message });
    };
    const literal = (n) => (n && n.type === 'Literal' ? n.value : undefined);
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ImportExpression: (n) => check(n.source, literal(n.source)),
      // `import('../x.js').Type` in a type position
      TSImportType: (n) => check(n, literal(n.argument?.literal) ?? literal(n.argument)),
    };
  },
};

/** The ESLint plugin eslint.config.js registers as `layers`. */
export const layersPlugin = { meta: { name: 'mse-home-layers' }, rules: { layers: rule } };
