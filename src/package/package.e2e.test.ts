// `mse home package` against the real Docker engine: determinism, encryption, what the engine makes of
// image.tar, clean failure, and a real package tampered with.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { secretboxOpen } from '../crypto/secretbox.js';
import { imageRepository } from '../docker/app-image.js';
import { directoryContext } from '../docker/context.js';
import { runMse } from '../testing/cli.js';
import {
  edit,
  removeTestDirs,
  removeTestImages,
  testBaseImage,
  testEngine,
  testProject,
  testTempDir,
  type TestProject,
} from '../testing/docker.js';
import { rawTar } from '../testing/rawtar.js';
import { readPackage, type PackageContents } from './read.js';
import { fileSource, indexTar } from './tar-read.js';
import { tarToBuffer } from './tar-write.js';

const repos: string[] = [];
const out = testTempDir('mse-e2e-out-');
after(async () => {
  await removeTestImages(repos);
  removeTestDirs();
});

async function project(): Promise<TestProject> {
  const p = await testProject('flask');
  repos.push(imageRepository(p.name));
  // A COPY step makes the image depend on the build context (and its file metadata).
  writeFileSync(path.join(p.dir, 'extra.txt'), 'bundled into the image\n');
  appendFileSync(path.join(p.dir, 'Dockerfile'), '\nCOPY extra.txt /opt/extra.txt\n');
  // Files the package must leave out.
  writeFileSync(path.join(p.dir, 'mse_src', 'app.pyc'), 'compiled');
  writeFileSync(path.join(p.dir, 'mse_src', '.env'), 'SECRET=1');
  writeFileSync(path.join(p.dir, 'mse_src', 'requirements.txt'), '# nothing: dependencies come from Debian\n');
  return p;
}

