#!/usr/bin/env node
// Thin launcher. `npm run build` (run by `npm ci` through `prepare`) compiles src/ to dist/ with tsc, then
// links the CLI into dist/bundle/ (scripts/build-cli.js), which starts much faster. When tsc has run since
// the last bundle (e.g. `tsc --watch`), the bundle may be stale: run the compiled modules instead.
import { statSync } from 'node:fs';

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/bundle/main.mjs');
const compiled = mtime('../dist/.tsbuildinfo');
const fresh = bundled !== undefined && (compiled === undefined || compiled <= bundled);
if (process.env.MSE_BACKTRACE === 'full') process.setSourceMapsEnabled(true);
const { runCli } = await (fresh ? import('../dist/bundle/main.mjs') : import('../dist/cli/main.js'));

process.exitCode = await runCli(process.argv.slice(2));
