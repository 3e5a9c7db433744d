import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkInputArgs, fromEnclaveArgv, toEnclaveArgv, type InputArgs } from './args.js';
import { deploymentFromInspect, localAddress, planEnclaveContainer, type ContainerInspect } from './container.js';
import { classifyStatus } from './status.js';

const args: InputArgs = {
  size: 2048,
  subject: 'CN=localhost,O=Example,C=FR',
  san: 'localhost',
  appId: '0b1c8a52-3a2e-4d6b-9a7e-5f1e2d3c4b5a',
  application: 'app:app',
  expiration: 1_900_000_000,
};

describe('enclave arguments', () => {
  it("round-trip through MSE's mse-run command line", () => {
    const argv = toEnclaveArgv(args);
    assert.deepEqual(argv.slice(0, 2), ['--size', '2048M']);
    assert.deepEqual(fromEnclaveArgv(argv), args);
  });

  it('reject what MSE rejects and more', () => {
    for (const size of [512, 1000, 3072, 0])
      assert.throws(() => checkInputArgs({ ...args, size }), { code: 'ERR_ENCLAVE_SIZE' });
    for (const san of ['', 'two names', 'a..b', 'x/y', '-bad.example'])
      assert.throws(() => checkInputArgs({ ...args, san }), { code: 'ERR_SAN' });
    for (const san of ['localhost', 'app.example.com', '192.0.2.1', '::1'])
      assert.doesNotThrow(() => checkInputArgs({ ...args, san }));
    assert.throws(() => checkInputArgs({ ...args, appId: 'nope' }), { code: 'ERR_APP_ID' });
    assert.throws(() => checkInputArgs({ ...args, subject: 'a\nb' }), { code: 'ERR_SUBJECT' });
    assert.throws(() => fromEnclaveArgv(['--size', '2048M']), { code: 'ERR_CONTAINER_CMD' });
  });
});

describe('deployment container', () => {
  const plan = planEnclaveContainer({
    name: 'demo',
    image: 'demo:1',
    args,
    healthcheckEndpoint: '/health',
    platform: 'sim',
    inputDir: '/work/out/enclave-input',
    outputDir: '/work/out',
    host: '127.0.0.1',
    port: 9443,
    signerKeyPath: '/keys/signer.pem',
    mrSigner: 'ab'.repeat(32),
    simSocketDir: '/state/sim/demo',
  });

  it('is labelled for list/status, mounts read-only, drops privileges, has no SGX devices in sim', () => {
    assert.equal(plan.labels!['mse-home'], '1');
    assert.equal(plan.labels!.healthcheck_endpoint, '/health');
    assert.deepEqual(plan.binds, [
      { host: '/work/out/enclave-input', container: '/opt/input', readOnly: true },
      { host: '/state/sim/demo', container: '/var/run/mse-sim', readOnly: true },
    ]);
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
        { Source: '/work/out/enclave-input', Destination: '/opt/input' },
        { Source: '/state/sim/demo', Destination: '/var/run/mse-sim' },
      ],
    };
    const d = deploymentFromInspect(info);
    assert.deepEqual(d.args, args);
    assert.equal(d.platform, 'sim');
    assert.equal(d.port, 9443);
    assert.equal(d.outputDir, '/work/out');
    assert.equal(localAddress(d), '127.0.0.1');
    assert.equal(d.signerKeyPath, '/keys/signer.pem');
    assert.equal(d.simSocketDir, '/state/sim/demo');
    assert.equal(d.mrSigner, 'ab'.repeat(32));
    assert.throws(() => deploymentFromInspect({ ...info, Config: { ...info.Config, Labels: {} } }), {
      code: 'ERR_NOT_A_DEPLOYMENT',
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
