// The sgx base image against the real Docker engine.
// - `mse home base build --platform sgx` on this machine (Gramine's repository unreachable): fails fast with
//   ERR_SGX_BASE_SOURCE_UNREACHABLE and leaves no image, container or temporary file.
// - The assembly path, for real, with TEST DOUBLES of Gramine (stand-in files at Gramine's paths, never
//   Gramine): a .deb built with dpkg-deb and signed repository metadata (a folder, and a repository served
//   over HTTP), and an operator image built FROM the base image. The images are built under test names,
//   never as mse-home-sgx-base:<version>.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../base/log.js';
import { ensureBaseImage, ROOTFS_REPO } from '../docker/base-image.js';
import { entriesContext } from '../docker/context.js';
import type { DockerEngine } from '../docker/engine.js';
import { runMse } from '../testing/cli.js';
import { removeTestDirs, testBaseImage, testEngine, testTempDir, TEST_PREFIX } from '../testing/docker.js';
import {
  ATTACKER_GID,
  ATTACKER_UID,
  blackHole,
  buildTestDoubleDeb,
  hasTool,
  makeTestKey,
  serveDirectory,
  STANDIN_LIBPAL,
  stopTestKeyAgents,
  swapAfterFirstRead,
  tamperedDeb,
  TEST_DOUBLE_EXIT,
  TEST_DOUBLE_MARKER,
  testDoubleFiles,
  writeDebsFolder,
  writeRepoTree,
  type TestDeb,
  type TestKey,
} from '../testing/gramine-fixtures.js';
import { REPO_ROOT } from '../testing/vectors.js';
import { SGX_BASE_IMAGE, SGX_LABELS } from './base-image.js';
import { ensureSgxBaseImage, readImageFiles, SGX_INSPECT_LABEL, type GramineSourceLabel } from './base-image-build.js';
import {
  GRAMINE_LIBPAL,
  MSE_BOOTSTRAP,
  MSE_RUN_SGX,
  SGX_ENCLAVE_DIR,
  SGX_MANIFEST_TEMPLATE_VERSION,
  SGX_SEALED_DIR,
  SGX_TEMPLATE_MARKER,
} from './gramine-paths.js';

const log = createLogger({ stream: process.stderr, env: { NO_COLOR: '1' } });
const testRefs: string[] = [];
const ref = (what: string): string => {
  const r = `${TEST_PREFIX}sgx-${what}-${randomBytes(3).toString('hex')}:1`;
  testRefs.push(r);
  return r;
};

after(async () => {
  const engine = await testEngine();
  for (const r of testRefs.reverse()) await engine.removeImage(r, { force: true }).catch(() => undefined);
  stopTestKeyAgents();
  removeTestDirs();
});

/**
 * What this code may leave behind, created since `since` (seconds): images whose build steps handled the
 * Gramine packages or that carry sgx labels, containers with the inspection label, the sgx base image tag.
 * (Other engineers share the engine: only leftovers attributable to the sgx base image build are counted.)
 */
async function sgxLeftovers(engine: DockerEngine, since: number): Promise<string[]> {
  const found: string[] = [];
  // The test images and their ancestors (the Gramine stage and its steps) are kept on purpose.
  const kept = new Set<string>();
  for (const r of testRefs) {
    let info = await engine.inspectImage(r);
    while (info && !kept.has(info.Id)) {
      kept.add(info.Id);
      info = info.Parent ? await engine.inspectImage(info.Parent) : undefined;
    }
  }
  const images = await engine.docker.listImages({ all: true });
  for (const img of images) {
    if (img.Created < since || kept.has(img.Id)) continue;
    const info = await engine.inspectImage(img.Id);
    const steps = JSON.stringify(
      (info as unknown as { ContainerConfig?: { Cmd?: string[] } } | undefined)?.ContainerConfig?.Cmd ?? [],
    );
    const labels = Object.keys(info?.Config?.Labels ?? {});
    const tags = info?.RepoTags ?? [];
    if (
      steps.includes('mse-gramine-debs') ||
      labels.some((l) => l.startsWith('org.mse-home.sgx.')) ||
      tags.some((t) => t.startsWith('mse-home-sgx-base:'))
    ) {
      found.push(`image ${img.Id.slice(7, 19)} ${tags.join(',')} ${steps}`);
    }
  }
  const containers = await engine.docker.listContainers({ all: true });
  for (const c of containers) {
    if (c.Labels?.[SGX_INSPECT_LABEL] !== undefined || c.Names.some((n) => n.includes('mse-home-sgx-inspect-'))) {
      found.push(`container ${c.Id.slice(0, 12)} ${c.Names.join(',')}`);
    }
  }
  return found;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000) - 1;

