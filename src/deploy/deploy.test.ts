import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { EXAMPLE_SPAWN_ARGS } from '../testing/spawn-args.js';
import {
  deploymentFromInspect,
  localAddress,
  planEnclaveContainer,
  type ContainerInspect,
  type EnclaveContainerRequest,
} from './container.js';
import { failureLine, notRunningError, type LifecycleFacts } from './lifecycle.js';
import { pinMismatch } from './pinning.js';
import { planSpawn, type SpawnInput } from './spawn.js';
import {
  createDeploymentStateDir,
  deploymentsStateRoot,
  isDeploymentStateDir,
  removeDeploymentState,
} from './deployments.js';
import { classifyStatus } from './status.js';

const args = EXAMPLE_SPAWN_ARGS;

describe('spawn plan: every argument checked before anything is read or created', () => {
  const good: Omit<SpawnInput, 'engine' | 'log'> = {
    env: { MSE_HOME_STATE_DIR: '/state' },
    name: 'demo',
    packageFile: 'pkg.tar',
    outputDir: 'out',
    san: 'localhost',
    host: '127.0.0.1',
    port: 7443,
    size: 2048,
    subject: 'CN=localhost,O=Example,C=FR',
    days: 30,
    signerKeyPath: 'key.pem',
    platform: 'sim',
    timeoutMs: 60_000,
  };
  it('fixes absolute paths', () => {
    const plan = planSpawn(good);
    assert.equal(plan.outputDir, path.resolve('out'));
    assert.equal(plan.signerKeyPath, path.resolve('key.pem'));
  });
  it('refuses each bad argument with its own code', () => {
    const cases: [Partial<typeof good>, string][] = [
      [{ name: 'a/b' }, 'ERR_DEPLOYMENT_NAME'],
      [{ size: 1000 }, 'ERR_ENCLAVE_SIZE'],
      [{ san: 'two words' }, 'ERR_SAN'],
      [{ subject: 'CN=a, O=b' }, 'ERR_SUBJECT'],
      [{ host: 'notanip' }, 'ERR_HOST'],
      [{ host: 'localhost' }, 'ERR_HOST'],
      [{ days: 0 }, 'ERR_OPTION_VALUE'],
      [{ outputDir: '' }, 'ERR_OPTION_VALUE'],
      [{ dryRun: true }, 'ERR_CONFLICTING_OPTIONS'],
    ];
    for (const [change, code] of cases) assert.throws(() => planSpawn({ ...good, ...change }), { code }, code);
    assert.doesNotThrow(() => planSpawn({ ...good, host: '::1' }));
    // sgx is planned (readiness is the CLI's, with doctor's checks); a dry run is for sgx only
    const sgxHost = { devices: [], aesmd: false };
    assert.doesNotThrow(() => planSpawn({ ...good, platform: 'sgx', sgxHost, dryRun: true }));
    assert.throws(() => planSpawn({ ...good, platform: 'sgx' }), { code: 'ERR_INTERNAL_PLAN' });
  });
});

