// The bundled bootstrap (dist/enclave/bootstrap.mjs) is what the base image runs with Debian's Node 18. It
// holds what the enclave needs and nothing of the operator's or the verifier's side: its esbuild metafile
// (dist/enclave/bootstrap.meta.json, written by scripts/build-bootstrap.js) lists every module in it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../testing/vectors.js';

const BUNDLE = path.join(REPO_ROOT, 'dist', 'enclave', 'bootstrap.mjs');
const META = path.join(REPO_ROOT, 'dist', 'enclave', 'bootstrap.meta.json');

/** The modules of the bundle: `src/…` paths, and `npm:<package>` for dependencies (by package). */
function bundledModules(): { src: string[]; packages: string[] } {
  const meta = JSON.parse(readFileSync(META, 'utf8')) as { inputs: Record<string, unknown> };
  const src: string[] = [];
  const packages = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const at = input.lastIndexOf('node_modules/');
    if (at === -1) {
      src.push(input);
      continue;
    }
    const [scope, name] = input.slice(at + 'node_modules/'.length).split('/');
    packages.add(scope!.startsWith('@') ? `${scope}/${name}` : scope!);
  }
  return { src: src.sort(), packages: [...packages].sort() };
}

// What the enclave needs: its own folder, the spawn arguments, the RA-TLS builder and format, the code-tar
// reader, sealed boxes and secretbox, bounded file reading, DER primitives (for certificate names), errors.
const ENCLAVE_FOLDERS = ['enclave', 'launch', 'ratls', 'package', 'crypto', 'fs'];
const ENCLAVE_FILES = ['src/errors.ts', 'src/version.ts', 'src/attestation/der.ts'];
// Inside those folders, what only the operator or the verifier uses.
const OPERATOR_OR_VERIFIER_ONLY = [
  'src/ratls/read.ts', // the verifier's strict RA-TLS reader (and through it attestation/x509.ts)
  'src/package/read.ts', // mse.toml and image.tar: the package as the operator and verifier read it
  'src/package/files.ts', // the provider's file selection
  'src/package/project.ts', // the provider's project paths
  'src/package/tar-write.ts', // writing packages
  'src/launch/signer.ts', // the operator's enclave signing key
];
// npm packages: libsodium (sealed boxes, secretbox), the ASN.1 schema the RA-TLS certificate is built with.
const ENCLAVE_PACKAGES = [
  '@peculiar/asn1-schema',
  '@peculiar/asn1-x509',
  '@peculiar/utils',
  'asn1js',
  'libsodium',
  'libsodium-wrappers',
  'pvtsutils',
  'pvutils',
  'tslib',
];

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

  it('holds no operator- or verifier-only module: no TOML parser, no X.509 reader, no Docker, no CLI', () => {
    const { src, packages } = bundledModules();
    assert.ok(src.includes('src/enclave/entry.ts'), 'the metafile lists the bundle');
    assert.ok(!packages.includes('smol-toml'), 'no TOML parser (smol-toml)');
    for (const reader of ['src/ratls/read.ts', 'src/attestation/x509.ts', 'src/project/config.ts']) {
      assert.ok(!src.includes(reader), `bundle holds ${reader}`);
    }
    const foreign = src.filter(
      (m) =>
        OPERATOR_OR_VERIFIER_ONLY.includes(m) ||
        !(ENCLAVE_FILES.includes(m) || ENCLAVE_FOLDERS.some((f) => m.startsWith(`src/${f}/`))),
    );
    assert.deepEqual(foreign, [], 'operator- or verifier-only modules in the bootstrap bundle');
    assert.deepEqual(
      packages.filter((p) => !ENCLAVE_PACKAGES.includes(p)),
      [],
      'npm packages the enclave does not need',
    );
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
