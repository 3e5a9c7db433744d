// The Gramine package sources: the plan from the options, a verified folder, and a repository over HTTP
// (a local server with a test-double repository signed by a key generated in the test; gpgv is real).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../base/log.js';
import {
  blackHole,
  hasTool,
  makeTestKey,
  repoMetadata,
  serveDirectory,
  writeDebsFolder,
  writeRepoTree,
  type TestDeb,
  type TestKey,
  type TestRepo,
  stopTestKeyAgents,
} from '../testing/gramine-fixtures.js';
import {
  acquireGramineDebs,
  gramineSourcePlan,
  GRAMINE_REPOSITORY,
  PINNED_GRAMINE_KEYS,
  trustedKeys,
  type GraminePlan,
} from './gramine-source.js';

const log = createLogger({ stream: process.stderr, env: { NO_COLOR: '1' } });

describe('gramineSourcePlan', () => {
  it('defaults to Gramine’s repository, suite bookworm, version 1.9, the pinned key', () => {
    const plan = gramineSourcePlan({});
    assert.deepEqual(plan, {
      kind: 'repository',
      repository: GRAMINE_REPOSITORY,
      suite: 'bookworm',
      version: '1.9',
      package: 'gramine',
      trusted: ['EA3C2D624681AC968521587A5EE1171912234070'],
    });
    assert.deepEqual(
      PINNED_GRAMINE_KEYS.map((k) => k.fingerprint),
      ['EA3C2D624681AC968521587A5EE1171912234070'],
    );
  });
  it('takes a folder, a mirror, a suite, a key file and extra fingerprints', () => {
    const plan = gramineSourcePlan({
      debs: 'some/dir',
      suite: 'jammy',
      keyFile: 'k.gpg',
      keyFingerprints: ['db41 a787 18de 9b2e 2165  b5aa 9254 1347 8ca9 db7b'],
    });
    assert.equal(plan.kind, 'debs');
    assert.equal((plan as { dir: string }).dir, path.resolve('some/dir'));
    assert.equal((plan as { suite: string }).suite, 'jammy');
    assert.deepEqual((plan as { trusted: string[] }).trusted, [
      'EA3C2D624681AC968521587A5EE1171912234070',
      'DB41A78718DE9B2E2165B5AA925413478CA9DB7B',
    ]);
    assert.equal((plan as { keyFile: string }).keyFile, path.resolve('k.gpg'));
    const mirror = gramineSourcePlan({ repository: 'http://mirror.local/gramine' });
    assert.equal((mirror as { repository: string }).repository, 'http://mirror.local/gramine/');
    assert.deepEqual(gramineSourcePlan({ image: 'my-gramine:1' }), {
      kind: 'image',
      image: 'my-gramine:1',
      version: '1.9',
    });
  });
  it('refuses conflicting sources, unknown suites, short key IDs and non-HTTP mirrors', () => {
    const usage = (o: Parameters<typeof gramineSourcePlan>[0], code: string, message: RegExp) =>
      assert.throws(() => gramineSourcePlan(o), { code, message, exitCode: 2 });
    usage({ debs: 'd', image: 'i' }, 'ERR_CONFLICTING_OPTIONS', /--gramine-debs and --gramine-image/);
    usage({ image: 'i', suite: 'jammy' }, 'ERR_CONFLICTING_OPTIONS', /--gramine-suite/);
    usage({ image: 'i', keyFingerprints: ['x'] }, 'ERR_CONFLICTING_OPTIONS', /--gramine-fingerprint/);
    usage({ debs: 'd', repository: 'http://x/' }, 'ERR_CONFLICTING_OPTIONS', /--gramine-repo/);
    usage({ suite: 'noble' }, 'ERR_OPTION_VALUE', /bookworm, jammy/);
    usage({ keyFingerprints: ['5EE1171912234070'] }, 'ERR_OPTION_VALUE', /full OpenPGP v4 fingerprint/);
    usage({ repository: 'ftp://x/' }, 'ERR_OPTION_VALUE', /http\(s\)/);
    usage({ repository: 'not a url' }, 'ERR_OPTION_VALUE', /not a URL/);
    usage({ repository: 'https://u:p@x/' }, 'ERR_OPTION_VALUE', /plain base URL/);
  });
});

