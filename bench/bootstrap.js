#!/usr/bin/env node
// The enclave bootstrap bundle (dist/enclave/bootstrap.mjs, what the base image runs): its size, the number
// of modules in it, and the bytes each source contributes, from the esbuild metafile written beside it
// (scripts/build-bootstrap.js). Prints a table and `name: value unit` lines. Run `npm run build` first.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist', 'enclave', 'bootstrap.mjs');
const meta = JSON.parse(readFileSync(path.join(root, 'dist', 'enclave', 'bootstrap.meta.json'), 'utf8'));
const output = meta.outputs['dist/enclave/bootstrap.mjs'];

/** `npm:<package>` for a dependency, `src/<folder>` for the project's own code. */
function owner(input) {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return input.split('/').slice(0, 2).join('/');
  const [scope, name] = input.slice(at + 'node_modules/'.length).split('/');
  return `npm:${scope.startsWith('@') ? `${scope}/${name}` : scope}`;
}

const bytesBy = new Map();
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  bytesBy.set(owner(input), (bytesBy.get(owner(input)) ?? 0) + bytesInOutput);
}
const inputs = Object.keys(meta.inputs);
const own = inputs.filter((i) => !i.includes('node_modules/'));
const size = statSync(bundle).size;

console.log('| part of the bootstrap bundle | bytes |');
console.log('| --- | --- |');
for (const [who, bytes] of [...bytesBy.entries()].sort((a, b) => b[1] - a[1])) console.log(`| ${who} | ${bytes} |`);
console.log('');
console.log(`bootstrap.bundle_bytes: ${size} B`);
console.log(`bootstrap.bundle_kib: ${(size / 1024).toFixed(0)} KiB`);
console.log(`bootstrap.modules: ${inputs.length} modules`);
console.log(`bootstrap.src_modules: ${own.length} modules`);
