// The Gramine package sources: the plan from the options, a verified folder, and a repository over HTTP
// (a local server with a test-double repository signed by a key generated in the test; gpgv is real).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../base/log.js';
import {
  ATTACKER_GID,
  ATTACKER_UID,
  blackHole,
  buildTestDoubleDeb,
  hasTool,
  makeTestKey,
  repoMetadata,
  swapAfterFirstRead,
  tamperedDeb,
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
const statMode = (file: string): number => statSync(file).mode & 0o777;
const sha256Of = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const isRoot = process.getuid?.() === 0;

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

  it('verifies a folder: signed InRelease, Packages digest, .deb digest; the package is a private copy', async () => {
    const folder = writeDebsFolder(fresh('debs'), repo);
    const work = fresh('work');
    const v = await acquireGramineDebs(folderPlan(folder), { workDir: work, log });
    assert.equal(v.kind, 'debs');
    assert.equal(v.location, folder);
    assert.equal(v.signedBy.primaryFingerprint, key.fingerprint);
    assert.deepEqual(
      v.debs.map((d) => [d.name, d.version, d.sha256, d.file]),
      [[deb.name, '1.9', deb.sha256, path.join(work, 'debs', deb.name)]],
    );
    assert.ok(readFileSync(v.debs[0]!.file).equals(readFileSync(deb.file)));
    assert.equal(statMode(v.debs[0]!.file), 0o600);
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

  // H1: the folder may be writable by someone else. Every file of it is read once, and only what was read is
  // used: the .deb is copied into the private work directory, hashed as it is written there.
  it(
    'a .deb swapped in the folder right after it was read changes nothing: the verified private copy is used',
    { skip: !isRoot && 'needs root, to run the attacker double as nobody' },
    async () => {
      const plain = buildTestDoubleDeb(fresh('plain'), { compression: 'none' });
      const folder = mkdtempSync(path.join(os.tmpdir(), 'mse-gramine-swap-'));
      try {
        writeDebsFolder(folder, { ...repo, deb: plain });
        const evil = tamperedDeb(plain);
        assert.equal(evil.length, plain.size, 'the attacker’s package has the listed size');
        writeFileSync(path.join(folder, '.swap-in'), evil);
        for (const n of [...readdirSync(folder), '.']) chownSync(path.join(folder, n), ATTACKER_UID, ATTACKER_GID);
        chmodSync(folder, 0o755);
        const attacker = await swapAfterFirstRead(folder, plain.name, path.join(folder, '.swap-in'));
        let v;
        try {
          v = await acquire(folderPlan(folder));
        } finally {
          // The swap follows the first read; give it a moment, then stop the watcher if it never came.
          const timer = setTimeout(() => attacker.stop(), 5000);
          assert.equal(await attacker.swapped, true, 'the attacker swapped the .deb after mse-home read it');
          clearTimeout(timer);
        }
        assert.equal(
          sha256Of(readFileSync(path.join(folder, plain.name))),
          sha256Of(evil),
          'the folder now holds the attacker’s package',
        );
        assert.notEqual(path.dirname(v.debs[0]!.file), folder);
        assert.equal(
          sha256Of(readFileSync(v.debs[0]!.file)),
          plain.sha256,
          'what the image is built from is what was verified',
        );
        assert.equal(v.debs[0]!.sha256, plain.sha256);
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    },
  );

  it('a huge sparse .deb is refused by its size before a byte of it is read; so is one of another size', async () => {
    const folder = writeDebsFolder(fresh('sparse'), repo);
    const work = fresh('work');
    truncateSync(path.join(folder, deb.name), 2 * 1024 ** 3);
    const t0 = Date.now();
    await assert.rejects(acquireGramineDebs(folderPlan(folder), { workDir: work, log }), {
      code: 'ERR_FILE_TOO_LARGE',
      message: /Debian package limit of 512 MiB/,
    });
    truncateSync(path.join(folder, deb.name), 256 * 1024 ** 2);
    await assert.rejects(acquireGramineDebs(folderPlan(folder), { workDir: work, log }), {
      code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
      message: new RegExp(`is 268435456 bytes, not the ${deb.size} bytes the signed repository metadata lists`),
    });
    assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms: nothing was hashed`);
    assert.equal(existsSync(path.join(work, 'debs', deb.name)), false, 'no copy was started');
    // An index listing a package above the .deb limit is refused before the folder's file is opened.
    const big = writeDebsFolder(fresh('big'), { ...repo, deb: { ...deb, size: 600 * 1024 ** 2 } });
    await assert.rejects(acquire(folderPlan(big)), {
      code: 'ERR_FILE_TOO_LARGE',
      message: /lists gramine 1\.9 at 600 MiB/,
    });
  });

  it('a FIFO or a link in place of a folder file is refused at once, never read or followed', async () => {
    const fifo = writeDebsFolder(fresh('fifo'), repo);
    unlinkSync(path.join(fifo, deb.name));
    execFileSync('mkfifo', [path.join(fifo, deb.name)]);
    const t0 = Date.now();
    await assert.rejects(acquire(folderPlan(fifo)), { code: 'ERR_FILE_NOT_REGULAR', message: /a FIFO/ });
    assert.ok(Date.now() - t0 < 3000);
    const linked = writeDebsFolder(fresh('link'), repo);
    unlinkSync(path.join(linked, deb.name));
    symlinkSync(deb.file, path.join(linked, deb.name));
    await assert.rejects(acquire(folderPlan(linked)), {
      code: 'ERR_FILE_NOT_REGULAR',
      message: /a symbolic link \(not followed here\)/,
    });
    const linkedMeta = writeDebsFolder(fresh('link-meta'), repo);
    const elsewhere = path.join(fresh('elsewhere'), 'InRelease');
    copyFileSync(path.join(linkedMeta, 'InRelease'), elsewhere);
    unlinkSync(path.join(linkedMeta, 'InRelease'));
    symlinkSync(elsewhere, path.join(linkedMeta, 'InRelease'));
    await assert.rejects(acquire(folderPlan(linkedMeta)), { code: 'ERR_FILE_NOT_REGULAR', message: /InRelease/ });
  });

  it('refuses a Release dated in the future beyond 10 s (a host clock behind), as apt does', async () => {
    const folder = writeDebsFolder(fresh('future'), {
      ...repo,
      release: { Date: new Date(Date.now() + 3600_000).toUTCString() },
    });
    await assert.rejects(acquire(folderPlan(folder)), {
      code: 'ERR_SGX_GRAMINE_METADATA_NOT_YET_VALID',
      message: /is dated .* after this host's time/,
    });
    // The same metadata, checked at a time an hour later, is fine.
    const v = await acquire(folderPlan(folder), { now: new Date(Date.now() + 3600_000) });
    assert.equal(v.debs[0]!.sha256, deb.sha256);
  });

  it('a mirror streaming more than the listed size is cut off at that size', async () => {
    const root = writeRepoTree(fresh('endless'), repo);
    let sent = 0;
    const server = http.createServer((req, res) => {
      const p = new URL(req.url ?? '/', 'http://x').pathname;
      if (p.endsWith('.deb')) {
        // No Content-Length: zeros until the client hangs up.
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk)) sent += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => undefined);
        pump();
        return;
      }
      try {
        const data = readFileSync(path.join(root, p));
        res.writeHead(200, { 'content-length': data.length });
        res.end(data);
      } catch {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const plan = gramineSourcePlan({ repository: url, keyFingerprints: [key.fingerprint] });
      const work = fresh('work');
      await assert.rejects(
        acquireGramineDebs(plan as Extract<GraminePlan, { kind: 'repository' }>, { workDir: work, log }),
        {
          code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
          message: /longer than the \d+ bytes the signed repository metadata lists/,
        },
      );
      assert.ok(sent < 16 * 1024 * 1024, `${sent} bytes sent before the client stopped`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
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