const tools = hasTool('gpg') && hasTool('gpgv');

describe('Gramine packages from a folder and a repository', { skip: !tools && 'gpg/gpgv missing' }, () => {
  let dir: string;
  let key: TestKey;
  let stranger: TestKey;
  let deb: TestDeb;
  let repo: TestRepo;
  let n = 0;
  const fresh = (name: string): string => mkdtempSync(path.join(dir, `${name}-${n++}-`));
  const trusted = (): string[] => [...PINNED_GRAMINE_KEYS.map((k) => k.fingerprint), key.fingerprint];
  const folderPlan = (folder: string, over: Partial<Extract<GraminePlan, { kind: 'debs' }>> = {}) =>
    ({
      kind: 'debs',
      dir: folder,
      suite: 'bookworm',
      version: '1.9',
      package: 'gramine',
      trusted: trusted(),
      ...over,
    }) as Extract<GraminePlan, { kind: 'debs' }>;
  const acquire = (plan: Extract<GraminePlan, { kind: 'repository' | 'debs' }>, extra = {}) =>
    acquireGramineDebs(plan, { workDir: fresh('work'), log, ...extra });

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mse-gramine-source-test-'));
    key = makeTestKey(dir);
    stranger = makeTestKey(dir, { uid: 'not the repository <x@invalid>' });
    // Only the digest of the package is checked here (the Docker e2e test installs a real test-double .deb).
    const file = path.join(dir, 'gramine_1.9_amd64.deb');
    writeFileSync(file, 'TEST DOUBLE bytes standing for a .deb: only their SHA-256 is checked here\n');
    const data = readFileSync(file);
    deb = {
      file,
      name: 'gramine_1.9_amd64.deb',
      sha256: createHash('sha256').update(data).digest('hex'),
      size: data.length,
      version: '1.9',
    };
    repo = {
      suite: 'bookworm',
      key,
      deb,
      extraPackages: 'Package: gramine-ratls-dcap\nVersion: 1.9\nArchitecture: amd64\n\n',
    };
  });
  after(() => {
    stopTestKeyAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies a folder: signed InRelease, Packages digest, .deb digest', async () => {
    const folder = writeDebsFolder(fresh('debs'), repo);
    const v = await acquire(folderPlan(folder));
    assert.equal(v.kind, 'debs');
    assert.equal(v.signedBy.primaryFingerprint, key.fingerprint);
    assert.deepEqual(
      v.debs.map((d) => [d.name, d.version, d.sha256, d.file]),
      [[deb.name, '1.9', deb.sha256, path.join(folder, deb.name)]],
    );
    assert.equal(v.release.sha256.length, 64);
  });

  it('accepts Release + Release.gpg and Packages.gz instead of InRelease and Packages', async () => {
    const folder = fresh('detached');
    const meta = repoMetadata(repo);
    writeFileSync(path.join(folder, 'Release'), meta.release);
    writeFileSync(path.join(folder, 'Release.gpg'), meta.releaseGpg);
    writeFileSync(path.join(folder, 'Packages.gz'), meta.packagesGz);
    copyFileSync(deb.file, path.join(folder, deb.name));
    writeFileSync(path.join(folder, 'gramine-keyring-bookworm.gpg'), key.armored);
    const v = await acquire(folderPlan(folder));
    assert.equal(v.debs[0]!.sha256, deb.sha256);
  });

  it('refuses a key whose fingerprint is not trusted, and names it; trusts it once pinned', async () => {
    const folder = writeDebsFolder(fresh('untrusted'), repo);
    await assert.rejects(
      acquire(folderPlan(folder, { trusted: [PINNED_GRAMINE_KEYS[0]!.fingerprint] })),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_SGX_GRAMINE_KEY_UNTRUSTED');
        assert.match(e.message, /no trusted key: found/);
        assert.ok(e.message.includes(key.fingerprint.slice(0, 4)));
        return true;
      },
    );
    // The operator's key file wins over the folder's, and must still be trusted.
    const keyFile = path.join(folder, 'operator.gpg');
    writeFileSync(keyFile, stranger.binary);
    await assert.rejects(acquire(folderPlan(folder, { keyFile })), { code: 'ERR_SGX_GRAMINE_KEY_UNTRUSTED' });
    await assert.rejects(acquire(folderPlan(folder, { keyFile, trusted: [...trusted(), stranger.fingerprint] })), {
      code: 'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
      message: /is signed by key .*which is not one of the trusted keys/,
    });
  });

  it('refuses tampered metadata and packages, other suites, expired metadata, missing files', async () => {
    const tamper = async (edit: (folder: string) => void, code: string, message?: RegExp) => {
      const folder = writeDebsFolder(fresh('tamper'), repo);
      edit(folder);
      await assert.rejects(acquire(folderPlan(folder)), { code, ...(message ? { message } : {}) });
    };
    await tamper(
      (f) => writeFileSync(path.join(f, 'Packages'), readFileSync(path.join(f, 'Packages'), 'utf8') + '\n'),
      'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
    );
    await tamper(
      (f) => writeFileSync(path.join(f, deb.name), 'another package\n'),
      'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
    );
    await tamper(
      (f) =>
        writeFileSync(
          path.join(f, 'InRelease'),
          readFileSync(path.join(f, 'InRelease'), 'utf8').replace('Origin: mse-home', 'Origin: mse-hone'),
        ),
      'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
    );
    await tamper((f) => unlinkSync(path.join(f, 'InRelease')), 'ERR_SGX_GRAMINE_DEBS_INCOMPLETE', /InRelease/);
    await tamper(
      (f) => unlinkSync(path.join(f, deb.name)),
      'ERR_SGX_GRAMINE_DEBS_INCOMPLETE',
      /gramine_1\.9_amd64\.deb/,
    );
    await tamper(
      (f) => unlinkSync(path.join(f, 'gramine-keyring-bookworm.gpg')),
      'ERR_SGX_GRAMINE_DEBS_INCOMPLETE',
      /key/,
    );
    await tamper((f) => unlinkSync(path.join(f, 'Packages')), 'ERR_SGX_GRAMINE_DEBS_INCOMPLETE', /Packages/);

    const jammy = writeDebsFolder(fresh('jammy'), { ...repo, suite: 'jammy' });
    await assert.rejects(acquire(folderPlan(jammy)), {
      code: 'ERR_SGX_GRAMINE_METADATA_INVALID',
      message: /not bookworm/,
    });
    const expired = writeDebsFolder(fresh('expired'), {
      ...repo,
      release: { 'Valid-Until': 'Sat, 01 Jan 2000 00:00:00 UTC' },
    });
    await assert.rejects(acquire(folderPlan(expired)), { code: 'ERR_SGX_GRAMINE_METADATA_EXPIRED' });
    const old = writeDebsFolder(fresh('old'), {
      ...repo,
      deb: { ...deb, version: '1.8', name: 'gramine_1.8_amd64.deb' },
    });
    await assert.rejects(acquire(folderPlan(old)), {
      code: 'ERR_SGX_GRAMINE_VERSION_UNAVAILABLE',
      message: /it has: 1\.8/,
    });
    await assert.rejects(acquire(folderPlan(path.join(dir, 'nonexistent'))), { code: 'ERR_FILE_NOT_FOUND' });
  });

  it('fetches and verifies from a repository over HTTP, downloading only what it needs', async () => {
    const root = writeRepoTree(fresh('repo'), repo);
    const server = await serveDirectory(root);
    try {
      const plan = gramineSourcePlan({ repository: server.url, keyFingerprints: [key.fingerprint] });
      assert.equal(plan.kind, 'repository');
      const work = fresh('work');
      const v = await acquireGramineDebs(plan as Extract<GraminePlan, { kind: 'repository' }>, { workDir: work, log });
      assert.equal(v.kind, 'repository');
      assert.equal(v.location, server.url);
      assert.equal(v.debs[0]!.file, path.join(work, 'debs', deb.name));
      assert.ok(readFileSync(v.debs[0]!.file).equals(readFileSync(deb.file)));
      assert.deepEqual(server.requests, [
        '/dists/bookworm/InRelease',
        '/gramine-keyring-bookworm.gpg',
        '/gramine-keyring.gpg',
        '/dists/bookworm/main/binary-amd64/Packages',
        `/pool/main/g/gramine/${deb.name}`,
      ]);
      // A mirror serving a package that is not the signed one is refused.
      writeFileSync(path.join(root, 'pool', 'main', 'g', 'gramine', deb.name), 'swapped\n');
      await assert.rejects(
        acquireGramineDebs(plan as Extract<GraminePlan, { kind: 'repository' }>, { workDir: fresh('work'), log }),
        { code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH' },
      );
      const jammy = gramineSourcePlan({ repository: server.url, suite: 'jammy', keyFingerprints: [key.fingerprint] });
      await assert.rejects(
        acquireGramineDebs(jammy as Extract<GraminePlan, { kind: 'repository' }>, { workDir: fresh('work'), log }),
        {
          code: 'ERR_SGX_GRAMINE_SUITE_UNAVAILABLE',
        },
      );
      // Without the operator's fingerprint the repository's key is not trusted.
      const strict = gramineSourcePlan({ repository: server.url });
      await assert.rejects(
        acquireGramineDebs(strict as Extract<GraminePlan, { kind: 'repository' }>, { workDir: fresh('work'), log }),
        {
          code: 'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
        },
      );
    } finally {
      await server.close();
    }
  });

  it('fails fast when the repository cannot be reached or does not answer, naming it and the alternatives', async () => {
    const hole = await blackHole();
    try {
      const plan = gramineSourcePlan({ repository: hole.url }) as Extract<GraminePlan, { kind: 'repository' }>;
      const t0 = Date.now();
      await assert.rejects(
        acquireGramineDebs(plan, { workDir: fresh('work'), log, probeTimeoutMs: 800 }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_SGX_BASE_SOURCE_UNREACHABLE');
          assert.ok(e.message.includes(hole.url), e.message);
          assert.match(e.message, /no answer within 0\.8 s/);
          assert.match((e as unknown as { hint: string }).hint, /--gramine-debs DIR.*--gramine-image IMAGE/s);
          return true;
        },
      );
      const ms = Date.now() - t0;
      assert.ok(ms >= 700 && ms < 5000, `${ms} ms`);
    } finally {
      await hole.close();
    }
    // A port nothing listens on (taken from a server that is then closed): connection refused.
    const gone = await serveDirectory(dir);
    await gone.close();
    const closed = gramineSourcePlan({ repository: gone.url }) as Extract<GraminePlan, { kind: 'repository' }>;
    await assert.rejects(acquireGramineDebs(closed, { workDir: fresh('work'), log }), {
      code: 'ERR_SGX_BASE_SOURCE_UNREACHABLE',
      message: /ECONNREFUSED/,
    });
  });

  it('trustedKeys keeps only pinned keys out of a keyring holding several', () => {
    const both = Buffer.concat([stranger.binary, key.binary]);
    const { keys, found } = trustedKeys([{ what: 'ring', data: both }], [key.fingerprint]);
    assert.deepEqual(
      keys.map((k) => k.fingerprint),
      [key.fingerprint],
    );
    assert.equal(found.length, 2);
  });
});
