// `mse home verify` binds every spawn argument (input_args) or says it did not (no Docker): packages
// assembled here in the real format, evidence of a simulated enclave measured the way `spawn` measures it.
// - issue 8 A: an enclave spawned from a copy of the package whose mse.toml names another entry point is
//   refused by `verify --package ORIGINAL` (ERR_IDENTITY_APPLICATION_MISMATCH), not accepted;
// - issue 8 item 4: with --mrenclave, the fields nothing binds are reported as NOT VERIFIED, one warning each;
// - the report shows every input_args field with what bound it (table and JSON);
// - ERR_EVIDENCE_FIELD has one exit code (3), whichever field it names.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeEvidence, type Evidence } from '../../launch/evidence.js';
import type { RecordedInputArgs as InputArgs } from '../../launch/args.js';
import type { InputArgBinding } from '../../verify/verify-evidence.js';
import { readPackage } from '../../package/read.js';
import { loadOrCreateSignerKey } from '../../launch/signer.js';
import { simMrenclaveOfEvidence } from '../../sim/package-measurement.js';
import { loadOrCreateSimPlatform, type SimPlatform } from '../../sim/platform.js';
import { runMse, type CliResult } from '../../testing/cli.js';
import { minimalPackage, rewritePackageConfig } from '../../testing/packages.js';
import { makeSimEvidence } from '../../testing/sim-evidence.js';

const EVIL_ENTRY_POINT = 'wsgiref.simple_server:demo_app';
const TOML =
  'name = "demo"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\ntests_cmd = "pytest"\ntests_requirements = []\n';

let dir: string;
let sim: SimPlatform;
let signerPk: string;
let original: string;
let tampered: string;

interface VerifyJson {
  ok: boolean;
  exitCode: number;
  verdict: {
    accepted: boolean;
    failures: { code: string; stage: string; policy: boolean; message: string; hint: string }[];
    checks: { id: string; status: string; code?: string; message?: string }[];
    warnings: string[];
    inputArgs: InputArgBinding[];
  };
}

/** The spawn arguments `spawn` would fix for a package whose entry point is `application`. */
function spawnArgs(application: string): InputArgs {
  return {
    size: 2048,
    subject: 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France',
    san: 'localhost',
    appId: '0f7e6f0e-5d1c-4b7a-9a57-3a5f1d6b2c11',
    application,
    expiration: Math.floor(Date.now() / 1000) + 86400,
  };
}

/** The MRENCLAVE `spawn` has the quoting service sign for `packageFile` spawned with `args`. */
async function measure(packageFile: string, args: InputArgs): Promise<Uint8Array> {
  return simMrenclaveOfEvidence(await readPackage(packageFile), args);
}

/** Evidence of the enclave `spawn` starts from `packageFile` with `args`. */
async function spawnedFrom(packageFile: string, args: InputArgs): Promise<Evidence> {
  return makeSimEvidence({ sim, mrEnclave: await measure(packageFile, args), signerPk, inputArgs: args });
}

let n = 0;
function write(e: Evidence | object): string {
  const f = path.join(dir, `evidence-${n++}.json`);
  writeFileSync(f, 'inputArgs' in e ? serializeEvidence(e) : JSON.stringify(e));
  return f;
}

async function verify(evidenceFile: string, ...expect: string[]): Promise<{ r: CliResult; out: string }> {
  const out = mkdtempSync(path.join(dir, 'out-'));
  const r = await runMse([
    'home',
    'verify',
    '--evidence',
    evidenceFile,
    '--output',
    out,
    '--allow-simulation',
    '--json',
    ...expect,
  ]);
  return { r, out };
}

function json(r: CliResult): VerifyJson {
  return JSON.parse(r.stdout) as VerifyJson;
}

