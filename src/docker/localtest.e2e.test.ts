// `mse home localtest` against the real Docker engine: a scaffolded Flask project and a FastAPI project
// pass; broken projects fail with the right code and leave no container behind; the image is kept, content
// addressed, reused by the next run and removed by --clean.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MSE_BIN, runMse } from '../testing/cli.js';
import {
  edit,
  imagesWithLabel,
  localtestContainers,
  removeTestDirs,
  removeTestImages,
  testBaseImage,
  testEngine,
  testProject,
} from '../testing/docker.js';
import { BASE_IMAGE, LABEL_INPUTS } from './base-image.js';
import { localtestRepository } from './localtest.js';

const repos: string[] = [];
after(async () => {
  await removeTestImages(repos);
  removeTestDirs();
});

async function project(kind: 'flask' | 'fastapi') {
  const p = await testProject(kind);
  repos.push(localtestRepository(p.name));
  return p;
}

/** Add a unique label step so the image is new (and its leftovers findable); returns the marker. */
function markDockerfile(dir: string, extra = ''): string {
  const marker = randomBytes(6).toString('hex');
  appendFileSync(path.join(dir, 'Dockerfile'), `\nLABEL mse-test-marker=${marker}\n${extra}`);
  return marker;
}

async function localtest(args: string[]) {
  const r = await runMse(['home', 'localtest', '--json', ...args], { timeoutMs: 180_000 });
  const out = r.stdout
    ? (JSON.parse(r.stdout) as {
        ok: boolean;
        error?: { code: string; message: string; hint: string };
        tests?: string;
        image?: string;
        imageReused?: boolean;
        testSummary?: { line: string; passed?: number; failed?: number } | null;
      })
    : undefined;
  return { ...r, out };
}

