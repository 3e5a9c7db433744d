// `mse home doctor` on this machine with the real Docker engine: sgx unavailable item by item, sim ready.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SGX_DEVICES } from '../../sgx/host-checks.js';
import { runMse } from '../../testing/cli.js';

const sgxHost = Object.values(SGX_DEVICES).some((d) => existsSync(d)) && 'this host has SGX device nodes';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-doctor-e2e-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('mse home doctor with the real engine', () => {
  it('sim is ready and the default here (exit 0); sgx is not, with its reasons', { skip: sgxHost }, async () => {
    const r = await runMse(['home', 'doctor', '--signer-key', path.join(dir, 'enclave-key.pem'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      platform: string;
      ready: boolean;
      items: { id: string; status: string; reason: string }[];
      platforms: { sgx: { ready: boolean; reasons: string[] }; sim: { ready: boolean; blockers: string[] } };
    };
    assert.deepEqual([out.ok, out.platform, out.ready], [true, 'sim', true]);
    const docker = out.items.find((i) => i.id === 'docker')!;
    assert.equal(docker.status, 'ok');
    assert.match(docker.reason, /^\d+\.\d+\.\d+\S* \(API \d+\.\d+\) at /);
    assert.deepEqual(out.platforms.sim.blockers, []);
    assert.equal(out.platforms.sgx.ready, false);
    assert.ok(out.platforms.sgx.reasons.some((x) => x.startsWith('/dev/sgx_enclave: absent')));
    assert.match(r.stderr, /^sim: ready/m);
    assert.match(r.stderr, /^sgx: not ready: missing /m);
  });
});
