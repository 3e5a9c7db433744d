import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkHost,
  kernelVersion,
  parseCpuinfo,
  platformReadiness,
  platformUnavailableError,
  type CheckId,
  type HostFacts,
  type HostReport,
} from './host-checks.js';
import { cpuinfoText } from '../testing/host-fixture.js';

/** Facts of a host ready for both platforms, written by hand (pure tests need no host). */
function readyFacts(): HostFacts {
  return {
    cpuinfo: { text: cpuinfoText({ flags: ['sgx', 'sgx_lc'] }) },
    kernelRelease: '6.1.0-18-amd64',
    devices: { enclave: 'character-device', provision: 'character-device' },
    aesmd: { path: '/var/run/aesmd/aesm.socket', kind: 'socket', connect: { ok: true } },
    qcnl: {
      path: '/etc/sgx_default_qcnl.conf',
      config: { pccsUrl: 'https://pccs.example:8081/sgx/certification/v4/', useSecureCert: true },
    },
    pccs: {
      target: { url: 'https://pccs.example:8081/sgx/certification/v4/', from: 'pccs_url', secureCert: true },
      probe: { ok: true, ms: 12, endpoints: ['rootcacrl', 'qe/identity'] },
    },
    docker: { ok: true, endpoint: 'unix:///var/run/docker.sock', version: '20.10.24', apiVersion: '1.41' },
    images: [
      { platform: 'sim', ref: 'mse-home-base:0.1.0', present: true, id: 'sha256:' + 'a'.repeat(64) },
      { platform: 'sgx', ref: 'mse-home-sgx-base:0.1.0', present: true, id: 'sha256:' + 'b'.repeat(64) },
    ],
    signerKey: {
      path: '/home/op/.config/gramine/enclave-key.pem',
      state: 'valid',
      mrsigner: 'c'.repeat(64),
      mode: 0o600,
    },
  };
}

function status(report: HostReport, id: CheckId): string {
  return report.items.find((i) => i.id === id)!.status;
}
function itemOf(report: HostReport, id: CheckId) {
  return report.items.find((i) => i.id === id)!;
}

