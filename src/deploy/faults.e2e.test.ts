// Faults, with the real CLI, the real Docker engine and the simulated SGX platform: the configuration
// server's refusals seen by a raw TLS client pinned to the enclave's certificate, spawn on a port or a name
// already in use, and apps that fail after `run` (a crash on import, a health check answering 500) — each
// with a clear error and the right status. One package (the FastAPI fixture, whose faults are switched on
// by the plaintext secrets), two enclaves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import type { CliResult } from '../testing/cli.js';
import {
  containerChanges,
  createWorld,
  expectExit,
  freePort,
  freshSecrets,
  jsonOf,
  packageFixture,
  pinnedHttps,
  spawnDeployment,
  story,
  type World,
} from '../testing/e2e.js';

interface Deployment {
  name: string;
  port: number;
  workspace: string;
  appId?: string;
  pem?: string;
}

describe('faults: configuration protocol, spawn conflicts, apps failing after run', () => {
  let w: World;
  let packageFile: string;
  let crash: Deployment;
  let slow: Deployment;
  const step = story();

  const statusOf = async (name: string): Promise<string> =>
    jsonOf<{ status: string }>(expectExit(await w.mse(['status', name, '--json']), `status ${name}`)).status;

  const spawn = (d: Deployment, name = d.name, port = d.port, workspace = d.workspace): Promise<CliResult> =>
    spawnDeployment(w, { name, packageFile, port, workspace });

  /** Secrets for `run`: the fixture's, plus fault switches. */
  const secretsWith = async (label: string, fault: Record<string, unknown>): Promise<string> => {
    const file = path.join(w.root, 'operator', `secrets-${label}.json`);
    await fs.writeFile(file, JSON.stringify({ ...freshSecrets().secrets, fault }), { mode: 0o600 });
    return file;
  };

  /** Nothing of a configuration was written inside the container. */
  const assertUnconfigured = async (name: string): Promise<void> => {
    const changes = await containerChanges(w.engine, name);
    assert.ok(!changes.includes('/mse-app'), 'no code installed');
    assert.ok(!changes.some((p) => p.startsWith('/root/.cache/mse/')), `no secret written: ${changes.join(' ')}`);
  };

  before(async () => {
    w = await createWorld('faults');
    packageFile = await packageFixture(w, 'fastapi-tutorial', 'fastapi_app');
    await fs.mkdir(path.join(w.root, 'operator'), { recursive: true });
    const mk = async (label: string): Promise<Deployment> => ({
      name: w.deploymentName(label),
      port: await freePort(),
      workspace: path.join(w.root, 'operator', label),
    });
    crash = await mk('crash');
    slow = await mk('slow');
  });

  after(async () => {
    await w?.cleanup();
  });

  step('spawn: two enclaves of one package wait for their secrets', async () => {
    const results = await Promise.all([spawn(crash), spawn(slow)]);
    for (const [i, d] of [crash, slow].entries()) {
      expectExit(results[i]!, `spawn ${d.name}`);
      const evidence = JSON.parse(await fs.readFile(path.join(d.workspace, 'evidence.json'), 'utf8')) as {
        input_args: { app_id: string };
      };
      d.appId = evidence.input_args.app_id;
      d.pem = await fs.readFile(path.join(d.workspace, 'ratls.pem'), 'utf8');
      assert.equal(await statusOf(d.name), 'waiting for secrets');
    }
  });

  step(
    'configuration server (raw POST, TLS pinned): wrong uuid → 401, nothing written, still waiting',
    async () => {
      const answer = await pinnedHttps(crash.port, crash.pem!, {
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uuid: randomUUID(), app_secrets: freshSecrets().secrets }),
      });
      assert.equal(answer.status, 401);
      assert.deepEqual(JSON.parse(answer.body.toString()), {
        error: 'field "uuid" does not match this enclave',
        code: 'ERR_CONFIG_UUID',
      });
      assert.equal(answer.headers['mse-status'], 'Waiting');
      const get = await pinnedHttps(crash.port, crash.pem!, { path: '/' });
      assert.equal(get.status, 200);
      assert.equal(get.headers['mse-status'], 'Waiting');
      await assertUnconfigured(crash.name);
      assert.equal(await statusOf(crash.name), 'waiting for secrets');
    },
    { independent: true },
  );

  step(
    'configuration server: not JSON → 400, unknown field → 400, over 1 MiB → 413; still waiting',
    async () => {
      const post = (body: string | Buffer): ReturnType<typeof pinnedHttps> =>
        pinnedHttps(crash.port, crash.pem!, {
          method: 'POST',
          path: '/',
          headers: { 'content-type': 'application/json' },
          body,
        });
      const cases: [string | Buffer, number, string][] = [
        [`{"uuid": "${crash.appId}", `, 400, 'ERR_CONFIG_JSON'],
        [JSON.stringify({ uuid: crash.appId, app_secret: {} }), 400, 'ERR_CONFIG_UNKNOWN_FIELD'],
        [
          JSON.stringify({ uuid: crash.appId, app_secrets: { pad: 'x'.repeat(1024 * 1024) } }),
          413,
          'ERR_CONFIG_TOO_LARGE',
        ],
      ];
      for (const [body, status, code] of cases) {
        const answer = await post(body);
        assert.equal(answer.status, status, `${code}: ${answer.body.toString()}`);
        assert.equal((JSON.parse(answer.body.toString()) as { code: string }).code, code);
      }
      await assertUnconfigured(crash.name);
      assert.equal(await statusOf(crash.name), 'waiting for secrets');
    },
    { independent: true },
  );

  step(
    'spawn on a port in use: a clear error, nothing created',
    async () => {
      const name = w.deploymentName('port');
      const workspace = path.join(w.root, 'operator', 'port');
      const r = await spawn(crash, name, crash.port, workspace);
      expectExit(r, 'spawn on a used port', 5);
      assert.match(r.stderr, new RegExp(`ERR_PORT_IN_USE.*port ${crash.port} on 127.0.0.1 is already in use`));
      // spawn's --port defaults to 443, not to a free port: the hint must not say to leave it out
      assert.match(r.stderr, /hint: Choose another --port; 'mse home list' shows the ports deployments use/);
      assert.equal(await w.engine.inspectContainer(name), undefined, 'no container created');
      assert.ok(!existsSync(path.join(w.stateDir, 'deployments', name)), 'no state left');
      assert.ok(!existsSync(workspace), 'no output created');
    },
    { independent: true },
  );

  step(
    'spawn with a name already used: a clear error, the existing deployment untouched',
    async () => {
      const before = await w.engine.inspectContainer(crash.name);
      const workspace = path.join(w.root, 'operator', 'name');
      const r = await spawn(crash, crash.name, await freePort(), workspace);
      expectExit(r, 'spawn with a used name', 7);
      assert.match(r.stderr, new RegExp(`ERR_NAME_IN_USE.*'${crash.name}' already exists`));
      const now = await w.engine.inspectContainer(crash.name);
      assert.equal(now?.Id, before?.Id);
      assert.equal(now?.State.StartedAt, before?.State.StartedAt);
      assert.ok(existsSync(path.join(w.stateDir, 'deployments', crash.name)), 'its state is kept');
      assert.ok(!existsSync(workspace), 'no output created');
      assert.equal(await statusOf(crash.name), 'waiting for secrets');
    },
    { independent: true },
  );

  step(
    'a waiting enclave stopped and restarted (as after a dockerd restart) waits again with the same certificate',
    async () => {
      expectExit(await w.mse(['stop', crash.name]), 'stop');
      assert.equal(await statusOf(crash.name), 'stopped', 'a requested stop is not an error');
      expectExit(await w.mse(['restart', crash.name]), 'restart');
      assert.equal(await statusOf(crash.name), 'waiting for secrets');
      const get = await pinnedHttps(crash.port, crash.pem!, { path: '/' });
      assert.equal(get.headers['mse-status'], 'Waiting', 'the same certificate, still waiting');
      const logs = expectExit(await w.mse(['logs', crash.name]), 'logs').stdout;
      assert.match(logs, /Reusing the enclave keys and RA-TLS certificate/);
      assert.equal(logs.match(/RA-TLS certificate created/g)?.length, 1, 'no second quote');
      await assertUnconfigured(crash.name);
    },
  );

  step(
    'an app that crashes on import after run: run, run again and restart all say to remove and respawn',
    async () => {
      const secrets = await secretsWith('crash', { crash_on_import: true });
      const crashed = new RegExp(
        `error\\[ERR_APP_CRASHED\\]: ${crash.name}: the app stopped \\(exit code [1-9]\\d*\\) after the enclave was configured: ` +
          '.*RuntimeError: fastapi_app: crash_on_import is set in the secrets',
      );
      const next = new RegExp(`hint: .*accepts no new secrets.*'mse home stop --remove ${crash.name}' and spawn`);
      const r = await w.mse(['run', crash.name, '--secrets', secrets]);
      expectExit(r, 'run of a crashing app', 7);
      assert.match(r.stderr, crashed, 'the reason in one line');
      assert.match(r.stderr, next);
      assert.doesNotMatch(r.stderr, /Traceback|last log lines/, 'no traceback');
      const s = jsonOf<{ status: string; configured: boolean; detail: { code: string } }>(
        expectExit(await w.mse(['status', crash.name, '--json']), 'status'),
      );
      assert.deepEqual([s.status, s.configured, s.detail.code], ['on error', true, 'ERR_APP_CRASHED']);
      // the enclave was configured (its secrets kept, inside the container): run again says the same
      const second = await w.mse(['run', crash.name, '--secrets', secrets]);
      expectExit(second, 'run again', 7);
      assert.match(second.stderr, crashed);
      // restarting starts the same app: the same one message
      const again = await w.mse(['restart', crash.name, '--timeout', '30s']);
      expectExit(again, 'restart of a crashing app', 7);
      assert.match(again.stderr, crashed);
      assert.match(again.stderr, next);
      assert.equal(await statusOf(crash.name), 'on error');
      const logs = expectExit(await w.mse(['logs', crash.name]), 'logs').stdout;
      assert.match(logs, /Already configured/);
      // the launcher exec'ed the app server (no parent is left to report its exit): mse-serve says why
      assert.match(logs, /mse-serve: error: cannot import module 'app' from \/mse-app: RuntimeError/);
    },
  );

  step(
    'a slow app whose health check answers 500: initializing while it starts, then run fails, on error',
    async () => {
      const secrets = await secretsWith('slow', { import_delay_s: 5, health_status: 500 });
      const run = w.mse(['run', slow.name, '--secrets', secrets]);
      let done = false;
      void run.finally(() => (done = true));
      const seen: string[] = [];
      while (!done) {
        const s = await statusOf(slow.name);
        if (seen.at(-1) !== s) seen.push(s);
        await new Promise((r) => setTimeout(r, 200));
      }
      const r = await run;
      expectExit(r, 'run of an unhealthy app', 7);
      assert.match(r.stderr, new RegExp(`ERR_APP_ERROR.*${slow.name}: the app answers /health with HTTP 500`));
      assert.ok(seen.includes('initializing'), `status went through initializing: ${seen.join(' → ')}`);
      assert.ok(!seen.includes('running'), `never running: ${seen.join(' → ')}`);
      assert.equal(await statusOf(slow.name), 'on error');
    },
  );
});