const binding = (v: VerifyJson, field: string): InputArgBinding => v.verdict.inputArgs.find((b) => b.field === field)!;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-verify-binding-'));
  sim = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  signerPk = (await loadOrCreateSignerKey(path.join(dir, 'signer.pem'))).publicKeyPem;
  original = path.join(dir, 'package_demo_1.tar');
  writeFileSync(original, await minimalPackage(TOML));
  // What the operator of issue 8 A did: the same code and image, another entry point in mse.toml.
  tampered = path.join(dir, 'package_demo_1_tampered.tar');
  await rewritePackageConfig(original, tampered, (t) => t.replace('"app:app"', `"${EVIL_ENTRY_POINT}"`));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('verify --package binds the entry point to the package (issue 8 A)', () => {
  it('refuses an enclave spawned from a copy whose mse.toml names another entry point (exit 10), writes nothing', async () => {
    const evidence = write(await spawnedFrom(tampered, spawnArgs(EVIL_ENTRY_POINT)));
    const { r, out } = await verify(evidence, '--package', original);
    assert.equal(r.code, 10, r.stderr);
    const v = json(r);
    assert.equal(v.verdict.accepted, false);
    assert.deepEqual(
      v.verdict.failures.map((f) => [f.stage, f.code, f.policy]),
      [['identity', 'ERR_IDENTITY_APPLICATION_MISMATCH', true]],
    );
    assert.match(v.verdict.failures[0]!.message, /"wsgiref\.simple_server:demo_app".*mse\.toml names "app:app"/);
    assert.match(v.verdict.failures[0]!.hint, /another entry point/);
    // the measurement alone matches: it takes the entry point from the evidence
    assert.deepEqual(binding(v, 'application'), {
      field: 'application',
      value: EVIL_ENTRY_POINT,
      role: 'entry point the enclave runs (module:variable)',
      measured: 'pass',
      package: 'fail',
      certificate: null,
      status: 'mismatch',
    });
    assert.match(r.stderr, /application\s+✓\s+✗\s+"wsgiref\.simple_server:demo_app"\s+MISMATCH/);
    assert.match(r.stderr, /ERR_IDENTITY_APPLICATION_MISMATCH: the enclave runs the entry point/);
    assert.ok(!existsSync(path.join(out, 'ratls.pem')), 'no certificate to pin');
  });

  it('accepts the same evidence against the package that was really spawned', async () => {
    const evidence = write(await spawnedFrom(tampered, spawnArgs(EVIL_ENTRY_POINT)));
    const { r, out } = await verify(evidence, '--package', tampered);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(binding(json(r), 'application').status, 'bound');
    assert.ok(existsSync(path.join(out, 'ratls.pem')));
  });

  it('reports every input_args field with what bound it, in the table and the JSON', async () => {
    const args = spawnArgs('app:app');
    const { r } = await verify(write(await spawnedFrom(original, args)), '--package', original);
    assert.equal(r.code, 0, r.stderr);
    const v = json(r);
    assert.deepEqual(
      v.verdict.inputArgs.map((b) => [b.field, b.value, b.measured, b.package, b.certificate, b.status]),
      [
        ['subject', args.subject, 'pass', null, 'pass', 'bound'],
        ['subject_alternative_name', 'localhost', 'pass', null, 'pass', 'bound'],
        ['expiration_date', args.expiration, 'pass', null, 'pass', 'bound'],
        ['size', 2048, 'pass', null, null, 'bound'],
        // the deployment UUID is a credential: masked in every report (review L3)
        ['app_id', '0f7e6f0e…', 'pass', null, null, 'bound'],
        ['application', 'app:app', 'pass', 'pass', null, 'bound'],
      ],
    );
    assert.equal(
      v.verdict.checks.find((c) => c.id === 'identity.application')?.status,
      'pass',
      'the entry point check ran',
    );
    assert.ok(!v.verdict.checks.some((c) => c.code === 'WARN_INPUT_ARG_UNBOUND'));
    assert.match(r.stderr, /input_args\s+measured\s+package\s+certificate\s+value/);
    for (const field of ['subject', 'subject_alternative_name', 'expiration_date', 'size', 'app_id', 'application']) {
      assert.match(r.stderr, new RegExp(`^  ${field} +✓`, 'm'), field);
    }
    assert.doesNotMatch(r.stderr, /NOT VERIFIED/);
    assert.ok(!r.stdout.includes(args.appId) && !r.stderr.includes(args.appId), 'the UUID is never printed whole');
  });

  it('refuses every edited input_args field (never accepted)', async () => {
    const good = await spawnedFrom(original, spawnArgs('app:app'));
    const edits: [keyof InputArgs, string | number, string][] = [
      ['size', 4096, 'ERR_POLICY_MRENCLAVE_MISMATCH'],
      ['appId', '0f7e6f0e-5d1c-4b7a-9a57-3a5f1d6b2c12', 'ERR_POLICY_MRENCLAVE_MISMATCH'],
      ['application', EVIL_ENTRY_POINT, 'ERR_POLICY_MRENCLAVE_MISMATCH'],
      ['expiration', good.inputArgs.expiration! + 1, 'ERR_RATLS_EXPIRATION_MISMATCH'],
      ['san', 'attacker.example', 'ERR_RATLS_SAN_MISMATCH'],
      ['subject', 'CN=attacker.example', 'ERR_RATLS_SUBJECT_MISMATCH'],
    ];
    for (const [key, value, code] of edits) {
      const { r } = await verify(
        write({ ...good, inputArgs: { ...good.inputArgs, [key]: value } }),
        '--package',
        original,
      );
      assert.notEqual(r.code, 0, `${key} edited: ${r.stderr}`);
      const codes = json(r).verdict.failures.map((f) => f.code);
      assert.ok(codes.includes(code), `${key}: ${codes.join()}`);
    }
  });
});

