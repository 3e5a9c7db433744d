// The CLI's own behaviour around a real, running deployment (real engine, simulated SGX): commands whose
// stdout is closed early by `| head -1` (the race, run many times), `mse home test` failing and passing
// (one ERR_TESTS_FAILED behaviour, shared with localtest), `test --url` checked first, Ctrl-C during the
// tests, and `evidence --output` creating its directory like spawn and package.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { MSE_BIN } from '../testing/cli.js';
import {
  createWorld,
  expectExit,
  freePort,
  jsonOf,
  packageInWorld,
  spawnDeployment,
  story,
  type World,
} from '../testing/e2e.js';

interface TestJson {
  ok: boolean;
  name?: string;
  url?: string;
  tests?: string;
  testsExitCode?: number;
  testSummary?: { line: string; passed?: number; failed?: number } | null;
  error?: { code: string; exitCode: number };
}

describe('the CLI around a running deployment', () => {
  let w: World;
  let project: string;
  let workspace: string;
  let name: string;
  let port: number;
  let failingTests: string;
  const step = story();

  /** `mse home ARGS | head -1` in bash; the CLI's own exit code and stderr. */
  const headOne = async (args: string[]): Promise<{ code: number | null; line: string; stderr: string }> => {
    const quoted = args.map((a) => `'${a}'`).join(' ');
    const script = `"${process.execPath}" "${MSE_BIN}" home ${quoted} 2>"$ERRFILE" | head -1; exit \${PIPESTATUS[0]}`;
    const errFile = path.join(w.root, `head-${Math.random().toString(16).slice(2)}.err`);
    const r = await new Promise<{ code: number | null; line: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], {
        cwd: w.root,
        env: { ...process.env, ...w.env, NO_COLOR: '1', ERRFILE: errFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let line = '';
      child.stdout.on('data', (d: Buffer) => (line += d.toString()));
      child.on('close', (code) => resolve({ code, line }));
    });
    const stderr = readFileSync(errFile, 'utf8');
    await fs.rm(errFile);
    return { ...r, stderr };
  };

  before(async () => {
    w = await createWorld('cli');
    project = path.join(w.root, 'provider', 'cli_app');
    workspace = path.join(w.root, 'operator', 'cli_app');
    name = w.deploymentName('cli');
    port = await freePort();
    await fs.mkdir(path.join(w.root, 'provider'));
  });
  after(async () => {
    await w?.cleanup();
  });

  step('scaffold, package, spawn, seal and run a Flask app', async () => {
    expectExit(await w.mse(['scaffold', project]), 'scaffold');
    const packageFile = await packageInWorld(w, project, path.join(w.root, 'provider'));
    expectExit(await spawnDeployment(w, { name, packageFile, port, workspace }), 'spawn');
    const sealedDir = path.join(w.root, 'provider');
    const plain = path.join(project, 'secrets_to_seal.json');
    expectExit(
      await w.mse(['seal', '--secrets', plain, '--cert', path.join(workspace, 'ratls.pem'), '--output', sealedDir]),
      'seal',
    );
    expectExit(
      await w.mse([
        'run',
        name,
        '--secrets',
        path.join(project, 'secrets.json'),
        '--sealed-secrets',
        path.join(sealedDir, 'secrets_to_seal.json.sealed'),
      ]),
      'run',
    );
    // A copy of the tests with one failing test (the packaged tests stay as they are).
    failingTests = path.join(w.root, 'provider', 'failing-tests');
    await fs.cp(path.join(project, 'tests'), failingTests, { recursive: true });
    await fs.writeFile(path.join(failingTests, 'test_fail.py'), 'def test_fails():\n    assert 1 == 2\n');
  });

  step('`list | head -1` and `status NAME | head -1`, 25 times each: never a stack trace, exit 0 or 141', async () => {
    for (const args of [['list'], ['status', name]]) {
      for (let i = 0; i < 25; i++) {
        const r = await headOne(args);
        assert.ok(r.code === 0 || r.code === 141, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
        assert.equal(r.stderr, '', `${args.join(' ')}: stderr must stay empty`);
        assert.match(r.line, args[0] === 'list' ? /^NAME\s+STATE/ : /\S/);
      }
    }
  });

  const testArgs = (tests: string, extra: string[] = []): string[] => [
    'test',
    name,
    '--test',
    tests,
    '--config',
    path.join(project, 'mse.toml'),
    '--secrets',
    path.join(project, 'secrets.json'),
    ...extra,
  ];
  const testEnv = (): NodeJS.ProcessEnv => ({ TEST_SEALED_SECRET_JSON: path.join(project, 'secrets_to_seal.json') });

  step(
    'test with a failing test: error[ERR_TESTS_FAILED], exit 8; --json: ok false, the error and the summary',
    async () => {
      const human = await w.mse(testArgs(failingTests), { env: testEnv() });
      expectExit(human, 'test (failing)', 8);
      assert.match(
        human.stderr,
        /^error\[ERR_TESTS_FAILED\]: tests failed: python3 -m pytest exited with 1 \(1 failed, 4 passed/m,
      );
      assert.match(human.stderr, /hint: See the test output above\./);
      assert.match(human.stdout, /1 failed, 4 passed/);

      const r = await w.mse(testArgs(failingTests, ['--json']), { env: testEnv() });
      expectExit(r, 'test --json (failing)', 8);
      const j = jsonOf<TestJson>(r);
      assert.equal(j.ok, false);
      assert.equal(j.error?.code, 'ERR_TESTS_FAILED');
      assert.equal(j.error?.exitCode, 8);
      assert.equal(j.name, name);
      assert.equal(j.url, `https://localhost:${port}`);
      assert.equal(j.tests, 'failed');
      assert.equal(j.testsExitCode, 1);
      assert.deepEqual([j.testSummary?.failed, j.testSummary?.passed], [1, 4]);
      // Nothing written into the tests directory.
      assert.deepEqual(readdirSync(failingTests).sort(), ['conftest.py', 'test_app.py', 'test_fail.py']);
    },
  );

  step('test passing, --url https://HOST:PORT: ok true with the summary', async () => {
    const r = await w.mse(testArgs(path.join(project, 'tests'), ['--json', '--url', `https://localhost:${port}`]), {
      env: testEnv(),
    });
    const j = jsonOf<TestJson>(expectExit(r, 'test --json (passing)'));
    assert.equal(j.ok, true);
    assert.equal(j.tests, 'passed');
    assert.equal(j.testSummary?.passed, 4);
  });

  step('test --url that is not https://HOST:PORT: ERR_OPTION_VALUE (exit 2) before any test runs', async () => {
    for (const url of [`http://localhost:${port}`, 'https://localhost', `https://localhost:${port}/x`, 'localhost']) {
      const r = await w.mse(testArgs(failingTests, ['--url', url]));
      expectExit(r, `test --url ${url}`, 2);
      assert.match(r.stderr, /^error\[ERR_OPTION_VALUE\]: --url /m);
      assert.equal(r.stdout, '', 'no test ran');
    }
  });

  step('Ctrl-C while the tests run: ERR_INTERRUPTED, exit 130, the tests stopped', async () => {
    const slow = path.join(w.root, 'provider', 'slow-tests');
    await fs.mkdir(slow);
    await fs.writeFile(path.join(slow, 'test_slow.py'), 'import time\ndef test_slow():\n    time.sleep(120)\n');
    const child = spawn(process.execPath, [MSE_BIN, 'home', ...testArgs(slow)], {
      cwd: w.root,
      env: { ...process.env, ...w.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/running 'python3 -m pytest'/.test(stderr)) resolve();
      });
      child.on('close', () => reject(new Error(`test ended early: ${stderr}`)));
    });
    // Until pytest has collected (so that it really is running the slow test).
    for (let i = 0; i < 100 && !/collected 1 item/.test(stdout); i++) await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.kill('SIGINT');
    });
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - started < 10_000, 'stopped at once');
    assert.match(stderr, /error\[ERR_INTERRUPTED\]: interrupted by SIGINT/);
  });

  step('evidence --output creates a missing directory (like spawn and package); a file there is refused', async () => {
    const dir = path.join(w.root, 'operator', 'again', 'evidence');
    expectExit(await w.mse(['evidence', name, '--output', dir]), 'evidence into a new directory');
    assert.deepEqual(readdirSync(dir).sort(), ['evidence.json', 'ratls.pem']);

    const file = path.join(w.root, 'operator', 'not-a-dir');
    await fs.writeFile(file, 'x');
    const r = await w.mse(['evidence', name, '--output', file]);
    expectExit(r, 'evidence --output FILE', 3);
    assert.match(r.stderr, /^error\[ERR_NOT_A_DIRECTORY\]/m);
    assert.equal(readFileSync(file, 'utf8'), 'x');
    assert.ok(!existsSync(path.join(file, 'evidence.json')));
  });
});
