#!/usr/bin/env node
// Bundles the enclave bootstrap (src/enclave/entry.ts and everything it imports, libsodium included) into
// one ES module, dist/enclave/bootstrap.mjs, for the Node.js 18 of Debian bookworm inside the base image.
// Its esbuild metafile (every module that went in, with its bytes) is written beside it as
// dist/enclave/bootstrap.meta.json: src/enclave/bundle.test.ts checks that no operator- or verifier-only
// module is in it, and `npm run bench` prints its size.
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const result = await build({
  entryPoints: ['src/enclave/entry.ts'],
  outfile: 'dist/enclave/bootstrap.mjs',
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  banner: {
    js: [
      // CommonJS dependencies call require() for Node built-ins: give the module one.
      "import { createRequire as __mseCreateRequire } from 'node:module';",
      'const require = __mseCreateRequire(import.meta.url);',
      // libsodium's ESM build needs globalThis.crypto, which Node 18 only exposes as crypto.webcrypto.
      "import { webcrypto as __mseWebcrypto } from 'node:crypto';",
      'if (globalThis.crypto === undefined) globalThis.crypto = __mseWebcrypto;',
    ].join('\n'),
  },
  legalComments: 'eof',
  // Whitespace and syntax minified, identifiers kept: 17% smaller (the bundle is copied into every image and
  // parsed by Node at each enclave start), and a stack trace still names the functions it went through.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  metafile: true,
});
writeFileSync('dist/enclave/bootstrap.meta.json', JSON.stringify(result.metafile));