async function pack(args: string[]) {
  const r = await runMse(['home', 'package', '--json', ...args], { timeoutMs: 300_000 });
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe('package (real engine)', () => {
  let p: TestProject;
  let first: PackageContents;

  before(async () => {
    await testEngine();
    await testBaseImage();
    p = await project();
  });

  // What packaging owns is pinned here: deterministic app.tar, tests.tar and build context bytes, and an
  // image.tar that is exactly the image the engine built (its config digest is the image ID, its layers hash
  // to the config's diff IDs). Whether the engine's build cache gives the same image again is not: another
  // user of the engine may rebuild the base image between two builds (docs/docker.md, "Deterministic").
  it('writes the four members; same inputs give the same app.tar, tests.tar and build context', async () => {
    const dir = path.join(out, 'twice');
    const context = async (): Promise<Buffer> =>
      tarToBuffer((await directoryContext(path.join(p.dir, 'Dockerfile'))).stream);
    const contextBefore = await context();
    const a = await pack(['--project', p.dir, '--output', dir]);
    assert.equal(a.code, 0, a.stderr);
    for (const phase of ['code', 'tests', 'building image', 'save', 'write'])
      assert.match(a.stderr, new RegExp(`✓ ${phase}`));
    // Touch every input: new mtimes must not change anything.
    const later = new Date(Date.now() + 3_600_000);
    for (const f of ['extra.txt', 'mse_src/app.py', 'tests/test_app.py']) utimesSync(path.join(p.dir, f), later, later);
    assert.ok((await context()).equals(contextBefore), 'the build context does not depend on file times');
    // No build cache for the second build, as when another user of the engine rebuilt or pruned under us.
    assert.equal(await (await testEngine()).removeImage(`${imageRepository(p.name)}:latest`, { force: true }), true);
    const b = await pack(['--project', p.dir, '--output', dir]);
    assert.equal(b.code, 0, b.stderr);
    assert.notEqual(a.json.package, b.json.package);
    assert.match(path.basename(a.json.package), new RegExp(`^package_${p.name}_\\d{19}\\.tar$`));

    first = await readPackage(a.json.package, undefined, { hashMembers: true, verifyLayers: true });
    const second = await readPackage(b.json.package, undefined, { hashMembers: true, verifyLayers: true });
    assert.equal(first.members['app.tar'].sha256, second.members['app.tar'].sha256);
    assert.equal(first.members['tests.tar'].sha256, second.members['tests.tar'].sha256);
    assert.equal(first.members['app.tar'].sha256, a.json.appTarSha256);
    assert.equal(first.members['tests.tar'].sha256, a.json.testsTarSha256);
    // Each image.tar is the image its build made, whole: config digest as reported, every layer as configured.
    assert.equal(first.imageConfigDigest, a.json.imageConfigDigest);
    assert.equal(second.imageConfigDigest, b.json.imageConfigDigest);
    assert.equal(first.image.layersVerified, true);
    assert.equal(second.image.layersVerified, true);
    assert.deepEqual(
      first.appFiles.map((f) => f.path),
      ['app.py', 'requirements.txt'],
    );
    assert.deepEqual(
      first.testFiles.map((f) => f.path),
      ['conftest.py', 'test_app.py'],
    );
    assert.equal(first.config.name, p.name);
    assert.equal(first.configText, readFileSync(path.join(p.dir, 'mse.toml'), 'utf8'));

    // The engine keeps `<repo>:latest` on the last build (for its cache) and drops the per-package tags.
    const engine = await testEngine();
    const repo = imageRepository(p.name);
    assert.equal((await engine.inspectImage(`${repo}:latest`))?.Id, second.imageConfigDigest);
    assert.equal(await engine.inspectImage(a.json.image), undefined);
    assert.deepEqual(first.image.repoTags, [a.json.image]);
    // Nothing else in the output directory: no workspace, no partial file.
    assert.deepEqual(readdirSync(dir).sort(), [path.basename(a.json.package), path.basename(b.json.package)].sort());
  });

  it('--encrypt: each code file but requirements.txt becomes .enc under the key written beside it (0600)', async () => {
    const dir = path.join(out, 'enc');
    const r = await pack(['--project', p.dir, '--output', dir, '--encrypt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.encrypted, true);
    const key = readFileSync(r.json.keyFile);
    assert.equal(key.length, 32);
    assert.equal(statSync(r.json.keyFile).mode & 0o777, 0o600);
    assert.equal(r.json.keyFile, r.json.package.replace(/\.tar$/, '.key'));
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(key.toString('hex')));
    const pkg = await readPackage(r.json.package, undefined, { withData: true });
    assert.equal(pkg.encrypted, true);
    assert.deepEqual(
      pkg.appFiles.map((f) => f.path),
      ['app.py.enc', 'requirements.txt'],
    );
    const plain = await secretboxOpen(pkg.appFiles[0]!.data!, key, 'app.py.enc');
    assert.equal(Buffer.from(plain).toString(), readFileSync(path.join(p.dir, 'mse_src', 'app.py'), 'utf8'));
    assert.equal(
      pkg.appFiles[1]!.data!.toString(),
      readFileSync(path.join(p.dir, 'mse_src', 'requirements.txt'), 'utf8'),
    );
    assert.equal(pkg.imageConfigDigest, r.json.imageConfigDigest);
  });

  it('a failing build leaves no package, no workspace, no key and no new output directory', async () => {
    const broken = await testProject('flask');
    repos.push(imageRepository(broken.name));
    edit(path.join(broken.dir, 'Dockerfile'), (t) => `${t}\nRUN exit 3\n`);
    const dir = path.join(out, `never-${randomBytes(3).toString('hex')}`);
    const r = await pack(['--project', broken.dir, '--output', dir, '--encrypt']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.json.error.code, 'ERR_DOCKER_BUILD_FAILED');
    assert.equal(existsSync(dir), false);
    // Into an existing directory: it stays as it was.
    const before = readdirSync(out).sort();
    const again = await pack(['--project', broken.dir, '--output', out]);
    assert.equal(again.code, 5, again.stderr);
    assert.deepEqual(readdirSync(out).sort(), before);
  });

  it('a real package, tampered with, is refused', async () => {
    const dir = path.join(out, 'tamper');
    const copy = (name: string): string => {
      const f = path.join(out, name);
      writeFileSync(f, readFileSync(first.file));
      return f;
    };
    // Hidden entries after the end-of-archive marker.
    const hidden = copy('hidden.tar');
    appendFileSync(hidden, rawTar([{ name: 'app.tar', data: Buffer.from('evil') }]));
    await assert.rejects(readPackage(hidden), { code: 'ERR_PACKAGE_TRAILING_DATA' });
    // One byte of the image config changed: it no longer hashes to its name.
    const config = copy('config.tar');
    const fh = await open(config, 'r+');
    try {
      const image = first.members['image.tar'];
      const entries = await indexTar(fileSource(fh, image.offset, image.size), 'image.tar', {
        maxEntries: 1000,
        maxEntryBytes: 2 ** 40,
        maxTotalBytes: 2 ** 40,
        allow: ['file', 'directory', 'symlink', 'link'],
      });
      const entry = entries.find((e) => e.path === `${first.imageConfigDigest.slice(7)}.json`);
      assert.ok(entry, 'config entry named after its digest');
      await fh.write(Buffer.from(' '), 0, 1, image.offset + entry.offset + entry.size - 1); // was '}'
    } finally {
      await fh.close();
    }
    await assert.rejects(readPackage(config), { code: 'ERR_PACKAGE_IMAGE_CONFIG' });
    // Truncated.
    const truncated = copy('truncated.tar');
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 100_000));
    await assert.rejects(readPackage(truncated, dir), { code: 'ERR_PACKAGE_CORRUPT' });
    assert.equal(existsSync(dir), false);
  });
  it('image.tar loads into the engine as the image whose ID is the digest we computed', async () => {
    const engine = await testEngine();
    const repo = imageRepository(p.name);
    const dest = path.join(out, 'extracted');
    await readPackage(first.file, dest);
    assert.equal(await engine.removeImage(`${repo}:latest`, { force: true }), true);
    const loaded = await engine.loadImage(path.join(dest, 'image.tar'));
    assert.ok(loaded.length > 0);
    const info = await engine.inspectImage(first.image.repoTags[0]!);
    assert.equal(info?.Id, first.imageConfigDigest);
    await engine.tagImage(info.Id, `${repo}:latest`);
    await engine.removeImage(first.image.repoTags[0]!, { noPrune: true });
  });
});
