// `mse home doctor` through the real CLI on this machine. Needs no Docker: the assertions hold whether or
// not an engine answers (doctor.e2e.test.ts checks the sim side with the engine).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SGX_DEVICES } from '../../sgx/host-checks.js';
import { runMse } from '../../testing/cli.js';
import { pccsHandler, serve } from '../../testing/pccs-server.js';

/** These tests describe a host without SGX, as this project's machines are. */
const sgxHost = Object.values(SGX_DEVICES).some((d) => existsSync(d)) && 'this host has SGX device nodes';

let dir: string;
let pccs: { url: string; close: () => Promise<void> };
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-doctor-cli-'));
  pccs = await serve(pccsHandler());
});
after(async () => {
  await pccs.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mse home doctor (real CLI, this host)', () => {
  it(
    '--platform sgx: says item by item why sgx is unavailable, exits 7 with ERR_SGX_UNAVAILABLE',
    { skip: sgxHost },
    async () => {
      const key = path.join(dir, 'enclave-key.pem');
      const r = await runMse([
        'home',
        'doctor',
        '--platform',
        'sgx',
        '--pccs',
        pccs.url,
        '--signer-key',
        key,
        '--json',
      ]);
      assert.equal(r.code, 7, r.stderr);
      const out = JSON.parse(r.stdout) as {
        ok: boolean;
        platform: string;
        choice: string;
        error: { code: string; exitCode: number; hint: string };
        items: { id: string; title: string; status: string; reason: string; fix: string; platforms: string[] }[];
        platforms: { sgx: { ready: boolean; blockers: string[] } };
      };
      assert.equal(out.ok, false);
      assert.deepEqual([out.platform, out.choice], ['sgx', 'requested']);
      assert.equal(out.error.code, 'ERR_SGX_UNAVAILABLE');
      assert.equal(out.error.exitCode, 7);
      assert.match(out.error.hint, /mse home doctor --platform sgx/);
      assert.deepEqual(
        out.items.map((i) => i.id),
        [
          'cpu-sgx',
          'cpu-flc',
          'sgx-enclave-device',
          'sgx-provision-device',
          'aesmd',
          'qcnl',
          'pccs',
          'docker',
          'base-image-sim',
          'base-image-sgx',
          'signer-key',
        ],
      );
      const item = (id: string) => out.items.find((i) => i.id === id)!;
      for (const id of ['sgx-enclave-device', 'sgx-provision-device']) {
        assert.equal(item(id).status, 'missing');
        assert.match(item(id).fix, /CONFIG_X86_SGX/);
      }
      for (const i of out.items.filter((x) => x.status === 'missing')) {
        assert.ok(i.reason.length > 20 && i.fix.length > 10, `${i.id} needs a reason and a fix`);
        assert.ok(out.platforms.sgx.blockers.includes(i.id) || !i.platforms.includes('sgx'));
        // The human report on stderr has the same line and its fix.
        assert.ok(r.stderr.includes(i.reason), `stderr lacks ${i.id}'s reason`);
        assert.ok(r.stderr.includes(`fix: ${i.fix}`), `stderr lacks ${i.id}'s fix`);
      }
      assert.equal(item('pccs').status, 'ok', item('pccs').reason);
      assert.match(item('pccs').reason, /--pccs\) answered rootcacrl and qe\/identity/);
      assert.match(item('signer-key').reason, /does not exist yet: spawn creates it/);
      assert.equal(existsSync(key), false, 'doctor creates nothing');
      assert.match(r.stderr, /^sgx: not ready: missing .*\/dev\/sgx_enclave/m);
      assert.match(r.stderr, /error\[ERR_SGX_UNAVAILABLE\]: the sgx platform is not ready on this host/);
    },
  );

  it('without --platform, the default on a host without SGX devices is sim', { skip: sgxHost }, async () => {
    const r = await runMse(['home', 'doctor', '--signer-key', path.join(dir, 'k.pem'), '--json']);
    const out = JSON.parse(r.stdout) as { platform: string; choice: string; ready: boolean; exitCode: number };
    assert.deepEqual([out.platform, out.choice], ['sim', 'no-sgx-device']);
    assert.equal(r.code, out.ready ? 0 : 7);
    assert.equal(out.exitCode, r.code);
    assert.match(r.stderr, /^platform: sim \(no SGX device on this host: sim is the default\)/m);
  });

  it('refuses a bad --platform and an invalid --pccs URL is reported as the PCCS item', async () => {
    const bad = await runMse(['home', 'doctor', '--platform', 'tdx']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error\[ERR_OPTION_VALUE\]: --platform must be sgx or sim/);
    const r = await runMse(['home', 'doctor', '--pccs', 'ftp://x', '--signer-key', path.join(dir, 'k.pem'), '--json']);
    const out = JSON.parse(r.stdout) as { items: { id: string; status: string; reason: string }[] };
    const p = out.items.find((i) => i.id === 'pccs')!;
    assert.equal(p.status, 'missing');
    assert.match(p.reason, /must use http or https/);
    assert.deepEqual(readdirSync(dir), [], 'nothing written');
  });

  it('--help shows the options and an example', async () => {
    const r = await runMse(['home', 'doctor', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--platform sgx\|sim/);
    assert.match(r.stdout, /Examples:\n {2}mse home doctor\n/);
  });
});
