// The operator's side of a deployment's life, with the real CLI, the real Docker engine and the simulated
// SGX platform, on one package (the FastAPI fixture):
// - the deployment UUID, seen by another local user (`nobody`): not in any process's argv or environment,
//   not in any file `nobody` can read, and a configuration with a guessed or absent UUID refused;
// - bad arguments refused before anything is created; SIGINT/SIGTERM at each phase of `spawn` undo it all;
// - every state of a deployment (created, paused, stopped, killed, configured, certificate missing or
//   another one) gets its own message and next command from `run`, `restart` and `status`, without `run`
//   contacting the app;
// - `stop --remove` removes what the deployment made (state, image tag), keeps evidence.json and ratls.pem,
//   and the same --output serves a new spawn.
import assert from 'node:assert/strict';
import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planEnclaveContainer } from './container.js';
import { MSE_BIN, type CliResult } from '../testing/cli.js';
import {
  createWorld,
  expectExit,
  freePort,
  freshSecrets,
  jsonOf,
  packageFixture,
  spawnArgv,
  story,
  waitStopped,
  type World,
} from '../testing/e2e.js';
import { readVectorText } from '../testing/vectors.js';

/**
 * Run as `nobody` (stdin: the UUID, so that it is on no command line itself): everything another local
 * user can see. Prints JSON: the places the UUID was found, and how many files and processes were read.
 */
const NOBODY_SCAN = `
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const needle = fs.readFileSync(0, 'utf8').trim();
const roots = JSON.parse(process.argv[1]);
const hits = [];
let files = 0, procs = 0;
const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
if (ps.includes(needle)) hits.push('ps -eo args');
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  for (const f of ['cmdline', 'environ']) {
    try {
      if (fs.readFileSync('/proc/' + pid + '/' + f).includes(needle)) hits.push('/proc/' + pid + '/' + f);
      if (f === 'cmdline') procs++;
    } catch {}
  }
}
const walk = (p, maxBytes) => {
  let st;
  try { st = fs.lstatSync(p); } catch { return; }
  if (st.isDirectory()) {
    let names = [];
    try { names = fs.readdirSync(p); } catch { return; }
    for (const n of names) walk(path.join(p, n), maxBytes);
  } else if (st.isFile() && st.size <= maxBytes) {
    try {
      if (fs.readFileSync(p).includes(needle)) hits.push(p);
      files++;
    } catch {}
  }
};
for (const [root, maxBytes] of roots) walk(root, maxBytes);
console.log(JSON.stringify({ hits, files, procs }));
`;

