import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerEngine } from '../docker/engine.js';
import { loadOrCreateSignerKey } from '../launch/signer.js';
import { toHex } from '../attestation/bytes.js';
import { fixtureHost, qcnlText, type FixtureHostOptions } from '../testing/host-fixture.js';
import { pccsHandler, serve } from '../testing/pccs-server.js';
import { selfSignedCertificate } from '../testing/tls.js';
import {
  checkHost,
  platformReadiness,
  platformUnavailableError,
  type CheckId,
  type HostFacts,
  type HostReport,
} from './host-checks.js';
import { connectUnix, gatherHostFacts, probePccs } from './host-facts.js';

/**
 * Test double: the facts of a reachable engine with both base images. These unit tests run without Docker;
 * the shell's real engine path is exercised by doctor.e2e.test.ts, and its unreachable path below.
 */
const DOCKER_UP_DOUBLE: Pick<HostFacts, 'docker' | 'images'> = {
  docker: { ok: true, endpoint: 'unix:///var/run/docker.sock', version: '20.10.24', apiVersion: '1.41' },
  images: [
    { platform: 'sim', ref: 'mse-home-base:0.1.0', present: true },
    { platform: 'sgx', ref: 'mse-home-sgx-base:0.1.0', present: true },
  ],
};

const SGX_FLC = ['sgx', 'sgx_lc'];
const BOTH_DEVICES: FixtureHostOptions['charDevices'] = ['enclave', 'provision'];

