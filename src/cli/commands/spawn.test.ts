// `spawn`'s platform choice through the real CLI on this machine (no SGX device): doctor's checks decide,
// the choice is printed before anything else, sgx is refused with what is missing, never replaced by sim.
// And the pure parts of the sgx plan: the SGX devices and aesmd an sgx container gets from doctor's facts.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SGX_DEVICES } from '../../sgx/host-checks.js';
import { runMse } from '../../testing/cli.js';
import { sgxHostDevices } from './spawn.js';

/** These tests describe a host without SGX, as this project's machines are. */
const sgxHost = Object.values(SGX_DEVICES).some((d) => existsSync(d)) && 'this host has SGX device nodes';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-spawn-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const spawnArgs = (extra: string[]): string[] => [
  'home',
  'spawn',
  'mse-test-spawn-cli',
  '--package',
  path.join(dir, 'missing-package.tar'),
  '--san',
  'localhost',
  '--size',
  '2048',
  '--output',
  path.join(dir, 'out'),
  '--signer-key',
  path.join(dir, 'key.pem'),
  ...extra,
];

describe('spawn picks its platform with doctor’s checks (real CLI, this host)', { skip: sgxHost }, () => {
  it('without --platform: sim, because this host has no SGX device, said before anything else', async () => {
    const r = await runMse(spawnArgs([]));
    // the package is missing: the choice was made and printed before the package was read
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /platform: sim \(no SGX device on this host: sim is the default\)[\s\S]*ERR_FILE_NOT_FOUND/);
    assert.deepEqual(readdirSync(dir), [], 'nothing created (not even the signer key)');
  });

  it('--platform sgx: ERR_SGX_UNAVAILABLE (exit 7) naming what is missing and pointing at doctor; no fall back', async () => {
    const r = await runMse(spawnArgs(['--platform', 'sgx', '--json']));
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /platform: sgx \(--platform sgx\)/);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
    assert.equal(out.error.code, 'ERR_SGX_UNAVAILABLE');
    assert.match(
      out.error.message,
      /the sgx platform is not ready on this host: missing CPU SGX, .*\/dev\/sgx_enclave/,
    );
    assert.match(out.error.hint, /mse home doctor --platform sgx/);
    assert.doesNotMatch(r.stderr, /platform: sim/);
    assert.deepEqual(readdirSync(dir), [], 'nothing created');
  });

  it('--dry-run is for sgx: refused on sim (usage, exit 2)', async () => {
    const r = await runMse(spawnArgs(['--platform', 'sim', '--dry-run']));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error\[ERR_CONFLICTING_OPTIONS\].*--dry-run plans an sgx deployment/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('--dry-run --platform sgx plans on a host not ready for sgx, saying so (then fails here on the missing package)', async () => {
    const r = await runMse(spawnArgs(['--platform', 'sgx', '--dry-run']));
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /warning.*the sgx platform is not ready on this host: missing .*: planning only \(--dry-run\)/,
    );
    assert.match(r.stderr, /ERR_FILE_NOT_FOUND/);
  });

  it('--platform must be sim or sgx', async () => {
    const r = await runMse(spawnArgs(['--platform', 'tdx']));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_OPTION_VALUE/);
  });
});

describe('the SGX devices and aesmd an sgx container gets', () => {
  it('are the in-kernel driver’s character devices doctor found, and aesmd when its socket exists', () => {
    assert.deepEqual(
      sgxHostDevices({
        devices: { enclave: 'character-device', provision: 'character-device' },
        aesmd: { path: '/var/run/aesmd/aesm.socket', kind: 'socket' },
      }),
      { devices: ['/dev/sgx_enclave', '/dev/sgx_provision'], aesmd: true },
    );
    assert.deepEqual(
      sgxHostDevices({
        devices: { enclave: 'character-device' },
        aesmd: { path: '/var/run/aesmd/aesm.socket' },
      }),
      { devices: ['/dev/sgx_enclave'], aesmd: false },
    );
    // a regular file at a device path, or only the legacy driver's nodes: nothing passed
    assert.deepEqual(
      sgxHostDevices({
        devices: { enclave: 'file', legacyEnclave: 'character-device', legacyProvision: 'character-device' },
        aesmd: { path: '/var/run/aesmd/aesm.socket', kind: 'file' },
      }),
      { devices: [], aesmd: false },
    );
  });
});