describe('operator lifecycle: the UUID as a credential, interrupts, states, removal', () => {
  let w: World;
  let packageFile: string;
  let imageTag: string;
  let operator: string;
  let a: { name: string; port: number; workspace: string; appId?: string; pem?: string };
  const step = story();

  const spawnArgs = (name: string, port: number, workspace: string): string[] =>
    spawnArgv(w, { name, packageFile, port, workspace });
  /** The state directory spawn made for deployment `name` (deployments/<name>/state-<random>). */
  const stateOf = (name: string): string => {
    const dir = path.join(w.stateDir, 'deployments', name);
    return path.join(
      dir,
      readdirSync(dir).find((f) => f.startsWith('state-'))!,
    );
  };
  const statusOf = async (name: string): Promise<Record<string, unknown>> =>
    jsonOf(expectExit(await w.mse(['status', name, '--json']), `status ${name}`));
  /** Run a command expected to fail with `code` (exit 7 unless said): returns its stderr. */
  const refused = async (args: string[], code: string, exit = 7): Promise<string> => {
    const r = await w.mse(args);
    expectExit(r, args.join(' '), exit);
    assert.match(r.stderr, new RegExp(`error\\[${code}\\]`), r.stderr);
    return r.stderr;
  };
  const accessLogLines = async (name: string): Promise<number> =>
    (await w.engine.containerLogs(name)).split('\n').filter((l) => /"(GET|POST) /.test(l)).length;
  const secretsFile = async (label: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const file = path.join(operator, `secrets-${label}.json`);
    await fs.writeFile(file, JSON.stringify({ ...freshSecrets().secrets, ...extra }), { mode: 0o600 });
    return file;
  };

  before(async () => {
    w = await createWorld('lifecycle');
    packageFile = await packageFixture(w, 'fastapi-tutorial', 'fastapi_app');
    // package_<name>_<time_ns>.tar carries the image tagged <name>:<time_ns>
    const m = /^package_(.+)_(\d+)\.tar$/.exec(path.basename(packageFile));
    assert.ok(m, packageFile);
    imageTag = `${m[1]}:${m[2]}`;
    // the operator's machine has never seen this image: spawn loads it and creates its tag
    await w.engine.removeImage(imageTag, { noPrune: true }).catch(() => undefined);
    // Another local user can traverse the world: the UUID must be kept by the product's own modes (the
    // state root and the output directory are left world-readable on purpose).
    operator = path.join(w.root, 'operator');
    for (const dir of [w.root, operator, w.stateDir, path.join(w.stateDir, 'deployments')]) {
      await fs.mkdir(dir, { recursive: true });
      await fs.chmod(dir, 0o755);
    }
    a = { name: w.deploymentName('a'), port: await freePort(), workspace: path.join(operator, 'a') };
    await fs.mkdir(a.workspace, { mode: 0o755 });
    await fs.chmod(a.workspace, 0o755);
  });

  after(async () => {
    await w?.cleanup();
  });

  step('bad arguments are refused before anything is read or created (no output, no state, no container)', async () => {
    const name = w.deploymentName('bad');
    const output = path.join(operator, 'bad');
    const notADir = path.join(operator, 'a-file');
    await fs.writeFile(notADir, 'x');
    const cases: [string[], string, number][] = [
      [['--size', '1000'], 'ERR_ENCLAVE_SIZE', 2],
      [['--host', 'notanip'], 'ERR_HOST', 2],
      [['--subject', 'CN=a, O=b'], 'ERR_SUBJECT', 2],
      [['--san', 'two words'], 'ERR_SAN', 2],
      [['--output', notADir], 'ERR_NOT_A_DIRECTORY', 3],
      [['--package', path.join(operator, 'missing.tar')], 'ERR_FILE_NOT_FOUND', 3],
    ];
    for (const [extra, code, exit] of cases) {
      // later flags win: the bad value replaces the good one
      const r = await w.mse([...spawnArgs(name, await freePort(), output), ...extra]);
      expectExit(r, `spawn ${extra.join(' ')}`, exit);
      assert.match(r.stderr, new RegExp(`error\\[${code}\\]`), r.stderr);
      assert.doesNotMatch(r.stderr, /loading the image/, 'refused before the image is touched');
      assert.ok(!existsSync(output), `${code}: no --output created`);
      assert.ok(!existsSync(path.join(w.stateDir, 'deployments', name)), `${code}: no state`);
      assert.equal(await w.engine.inspectContainer(name), undefined, `${code}: no container`);
    }
    assert.equal(await w.engine.inspectImage(imageTag), undefined, 'no image loaded');
  });

  describe('SIGINT/SIGTERM during spawn: everything spawn created is removed', () => {
    /** Start spawn, send `signal` once stderr shows `phase`; resolve with its result. */
    const interrupted = (args: string[], phase: RegExp, signal: NodeJS.Signals): Promise<CliResult> =>
      new Promise((resolve, reject) => {
        const child = spawnChild(process.execPath, [MSE_BIN, 'home', ...args], {
          cwd: w.root,
          env: { ...process.env, ...w.env, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        let sent = false;
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (!sent && phase.test(stderr)) {
            sent = true;
            child.kill(signal);
          }
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr, stdoutBytes: Buffer.from(stdout), timedOut: false });
        });
      });

    const cases: [string, RegExp, NodeJS.Signals, number][] = [
      ['while the image loads', /→ loading the image/, 'SIGINT', 130],
      ['while the container is created and started', /→ starting the enclave/, 'SIGTERM', 143],
      ['while it waits for the configuration server', /→ waiting for the configuration server/, 'SIGINT', 130],
    ];
    for (const [when, phase, signal, exit] of cases) {
      step(
        `${signal} ${when}: exit ${exit}, no container, state, output, socket or image tag left`,
        async () => {
          const name = w.deploymentName('int');
          const output = path.join(operator, `int-${signal}-${exit}-${when.length}`);
          const r = await interrupted(spawnArgs(name, await freePort(), output), phase, signal);
          assert.equal(r.code, exit, r.stderr);
          assert.match(r.stderr, new RegExp(`error\\[ERR_INTERRUPTED\\]: interrupted by ${signal}`));
          assert.equal(await w.engine.inspectContainer(name), undefined, 'no container');
          assert.ok(!existsSync(path.join(w.stateDir, 'deployments', name)), 'no state (input, argv, socket)');
          assert.ok(!existsSync(output), 'no output directory');
          assert.equal(await w.engine.inspectImage(imageTag), undefined, 'the image tag spawn loaded is gone');
        },
        { independent: true },
      );
    }
  });

  step('spawn into a world-readable --output: waits for secrets', async () => {
    const r = expectExit(await w.mse([...spawnArgs(a.name, a.port, a.workspace), '--json']), 'spawn a');
    assert.ok(!('appId' in jsonOf(r)), 'the UUID is not printed');
    const evidence = JSON.parse(await fs.readFile(path.join(a.workspace, 'evidence.json'), 'utf8')) as {
      input_args: { app_id: string };
    };
    a.appId = evidence.input_args.app_id;
    a.pem = await fs.readFile(path.join(a.workspace, 'ratls.pem'), 'utf8');
    assert.ok(!r.stderr.includes(a.appId) && !r.stdout.includes(a.appId), 'nor logged');
    assert.equal((await statusOf(a.name)).status, 'waiting for secrets');
    assert.equal(statSync(path.join(a.workspace, 'evidence.json')).mode & 0o777, 0o600);
    // its own private state directory (review L1): deployments/<name>/state-<random>
    assert.equal(readdirSync(path.join(w.stateDir, 'deployments', a.name)).length, 1);
    const state = stateOf(a.name);
    assert.match(path.basename(state), /^state-[A-Za-z0-9]{6}$/);
    for (const d of [path.dirname(state), state, path.join(state, 'enclave'), path.join(state, 'sim')])
      assert.equal(statSync(d).mode & 0o777, 0o700, d);
    for (const f of ['app.tar', 'args']) assert.equal(statSync(path.join(state, 'enclave', f)).mode & 0o777, 0o600, f);
    const info = await w.engine.inspectContainer(a.name);
    // the launcher Gramine runs on sgx; the arguments stay in the args file
    assert.deepEqual(info!.Config.Entrypoint, ['/usr/bin/dash', '/usr/local/bin/mse-run']);
    assert.deepEqual(info!.Config.Cmd, ['--argv-file', '/opt/mse/enclave/args']);
    assert.ok(!JSON.stringify(info).includes(a.appId), 'not in the container configuration either');
    assert.ok(!(await w.engine.containerLogs(a.name)).includes(a.appId), 'not in the enclave log');
  });

  // A real second local user: needs root (to become nobody) and runuser; said as skipped otherwise.
  const asNobody = process.getuid?.() === 0 && !spawnSync('runuser', ['--help']).error;
  it(
    'another local user (nobody) cannot learn the UUID, and cannot configure the enclave without it',
    { skip: asNobody ? false : 'needs root and runuser to act as nobody' },
    async () => {
      assert.ok(a.appId, 'the spawn step produced a deployment');
      const appId = a.appId;
      const nobody = (args: string[], input?: string): ReturnType<typeof spawnSync> =>
        spawnSync('runuser', ['-u', 'nobody', '--', ...args], { cwd: '/', input, encoding: 'utf8', timeout: 120_000 });
      const roots = JSON.stringify([
        [w.root, Number.MAX_SAFE_INTEGER],
        ['/tmp', 64 * 1024 * 1024],
      ]);
      const scan = nobody([process.execPath, '-e', NOBODY_SCAN, roots], appId);
      assert.equal(scan.status, 0, String(scan.stderr));
      const seen = JSON.parse(String(scan.stdout)) as { hits: string[]; files: number; procs: number };
      assert.deepEqual(seen.hits, []);
      assert.ok(seen.files > 0 && seen.procs > 10, `the scan read something: ${String(scan.stdout)}`);
      // the same scan finds what it looks for where nobody can read it (the scan is not blind)
      const visible = path.join(operator, 'visible-marker');
      await fs.writeFile(visible, `marker ${appId.split('').reverse().join('')}\n`, { mode: 0o644 });
      const reversed = nobody(
        [process.execPath, '-e', NOBODY_SCAN, JSON.stringify([[operator, 1 << 20]])],
        appId.split('').reverse().join(''),
      );
      assert.deepEqual((JSON.parse(String(reversed.stdout)) as { hits: string[] }).hits, [visible]);
      await fs.rm(visible);
      // nobody is not a Docker user
      assert.notEqual(nobody(['docker', 'inspect', a.name]).status, 0);

      // a configuration with a guessed or absent UUID: 401, nothing configured
      for (const body of [JSON.stringify({ uuid: randomUUID(), app_secrets: { x: 1 } }), '{}']) {
        const post = nobody([
          'curl',
          '-sk',
          '-o',
          '-',
          '-w',
          '\n%{http_code}',
          '-X',
          'POST',
          '-H',
          'content-type: application/json',
          '--data-binary',
          body,
          `https://127.0.0.1:${a.port}/`,
        ]);
        assert.match(String(post.stdout), /ERR_CONFIG_UUID[\s\S]*\n401$/, String(post.stdout));
      }
      assert.equal((await statusOf(a.name)).status, 'waiting for secrets');
    },
  );

  step('paused and created (never started): said as such by status and run', async () => {
    const secrets = await secretsFile('paused');
    await w.engine.docker.getContainer(a.name).pause();
    try {
      const s = await statusOf(a.name);
      assert.equal(s.status, 'paused');
      assert.equal((s.detail as { code: string }).code, 'ERR_DEPLOYMENT_PAUSED');
      assert.match(await refused(['run', a.name, '--secrets', secrets], 'ERR_DEPLOYMENT_PAUSED'), /docker unpause/);
    } finally {
      await w.engine.docker.getContainer(a.name).unpause();
    }
    // the very container spawn plans, created and never started (as `docker create` leaves it)
    const created = w.deploymentName('created');
    const inspect = await w.engine.inspectContainer(a.name);
    const labels = inspect!.Config.Labels;
    await w.engine.createContainer(
      planEnclaveContainer({
        name: created,
        image: inspect!.Image,
        healthcheckEndpoint: labels.healthcheck_endpoint!,
        platform: 'sim',
        enclaveDir: path.join(stateOf(a.name), 'enclave'),
        outputDir: a.workspace,
        host: '127.0.0.1',
        port: await freePort(),
        signerKeyPath: w.signerKey,
        mrSigner: labels['mse-home.mrsigner']!,
        simSocketDir: path.join(stateOf(a.name), 'sim'),
      }),
    );
    try {
      assert.equal((await statusOf(created)).status, 'created');
      assert.match(await refused(['run', created, '--secrets', secrets], 'ERR_DEPLOYMENT_NOT_STARTED'), /restart/);
    } finally {
      await w.engine.removeContainer(created, { force: true });
    }
  });

  step('ratls.pem missing or another enclave’s: status unverified, run and restart say why', async () => {
    const secrets = await secretsFile('pin');
    const pemFile = path.join(a.workspace, 'ratls.pem');
    const startedAt = (await w.engine.inspectContainer(a.name))!.State.StartedAt;
    await fs.rename(pemFile, `${pemFile}.bak`);
    try {
      const s = await statusOf(a.name);
      assert.equal(s.status, 'unverified');
      assert.equal((s.detail as { code: string }).code, 'ERR_NO_CERTIFICATE');
      assert.match(await refused(['run', a.name, '--secrets', secrets], 'ERR_NO_CERTIFICATE'), /ratls.pem is missing/);
      await refused(['restart', a.name], 'ERR_NO_CERTIFICATE');
      assert.equal((await w.engine.inspectContainer(a.name))!.State.StartedAt, startedAt, 'restart touched nothing');
      // another enclave's certificate (MSE's, from its real evidence)
      const other = (JSON.parse(readVectorText('mse', 'evidence.json')) as { ratls_certificate: string })
        .ratls_certificate;
      await fs.writeFile(pemFile, other);
      const m = await statusOf(a.name);
      assert.equal(m.status, 'unverified');
      const detail = m.detail as { code: string; message: string };
      assert.equal(detail.code, 'ERR_CERTIFICATE_MISMATCH');
      assert.match(
        detail.message,
        /presents certificate sha256:[0-9a-f]{64}, but .*ratls.pem pins sha256:[0-9a-f]{64}/,
      );
      const err = await refused(['run', a.name, '--secrets', secrets], 'ERR_CERTIFICATE_MISMATCH');
      assert.doesNotMatch(err, /self-signed/);
      assert.equal((await statusOf(a.name)).status, 'unverified', 'nothing was sent');
      // restart starts it again and names the mismatch as soon as the enclave answers (no timeout)
      await refused(['restart', a.name, '--timeout', '60'], 'ERR_CERTIFICATE_MISMATCH');
    } finally {
      await fs.rm(pemFile, { force: true });
      await fs.rename(`${pemFile}.bak`, pemFile);
    }
    assert.equal((await statusOf(a.name)).status, 'waiting for secrets');
  });

  step('stopped while waiting: run says restart; restart waits again; run configures it', async () => {
    const secrets = await secretsFile('a');
    expectExit(await w.mse(['stop', a.name]), 'stop');
    assert.equal((await statusOf(a.name)).status, 'stopped');
    const err = await refused(['run', a.name, '--secrets', secrets], 'ERR_DEPLOYMENT_STOPPED');
    assert.match(err, /stopped while waiting for its secrets/);
    assert.match(err, new RegExp(`mse home restart ${a.name}', then 'mse home run ${a.name}`));
    assert.doesNotMatch(err, /exit code 0|last log lines/);
    expectExit(await w.mse(['restart', a.name]), 'restart');
    assert.equal((await statusOf(a.name)).status, 'waiting for secrets');
    expectExit(await w.mse(['run', a.name, '--secrets', secrets]), 'run');
    assert.equal((await statusOf(a.name)).status, 'running');
  });

  step('running and configured: run refuses without sending a request to the app', async () => {
    const secrets = await secretsFile('again');
    const before = await accessLogLines(a.name);
    assert.ok(before > 0, 'the app logs its requests');
    assert.match(await refused(['run', a.name, '--secrets', secrets], 'ERR_ALREADY_CONFIGURED'), /stop --remove/);
    assert.equal(await accessLogLines(a.name), before, 'no request reached the app');
  });

  step('stopped or killed after its configuration: run says restart, restart brings the app back', async () => {
    const secrets = await secretsFile('stopped');
    expectExit(await w.mse(['stop', a.name]), 'stop');
    assert.match(
      await refused(['run', a.name, '--secrets', secrets], 'ERR_DEPLOYMENT_STOPPED'),
      /is stopped; it is configured[\s\S]*mse home restart/,
    );
    expectExit(await w.mse(['restart', a.name]), 'restart');
    await w.engine.docker.getContainer(a.name).kill();
    await waitStopped(w.engine, a.name);
    assert.equal((await statusOf(a.name)).status, 'on error');
    assert.match(
      await refused(['run', a.name, '--secrets', secrets], 'ERR_DEPLOYMENT_STOPPED'),
      /was killed; it is configured/,
    );
    expectExit(await w.mse(['restart', a.name]), 'restart after kill');
    assert.equal((await statusOf(a.name)).status, 'running');
  });

  step(
    'stop --remove: container, private state and the image tag spawn loaded are gone; evidence kept; the output is reusable (and a bootstrap failure is quoted)',
    async () => {
      const state = path.join(w.stateDir, 'deployments', a.name);
      assert.ok(await w.engine.inspectImage(imageTag), 'spawn loaded the image tag');
      const r = expectExit(await w.mse(['stop', '--remove', a.name, '--json']), 'stop --remove');
      assert.deepEqual(jsonOf<{ removedImageTags: string[] }>(r).removedImageTags, [imageTag]);
      assert.equal(await w.engine.inspectContainer(a.name), undefined);
      assert.ok(!existsSync(state), 'private state removed');
      assert.equal(await w.engine.inspectImage(imageTag), undefined, 'image tag removed');
      assert.deepEqual((await fs.readdir(a.workspace)).sort(), ['evidence.json', 'ratls.pem'], 'evidence kept');
      const help = expectExit(await w.mse(['stop', '--help']), 'stop --help').stdout;
      assert.match(help, /Kept on purpose: OUTPUT\/evidence.json and OUTPUT\/ratls.pem/);
      // the same --output serves a new deployment (no ERR_OUTPUT_IN_USE naming the removed one)
      const again = w.deploymentName('again');
      expectExit(await w.mse(spawnArgs(again, await freePort(), a.workspace)), 'spawn into the same output');
      const taken = await w.mse(spawnArgs(w.deploymentName('taken'), await freePort(), a.workspace));
      expectExit(taken, 'spawn into an output in use', 7);
      assert.match(taken.stderr, new RegExp(`ERR_OUTPUT_IN_USE.*workspace of deployment '${again}'`));

      // an enclave that stops before its configuration (its code copy damaged): the bootstrap's error, quoted
      await fs.writeFile(path.join(stateOf(again), 'enclave', 'app.tar'), 'not a tar');
      const exited = await refused(['restart', again, '--timeout', '30'], 'ERR_ENCLAVE_EXITED');
      assert.match(exited, /stopped \(exit code 3\) before it was configured: ERR_PACKAGE_CORRUPT/);
      await refused(['run', again, '--secrets', await secretsFile('exited')], 'ERR_ENCLAVE_EXITED');
      const s = await statusOf(again);
      assert.deepEqual([s.status, (s.detail as { code: string }).code], ['on error', 'ERR_ENCLAVE_EXITED']);
      expectExit(await w.mse(['stop', '--remove', again]), 'stop --remove again');
    },
  );
});
