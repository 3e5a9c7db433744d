#!/usr/bin/env node
// Runs the compiled test files with Node's test runner.
//   --unit   only pure tests (skip *.e2e.test.js, which need Docker and Debian's Python)
//   --e2e    only end-to-end tests
// Extra arguments that are paths filter the test files by substring.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const e2e = args.includes('--e2e');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)],
  );
}
let files = walk('dist')
  .filter((f) => f.endsWith('.test.js'))
  .sort();
if (unit) files = files.filter((f) => !f.endsWith('.e2e.test.js'));
if (e2e) files = files.filter((f) => f.endsWith('.e2e.test.js'));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