let tmp: string;
let pccs: { url: string; close: () => Promise<void> };
/** An engine address where nothing listens (real "unreachable"). */
let noEngine: DockerEngine;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-doctor-test-'));
  pccs = await serve(pccsHandler());
  noEngine = DockerEngine.fromEnv({ DOCKER_HOST: `unix://${path.join(tmp, 'no-docker.sock')}` });
});
after(async () => {
  await pccs.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Gather facts from a fixture tree through the real shell, then check them with the engine double. */
async function reportFor(
  o: FixtureHostOptions,
  extra: { pccsUrl?: string } = {},
): Promise<{ facts: HostFacts; report: HostReport }> {
  const host = await fixtureHost(o);
  try {
    const facts = await gatherHostFacts({
      root: host.root,
      signerKeyPath: path.join(tmp, 'absent-key.pem'),
      engine: noEngine,
      limits: { pccsTimeoutMs: 2_000, aesmdTimeoutMs: 1_000 },
      ...extra,
    });
    assert.equal(facts.docker.ok, false, 'the fixture engine address must be unreachable');
    return { facts, report: checkHost({ ...facts, ...DOCKER_UP_DOUBLE }) };
  } finally {
    await host.close();
  }
}

function itemOf(report: HostReport, id: CheckId) {
  return report.items.find((i) => i.id === id)!;
}
function notOk(report: HostReport): string[] {
  return report.items.filter((i) => i.status !== 'ok').map((i) => `${i.id}:${i.status}`);
}

describe('host facts from fixture /proc, /dev and qcnl trees', () => {
  it('sgx-ready: flags, devices, aesmd, qcnl and a real PCCS all found; spawn would pick sgx', async () => {
    const { facts, report } = await reportFor({
      cpuFlags: SGX_FLC,
      charDevices: BOTH_DEVICES,
      aesmd: 'listening',
      qcnl: qcnlText(`${pccs.url}/sgx/certification/v4/`),
    });
    assert.deepEqual(facts.devices, { enclave: 'character-device', provision: 'character-device' });
    assert.equal(facts.kernelRelease, '6.1.0-18-amd64');
    assert.deepEqual(facts.aesmd.connect, { ok: true });
    assert.equal(facts.pccs.target?.from, 'pccs_url');
    assert.equal(facts.pccs.probe?.ok, true);
    // The loopback PCCS speaks plain http: the only remark.
    assert.deepEqual(notOk(report), ['qcnl:warning']);
    assert.match(itemOf(report, 'qcnl').reason, /plain http/);
    assert.match(itemOf(report, 'pccs').reason, /answered rootcacrl and qe\/identity/);
    assert.equal(report.platforms.sgx.ready, true);
    assert.equal(platformReadiness(report).platform, 'sgx');
    assert.equal(platformReadiness(report).choice, 'sgx-ready');
  });

  it('no FLC: SGX without sgx_lc, so no in-kernel driver; sgx not ready, sim is the default', async () => {
    const { report } = await reportFor({ cpuFlags: ['sgx'], aesmd: 'absent' });
    assert.equal(itemOf(report, 'cpu-sgx').status, 'ok');
    const flc = itemOf(report, 'cpu-flc');
    assert.equal(flc.status, 'missing');
    assert.match(flc.reason, /SGX without Flexible Launch Control \(no sgx_lc flag\)/);
    assert.match(flc.reason, /operator’s own key/);
    assert.match(flc.fix, /Launch Control.*BIOS/);
    assert.ok(report.platforms.sgx.blockers.includes('cpu-flc'));
    const r = platformReadiness(report);
    assert.deepEqual([r.platform, r.ready, r.choice], ['sim', true, 'no-sgx-device']);
  });

  it('no driver: SGX and FLC but no device node; the device items say so with the kernel release', async () => {
    const { report } = await reportFor({ cpuFlags: SGX_FLC, kernelRelease: '6.1.0-18-amd64', aesmd: 'absent' });
    assert.equal(itemOf(report, 'cpu-flc').status, 'ok');
    for (const id of ['sgx-enclave-device', 'sgx-provision-device'] as const) {
      assert.equal(itemOf(report, id).status, 'missing');
      assert.match(itemOf(report, id).reason, /no SGX driver is loaded.*kernel 6\.1\.0-18-amd64/);
      assert.match(itemOf(report, id).fix, /CONFIG_X86_SGX=y/);
    }
    assert.equal(report.sgxDevicePresent, false);
    assert.equal(platformReadiness(report).platform, 'sim');
  });

  it('no aesmd: absent socket, then a stale one; sgx-misconfigured, never a silent sim', async () => {
    const qcnl = qcnlText(`${pccs.url}/sgx/certification/v4/`);
    const absent = await reportFor({ cpuFlags: SGX_FLC, charDevices: BOTH_DEVICES, aesmd: 'absent', qcnl });
    assert.deepEqual(absent.report.platforms.sgx.blockers, ['aesmd']);
    assert.match(itemOf(absent.report, 'aesmd').reason, /no socket at .*aesm\.socket: aesmd.*is not running/);
    assert.match(itemOf(absent.report, 'aesmd').fix, /sgx-aesm-service/);
    const r = platformReadiness(absent.report);
    assert.deepEqual([r.platform, r.ready, r.choice], ['sgx', false, 'sgx-misconfigured']);
    const e = platformUnavailableError(r, absent.report);
    assert.equal(e.code, 'ERR_SGX_UNAVAILABLE');
    assert.match(e.message, /missing aesmd/);

    const stale = await reportFor({ cpuFlags: SGX_FLC, charDevices: BOTH_DEVICES, aesmd: 'stale', qcnl });
    assert.equal(stale.facts.aesmd.kind, 'socket');
    assert.equal(stale.facts.aesmd.connect?.ok, false);
    assert.match(itemOf(stale.report, 'aesmd').reason, /nothing listens on it: aesmd has stopped \(stale socket\)/);
    assert.deepEqual(stale.report.platforms.sgx.blockers, ['aesmd']);
  });

  it('PCCS down: pccs_url names a loopback port nobody listens on', async () => {
    const port = await closedPort();
    const { report } = await reportFor({
      cpuFlags: SGX_FLC,
      charDevices: BOTH_DEVICES,
      aesmd: 'listening',
      qcnl: qcnlText(`http://127.0.0.1:${port}/sgx/certification/v4/`),
    });
    const item = itemOf(report, 'pccs');
    assert.equal(item.status, 'missing');
    assert.match(item.reason, new RegExp(`127\\.0\\.0\\.1:${port}.*cannot reach the PCCS`));
    assert.match(item.fix, /pccs_url/);
    assert.deepEqual(report.platforms.sgx.blockers, ['pccs']);
    assert.equal(report.platforms.sim.ready, true);
  });

  it('insecure PCCS TLS: "use_secure_cert": false warns and probes a self-signed https PCCS; true refuses it', async () => {
    const { key, cert } = selfSignedCertificate(tmp, 'IP:127.0.0.1');
    const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, pccsHandler());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/sgx/certification/v4/`;
    try {
      const base = { cpuFlags: SGX_FLC, charDevices: BOTH_DEVICES, aesmd: 'listening' as const };
      const insecure = await reportFor({ ...base, qcnl: qcnlText(url, false) });
      assert.equal(insecure.facts.qcnl.config?.useSecureCert, false);
      assert.deepEqual(notOk(insecure.report), ['qcnl:warning']);
      assert.match(itemOf(insecure.report, 'qcnl').reason, /^insecure TLS to the PCCS/);
      assert.match(itemOf(insecure.report, 'qcnl').fix, /"use_secure_cert": true/);
      assert.match(itemOf(insecure.report, 'pccs').reason, /TLS not verified/);
      assert.equal(insecure.report.platforms.sgx.ready, true);
      assert.equal(insecure.report.platforms.sgx.warnings.length, 1);

      const secure = await reportFor({ ...base, qcnl: qcnlText(url, true) });
      assert.equal(itemOf(secure.report, 'qcnl').status, 'ok');
      assert.match(itemOf(secure.report, 'pccs').reason, /TLS certificate of 127\.0\.0\.1:\d+ is not trusted/);
      assert.deepEqual(secure.report.platforms.sgx.blockers, ['pccs']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('legacy driver only: /dev/sgx/* or /dev/isgx without /dev/sgx_enclave is not ready, and not a silent sim', async () => {
    const { facts, report } = await reportFor({
      cpuFlags: SGX_FLC,
      charDevices: ['legacyEnclave', 'legacyProvision'],
      aesmd: 'listening',
      kernelRelease: '5.4.0-150-generic',
    });
    assert.deepEqual(facts.devices, { legacyEnclave: 'character-device', legacyProvision: 'character-device' });
    assert.match(itemOf(report, 'sgx-enclave-device').reason, /legacy out-of-tree DCAP driver’s \/dev\/sgx\/enclave/);
    assert.match(itemOf(report, 'sgx-provision-device').reason, /\/dev\/sgx\/provision/);
    assert.match(itemOf(report, 'sgx-enclave-device').fix, /Linux ≥ 5\.11/);
    assert.equal(platformReadiness(report).choice, 'sgx-misconfigured');

    const isgx = await reportFor({ cpuFlags: SGX_FLC, charDevices: ['isgx'], aesmd: 'absent' });
    assert.match(itemOf(isgx.report, 'sgx-enclave-device').reason, /only \/dev\/isgx exists/);
    assert.equal(platformReadiness(isgx.report).choice, 'sgx-misconfigured');
  });

  it('a regular file standing at /dev/sgx_enclave is no device', async () => {
    const { report } = await reportFor({
      cpuFlags: SGX_FLC,
      fileDevices: ['enclave'],
      charDevices: ['provision'],
      aesmd: 'absent',
    });
    assert.match(itemOf(report, 'sgx-enclave-device').reason, /exists but is a file, not a character device/);
    assert.equal(itemOf(report, 'sgx-provision-device').status, 'ok');
  });

  it('--pccs overrides pccs_url and is probed with TLS verification', async () => {
    const { facts } = await reportFor({ cpuFlags: [], aesmd: 'absent' }, { pccsUrl: pccs.url });
    assert.equal(facts.pccs.target?.from, '--pccs');
    assert.equal(facts.pccs.probe?.ok, true);
  });

  it('an unreadable QCNL file is reported through the project reader’s error', async () => {
    const { report } = await reportFor({ cpuFlags: SGX_FLC, aesmd: 'absent', qcnl: '{ "pccs_url": 42 }' });
    assert.match(itemOf(report, 'qcnl').reason, /pccs_url must be an http\(s\) URL/);
    assert.match(itemOf(report, 'pccs').reason, /no PCCS URL to probe/);
  });

  it('the real shell reports an unreachable engine with its hint and leaves images unchecked', async () => {
    const host = await fixtureHost({ cpuFlags: [], aesmd: 'absent' });
    try {
      const facts = await gatherHostFacts({
        root: host.root,
        signerKeyPath: path.join(tmp, 'x.pem'),
        engine: noEngine,
      });
      assert.equal(facts.docker.ok, false);
      assert.ok(!facts.docker.ok && facts.docker.error.code === 'ERR_DOCKER_UNREACHABLE');
      assert.deepEqual(
        facts.images.map((i) => i.present),
        [undefined, undefined],
      );
      const report = checkHost(facts);
      assert.deepEqual(report.platforms.sim.blockers, ['docker']);
      assert.match(itemOf(report, 'docker').fix, /setup-docker\.sh/);
    } finally {
      await host.close();
    }
  });
});

describe('signer key facts (real key files)', () => {
  it('absent, valid 0600, readable by others, and not an RSA-3072 e=3 key', async () => {
    const dir = await fs.mkdtemp(path.join(tmp, 'keys-'));
    const host = await fixtureHost({ cpuFlags: [], aesmd: 'absent' });
    const keyFacts = async (file: string) =>
      (await gatherHostFacts({ root: host.root, signerKeyPath: file, engine: noEngine })).signerKey;
    try {
      const file = path.join(dir, 'enclave-key.pem');
      assert.deepEqual(await keyFacts(file), { path: file, state: 'absent' });
      const key = await loadOrCreateSignerKey(file);
      assert.deepEqual(await keyFacts(file), {
        path: file,
        state: 'valid',
        mrsigner: toHex(key.mrSigner),
        mode: 0o600,
      });
      await fs.chmod(file, 0o644);
      const loose = checkHost({
        ...(await gatherHostFacts({ root: host.root, signerKeyPath: file, engine: noEngine })),
      });
      assert.equal(itemOf(loose, 'signer-key').status, 'warning');
      const ec = path.join(dir, 'ec.pem');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await fs.writeFile(ec, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const bad = await keyFacts(ec);
      assert.equal(bad.state, 'invalid');
      assert.ok(bad.state === 'invalid' && bad.error.code === 'ERR_SIGNER_KEY_TYPE');
    } finally {
      await host.close();
    }
  });
});

describe('PCCS probe against real loopback servers', () => {
  it('a PCCS serving collateral answers both v4 endpoints', async () => {
    const p = await probePccs({ url: pccs.url, from: '--pccs', secureCert: true });
    assert.equal(p.ok, true);
    assert.ok(p.ok && p.endpoints.join() === 'rootcacrl,qe/identity');
  });

  it('a server that never answers hits the overall deadline', async () => {
    const held: http.ServerResponse[] = [];
    const srv = await serve((_req, res) => void held.push(res));
    try {
      const p = await probePccs(
        { url: srv.url, from: '--pccs', secureCert: true },
        { pccsTimeoutMs: 300, pccsMaxBodyBytes: 1024 },
      );
      assert.equal(p.ok, false);
      assert.ok(!p.ok && p.error.code === 'ERR_PCCS_TIMEOUT', JSON.stringify(p));
      // Both requests ran in parallel under the one deadline (generous margin for a loaded machine).
      assert.ok(p.ms >= 290 && p.ms < 5_000, `took ${p.ms} ms`);
    } finally {
      await srv.close();
    }
  });

  it('a server sending an endless body is cut at the cap', async () => {
    let written = 0;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 0x41);
      const pump = (): void => {
        while (!res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => res.destroy());
      pump();
    });
    try {
      const p = await probePccs(
        { url: srv.url, from: '--pccs', secureCert: true },
        { pccsTimeoutMs: 10_000, pccsMaxBodyBytes: 64 * 1024 },
      );
      assert.equal(p.ok, false);
      assert.ok(!p.ok && p.error.code === 'ERR_PCCS_RESPONSE_TOO_LARGE', JSON.stringify(p));
      assert.ok(written > 64 * 1024);
    } finally {
      await srv.close();
    }
  });

  it('an HTTP server that is not a PCCS, and a closed port, fail with the client’s codes', async () => {
    const srv = await serve((_req, res) => void res.writeHead(404).end('no'));
    try {
      const p = await probePccs({ url: srv.url, from: '--pccs', secureCert: true });
      assert.ok(!p.ok && p.error.code === 'ERR_PCCS_NOT_FOUND', JSON.stringify(p));
    } finally {
      await srv.close();
    }
    const closed = await probePccs({ url: `http://127.0.0.1:${await closedPort()}`, from: '--pccs', secureCert: true });
    assert.ok(!closed.ok && closed.error.code === 'ERR_PCCS_UNREACHABLE', JSON.stringify(closed));
    const bad = await probePccs({ url: 'ftp://x', from: '--pccs', secureCert: true });
    assert.ok(!bad.ok && bad.error.code === 'ERR_PCCS_URL');
  });
});

describe('connectUnix', () => {
  it('reports a missing socket path with its errno code', async () => {
    const r = await connectUnix(path.join(tmp, 'nothing.sock'), 500);
    assert.ok(!r.ok && r.error.code === 'ENOENT');
  });
});

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
