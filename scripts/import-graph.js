#!/usr/bin/env node
// Prints the folder import graph of src/: one line per folder → folder edge (with the number of imports and
// the files that make them), then every folder cycle. Exit status 1 when a cycle exists.
//   node scripts/import-graph.js            source files only (tests excluded)
//   node scripts/import-graph.js --tests    test files too (*.test.ts, src/testing/)
//   node scripts/import-graph.js --json     the graph as JSON: { edges: [{from, to, imports}], cycles }
// Files directly under src/ (errors.ts, version.ts) count as the folder named after the file.
// Imports are read with TypeScript's own pre-processor (static, `export … from`, `import type`, import()).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const withTests = args.includes('--tests');
const asJson = args.includes('--json');
const root = path.resolve(process.argv[1], '..', '..', 'src');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)],
  );
}
const isTest = (rel) => rel.endsWith('.test.ts') || rel.startsWith('testing/');

/** The folder a src-relative path belongs to: its first segment, or the file's base name at the top. */
function folderOf(rel) {
  const parts = rel.split('/');
  return parts.length === 1 ? parts[0].replace(/\.ts$/, '') : parts[0];
}

const files = walk(root)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => path.relative(root, f).split(path.sep).join('/'))
  .filter((rel) => withTests || !isTest(rel))
  .sort();

/** from → to → list of "file → target" imports */
const edges = new Map();
for (const rel of files) {
  const info = ts.preProcessFile(readFileSync(path.join(root, rel), 'utf8'), true, true);
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue; // packages and node: built-ins
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), fileName)).replace(/\.js$/, '.ts');
    if (target.startsWith('..')) continue;
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
  console.log(JSON.stringify({ edges: list, cycles: found }, null, 2));
} else {
  for (const e of list) {
    console.log(`${e.from} → ${e.to} (${e.imports.length})`);
    for (const i of e.imports) console.log(`    ${i}`);
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
process.exit(found.length === 0 ? 0 : 1);
