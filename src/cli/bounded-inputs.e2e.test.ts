// File inputs of the commands that need the Docker engine (package, localtest, spawn), through the real CLI,
// given FIFOs, devices, directories, an mse.toml that is not UTF-8 and code too large for the enclave: each
// is refused with its code before any image is built or loaded, in seconds, leaving nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageRepository } from '../docker/app-image.js';
import { runMse, type CliResult } from '../testing/cli.js';
import {
  removeTestDirs,
  removeTestImages,
  testBaseImage,
  testEngine,
  testProject,
  testTempDir,
} from '../testing/docker.js';
import { writeSparseTar } from '../testing/rawtar.js';

const TIMEOUT_MS = 60_000;
const repos: string[] = [];
let dir: string;
const p = (...parts: string[]): string => path.join(dir, ...parts);

before(async () => {
  await testEngine();
  dir = testTempDir('mse-bounded-e2e-');
  execFileSync('mkfifo', [p('fifo')]);
  symlinkSync(p('fifo'), p('link-fifo'));
  mkdirSync(p('a-dir'));
});
after(async () => {
  await removeTestImages(repos);
  removeTestDirs();
});

async function mse(args: string[]): Promise<CliResult> {
  return runMse(['home', ...args, '--json'], { timeoutMs: TIMEOUT_MS });
}

function assertRefused(r: CliResult, code: string, what: string): void {
  assert.equal(r.timedOut, false, `${what}: hung (killed after ${TIMEOUT_MS} ms)`);
  let got: string | undefined;
  try {
    got = (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code;
  } catch {
    got = undefined;
  }
  assert.equal(got, code, `${what}: ${r.stdout}${r.stderr}`);
}

async function project(): Promise<{ dir: string; name: string }> {
  const proj = await testProject('flask');
  repos.push(imageRepository(proj.name));
  return proj;
}

/** The explicit form of a project's paths, with `over` replacing some. */
function explicit(proj: { dir: string }, over: Partial<Record<'code' | 'config' | 'dockerfile' | 'test', string>>) {
  const paths = {
    code: path.join(proj.dir, 'mse_src'),
    config: path.join(proj.dir, 'mse.toml'),
    dockerfile: path.join(proj.dir, 'Dockerfile'),
    test: path.join(proj.dir, 'tests'),
    ...over,
  };
  return ['--code', paths.code, '--config', paths.config, '--dockerfile', paths.dockerfile, '--test', paths.test];
}

describe('package and localtest: project files', { timeout: 600_000 }, () => {
  it('--config and --dockerfile: a FIFO, /dev/zero, a symlink to a FIFO, a directory', async () => {
    const proj = await project();
    const bad: [string, string][] = [
      [p('fifo'), 'ERR_FILE_NOT_REGULAR'],
      ['/dev/zero', 'ERR_FILE_NOT_REGULAR'],
      [p('link-fifo'), 'ERR_FILE_NOT_REGULAR'],
      [p('a-dir'), 'ERR_FILE_IS_DIRECTORY'],
    ];
    for (const command of ['package', 'localtest']) {
      for (const flag of ['config', 'dockerfile'] as const) {
        for (const [file, code] of bad) {
          const out = p(`out-${command}-${flag}`);
          const r = await mse([
            command,
            ...explicit(proj, { [flag]: file }),
            ...(command === 'package' ? ['--output', out] : []),
          ]);
          assertRefused(r, code, `${command} --${flag} ${file}`);
          assert.equal(existsSync(out), false);
        }
      }
    }
  });

  it('localtest --secrets / --sealed-secrets: a FIFO and /dev/zero', async () => {
    const proj = await project();
    for (const flag of ['--secrets', '--sealed-secrets']) {
      for (const file of [p('fifo'), '/dev/zero']) {
        const r = await mse(['localtest', '--project', proj.dir, flag, file]);
        assertRefused(r, 'ERR_FILE_NOT_REGULAR', `localtest ${flag} ${file}`);
      }
    }
  });

  it('an mse.toml with an invalid UTF-8 byte is refused by package and localtest, as verify and spawn do', async () => {
    const proj = await project();
    writeFileSync(
      path.join(proj.dir, 'mse.toml'),
      Buffer.concat([Buffer.from(`name = "${proj.name}"\n# caf`), Buffer.from([0xe9]), Buffer.from('\n')]),
    );
    const out = p('out-utf8');
    assertRefused(
      await mse(['package', '--project', proj.dir, '--output', out]),
      'ERR_PACKAGE_CONFIG_ENCODING',
      'package',
    );
    assert.equal(existsSync(out), false);
    assertRefused(await mse(['localtest', '--project', proj.dir]), 'ERR_PACKAGE_CONFIG_ENCODING', 'localtest');
  });

  it('.mseignore and .dockerignore as FIFOs are refused, not waited on', async () => {
    const ignore = await project();
    rmSync(path.join(ignore.dir, 'mse_src', '.mseignore'), { force: true });
    execFileSync('mkfifo', [path.join(ignore.dir, 'mse_src', '.mseignore')]);
    assertRefused(
      await mse(['package', '--project', ignore.dir, '--output', p('out-mseignore')]),
      'ERR_FILE_NOT_REGULAR',
      'package with a FIFO .mseignore',
    );
    await testBaseImage(); // the base image is checked before the build context is read
    const docker = await project();
    rmSync(path.join(docker.dir, '.dockerignore'), { force: true });
    execFileSync('mkfifo', [path.join(docker.dir, '.dockerignore')]);
    assertRefused(
      await mse(['localtest', '--project', docker.dir]),
      'ERR_FILE_NOT_REGULAR',
      'localtest with a FIFO .dockerignore',
    );
  });

  it('code too large for the enclave is refused by package before anything is written or built', async () => {
    const proj = await project();
    // 600 MB of data in the code directory (sparse: no disk used).
    writeSparseTar(path.join(proj.dir, 'mse_src', 'model.bin'), [{ name: 'weights', size: 600_000_000 }]);
    const out = p('out-large');
    const r = await mse(['package', '--project', proj.dir, '--output', out]);
    assertRefused(r, 'ERR_PACKAGE_MEMBER_TOO_LARGE', 'package of 600 MB of code');
    assert.match(JSON.parse(r.stdout).error.message, /app\.tar is .*more than the 512 MiB allowed/);
    assert.equal(existsSync(out), false);
    assert.equal(await (await testEngine()).inspectImage(`${imageRepository(proj.name)}:latest`), undefined);
  });
});

describe('spawn --package', { timeout: 300_000 }, () => {
  it('a FIFO, /dev/zero, a directory: refused before anything is loaded', async () => {
    const cases: [string, string][] = [
      [p('fifo'), 'ERR_FILE_NOT_REGULAR'],
      ['/dev/zero', 'ERR_FILE_NOT_REGULAR'],
      [p('link-fifo'), 'ERR_FILE_NOT_REGULAR'],
      [p('a-dir'), 'ERR_FILE_IS_DIRECTORY'],
    ];
    for (const [i, [file, code]] of cases.entries()) {
      const out = p(`spawn-${i}`);
      const r = await mse([
        'spawn',
        `mse-test-bounded-${process.pid}-${i}`,
        '--package',
        file,
        '--san',
        'localhost',
        '--size',
        '4096',
        '--port',
        String(20_000 + (process.pid % 20_000) + i),
        '--output',
        out,
        '--platform',
        'sim',
      ]);
      assertRefused(r, code, `spawn --package ${file}`);
      assert.deepEqual(existsSync(out) ? readdirSync(out) : [], [], 'nothing extracted');
    }
  });
});
