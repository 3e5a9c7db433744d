#!/usr/bin/env node
// Links the compiled CLI (dist/cli/main.js, tsc's output, and everything it imports) into a few ES modules
// under dist/bundle/, which bin/mse.js runs. Why: a short command spends much of its time loading modules;
// `mse home verify` opened 141 module files (86 of them the CommonJS @peculiar ASN.1 stack: each one
// resolved, read, wrapped, its exports lexed for ESM), ~140 ms of its ~380 ms of CPU. Bundled: 17 files.
// Commands stay lazily loaded: each `import('./commands/x.js')` becomes its own chunk (code splitting), so
// `mse home --help` loads no command and `verify` does not load libsodium.
//
// - The input is tsc's output, not src/: esbuild only links, TypeScript semantics stay tsc's.
// - dockerode stays external (loaded from node_modules at run time): it pulls optional native modules.
// - All output files sit flat in dist/bundle/, two levels below the repository root like dist/<dir>/*.js,
//   so modules that find the templates or base-image/ from import.meta.url resolve the same paths.
// - Linked source maps (chained to src/ through tsc's maps); bin/mse.js turns them on with MSE_BACKTRACE=full.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = 'dist/bundle';
rmSync(outdir, { recursive: true, force: true }); // chunk names carry hashes: drop the previous build's
await build({
  entryPoints: { main: 'dist/cli/main.js' },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['dockerode'],
  banner: {
    // CommonJS dependencies call require() for Node built-ins: give each module one.
    js: "import { createRequire as __mseCreateRequire } from 'node:module';\nconst require = __mseCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
});
