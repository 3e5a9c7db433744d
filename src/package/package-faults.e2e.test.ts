// `mse home package` when things go wrong under it, for real: a full disk (a small tmpfs), a read-only file
// system, SIGINT/SIGTERM at every phase and late in the write, and its stderr closing. Whatever happens,
// either the command finished (exit 0, package and 0600 key complete) or nothing is left (exit 130/143/141,
// no package, no key, no staging files, no output directory it created, no image tag it added).
// Mounting needs root (the machines mse-home targets run these tests as root).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageRepository } from '../docker/app-image.js';
import { MSE_BIN, runMse } from '../testing/cli.js';
import {
  removeTestDirs,
  removeTestImages,
  testBaseImage,
  testEngine,
  testProject,
  testTempDir,
  type TestProject,
} from '../testing/docker.js';
import { readPackage } from './read.js';

const isRoot = process.getuid?.() === 0;
const repos: string[] = [];
const mounts: string[] = [];
after(async () => {
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // not mounted (any more)
    }
  }
  await removeTestImages(repos);
  removeTestDirs();
});

/** A fresh tmpfs of `size` (mount's syntax: `1m`, or bytes) at a new directory. */
function tmpfs(size: string, options = ''): string {
  const dir = testTempDir('mse-e2e-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755${options}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function unmount(dir: string): void {
  execFileSync('umount', [dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

async function pack(p: TestProject, output: string, extra: string[] = []) {
  const r = await runMse(['home', 'package', '--json', '--project', p.dir, '--output', output, ...extra], {
    timeoutMs: 300_000,
  });
  return {
    ...r,
    json: r.stdout ? (JSON.parse(r.stdout) as { ok: boolean; error?: { code: string; message: string } }) : undefined,
  };
}

/** Only `<repo>:latest` may be left in the project's repository (never a per-package `<repo>:<time_ns>`). */
async function assertNoPackageTag(p: TestProject): Promise<void> {
  const repo = imageRepository(p.name);
  const tags = (await (await testEngine()).imagesInRepository(repo)).flatMap((i) => i.repoTags);
  assert.deepEqual(
    tags.filter((t) => t !== `${repo}:latest`),
    [],
  );
}

/** The outcome of one `package --encrypt` interrupted by `signal` `delayMs` after `marker` appeared on stderr. */
async function interrupted(
  p: TestProject,
  output: string,
  marker: string,
  signal: NodeJS.Signals,
  delayMs = 0,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [MSE_BIN, 'home', 'package', '--project', p.dir, '--output', output, '--encrypt'],
    { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && stderr.includes(marker)) {
      sent = true;
      setTimeout(() => child.kill(signal), delayMs);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.ok(sent, `the marker '${marker}' never appeared:\n${stderr}`);
  return { code, stderr };
}

/** Finished (0, a complete package and its 0600 key) or nothing at all (130/143, output dir gone). */
async function assertAllOrNothing(r: { code: number | null; stderr: string }, output: string, signal: string) {
  const expectedCode = signal === 'SIGINT' ? 130 : 143;
  if (r.code === 0) {
    const files = readdirSync(output).sort();
    assert.equal(files.length, 2, `exit 0 with ${files.join(', ')}`);
    const [key, tar] = files as [string, string];
    assert.match(key, /\.key$/);
    assert.equal(statSync(path.join(output, key)).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(output, key)).size, 32);
    const contents = await readPackage(path.join(output, tar));
    assert.ok(contents.encrypted);
  } else {
    assert.equal(r.code, expectedCode, r.stderr);
    assert.match(r.stderr, new RegExp(`error\\[ERR_INTERRUPTED\\]: interrupted by ${signal}`));
    assert.equal(
      existsSync(output),
      false,
      `interrupted, yet ${output} holds ${existsSync(output) ? readdirSync(output).join(', ') : ''}`,
    );
  }
}

describe(
  'package under faults (real engine, real file systems, real signals)',
  { skip: !isRoot && 'needs root (mount)' },
  () => {
    let p: TestProject;
    let packageSize = 0;
    const out = testTempDir('mse-e2e-faults-out-');

    before(async () => {
      await testEngine();
      await testBaseImage();
      p = await testProject('flask');
      repos.push(imageRepository(p.name));
      // The size of a package of this project (and a warm build cache for the runs below).
      const r = await pack(p, path.join(out, 'reference'));
      assert.equal(r.code, 0, r.stderr);
      packageSize = statSync((r.json as unknown as { package: string }).package).size;
    });

    it('a 1 MiB file system: ERR_DISK_FULL (exit 3) naming the package; the output directory it made is gone', async () => {
      const fs1 = tmpfs('1m');
      const r = await pack(p, path.join(fs1, 'out'));
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.json?.error?.code, 'ERR_DISK_FULL');
      assert.match(
        r.json?.error?.message ?? '',
        /cannot write package .*\/out\/package_.*\.tar: no space left on the device/,
      );
      assert.doesNotMatch(r.stderr, /ERR_INTERNAL|this is a bug/);
      assert.deepEqual(readdirSync(fs1), []);
      await assertNoPackageTag(p);
    });

    it('room for image.tar but not for the package: ERR_DISK_FULL while writing, nothing left', async () => {
      const fs2 = tmpfs(String(Math.ceil(packageSize * 1.4)));
      mkdirSync(path.join(fs2, 'out'));
      const r = await pack(p, path.join(fs2, 'out'), ['--encrypt']);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.json?.error?.code, 'ERR_DISK_FULL');
      assert.match(r.stderr, /✓ save: image\.tar/); // it got past the save, into the write
      assert.deepEqual(readdirSync(path.join(fs2, 'out')), [], 'an existing output directory is kept, empty');
      await assertNoPackageTag(p);
    });

    it('a read-only file system: ERR_FILE_UNWRITABLE (exit 3)', async () => {
      const fs3 = tmpfs('10m');
      mkdirSync(path.join(fs3, 'out'));
      execFileSync('mount', ['-o', 'remount,ro', fs3]);
      const r = await pack(p, path.join(fs3, 'out'));
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.json?.error?.code, 'ERR_FILE_UNWRITABLE');
      assert.match(r.json?.error?.message ?? '', /read-only file system/);
      unmount(fs3);
    });

    const phases: [string, NodeJS.Signals][] = [
      ['→ code', 'SIGINT'],
      ['→ tests', 'SIGTERM'],
      ['→ building image', 'SIGINT'],
      ['→ save', 'SIGTERM'],
      ['→ write', 'SIGINT'],
    ];
    for (const [marker, signal] of phases) {
      it(`${signal} at '${marker}': exit ${signal === 'SIGINT' ? 130 : 143}, nothing left`, async () => {
        const output = path.join(out, `int-${signal}-${marker.replace(/\W+/g, '')}`);
        const r = await interrupted(p, output, marker, signal);
        assert.equal(r.code, signal === 'SIGINT' ? 130 : 143, r.stderr);
        await assertAllOrNothing(r, output, signal);
        await assertNoPackageTag(p);
      });
    }

    it('interrupts late in the write, around the moment the package is complete: all or nothing, never both', async () => {
      const outcomes: (number | null)[] = [];
      for (const [i, delay] of [200, 600, 1000, 1500, 2200, 3000].entries()) {
        const signal = i % 2 ? 'SIGTERM' : 'SIGINT';
        const output = path.join(out, `late-${delay}`);
        const r = await interrupted(p, output, '→ write', signal, delay);
        await assertAllOrNothing(r, output, signal);
        outcomes.push(r.code);
      }
      await assertNoPackageTag(p);
      assert.ok(outcomes.length === 6, outcomes.join(' '));
    });

    it('stderr closed under it (2>&1 | head -1): exit 141, quietly, nothing left', async () => {
      for (let i = 0; i < 3; i++) {
        const output = path.join(out, `pipe-${i}`);
        const script = `"${process.execPath}" "${MSE_BIN}" home package --project "${p.dir}" --output "${output}" 2>&1 | head -1; exit \${PIPESTATUS[0]}`;
        const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
          const child = spawn('bash', ['-c', script], {
            env: { ...process.env, NO_COLOR: '1' },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let stdout = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.on('close', (code) => resolve({ code, stdout }));
        });
        assert.equal(r.code, 141, r.stdout);
        assert.equal(r.stdout, '→ code: app.tar…\n');
        assert.equal(existsSync(output), false);
      }
      await assertNoPackageTag(p);
    });
  },
);