describe('checkHost (pure)', () => {
  it('a host with everything is ready for both platforms, every item ok, and spawn defaults to sgx', () => {
    const report = checkHost(readyFacts());
    assert.deepEqual(
      report.items.filter((i) => i.status !== 'ok').map((i) => i.id),
      [],
    );
    assert.equal(report.platforms.sgx.ready, true);
    assert.equal(report.platforms.sim.ready, true);
    assert.equal(report.sgxDevicePresent, true);
    assert.deepEqual(platformReadiness(report), {
      platform: 'sgx',
      ready: true,
      reasons: [],
      choice: 'sgx-ready',
      why: 'the host is ready for sgx',
    });
    for (const i of report.items) assert.ok(i.reason.length > 10, i.id);
  });

  it('an AMD CPU: SGX and FLC missing with the vendor named; sim stays ready and is the default', () => {
    const f = readyFacts();
    f.cpuinfo = { text: cpuinfoText({ vendor: 'AuthenticAMD', flags: ['sme', 'sev'] }) };
    f.devices = {};
    const report = checkHost(f);
    assert.match(itemOf(report, 'cpu-sgx').reason, /AuthenticAMD CPU: SGX is an Intel technology/);
    assert.match(itemOf(report, 'cpu-sgx').fix, /--platform sim/);
    assert.equal(status(report, 'cpu-flc'), 'missing');
    assert.deepEqual(report.platforms.sgx.blockers, [
      'cpu-sgx',
      'cpu-flc',
      'sgx-enclave-device',
      'sgx-provision-device',
    ]);
    assert.equal(report.platforms.sim.ready, true);
    const r = platformReadiness(report);
    assert.equal(r.platform, 'sim');
    assert.equal(r.choice, 'no-sgx-device');
    assert.equal(r.ready, true);
  });

  it('a VM without SGX says the hypervisor does not expose it', () => {
    const f = readyFacts();
    f.cpuinfo = { text: cpuinfoText({ flags: ['hypervisor'] }) };
    assert.match(itemOf(checkHost(f), 'cpu-sgx').reason, /virtual machine .*hypervisor does not expose SGX/);
  });

  it('an old kernel is named as the reason for missing flags and devices', () => {
    const f = readyFacts();
    f.cpuinfo = { text: cpuinfoText({ flags: [] }) };
    f.kernelRelease = '5.4.0-150-generic';
    f.devices = {};
    const report = checkHost(f);
    assert.match(itemOf(report, 'cpu-sgx').reason, /kernel 5\.4\.0-150-generic predates 5\.11/);
    assert.match(itemOf(report, 'sgx-enclave-device').reason, /predates the in-kernel SGX driver/);
  });

  it('counts a flag only when every processor reports it', () => {
    const text =
      cpuinfoText({ flags: ['sgx', 'sgx_lc'], processors: 1 }) + '\n' + cpuinfoText({ flags: ['sgx'], processors: 1 });
    const { vendor, flags } = parseCpuinfo(text);
    assert.equal(vendor, 'GenuineIntel');
    assert.equal(flags!.has('sgx'), true);
    assert.equal(flags!.has('sgx_lc'), false);
    assert.deepEqual(parseCpuinfo('processor : 0\nFeatures : fp asimd\n'), {});
    assert.deepEqual(kernelVersion('6.1.0-18-amd64'), [6, 1]);
    assert.equal(kernelVersion('weird'), undefined);
  });

  it('a non-x86 or unreadable cpuinfo is missing for sgx, not for sim', () => {
    const f = readyFacts();
    f.cpuinfo = { text: 'processor\t: 0\nFeatures\t: fp asimd evtstrm\n' };
    let report = checkHost(f);
    assert.match(itemOf(report, 'cpu-sgx').reason, /not an x86 CPU/);
    assert.equal(report.platforms.sim.ready, true);
    f.cpuinfo = { error: { code: 'ERR_FILE_NOT_FOUND', message: 'CPU information not found: /proc/cpuinfo' } };
    report = checkHost(f);
    assert.match(itemOf(report, 'cpu-flc').reason, /cannot read \/proc\/cpuinfo/);
    assert.equal(report.platforms.sim.ready, true);
  });

  it('QCNL: unparsable file and missing pccs_url block sgx; http and use_secure_cert false only warn', () => {
    const f = readyFacts();
    f.qcnl = {
      path: '/etc/sgx_default_qcnl.conf',
      error: { code: 'ERR_QCNL_CONFIG', message: '/etc/sgx_default_qcnl.conf is not valid JSON', hint: 'Fix it.' },
    };
    let report = checkHost(f);
    assert.equal(status(report, 'qcnl'), 'missing');
    assert.equal(itemOf(report, 'qcnl').fix, 'Fix it.');
    f.qcnl = { path: '/etc/sgx_default_qcnl.conf', config: { useSecureCert: true } };
    report = checkHost(f);
    assert.match(itemOf(report, 'qcnl').reason, /has no pccs_url/);
    assert.deepEqual(report.platforms.sgx.blockers, ['qcnl']);
    f.qcnl = { path: '/etc/sgx_default_qcnl.conf', config: { pccsUrl: 'https://p:8081/', useSecureCert: false } };
    report = checkHost(f);
    assert.equal(status(report, 'qcnl'), 'warning');
    assert.match(itemOf(report, 'qcnl').reason, /^insecure TLS to the PCCS: "use_secure_cert": false/);
    assert.equal(report.platforms.sgx.ready, true);
    assert.equal(report.platforms.sgx.warnings.length, 1);
    f.qcnl = { path: '/etc/sgx_default_qcnl.conf', config: { pccsUrl: 'http://p:8081/', useSecureCert: true } };
    assert.match(itemOf(checkHost(f), 'qcnl').reason, /plain http/);
  });

  it('no Docker engine blocks both platforms and leaves the images unchecked', () => {
    const f = readyFacts();
    f.docker = {
      ok: false,
      endpoint: 'unix:///var/run/docker.sock',
      error: {
        code: 'ERR_DOCKER_UNREACHABLE',
        message: 'no Docker engine answers',
        hint: 'run scripts/setup-docker.sh',
      },
    };
    f.images = f.images.map(({ platform, ref }) => ({ platform, ref }));
    const report = checkHost(f);
    assert.deepEqual(report.platforms.sim.blockers, ['docker']);
    assert.deepEqual(report.platforms.sgx.blockers, ['docker']);
    assert.match(itemOf(report, 'base-image-sim').reason, /not checked \(no Docker engine\)/);
    assert.equal(itemOf(report, 'docker').fix, 'run scripts/setup-docker.sh');
  });

  it('absent base images warn (spawn runs the package image) without blocking', () => {
    const f = readyFacts();
    f.images = f.images.map((i) => ({ ...i, present: false }));
    const report = checkHost(f);
    assert.equal(status(report, 'base-image-sim'), 'warning');
    assert.equal(itemOf(report, 'base-image-sim').fix, 'mse home base build');
    assert.match(itemOf(report, 'base-image-sgx').reason, /^mse-home-sgx-base:0\.1\.0 absent/);
    assert.match(itemOf(report, 'base-image-sgx').fix, /^mse home base build --platform sgx \(.*--gramine-debs/);
    assert.doesNotMatch(itemOf(report, 'base-image-sgx').fix, /not in this build/);
    assert.equal(report.platforms.sgx.ready, true);
    assert.equal(report.platforms.sim.ready, true);
  });

  it('signer key: absent is fine (spawn creates it), others-readable warns, invalid blocks both', () => {
    const f = readyFacts();
    f.signerKey = { path: '/k.pem', state: 'absent' };
    assert.match(itemOf(checkHost(f), 'signer-key').reason, /spawn creates it/);
    f.signerKey = { path: '/k.pem', state: 'valid', mrsigner: 'd'.repeat(64), mode: 0o644 };
    let report = checkHost(f);
    assert.equal(status(report, 'signer-key'), 'warning');
    assert.equal(itemOf(report, 'signer-key').fix, 'chmod 600 /k.pem');
    assert.match(itemOf(report, 'signer-key').reason, /mode 0644/);
    f.signerKey = {
      path: '/k.pem',
      state: 'invalid',
      error: { code: 'ERR_SIGNER_KEY_TYPE', message: 'signer key /k.pem is ec', hint: 'Use RSA-3072.' },
    };
    report = checkHost(f);
    assert.deepEqual(report.platforms.sim.blockers, ['signer-key']);
    assert.deepEqual(report.platforms.sgx.blockers, ['signer-key']);
  });
});

describe('platformReadiness and platformUnavailableError (pure)', () => {
  it('honours the requested platform, ready or not', () => {
    const f = readyFacts();
    f.aesmd = { path: '/var/run/aesmd/aesm.socket' };
    const report = checkHost(f);
    const sim = platformReadiness(report, 'sim');
    assert.deepEqual([sim.platform, sim.ready, sim.choice], ['sim', true, 'requested']);
    const sgx = platformReadiness(report, 'sgx');
    assert.deepEqual([sgx.platform, sgx.ready, sgx.choice], ['sgx', false, 'requested']);
    assert.equal(sgx.reasons.length, 1);
    assert.match(sgx.reasons[0]!, /^aesmd \(quoting enclave service\): no socket at/);
  });

  it('never falls back to sim on a host with SGX devices that is not ready', () => {
    const f = readyFacts();
    f.aesmd = { path: '/var/run/aesmd/aesm.socket' };
    const report = checkHost(f);
    const r = platformReadiness(report);
    assert.deepEqual([r.platform, r.ready, r.choice], ['sgx', false, 'sgx-misconfigured']);
    const e = platformUnavailableError(r, report);
    assert.equal(e.code, 'ERR_SGX_UNAVAILABLE');
    assert.equal(e.exitCode, 7);
    assert.match(e.message, /has SGX devices but is not ready for sgx: missing aesmd/);
    assert.match(e.hint, /mse home doctor --platform sgx/);
    assert.match(e.hint, /does not fall back to sim/);
  });

  it('a legacy device alone counts as an SGX device (no silent sim)', () => {
    const f = readyFacts();
    f.devices = { isgx: 'character-device' };
    const report = checkHost(f);
    assert.equal(report.sgxDevicePresent, true);
    assert.equal(platformReadiness(report).choice, 'sgx-misconfigured');
  });

  it('sgx asked for on a host without SGX suggests --platform sim; sim not ready gives ERR_SIM_UNAVAILABLE', () => {
    const f = readyFacts();
    f.cpuinfo = { text: cpuinfoText({ flags: [] }) };
    f.devices = {};
    f.docker = { ok: false, endpoint: 'tcp://h:2375', error: { code: 'ERR_DOCKER_UNREACHABLE', message: 'down' } };
    const report = checkHost(f);
    const sgx = platformUnavailableError(platformReadiness(report, 'sgx'), report);
    assert.equal(sgx.code, 'ERR_SGX_UNAVAILABLE');
    assert.match(sgx.message, /missing CPU SGX, CPU Flexible Launch Control, \/dev\/sgx_enclave/);
    assert.match(sgx.hint, /--platform sim runs a simulated enclave/);
    const r = platformReadiness(report);
    assert.deepEqual([r.platform, r.ready, r.choice], ['sim', false, 'no-sgx-device']);
    const sim = platformUnavailableError(r, report);
    assert.equal(sim.code, 'ERR_SIM_UNAVAILABLE');
    assert.equal(sim.exitCode, 7);
    assert.match(sim.message, /missing Docker engine$/);
  });
});
