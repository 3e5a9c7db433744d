// The bundled bootstrap (dist/enclave/bootstrap.mjs) is what the base image runs with Debian's Node 18.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../testing/vectors.js';

const BUNDLE = path.join(REPO_ROOT, 'dist', 'enclave', 'bootstrap.mjs');

describe('bootstrap bundle', () => {
  it('is one self-contained module using no API newer than Node 18', () => {
    const code = readFileSync(BUNDLE, 'utf8');
    // only Node built-ins are imported: everything else is inside
    const imports = [...code.matchAll(/^import .* from ['"]([^'"]+)['"];?$/gm)].map((m) => m[1]);
    assert.ok(imports.length > 0);
    for (const spec of imports) assert.match(spec!, /^node:/, `bundle imports ${spec}`);
    // Node 18 has no globalThis.crypto: the bundle must install it before libsodium loads
    assert.ok(code.indexOf('globalThis.crypto = __mseWebcrypto') < code.indexOf('libsodium'));
    const newer = [
      'Promise.withResolvers',
      'Object.groupBy',
      'Map.groupBy',
      'import.meta.dirname',
      'import.meta.filename',
      'Array.fromAsync',
      'process.getBuiltinModule',
      '.toSorted(',
      '.toReversed(',
      'crypto.hash(',
    ];
    for (const api of newer) assert.ok(!code.includes(api), `bundle uses ${api}`);
  });

  it('starts and refuses a bad command line with exit code 2', () => {
    const r = spawnSync(process.env.MSE_TEST_NODE || process.execPath, [BUNDLE, '--size', '4096M'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stdout,
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[ERROR\] ERR_ENCLAVE_ARGS: missing required option --subject/,
    );
  });
});
