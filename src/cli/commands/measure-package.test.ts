// `mse home measure --package` and `mse home verify --package` on SGX packages, through the real CLI, with a
// Gramine-shaped test image made byte by byte (src/testing/gramine-image.ts; no Docker) and honest test
// evidence whose quote the simulated quoting machinery signs (src/testing/sgx-evidence.ts). The same flow
// with an image built by the real Docker engine is in src/sgx/sgx-package.e2e.test.ts.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeEvidence, type Evidence } from '../../launch/evidence.js';
import type { InputArgs } from '../../launch/args.js';
import { parseArgvFile } from '../../launch/args.js';
import { loadOrCreateSimPlatform, type SimPlatform } from '../../sim/platform.js';
import { runMse } from '../../testing/cli.js';
import { gramineTestImage, gramineTestLayers, testSpawnArgs, writeTestPackage } from '../../testing/gramine-image.js';
import { sgxTestEvidence } from '../../testing/sgx-evidence.js';

let dir: string;
let sim: SimPlatform;
let pkg: string;
const CODE = { 'app.py': 'from flask import Flask\napp = Flask(__name__)\n', 'templates/index.html': '<p>hi</p>\n' };
const ARGS: InputArgs = testSpawnArgs();
/** `--evidence FILE` for evidence whose input_args are `a` (its quote's MRENCLAVE does not matter to measure). */
const argFlags = (a: InputArgs = ARGS): string[] => {
  const file = path.join(mkdtempSync(path.join(dir, 'args-')), 'evidence.json');
  writeFileSync(file, serializeEvidence(sgxTestEvidence({ sim, mrenclave: new Uint8Array(32), args: a })), {
    mode: 0o600,
  });
  return ['--evidence', file];
};

interface MeasureJson {
  mrenclave: string;
  template: string;
  trustedFiles: number;
  filesHashed: number;
  written: Record<string, string>;
}

let measured: MeasureJson;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-measure-pkg-'));
  sim = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  pkg = path.join(dir, 'package_gramine_test_app_1.tar');
  await writeTestPackage(pkg, CODE);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fresh = (name: string): string => mkdtempSync(path.join(dir, `${name}-`));