describe('deployment container', () => {
  const request: EnclaveContainerRequest = {
    name: 'demo',
    image: 'demo:1',
    healthcheckEndpoint: '/health',
    platform: 'sim',
    enclaveDir: '/state/deployments/demo/enclave',
    outputDir: '/work/out',
    host: '127.0.0.1',
    port: 9443,
    signerKeyPath: '/keys/signer.pem',
    mrSigner: 'ab'.repeat(32),
    simSocketDir: '/state/deployments/demo/sim',
    loadedTags: ['demo_app:1700000000000000000'],
  };
  const plan = planEnclaveContainer(request);

  it('is labelled for list/status, mounts read-only, drops privileges, has no SGX devices in sim', () => {
    assert.equal(plan.labels!['mse-home'], '1');
    assert.equal(plan.labels!.healthcheck_endpoint, '/health');
    assert.equal(plan.labels!['mse-home.loaded-image-tags'], 'demo_app:1700000000000000000');
    assert.deepEqual(plan.binds, [
      { host: '/state/deployments/demo/enclave', container: '/opt/mse/enclave', readOnly: true },
      { host: '/state/deployments/demo/sim', container: '/var/run/mse-sim', readOnly: true },
    ]);
    // the launcher, as Gramine starts it on sgx; the arguments (with the deployment UUID) stay in the file
    assert.deepEqual(
      [...plan.entrypoint!, ...plan.cmd!],
      ['/usr/bin/dash', '/usr/local/bin/mse-run', '--argv-file', '/opt/mse/enclave/args'],
    );
    assert.ok(!JSON.stringify(plan).includes(args.appId));
    assert.deepEqual(plan.extra!.HostConfig!.Devices, []);
    assert.deepEqual(plan.extra!.HostConfig!.CapDrop, ['ALL']);
    assert.deepEqual(plan.ports, [{ container: '443/tcp', hostIp: '127.0.0.1', hostPort: 9443 }]);
  });

  it('reads back from an inspect answer', () => {
    const info: ContainerInspect = {
      Id: 'abc',
      Name: '/demo',
      Config: { Image: plan.image, Cmd: plan.cmd!, Labels: plan.labels! },
      State: { Status: 'running', ExitCode: 0, StartedAt: '2026-11-27T00:00:00Z' },
      HostConfig: { PortBindings: { '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '9443' }] } },
      Mounts: [
        { Source: '/state/deployments/demo/enclave', Destination: '/opt/mse/enclave' },
        { Source: '/state/deployments/demo/sim', Destination: '/var/run/mse-sim' },
      ],
    };
    const d = deploymentFromInspect(info);
    assert.equal(d.enclaveDir, '/state/deployments/demo/enclave');
    assert.deepEqual(d.loadedTags, ['demo_app:1700000000000000000']);
    assert.equal(d.platform, 'sim');
    assert.equal(d.port, 9443);
    assert.equal(d.outputDir, '/work/out');
    assert.equal(localAddress(d), '127.0.0.1');
    assert.equal(d.signerKeyPath, '/keys/signer.pem');
    assert.equal(d.simSocketDir, '/state/deployments/demo/sim');
    assert.equal(d.mrSigner, 'ab'.repeat(32));
    assert.throws(() => deploymentFromInspect({ ...info, Config: { ...info.Config, Labels: {} } }), {
      code: 'ERR_NOT_A_DEPLOYMENT',
    });
    const { 'mse-home.workspace': _, ...noWorkspace } = plan.labels!;
    assert.throws(() => deploymentFromInspect({ ...info, Config: { ...info.Config, Labels: noWorkspace } }), {
      code: 'ERR_NOT_A_DEPLOYMENT',
    });
  });

  describe('sgx', () => {
    const sgx = (devices: string[], aesmd: boolean) =>
      planEnclaveContainer({
        ...request,
        platform: 'sgx',
        simSocketDir: undefined,
        sealedDir: '/state/deployments/demo/sealed',
        sgxHost: { devices, aesmd },
      });
    const devicesOf = (p: ReturnType<typeof sgx>) =>
      (p.extra!.HostConfig!.Devices as { PathOnHost: string; PathInContainer: string }[]).map((d) => [
        d.PathOnHost,
        d.PathInContainer,
      ]);

    it('starts Gramine through mse-run-sgx with nothing on the command line, and no signer key inside', () => {
      const p = sgx(['/dev/sgx_enclave', '/dev/sgx_provision'], true);
      assert.deepEqual([...p.entrypoint!, ...p.cmd!], ['/usr/local/bin/mse-run-sgx']);
      assert.deepEqual(p.binds, [
        // the final manifest, SIGSTRUCT, args file and app.tar, read-only
        { host: '/state/deployments/demo/enclave', container: '/opt/mse/enclave', readOnly: true },
        // the host side of the encrypted mounts sealed to MRENCLAVE
        { host: '/state/deployments/demo/sealed', container: '/opt/mse/sealed' },
        // aesmd's socket directory (a restarted aesmd's new socket is seen)
        { host: '/var/run/aesmd', container: '/var/run/aesmd' },
      ]);
      assert.ok(
        !JSON.stringify(p).includes('/keys/signer.pem"}') && !p.binds.some((b) => b.host === '/keys/signer.pem'),
      );
      assert.equal(p.labels!['mse-home.platform'], 'sgx');
      assert.deepEqual(p.extra!.HostConfig!.CapDrop, ['ALL']);
      assert.ok(!JSON.stringify(p).includes(args.appId));
    });

    it('passes the SGX devices the host has, and only those', () => {
      assert.deepEqual(devicesOf(sgx(['/dev/sgx_enclave', '/dev/sgx_provision'], true)), [
        ['/dev/sgx_enclave', '/dev/sgx_enclave'],
        ['/dev/sgx_provision', '/dev/sgx_provision'],
      ]);
      assert.deepEqual(devicesOf(sgx(['/dev/sgx_enclave'], true)), [['/dev/sgx_enclave', '/dev/sgx_enclave']]);
      assert.deepEqual(devicesOf(sgx([], true)), []);
      // anything else the caller names is not an SGX device of the in-kernel driver: not passed
      assert.deepEqual(devicesOf(sgx(['/dev/sda', '/dev/sgx/enclave'], true)), []);
    });

    it('mounts aesmd’s directory only when aesmd’s socket exists (never creates it on the host)', () => {
      assert.ok(sgx(['/dev/sgx_enclave'], true).binds!.some((b) => b.container === '/var/run/aesmd'));
      assert.ok(!sgx(['/dev/sgx_enclave'], false).binds!.some((b) => b.container === '/var/run/aesmd'));
    });

    it('refuses a plan without its sealed directory or host facts', () => {
      assert.throws(() => planEnclaveContainer({ ...request, platform: 'sgx' }), { code: 'ERR_INTERNAL_PLAN' });
    });

    it('reads back as an sgx deployment', () => {
      const p = sgx(['/dev/sgx_enclave'], true);
      const d = deploymentFromInspect({
        Id: 'abc',
        Name: '/demo',
        Config: { Image: p.image, Cmd: p.cmd!, Labels: p.labels! },
        State: { Status: 'running', ExitCode: 0, StartedAt: '2026-11-27T00:00:00Z' },
        HostConfig: { PortBindings: { '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '9443' }] } },
        Mounts: p.binds!.map((b) => ({ Source: b.host, Destination: b.container })),
      });
      assert.equal(d.platform, 'sgx');
      assert.equal(d.enclaveDir, '/state/deployments/demo/enclave');
      assert.equal(d.simSocketDir, undefined);
    });
  });
});

describe('status', () => {
  const now = new Date(1_800_000_000_000);
  const running = { state: 'running' as const, exitCode: 0, args };
  it('goes through every state', () => {
    assert.equal(classifyStatus(running, { kind: 'unreachable', reason: 'x' }, now), 'initializing');
    assert.equal(classifyStatus(running, { kind: 'answer', status: 200, waiting: true }, now), 'waiting for secrets');
    assert.equal(classifyStatus(running, { kind: 'answer', status: 200, waiting: false }, now), 'running');
    assert.equal(classifyStatus(running, { kind: 'answer', status: 503, waiting: false }, now), 'initializing');
    assert.equal(classifyStatus(running, { kind: 'answer', status: 500, waiting: false }, now), 'on error');
    assert.equal(classifyStatus(running, { kind: 'answer', status: 404, waiting: false }, now), 'unknown');
    assert.equal(classifyStatus({ ...running, state: 'exited', exitCode: 1 }, undefined, now), 'on error');
    assert.equal(classifyStatus({ ...running, state: 'exited', exitCode: 0 }, undefined, now), 'stopped');
    assert.equal(classifyStatus({ ...running, state: 'dead', exitCode: 0 }, undefined, now), 'on error');
    // a requested stop (SIGTERM) is not an error, a kill (SIGKILL) is
    assert.equal(classifyStatus({ ...running, state: 'exited', exitCode: 143 }, undefined, now), 'stopped');
    assert.equal(classifyStatus({ ...running, state: 'exited', exitCode: 137 }, undefined, now), 'on error');
    assert.equal(classifyStatus(running, undefined, new Date(2_000_000_000_000)), 'expired');
    // never started, paused: said as such, not "stopped"
    assert.equal(classifyStatus({ ...running, state: 'created', exitCode: 0 }, undefined, now), 'created');
    assert.equal(classifyStatus({ ...running, state: 'paused', exitCode: 0 }, undefined, now), 'paused');
    const problem = { code: 'ERR_NO_CERTIFICATE' as const, message: 'm', hint: 'h' };
    assert.equal(classifyStatus(running, undefined, now, problem), 'unverified');
  });
});

describe('deployment states: one message and the next command each', () => {
  const facts = (f: Partial<LifecycleFacts>): LifecycleFacts => ({
    name: 'demo',
    state: 'exited',
    exitCode: 0,
    configured: false,
    ...f,
  });
  const cases: [Partial<LifecycleFacts>, string, RegExp, RegExp][] = [
    [{ state: 'created' }, 'ERR_DEPLOYMENT_NOT_STARTED', /never started/, /mse home restart demo/],
    [{ state: 'paused' }, 'ERR_DEPLOYMENT_PAUSED', /paused/, /docker unpause demo/],
    [{ exitCode: 0 }, 'ERR_DEPLOYMENT_STOPPED', /stopped while waiting/, /restart demo', then 'mse home run demo/],
    [{ exitCode: 143, configured: true }, 'ERR_DEPLOYMENT_STOPPED', /stopped; it is configured/, /restart demo/],
    [{ exitCode: 137, configured: true }, 'ERR_DEPLOYMENT_STOPPED', /was killed; it is configured/, /restart demo/],
    [
      { exitCode: 3, configured: true, reason: 'RuntimeError: boom' },
      'ERR_APP_CRASHED',
      /app stopped \(exit code 3\) after the enclave was configured: RuntimeError: boom/,
      /stop --remove demo' and spawn/,
    ],
    [{ exitCode: 2 }, 'ERR_ENCLAVE_EXITED', /stopped \(exit code 2\) before it was configured/, /logs demo/],
  ];
  it('per state', () => {
    assert.equal(notRunningError(facts({ state: 'running' })), undefined);
    for (const [f, code, message, hint] of cases) {
      const e = notRunningError(facts(f))!;
      assert.equal(e.code, code, JSON.stringify(f));
      assert.match(e.message, message);
      assert.match(e.hint, hint);
      assert.equal(e.exitCode, 7);
    }
  });
  it("quote the app's last line after configuration, the bootstrap's error before", () => {
    const logs = [
      '[2030-01-01 00:00:00] [INFO] Starting the app: mse-serve',
      'Traceback (most recent call last):',
      "mse-serve: error: cannot import module 'app': RuntimeError: boom",
      '[2030-01-01 00:00:01] [ERROR] The app exited with code 3',
      '',
    ].join('\n');
    assert.equal(failureLine(logs, true), "mse-serve: error: cannot import module 'app': RuntimeError: boom");
    assert.equal(failureLine(logs, false), 'The app exited with code 3');
    assert.equal(failureLine('', true), undefined);
    assert.equal(failureLine('x'.repeat(400), true)!.length, 300);
  });
});

describe('pinning', () => {
  it('names both fingerprints on a mismatch', () => {
    const p = pinMismatch('demo', '/w/ratls.pem', Buffer.from('a'), Buffer.from('b'))!;
    assert.equal(p.code, 'ERR_CERTIFICATE_MISMATCH');
    assert.match(
      p.message,
      /^demo presents certificate sha256:ca978112[0-9a-f]{56}, but \/w\/ratls.pem pins sha256:3e23e816[0-9a-f]{56}$/,
    );
    assert.equal(pinMismatch('demo', 'f', Buffer.from('a'), Buffer.from('a')), undefined);
  });
});

describe('image tags of a package', () => {
  it('accept only <app>:<digits>, refuse retagging anything else on the engine', async () => {
    const { checkImageTags } = await import('./spawn.js');
    assert.doesNotThrow(() => checkImageTags(['demo_app:1795824940126000000'], 'demo_app'));
    assert.doesNotThrow(() => checkImageTags([], 'demo_app'));
    for (const tags of [
      ['mse-home-base:0.1.0'],
      ['postgres:latest'],
      ['demo_app:latest'],
      ['demoxapp:1'],
      ['demo_app:1', 'other:2'],
    ]) {
      assert.throws(() => checkImageTags(tags, 'demo_app'), { code: 'ERR_PACKAGE_IMAGE_TAGS' }, tags.join());
    }
  });
});

describe('configuration request body', () => {
  it('carries app_secrets byte for byte, sealed secrets as unpadded base64url, the code key in hex', async () => {
    const { buildConfigurationBody } = await import('./configure.js');
    const secrets = Buffer.from('{"big": 12345678901234567890123, "aes_key": "00ff"}\n');
    const sealed = Buffer.alloc(49, 0xfb);
    const body = buildConfigurationBody({
      appId: 'id-1',
      secrets,
      sealedSecrets: sealed,
      codeKey: Buffer.alloc(32, 1),
    });
    assert.ok(body.includes('"app_secrets":{"big": 12345678901234567890123, "aes_key": "00ff"}'));
    const parsed = JSON.parse(body) as Record<string, string>;
    assert.equal(parsed.uuid, 'id-1');
    assert.equal(parsed.app_sealed_secrets, sealed.toString('base64url'));
    assert.doesNotMatch(parsed.app_sealed_secrets, /=/);
    assert.equal(parsed.code_secret_key, '01'.repeat(32));
    assert.throws(() => buildConfigurationBody({ appId: 'x', secrets: Buffer.from('{bad') }), {
      code: 'ERR_SECRETS_NOT_JSON',
    });
    assert.throws(() => buildConfigurationBody({ appId: 'x', sealedSecrets: Buffer.alloc(47) }), {
      code: 'ERR_SEALED_SECRETS',
    });
    assert.throws(() => buildConfigurationBody({ appId: 'x', codeKey: Buffer.alloc(31) }), { code: 'ERR_KEY_LENGTH' });
  });
});

describe('deployment state directories (review L1)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mse-state-dirs-'));
  const env = { MSE_HOME_STATE_DIR: root };
  after(() => rmSync(root, { recursive: true, force: true }));

  it('gives every spawn a private directory of its own, never reusing or emptying one that exists', async () => {
    // what an earlier spawn (or anyone) left under the name: kept as it is
    const leftover = path.join(deploymentsStateRoot(env), 'demo');
    mkdirSync(path.join(leftover, 'enclave'), { recursive: true });
    writeFileSync(path.join(leftover, 'enclave', 'args'), 'theirs');
    const [a, b] = await Promise.all([createDeploymentStateDir('demo', env), createDeploymentStateDir('demo', env)]);
    assert.notEqual(a, b);
    for (const d of [a, b]) {
      assert.equal(path.dirname(d), leftover);
      assert.match(path.basename(d), /^state-[A-Za-z0-9]{6}$/);
      assert.equal(statSync(d).mode & 0o777, 0o700);
      assert.ok(isDeploymentStateDir(d, 'demo', env));
      assert.ok(!isDeploymentStateDir(d, 'dem', env) && !isDeploymentStateDir(d, 'demo.x', env));
    }
    assert.ok(existsSync(path.join(leftover, 'enclave', 'args')), 'the leftover is untouched');
  });

  it('stop --remove deletes only a state directory of that name, never one an engine label points elsewhere', async () => {
    const mine = await createDeploymentStateDir('one', env);
    const other = await createDeploymentStateDir('two', env);
    const summary = (name: string, stateDir: string) =>
      ({ name, enclaveDir: path.join(stateDir, 'enclave') }) as Parameters<typeof removeDeploymentState>[0];
    assert.equal(await removeDeploymentState(summary('one', other), env), false);
    assert.equal(await removeDeploymentState(summary('one', path.join(root, 'elsewhere')), env), false);
    assert.ok(existsSync(other));
    assert.equal(await removeDeploymentState(summary('one', mine), env), true);
    assert.ok(!existsSync(mine) && !existsSync(path.dirname(mine)), 'its folder goes once empty');
  });
});