describe('localtest (real engine)', () => {
  before(async () => {
    await testEngine();
    const base = await testBaseImage();
    assert.equal(base.ref, BASE_IMAGE);
  });

  it('the base image carries its input hash and runs Python, Flask, FastAPI and Node', async () => {
    const engine = await testEngine();
    const info = await engine.inspectImage(BASE_IMAGE);
    assert.match(info?.Config?.Labels?.[LABEL_INPUTS] ?? '', /^[0-9a-f]{64}$/);
    const id = await engine.runContainer({
      image: BASE_IMAGE,
      name: `mse-test-docker-probe-${randomBytes(3).toString('hex')}`,
      cmd: [
        'sh',
        '-c',
        'python3 -c "import flask, fastapi, uvicorn, nacl, cryptography" && node --version && mse-serve --self-check',
      ],
    });
    try {
      assert.equal(await engine.waitContainer(id), 0, await engine.containerLogs(id));
      const logs = await engine.containerLogs(id);
      assert.match(logs, /^v18\./m);
      assert.match(logs, /mse-serve: ok \(python 3\.11/);
    } finally {
      await engine.removeContainer(id, { force: true });
    }
  });

  it('passes for the scaffolded Flask project, with both secrets files mounted', async () => {
    const p = await project('flask');
    const r = await localtest(['--project', p.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out?.tests, 'passed');
    assert.match(r.stderr, /4 passed/); // the secrets tests ran, not skipped
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('passes for a FastAPI project given as four paths plus secrets; .mseignore applies to the mounted code', async () => {
    const p = await project('fastapi');
    // Its tests check that the app sees the code as packaged (notes.md is .mseignore'd) and both secrets.
    const r = await localtest([
      '--code',
      path.join(p.dir, 'mse_src'),
      '--config',
      path.join(p.dir, 'mse.toml'),
      '--dockerfile',
      path.join(p.dir, 'Dockerfile'),
      '--test',
      path.join(p.dir, 'tests'),
      '--secrets',
      path.join(p.dir, 'secrets.json'),
      '--sealed-secrets',
      path.join(p.dir, 'secrets_to_seal.json'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /4 passed/);
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('fails with ERR_DOCKER_BUILD_FAILED (exit 5) on a broken Dockerfile, each step shown once, leaving no image or container', async () => {
    const p = await project('flask');
    const marker = markDockerfile(p.dir, 'RUN echo about to fail && false\n');
    const r = await localtest(['--project', p.dir]);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.out?.error?.code, 'ERR_DOCKER_BUILD_FAILED');
    assert.match(r.stderr, /about to fail/);
    const steps = r.stderr.match(/Step \d+\/\d+ : .*/g) ?? [];
    assert.ok(steps.length >= 3, r.stderr);
    assert.deepEqual(steps, [...new Set(steps)], 'no step line printed twice');
    assert.deepEqual(await imagesWithLabel('mse-test-marker', marker), []);
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('a Dockerfile FROM an image the engine does not have: the hint says to build FROM the local base image', async () => {
    const p = await project('flask');
    const absent = `mse-test-docker-absent-${randomBytes(4).toString('hex')}:1`;
    edit(path.join(p.dir, 'Dockerfile'), (t) => t.replace(/^FROM \S+/m, `FROM ${absent}`));
    const r = await localtest(['--project', p.dir]);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.out?.error?.code, 'ERR_DOCKER_BUILD_FAILED');
    assert.match(r.out?.error?.hint ?? '', new RegExp(`FROM ${absent}, which the Docker engine does not have`));
    assert.match(
      r.out?.error?.hint ?? '',
      new RegExp(`Build FROM ${BASE_IMAGE.replace(/\./g, '\\.')}, the local base image`),
    );
    assert.equal((r.stderr.match(/Step 1\/1 : /g) ?? []).length, 1);
  });

  it('fails with ERR_LOCALTEST_APP_EXITED (exit 3) and the traceback when the app crashes on import; the image is kept for --clean', async () => {
    const p = await project('flask');
    const marker = markDockerfile(p.dir);
    appendFileSync(path.join(p.dir, 'mse_src', 'app.py'), '\nraise RuntimeError("crash on import")\n');
    const r = await localtest(['--project', p.dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.out?.error?.code, 'ERR_LOCALTEST_APP_EXITED');
    assert.match(r.stderr, /RuntimeError: crash on import/);
    assert.ok((await imagesWithLabel('mse-test-marker', marker)).length > 0, 'the image is a build cache: kept');
    assert.deepEqual(await localtestContainers(p.name), []);
    const clean = await runMse(['home', 'localtest', '--clean', '--project', p.dir, '--json']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(
      (JSON.parse(clean.stdout) as { removed: string[] }).removed[0] ?? '',
      new RegExp(`^${localtestRepository(p.name)}:[0-9a-f]{32}$`),
    );
    assert.deepEqual(await imagesWithLabel('mse-test-marker', marker), []);
  });

  it('fails with ERR_LOCALTEST_HEALTH_TIMEOUT (exit 6) when the health endpoint never answers 2xx', async () => {
    const p = await project('fastapi');
    edit(path.join(p.dir, 'mse.toml'), (t) =>
      t.replace('healthcheck_endpoint = "/health"', 'healthcheck_endpoint = "/never"'),
    );
    const r = await localtest(['--project', p.dir, '--timeout', '3']);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.out?.error?.code, 'ERR_LOCALTEST_HEALTH_TIMEOUT');
    assert.match(r.stderr, /last: HTTP 404/);
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('fails with ERR_PORT_IN_USE (exit 5) when --port is taken', async () => {
    const p = await project('fastapi');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await localtest(['--project', p.dir, '--port', String(port)]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.out?.error?.code, 'ERR_PORT_IN_USE');
    } finally {
      server.close();
    }
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('exits 8 (ERR_TESTS_FAILED) when a test fails; the image is kept and reused, the project untouched', async () => {
    const p = await project('fastapi');
    const marker = markDockerfile(p.dir, 'RUN echo built > /opt/built.txt\n');
    writeFileSync(path.join(p.dir, 'tests', 'test_fail.py'), 'def test_fails():\n    assert 1 == 2\n');
    const testsBefore = readdirSync(path.join(p.dir, 'tests')).sort();
    const first = await localtest(['--project', p.dir]);
    assert.equal(first.code, 8, first.stderr);
    assert.match(
      first.stderr,
      /^error\[ERR_TESTS_FAILED\]: tests failed: python3 -m pytest -q exited with 1 \(1 failed, 4 passed/m,
    );
    assert.equal(first.out?.ok, false);
    assert.equal(first.out?.error?.code, 'ERR_TESTS_FAILED');
    assert.equal(first.out?.tests, 'failed');
    assert.equal(first.out?.testSummary?.failed, 1);
    assert.equal(first.out?.testSummary?.passed, 4);
    assert.match(first.out?.image ?? '', new RegExp(`^${localtestRepository(p.name)}:[0-9a-f]{32}$`));
    assert.match(first.stderr, /building image/);
    assert.match(first.stderr, /is kept for the next run; remove it with 'mse home localtest --clean --config /);
    assert.deepEqual(await localtestContainers(p.name), []);
    const kept = await (await testEngine()).inspectImage(first.out?.image ?? '-');
    assert.equal(kept?.Config?.Labels?.['mse-test-marker'], marker, 'the image built for this project is kept');
    // No .pytest_cache, no __pycache__: the context (hence the image tag) is unchanged for the next run.
    assert.deepEqual(readdirSync(path.join(p.dir, 'tests')).sort(), testsBefore);

    const second = await localtest(['--project', p.dir]);
    assert.equal(second.code, 8, second.stderr);
    assert.equal(second.out?.image, first.out?.image);
    assert.doesNotMatch(second.stderr, /building image|Step \d/);
    assert.match(second.stderr, /: reused \(same Dockerfile, build context and base image\)/);

    // Changed inputs: a new image; the old tag goes, the old image with it (nothing else uses it).
    writeFileSync(path.join(p.dir, 'tests', 'test_fail.py'), 'def test_passes():\n    assert 1 == 1\n');
    const third = await localtest(['--project', p.dir]);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.out?.imageReused, false);
    assert.notEqual(third.out?.image, first.out?.image);
    const tags = (await (await testEngine()).imagesInRepository(localtestRepository(p.name))).flatMap(
      (i) => i.repoTags,
    );
    assert.deepEqual(tags, [third.out?.image]);
  });

  it('Ctrl-C while the tests run: exit 130, container removed', async () => {
    const p = await project('fastapi');
    writeFileSync(path.join(p.dir, 'tests', 'test_slow.py'), 'import time\ndef test_slow():\n    time.sleep(60)\n');
    const child = spawn(process.execPath, [MSE_BIN, 'home', 'localtest', '--project', p.dir], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/→ tests: /.test(stderr)) resolve();
      });
      child.on('close', () => reject(new Error(`localtest ended early: ${stderr}`)));
    });
    assert.equal((await localtestContainers(p.name)).length, 1);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', (c) => resolve(c));
      child.kill('SIGINT');
    });
    assert.equal(code, 130, stderr);
    assert.deepEqual(await localtestContainers(p.name), []);
  });

  it('--no-tests serves until Ctrl-C, then removes the container', async () => {
    const p = await project('fastapi');
    const child = spawn(process.execPath, [MSE_BIN, 'home', 'localtest', '--project', p.dir, '--no-tests'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const ready = new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /the app answers at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('close', () => reject(new Error(`localtest ended early: ${stderr}`)));
    });
    const url = await ready;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await localtestContainers(p.name)).length, 1);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', (c) => resolve(c));
      child.kill('SIGINT');
    });
    assert.equal(code, 0, stderr);
    assert.deepEqual(await localtestContainers(p.name), []);
  });
});
