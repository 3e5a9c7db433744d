#!/usr/bin/env node
// Prints the folder import graph of src/: one line per folder → folder edge (with the number of imports and
// the files that make them), every folder cycle, and every import that breaks the layer order of
// scripts/layers.js (what `npm run lint` enforces file by file). Exit status 1 when there is either.
//   node scripts/import-graph.js            source files only (tests excluded)
//   node scripts/import-graph.js --tests    test files too (*.test.ts, src/testing/; exempt from the order)
//   node scripts/import-graph.js --short    edges without the importing files
//   node scripts/import-graph.js --json     { edges: [{from, to, imports}], cycles, violations }
// Files directly under src/ (errors.ts, version.ts) count as the folder named after the file.
// Imports are read with TypeScript's own pre-processor (static, `export … from`, `import type`, import()).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { LAYERS, SRC, folderOf, isTestPath, layerViolation, resolveSpecifier } from './layers.js';

const args = process.argv.slice(2);
const withTests = args.includes('--tests');
const asJson = args.includes('--json');
const short = args.includes('--short');
const root = SRC;

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)],
  );
}
const files = walk(root)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => path.relative(root, f).split(path.sep).join('/'))
  .filter((rel) => withTests || !isTestPath(rel))
  .sort();

/** from → to → list of "file → target" imports */
const edges = new Map();
/** imports that break the layer order */
const violations = [];
for (const rel of files) {
  const info = ts.preProcessFile(readFileSync(path.join(root, rel), 'utf8'), true, true);
  for (const { fileName } of info.importedFiles) {
    const target = resolveSpecifier(rel, fileName); // undefined for packages and node: built-ins
    if (target === undefined) continue;
    const broken = layerViolation(rel, target);
    if (broken) violations.push(`${rel}: ${broken}`);
    const from = folderOf(rel);
    const to = folderOf(target);
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const m = edges.get(from);
    if (!m.has(to)) m.set(to, []);
    m.get(to).push(`${rel} → ${target}`);
  }
}

/** Strongly connected components with more than one folder (Tarjan): each is a set of folders in a cycle. */
function cycles() {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]);
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!idx.has(v)) visit(v);
  return out;
}

const found = cycles();
const list = [...edges.entries()]
  .sort(([a], [b]) => a.localeCompare(b))
  .flatMap(([from, m]) =>
    [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([to, imports]) => ({ from, to, imports })),
  );
if (asJson) {
  console.log(JSON.stringify({ edges: list, cycles: found, violations }, null, 2));
} else {
  for (const e of list) {
    console.log(`${e.from} → ${e.to} (${e.imports.length})`);
    if (!short) for (const i of e.imports) console.log(`    ${i}`);
  }
  console.log(found.length === 0 ? 'cycles: none' : `cycles: ${found.length}`);
  for (const c of found) {
    console.log(`  ${c.join(' ↔ ')}`);
    // the edges inside the component, so the reader sees which imports close the loop
    for (const from of c)
      for (const to of c) {
        const imps = edges.get(from)?.get(to);
        if (imps) console.log(`    ${from} → ${to}: ${imps.join('; ')}`);
      }
  }
}
if (!asJson) {
  console.log(violations.length === 0 ? 'layer violations: none' : `layer violations: ${violations.length}`);
  for (const v of violations) console.log(`  ${v}`);
  console.log('layers (bottom first):');
  LAYERS.forEach((l, i) => console.log(`  ${i} ${l.name}: ${l.folders.join(', ')}`));
}
process.exit(found.length === 0 && violations.length === 0 ? 0 : 1);
