// What `npm publish` would ship (package.json `files` and `exports`): the CLI and the documented library
// entry points, and no compiled tests or test helpers. The packed tarball is unpacked and used as a user
// would: the CLI runs from it, `scaffold` finds its templates, and every `exports` entry imports.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './testing/vectors.js';

/** Names each documented entry point must export (docs/verification.md, docs/measurement.md). */
const ENTRY_EXPORTS: Record<string, string[]> = {
  './attestation': ['appraise', 'parseCollateralJson', 'CHECK_PLAN'],
  './verify': ['verifyEvidence'],
  './ratls': ['createRatlsCertificate', 'checkRatlsBinding'],
  './gramine': ['gramineSign'],
};

describe('the published package', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'mse-published-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  const root = path.join(work, 'package');
  execFileSync('tar', ['-xzf', path.join(work, packed[0]!.filename), '-C', work]);
  // The dependencies a user's `npm install` would bring; the repository's own are the same versions.
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));

  it('ships no compiled test, test helper, fixture or build state', () => {
    const leaked = files.filter(
      (f) =>
        /\.test\.js(\.map)?$/.test(f) ||
        f.startsWith('dist/testing/') ||
        f.startsWith('test-fixtures/') ||
        f.endsWith('.tsbuildinfo'),
    );
    assert.deepEqual(leaked, []);
    for (const needed of [
      'bin/mse.js',
      'dist/bundle/main.mjs',
      'dist/enclave/bootstrap.mjs',
      'base-image/Dockerfile',
    ]) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
  });

  it('runs the CLI from the unpacked package, templates included', () => {
    const mse = (...args: string[]): string =>
      execFileSync(process.execPath, [path.join(root, 'bin', 'mse.js'), ...args], { cwd: work, encoding: 'utf8' });
    assert.match(mse('home', '--help'), /scaffold/);
    mse('home', 'scaffold', 'published_app');
    assert.match(readFileSync(path.join(work, 'published_app', 'mse.toml'), 'utf8'), /name = "published_app"/);
  });

  it('exports only the documented entry points, and each one imports', async () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string>;
    };
    const entries = Object.keys(manifest.exports).filter((k) => k !== './package.json');
    assert.deepEqual(entries.sort(), Object.keys(ENTRY_EXPORTS).sort());
    for (const [entry, names] of Object.entries(ENTRY_EXPORTS)) {
      const target = manifest.exports[entry]!;
      assert.ok(files.includes(target.replace(/^\.\//, '')), `${entry} → ${target} is not in the package`);
      const mod = (await import(pathToFileURL(path.join(root, target)).href)) as Record<string, unknown>;
      for (const name of names) assert.ok(name in mod, `${entry} does not export ${name}`);
    }
  });
});