describe('verify --mrenclave says which input_args it could not bind (issue 8 item 4)', () => {
  it('warns for size, app_id and application, one check each, and never shows them as verified', async () => {
    const args = spawnArgs('app:app');
    const mrenclave = Buffer.from(await measure(original, args)).toString('hex');
    const { r } = await verify(write(await spawnedFrom(original, args)), '--mrenclave', mrenclave);
    assert.equal(r.code, 0, r.stderr);
    const v = json(r);
    const warned = v.verdict.checks.filter((c) => c.code === 'WARN_INPUT_ARG_UNBOUND');
    assert.deepEqual(
      warned.map((c) => [c.id, c.status]),
      [
        ['identity.input-args.size', 'warn'],
        ['identity.input-args.app_id', 'warn'],
        ['identity.input-args.application', 'warn'],
      ],
    );
    assert.match(
      warned[2]!.message!,
      /input_args\.application = "app:app" .* is NOT verified: an MRENCLAVE given with --mrenclave/,
    );
    assert.deepEqual(
      v.verdict.inputArgs.map((b) => [b.field, b.measured, b.package, b.certificate, b.status]),
      [
        ['subject', 'not-checked', null, 'pass', 'bound'],
        ['subject_alternative_name', 'not-checked', null, 'pass', 'bound'],
        ['expiration_date', 'not-checked', null, 'pass', 'bound'],
        ['size', 'not-checked', null, null, 'unbound'],
        ['app_id', 'not-checked', null, null, 'unbound'],
        ['application', 'not-checked', 'not-checked', null, 'unbound'],
      ],
    );
    assert.ok(v.verdict.warnings.includes('input_args not verified, only shown: size, app_id, application'));
    for (const field of ['size', 'app_id', 'application']) {
      assert.match(r.stderr, new RegExp(`^  ${field} +·.*NOT VERIFIED$`, 'm'), field);
    }
  });
});

describe('ERR_EVIDENCE_FIELD: one exit code (3) for every field (issue 8 item 6)', () => {
  it('an unknown input_args field is refused, naming it', async () => {
    const e = JSON.parse(serializeEvidence(await spawnedFrom(original, spawnArgs('app:app')))) as {
      input_args: Record<string, unknown>;
    };
    e.input_args.python_path = '/tmp/evil';
    const { r, out } = await verify(write(e), '--package', original);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /ERR_EVIDENCE_FIELD.*input_args\.python_path/);
    assert.ok(!existsSync(path.join(out, 'ratls.pem')));
  });

  it('a null expiration_date with --package exits 3 like every other ERR_EVIDENCE_FIELD', async () => {
    const e = JSON.parse(serializeEvidence(await spawnedFrom(original, spawnArgs('app:app')))) as {
      input_args: Record<string, unknown>;
    };
    e.input_args.expiration_date = null;
    const { r } = await verify(write(e), '--package', original);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /ERR_EVIDENCE_FIELD.*input_args\.expiration_date/);
  });
});