describe('measure --package', () => {
  it('prints the MRENCLAVE and writes what gramine-sgx-sign needs to reproduce it', async () => {
    const out = fresh('out');
    const r = await runMse(['home', 'measure', '--package', pkg, ...argFlags(), '--output', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    measured = JSON.parse(r.stdout) as MeasureJson;
    assert.match(measured.mrenclave, /^[0-9a-f]{64}$/);
    assert.equal(measured.template, 'mse-home-gramine-manifest-v2');
    assert.deepEqual(readdirSync(out).sort(), ['args', 'enclave.manifest', 'enclave.manifest.sgx', 'libpal.so']);
    assert.deepEqual(parseArgvFile(readFileSync(path.join(out, 'args'))), [
      '/usr/bin/dash',
      '/usr/local/bin/mse-run',
      ...['--size', '1024M'],
      ...['--subject', ARGS.subject, '--san', ARGS.san, '--id', ARGS.appId, '--application', 'app:app'],
      ...['--expiration', String(ARGS.expiration), '--host', '0.0.0.0', '--port', '443'],
    ]);
    assert.match(r.stderr, /files hashed .* MB of layers checked, \d+ MB\/s/);

    // The final manifest is self-contained: measuring it again (the other mode, gramine-sgx-sign's twin)
    // with the image's PAL gives the same value, and writes the same bytes.
    const again = await runMse([
      'home',
      'measure',
      '--manifest',
      path.join(out, 'enclave.manifest.sgx'),
      '--libpal',
      path.join(out, 'libpal.so'),
      '--output-manifest',
      path.join(out, 'again.manifest.sgx'),
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as MeasureJson).mrenclave, measured.mrenclave);
    assert.ok(
      readFileSync(path.join(out, 'again.manifest.sgx')).equals(readFileSync(path.join(out, 'enclave.manifest.sgx'))),
    );

    const plain = await runMse(['home', 'measure', '--package', pkg, ...argFlags()]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `mrenclave: ${measured.mrenclave}\n`);
  });

  it('takes the spawn arguments from --evidence where given, else from the spawn options (review L3)', async () => {
    const flags = [
      ...['--size', String(ARGS.size), '--san', ARGS.san, '--subject', ARGS.subject],
      ...['--app-id', ARGS.appId, '--expiration', String(ARGS.expiration)],
    ];
    const fromFlags = await runMse(['home', 'measure', '--package', pkg, ...flags]);
    assert.equal(fromFlags.code, 0, fromFlags.stderr);
    assert.equal(fromFlags.stdout, `mrenclave: ${measured.mrenclave}\n`);
    const missing = await runMse(['home', 'measure', '--package', pkg, ...flags.slice(0, 6)]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /ERR_MISSING_OPTION.*--app-id/);
    assert.match(missing.stderr, /--evidence/);
    const twice = await runMse(['home', 'measure', '--package', pkg, ...argFlags(), '--app-id', ARGS.appId]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /ERR_CONFLICTING_OPTIONS.*--app-id and --evidence/);
    const badFlag = await runMse(['home', 'measure', '--package', pkg, ...flags.slice(2), '--size', '1000']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /ERR_ENCLAVE_SIZE/);
    const badSize = await runMse(['home', 'measure', '--package', pkg, ...argFlags({ ...ARGS, size: 1000 })]);
    assert.equal(badSize.code, 3, badSize.stderr);
    assert.match(badSize.stderr, /ERR_SGX_ARGUMENT.*size = 1000 MiB is not a power of two/);
    const mixed = await runMse(['home', 'measure', '--package', pkg, ...argFlags(), '--libpal', 'x.so']);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /ERR_CONFLICTING_OPTIONS.*--libpal/);
    const both = await runMse(['home', 'measure', '--package', pkg, '--manifest', 'm']);
    assert.equal(both.code, 2);
  });

  it('writes the args file 0600 and never prints the whole deployment UUID (review L3)', async () => {
    const out = fresh('secret');
    const r = await runMse(['home', 'measure', '--package', pkg, ...argFlags(), '--output', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(path.join(out, 'args')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(out, 'enclave.manifest')).mode & 0o777, 0o644);
    assert.ok(!r.stdout.includes(ARGS.appId) && !r.stderr.includes(ARGS.appId), 'the UUID is masked');
    const shown = (JSON.parse(r.stdout) as { args: string[] }).args;
    assert.equal(shown[shown.indexOf('--id') + 1], `${ARGS.appId.slice(0, 8)}…`);
  });

  it('writes all four outputs or none, leaving what the directory held (review L6)', async () => {
    const out = fresh('partial');
    writeFileSync(path.join(out, 'enclave.manifest'), 'before\n');
    mkdirSync(path.join(out, 'libpal.so')); // the last output cannot be written
    const r = await runMse(['home', 'measure', '--package', pkg, ...argFlags(), '--output', out]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /ERR_FILE_IS_DIRECTORY/);
    assert.deepEqual(readdirSync(out).sort(), ['enclave.manifest', 'libpal.so']);
    assert.equal(readFileSync(path.join(out, 'enclave.manifest'), 'utf8'), 'before\n');
  });

  it('refuses a package whose image is not an mse-home Gramine image, writing nothing', async () => {
    const plain = path.join(dir, 'package_plain_1.tar');
    const [base, top] = gramineTestLayers({ libpal: false });
    await writeTestPackage(plain, CODE, gramineTestImage([base!, top!]));
    const out = fresh('plain');
    const r = await runMse(['home', 'measure', '--package', plain, ...argFlags(), '--output', out]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /ERR_SGX_NOT_GRAMINE_IMAGE/);
    assert.deepEqual(readdirSync(out), []);
  });
});

describe('verify --package on SGX evidence', () => {
  let evidence: Evidence;

  before(() => {
    const out = path.dirname(measured.written.finalManifest!);
    evidence = sgxTestEvidence({
      sim,
      mrenclave: new Uint8Array(Buffer.from(measured.mrenclave, 'hex')),
      args: ARGS,
      gramineManifest: readFileSync(path.join(out, 'enclave.manifest.sgx'), 'utf8'),
      gramineArgv: parseArgvFile(readFileSync(path.join(out, 'args'))),
    });
  });

  async function verify(
    e: Evidence,
    packageFile = pkg,
  ): Promise<{ code: number; stderr: string; verdict: Verdict; out: string }> {
    const file = path.join(fresh('ev'), 'evidence.json');
    writeFileSync(file, serializeEvidence(e));
    const out = fresh('verified');
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      file,
      '--package',
      packageFile,
      '--output',
      out,
      '--allow-simulation',
      '--json',
    ]);
    return { code: r.code, stderr: r.stderr, verdict: (JSON.parse(r.stdout) as { verdict: Verdict }).verdict, out };
  }

  interface Verdict {
    accepted: boolean;
    mrenclave: string;
    failures: { code: string; message: string; policy: boolean }[];
    measurement: { enclaveManifest?: string; differences?: { kind: string; name: string }[]; trustedFiles: number };
    warnings: string[];
  }

  it('accepts evidence carrying the MRENCLAVE measure printed, recomputing it from the package', async () => {
    const r = await verify(evidence);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.verdict.accepted, true);
    assert.equal(r.verdict.mrenclave, measured.mrenclave);
    assert.equal(r.verdict.measurement.trustedFiles, measured.trustedFiles);
    assert.ok(r.verdict.warnings.some((w) => /does not chain to Intel/.test(w)));
    assert.ok(existsSync(path.join(r.out, 'ratls.pem')));
    assert.match(r.stderr, /measured the package for SGX in .* files hashed/);
    // the deployment UUID is a credential: the report shows its first characters only (review L3)
    assert.ok(!JSON.stringify(r.verdict).includes(ARGS.appId) && !r.stderr.includes(ARGS.appId));
  });

  it('rejects a package whose code differs by one byte, naming the file (and app.tar, which holds it)', async () => {
    const other = path.join(dir, 'package_gramine_test_app_2.tar');
    await writeTestPackage(other, { ...CODE, 'app.py': CODE['app.py'].replace('Flask(', 'Flask (') });
    const r = await verify(evidence, other);
    assert.equal(r.code, 10, r.stderr);
    const f = r.verdict.failures.find((x) => x.code === 'ERR_SGX_MEASUREMENT_MISMATCH')!;
    assert.match(f.message, /trusted file file:\/opt\/mse\/enclave\/app\/app\.py: package [0-9a-f]{64}, enclave/);
    assert.equal(r.verdict.measurement.enclaveManifest, 'trusted');
    assert.deepEqual(
      r.verdict.measurement.differences!.map((d) => d.name),
      ['file:/opt/mse/enclave/app.tar', 'file:/opt/mse/enclave/app/app.py'],
    );
    assert.deepEqual(readdirSync(r.out), []);
  });

  it('rejects input_args changed by one byte, naming the argument', async () => {
    // The certificate's subject, SAN and notAfter are also compared with input_args: those evidence are invalid (11).
    const changed: [keyof Evidence['inputArgs'], string | number, string, number][] = [
      ['appId', '63322f85-1ff8-4483-91ae-f18d7398d158', '--id', 10],
      ['application', 'app:apq', '--application', 10],
      ['expiration', ARGS.expiration + 1, '--expiration', 11],
      ['subject', 'CN=app.example.com,O=Examplf,C=FR', '--subject', 11],
      ['san', 'app.example.con', '--san', 11],
    ];
    for (const [field, value, argument, exit] of changed) {
      const r = await verify({ ...evidence, inputArgs: { ...evidence.inputArgs, [field]: value } });
      assert.equal(r.code, exit, `${field}: ${r.stderr}`);
      const f = r.verdict.failures.find((x) => x.code === 'ERR_SGX_MEASUREMENT_MISMATCH')!;
      assert.match(f.message, new RegExp(`argument ${argument}: package `), field);
      assert.deepEqual(
        r.verdict.measurement.differences!.map((d) => d.name),
        [argument],
        field,
      );
    }
    const size = await verify({ ...evidence, inputArgs: { ...evidence.inputArgs, size: 2048 } });
    assert.equal(size.code, 10);
    assert.deepEqual(
      size.verdict.measurement.differences!.map((d) => d.name),
      ['sgx.enclave_size', '--size'],
    );
    const impossible = await verify({ ...evidence, inputArgs: { ...evidence.inputArgs, size: 1025 } });
    assert.equal(impossible.code, 10);
    assert.match(
      impossible.verdict.failures.find((x) => x.code === 'ERR_SGX_MEASUREMENT_MISMATCH')!.message,
      /spawn argument size = 1025 MiB is not a power of two/,
    );
  });

  it('measures nothing for evidence that does not authenticate (review M2)', async () => {
    // One hex digit of the TCB info signature changed: the collateral no longer verifies.
    const body = Buffer.from(evidence.tcbInfoBody)
      .toString('utf8')
      .replace(/"signature":"(.)/, (_m, c: string) => `"signature":"${c === '0' ? '1' : '0'}`);
    const forged = { ...evidence, tcbInfoBody: new Uint8Array(Buffer.from(body, 'utf8')) };
    const r = await verify(forged);
    assert.equal(r.code, 11, r.stderr);
    assert.doesNotMatch(r.stderr, /measured the package for SGX/);
    assert.equal((r.verdict.measurement as unknown as { measured: boolean }).measured, false);
    assert.match(JSON.stringify(r.verdict), /the package was not measured: the evidence does not authenticate/);
    assert.deepEqual(readdirSync(r.out), []);
  });

  it('refuses input_args beyond the measured bounds before opening the image (review M2, L5)', async () => {
    // 128 GiB without EDMM: 32 Mi page records to hash. Refused from the arguments alone.
    const started = Date.now();
    const r = await verify({ ...evidence, inputArgs: { ...evidence.inputArgs, size: 131072 } });
    assert.equal(r.code, 10, r.stderr);
    assert.match(
      r.verdict.failures.find((x) => x.code === 'ERR_SGX_MEASUREMENT_MISMATCH')!.message,
      /size = 131072 MiB is more than 65536 MiB \(64 GiB\)/,
    );
    assert.doesNotMatch(r.stderr, /measured the package for SGX/);
    assert.ok(Date.now() - started < 5000, 'refused before measuring');
  });

  it('ignores an enclave manifest that does not measure to the quote', async () => {
    const forged = evidence.gramineManifest!.replace('log_level = "error"', 'log_level = "debug"');
    const r = await verify({
      ...evidence,
      inputArgs: { ...evidence.inputArgs, application: 'app:apq' },
      gramineManifest: forged,
    });
    assert.equal(r.code, 10);
    assert.equal(r.verdict.measurement.enclaveManifest, 'untrusted');
    assert.equal(r.verdict.measurement.differences, undefined);
  });
});