describe('mse home base build --platform sgx on this machine', () => {
  it('fails within 30 s naming the repository and the offline alternatives, and leaves nothing', async (t) => {
    const resolves = await lookup('packages.gramineproject.io').then(
      () => true,
      () => false,
    );
    if (resolves) {
      t.skip('packages.gramineproject.io resolves on this host: the fail-fast story is not this machine’s');
      return;
    }
    const engine = await testEngine();
    const hadImage = (await engine.inspectImage(SGX_BASE_IMAGE)) !== undefined;
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mse-sgx-failfast-'));
    try {
      const since = nowSeconds();
      const t0 = Date.now();
      const r = await runMse(['home', 'base', 'build', '--platform', 'sgx', '--json'], { env: { TMPDIR: tmp } });
      const ms = Date.now() - t0;
      assert.equal(r.code, 6, r.stderr);
      const err = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
      assert.equal(err.code, 'ERR_SGX_BASE_SOURCE_UNREACHABLE');
      assert.match(err.message, /tried https:\/\/packages\.gramineproject\.io\/ \(suite bookworm\)/);
      assert.match(err.hint, /--gramine-debs DIR/);
      assert.match(err.hint, /--gramine-image IMAGE/);
      assert.ok(ms < 30_000, `took ${ms} ms`);
      assert.deepEqual(readdirSync(tmp), [], 'no temporary file or directory left');
      assert.deepEqual(await sgxLeftovers(engine, since), []);
      assert.equal((await engine.inspectImage(SGX_BASE_IMAGE)) !== undefined, hadImage);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a repository that accepts connections and never answers fails at the probe deadline (10 s), not later', async () => {
    const engine = await testEngine();
    const hole = await blackHole();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mse-sgx-failfast-'));
    try {
      const since = nowSeconds();
      const t0 = Date.now();
      const r = await runMse(['home', 'base', 'build', '--platform', 'sgx', '--gramine-repo', hole.url, '--json'], {
        env: { TMPDIR: tmp },
      });
      const ms = Date.now() - t0;
      assert.equal(r.code, 6, r.stderr);
      const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'ERR_SGX_BASE_SOURCE_UNREACHABLE');
      assert.match(err.message, /no answer within 10 s/);
      assert.ok(ms >= 9_000 && ms < 30_000, `took ${ms} ms`);
      assert.deepEqual(readdirSync(tmp), []);
      assert.deepEqual(await sgxLeftovers(engine, since), []);
    } finally {
      await hole.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--gramine-debs with an incomplete folder fails before any build, and leaves nothing', async () => {
    const engine = await testEngine();
    const folder = testTempDir('mse-sgx-debs-');
    const since = nowSeconds();
    const r = await runMse(['home', 'base', 'build', '--platform', 'sgx', '--gramine-debs', folder, '--json']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ERR_SGX_GRAMINE_DEBS_INCOMPLETE');
    assert.deepEqual(await sgxLeftovers(engine, since), []);
    const usage = await runMse(['home', 'base', 'build', '--gramine-debs', folder]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /ERR_CONFLICTING_OPTIONS.*--gramine-debs applies to --platform sgx only/);
  });
});

const tools = hasTool('gpg') && hasTool('gpgv') && hasTool('dpkg-deb');

describe(
  'the sgx base image assembled from test doubles of Gramine (real engine)',
  { skip: !tools && 'gpg, gpgv or dpkg-deb missing' },
  () => {
    let engine: DockerEngine;
    let dir: string;
    let key: TestKey;
    let deb: TestDeb;
    const standinSha = createHash('sha256').update(readFileSync(STANDIN_LIBPAL)).digest('hex');

    before(async () => {
      engine = await testEngine();
      await testBaseImage();
      dir = testTempDir('mse-sgx-base-e2e-');
      key = makeTestKey(dir);
      deb = buildTestDoubleDeb(dir);
    });

    async function labelsOf(image: string): Promise<Record<string, string>> {
      return (await engine.inspectImage(image))?.Config?.Labels ?? {};
    }

    async function run(image: string, entrypoint: string[]): Promise<{ code: number; logs: string }> {
      const id = await engine.runContainer({
        image,
        entrypoint,
        name: `${TEST_PREFIX}sgx-run-${randomBytes(3).toString('hex')}`,
      });
      try {
        const code = await engine.waitContainer(id);
        return { code, logs: await engine.containerLogs(id) };
      } finally {
        await engine.removeContainer(id, { force: true });
      }
    }

    it('--gramine-debs: verified package installed, labels record version, source and libpal; the launcher is the seam', async () => {
      const folder = writeDebsFolder(path.join(dir, 'debs'), { suite: 'bookworm', key, deb });
      const target = ref('debs');
      const since = nowSeconds();
      const status = await ensureSgxBaseImage(engine, log, {
        debs: folder,
        keyFingerprints: [key.fingerprint],
        ref: target,
      });
      assert.equal(status.built, true);
      assert.match(status.base.id, /^sha256:[0-9a-f]{64}$/);
      assert.equal(status.gramine.version, '1.9');
      assert.equal(status.gramine.libpalSha256, standinSha);

      const labels = await labelsOf(target);
      assert.equal(labels[SGX_LABELS.gramineVersion], '1.9');
      assert.equal(labels[SGX_LABELS.libpalSha256], standinSha);
      assert.equal(labels[SGX_LABELS.base], status.base.id);
      assert.equal(labels[SGX_LABELS.manifestTemplate], SGX_MANIFEST_TEMPLATE_VERSION);
      const source = JSON.parse(labels[SGX_LABELS.gramineSource]!) as Record<string, unknown>;
      assert.equal(source.kind, 'debs');
      assert.equal(source.location, folder);
      assert.equal(source.suite, 'bookworm');
      assert.equal(source.signedBy, key.fingerprint);
      assert.deepEqual(source.debs, [{ name: deb.name, package: 'gramine', version: '1.9', sha256: deb.sha256 }]);
      assert.deepEqual(status.gramine.source, source);

      // The image's files: Gramine's stand-ins at Gramine's paths, mse-home's layer, no spawn-owned paths.
      const { files, present } = await readImageFiles(
        engine,
        target,
        [GRAMINE_LIBPAL, MSE_RUN_SGX, SGX_TEMPLATE_MARKER, MSE_BOOTSTRAP],
        [SGX_ENCLAVE_DIR, SGX_SEALED_DIR],
      );
      assert.ok(files.get(GRAMINE_LIBPAL)?.data?.equals(readFileSync(STANDIN_LIBPAL)));
      assert.ok(
        files.get(MSE_RUN_SGX)?.data?.equals(readFileSync(path.join(REPO_ROOT, 'base-image', 'sgx', 'mse-run-sgx'))),
      );
      assert.equal(files.get(SGX_TEMPLATE_MARKER)?.data?.toString(), `${SGX_MANIFEST_TEMPLATE_VERSION}\n`);
      assert.ok(files.get(MSE_BOOTSTRAP), 'the bootstrap of the base image is there');
      assert.deepEqual([...present], []);

      // The launcher refuses to start without what spawn provides; the gramine-sgx here is the test double.
      const launch = await run(target, [MSE_RUN_SGX]);
      assert.equal(launch.code, 70);
      assert.match(
        launch.logs,
        /\/opt\/mse\/enclave\/enclave\.manifest\.sgx is missing: spawn --platform sgx writes it/,
      );
      const double = await run(target, ['/usr/bin/gramine-sgx', 'enclave']);
      assert.equal(double.code, TEST_DOUBLE_EXIT);
      assert.ok(double.logs.includes(TEST_DOUBLE_MARKER));

      // Up to date: the same request builds nothing.
      const again = await ensureSgxBaseImage(engine, log, {
        debs: folder,
        keyFingerprints: [key.fingerprint],
        ref: target,
      });
      assert.deepEqual([again.built, again.id], [false, status.id]);
      assert.deepEqual(await sgxLeftovers(engine, since), []);
    });

    // H1: an attacker who can write the folder swaps the .deb for another of the same size right after
    // mse-home has read (and verified) it. The image must hold the verified package, not the swapped one.
    it(
      '--gramine-debs: a .deb swapped in the folder after verification does not reach the image',
      { skip: process.getuid?.() !== 0 && 'needs root, to run the attacker double as nobody' },
      async () => {
        const plain = buildTestDoubleDeb(path.join(dir, 'plain'), { compression: 'none' });
        const folder = mkdtempSync(path.join(os.tmpdir(), 'mse-sgx-swap-'));
        try {
          writeDebsFolder(folder, { suite: 'bookworm', key, deb: plain });
          const evil = tamperedDeb(plain);
          writeFileSync(path.join(folder, '.swap-in'), evil);
          for (const n of [...readdirSync(folder), '.']) chownSync(path.join(folder, n), ATTACKER_UID, ATTACKER_GID);
          chmodSync(folder, 0o755);
          const attacker = await swapAfterFirstRead(folder, plain.name, path.join(folder, '.swap-in'));
          const target = ref('swap');
          let status;
          try {
            status = await ensureSgxBaseImage(engine, log, {
              debs: folder,
              keyFingerprints: [key.fingerprint],
              ref: target,
            });
          } finally {
            attacker.stop();
          }
          assert.equal(await attacker.swapped, true, 'the attacker swapped the .deb after mse-home read it');
          const inFolder = createHash('sha256')
            .update(readFileSync(path.join(folder, plain.name)))
            .digest('hex');
          assert.equal(
            inFolder,
            createHash('sha256').update(evil).digest('hex'),
            'the folder holds the swapped package',
          );

          const source = JSON.parse((await labelsOf(target))[SGX_LABELS.gramineSource]!) as GramineSourceLabel;
          assert.deepEqual(source.kind !== 'image' && source.debs.map((d) => d.sha256), [plain.sha256]);
          const { files } = await readImageFiles(engine, target, [GRAMINE_LIBPAL], []);
          assert.ok(
            files.get(GRAMINE_LIBPAL)?.data?.equals(readFileSync(STANDIN_LIBPAL)),
            'the image holds the verified libpal.so, not the attacker’s',
          );
          assert.equal(status.gramine.libpalSha256, standinSha);
          assert.equal((await labelsOf(target))[SGX_LABELS.libpalSha256], standinSha);
        } finally {
          rmSync(folder, { recursive: true, force: true });
        }
      },
    );

    it('from a repository over HTTP (a mirror): the same package, recorded as a repository source', async () => {
      const server = await serveDirectory(writeRepoTree(path.join(dir, 'repo'), { suite: 'bookworm', key, deb }));
      try {
        const target = ref('repo');
        const status = await ensureSgxBaseImage(engine, log, {
          repository: server.url,
          keyFingerprints: [key.fingerprint],
          ref: target,
        });
        assert.equal(status.built, true);
        const source = JSON.parse((await labelsOf(target))[SGX_LABELS.gramineSource]!) as GramineSourceLabel;
        assert.deepEqual([source.kind, source.kind !== 'image' && source.location], ['repository', server.url]);
        assert.equal(status.gramine.libpalSha256, standinSha);
        // Up to date without contacting the repository again.
        const before = server.requests.length;
        const again = await ensureSgxBaseImage(engine, log, {
          repository: server.url,
          keyFingerprints: [key.fingerprint],
          ref: target,
        });
        assert.equal(again.built, false);
        assert.equal(server.requests.length, before);
      } finally {
        await server.close();
      }
    });

    it('a package apt cannot install fails as ERR_SGX_BASE_BUILD_FAILED and leaves no image', async () => {
      const broken = buildTestDoubleDeb(path.join(dir, 'broken'), { depends: 'mse-home-no-such-package-test' });
      const folder = writeDebsFolder(path.join(dir, 'broken-debs'), { suite: 'bookworm', key, deb: broken });
      const target = ref('broken');
      const since = nowSeconds();
      await assert.rejects(
        ensureSgxBaseImage(engine, log, { debs: folder, keyFingerprints: [key.fingerprint], ref: target }),
        {
          code: 'ERR_SGX_BASE_BUILD_FAILED',
        },
      );
      assert.equal(await engine.inspectImage(target), undefined);
      assert.deepEqual(await sgxLeftovers(engine, since), []);
    });

    /** A test-double operator image: FROM `from`, the test double's files at Gramine's paths. */
    async function operatorImage(from: string, version = '1.9'): Promise<string> {
      const tag = ref(`gramine-double-${version}`);
      await engine.build({
        context: entriesContext([
          {
            path: 'Dockerfile',
            type: 'file',
            data: Buffer.from(
              '# TEST DOUBLE of an operator image with Gramine (mse-home tests): stand-in files, not Gramine.\n' +
                'ARG FROM_IMAGE\nFROM ${FROM_IMAGE}\nCOPY root/ /\nLABEL org.mse-home.test-double=gramine-image\n',
            ),
          },
          ...testDoubleFiles(version).map((f) => ({
            path: `root/${f.path}`,
            type: 'file' as const,
            data: f.data,
            executable: f.executable,
          })),
        ]),
        tags: [tag],
        buildArgs: { FROM_IMAGE: from },
      });
      return tag;
    }

    it('--gramine-image: an image FROM the base image is checked and recorded by ID', async () => {
      // FROM the base image as it is now (another worktree's build may have retagged it since the run began).
      const current = await ensureBaseImage(engine, log);
      const image = await operatorImage(current.id);
      const target = ref('image');
      const status = await ensureSgxBaseImage(engine, log, { image, ref: target });
      assert.equal(status.built, true);
      const imageId = (await engine.inspectImage(image))!.Id;
      assert.deepEqual(status.gramine.source, { kind: 'image', image, imageId });
      assert.equal((await labelsOf(target))[SGX_LABELS.libpalSha256], standinSha);
      assert.equal((await ensureSgxBaseImage(engine, log, { image, ref: target })).built, false);
    });

    it('--gramine-image refuses an image not built FROM the base image, another Gramine version, an absent image', async () => {
      const rootfsRef = (await engine.docker.listImages())
        .flatMap((i) => i.RepoTags ?? [])
        .find((t) => t.startsWith(`${ROOTFS_REPO}:`));
      const since = nowSeconds();
      if (rootfsRef) {
        const foreign = await operatorImage(rootfsRef);
        await assert.rejects(ensureSgxBaseImage(engine, log, { image: foreign, ref: ref('foreign') }), {
          code: 'ERR_SGX_GRAMINE_IMAGE_BASE',
        });
      }
      const old = await operatorImage((await ensureBaseImage(engine, log)).id, '1.8');
      const target = ref('old');
      await assert.rejects(ensureSgxBaseImage(engine, log, { image: old, ref: target }), {
        code: 'ERR_SGX_GRAMINE_VERSION_MISMATCH',
        message: /has Gramine 1\.8; mse-home pins Gramine 1\.9/,
      });
      assert.equal(await engine.inspectImage(target), undefined);
      await assert.rejects(
        ensureSgxBaseImage(engine, log, { image: `${TEST_PREFIX}no-such-image:1`, ref: ref('none') }),
        {
          code: 'ERR_SGX_GRAMINE_IMAGE_NOT_FOUND',
        },
      );
      assert.deepEqual(await sgxLeftovers(engine, since), []);
    });
  },
);
