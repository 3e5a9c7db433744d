// `quote show`, `quote verify` and `verify` through the real CLI: exit codes (0 accepted, 10 rejected by
// policy, 11 invalid), JSON output, the readable report, PCCS fetching, and no output on failure.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseEvidence } from '../../attestation/evidence.js';
import { readRatlsCertificate } from '../../ratls/certificate.js';
import { runMse } from '../../testing/cli.js';
import { pccsHandler, serve } from '../../testing/pccs-server.js';
import { readVectorText, vectorPath } from '../../testing/vectors.js';

const V = (...p: string[]): string => vectorPath('dcap', ...p);
const PHALA = [
  '--quote',
  V('phala-dcap-qvl/sgx_quote.bin'),
  '--collateral',
  V('phala-dcap-qvl/sgx_quote_collateral.json'),
];
const AT = ['--at', '2025-07-01T00:00:00Z'];
const ACCEPT = [
  '--accept-tcb-status',
  'ConfigurationAndSWHardeningNeeded',
  '--allow-advisory',
  'INTEL-SA-00289',
  '--allow-advisory',
  '00615',
];

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-attest-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('quote show', () => {
  it('decodes binary, hex and certificate-embedded quotes', async () => {
    const bin = await runMse(['home', 'quote', 'show', V('phala-dcap-qvl/sgx_quote.bin')]);
    assert.equal(bin.code, 0, bin.stderr);
    assert.match(bin.stdout, /MRENCLAVE\s+33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb/);
    assert.match(bin.stdout, /FMSPC \/ PCE ID\s+00A067110000 \/ 0000/);
    assert.match(bin.stdout, /Root is Intel’s\s+yes/);
    const hex = await runMse(['home', 'quote', 'show', V('automata-dcap-rs/quote_v3.hex'), '--json']);
    assert.equal(hex.code, 0, hex.stderr);
    const j = JSON.parse(hex.stdout) as {
      format: string;
      pckChain: { fmspc: string; caType: string; tcb: { pceSvn: number } };
    };
    assert.equal(j.format, 'hex');
    assert.equal(j.pckChain.fmspc, '00606A000000');
    assert.equal(j.pckChain.caType, 'platform');
    assert.equal(j.pckChain.tcb.pceSvn, 13);
    const cert = path.join(dir, 'ratls.pem');
    writeFileSync(cert, parseEvidence(readVectorText('mse', 'evidence.json')).ratlsCertificate);
    const fromCert = await runMse(['home', 'quote', 'show', cert, '--json']);
    assert.equal(fromCert.code, 0, fromCert.stderr);
    assert.equal((JSON.parse(fromCert.stdout) as { format: string }).format, 'ratls-certificate');
  });

  it('fails with the quote error code on a truncated quote, and an input error on junk', async () => {
    const r = await runMse(['home', 'quote', 'show', V('derived-negative/truncated.bin')]);
    assert.equal(r.code, 11);
    assert.match(r.stderr, /error\[ERR_QUOTE_LENGTH\]: quote field signatureDataLength/);
    const junk = path.join(dir, 'junk.txt');
    writeFileSync(junk, 'hello world!');
    const j = await runMse(['home', 'quote', 'show', junk]);
    assert.equal(j.code, 3);
    assert.match(j.stderr, /ERR_QUOTE_FILE/);
  });
});

describe('quote verify', () => {
  it('exits 10 under the default policy, with the failing policy checks and hints on stderr', async () => {
    const r = await runMse(['home', 'quote', 'verify', ...PHALA, ...AT]);
    assert.equal(r.code, 10, r.stderr);
    assert.match(r.stderr, /✗ policy +TCB status accepted/);
    assert.match(r.stderr, /hint: Accept with --accept-tcb-status ConfigurationAndSWHardeningNeeded/);
    assert.match(r.stderr, /Result: VALID BUT REJECTED BY POLICY/);
    assert.equal(r.stdout, '');
  });

  it('exits 0 when the policy accepts, and prints the verdict as JSON with --json', async () => {
    const r = await runMse(['home', 'quote', 'verify', ...PHALA, ...AT, ...ACCEPT, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; verdict: Record<string, unknown> };
    assert.equal(out.ok, true);
    assert.equal(out.exitCode, 0);
    for (const k of [
      'valid',
      'accepted',
      'tcbStatus',
      'advisoryIds',
      'debug',
      'mrenclave',
      'mrsigner',
      'isvProdId',
      'isvSvn',
      'reportData',
      'failures',
    ]) {
      assert.ok(k in out.verdict, k);
    }
    assert.equal(out.verdict.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
    assert.deepEqual(out.verdict.failures, []);
    assert.match(r.stderr, /warning: accepting TCB status ConfigurationAndSWHardeningNeeded/);
  });

  it('exits 11 on a tampered quote and on expired collateral', async () => {
    const t = await runMse([
      'home',
      'quote',
      'verify',
      '--quote',
      V('derived-negative/tampered_report_data.bin'),
      '--collateral',
      V('phala-dcap-qvl/sgx_quote_collateral.json'),
      ...AT,
      ...ACCEPT,
      '--json',
    ]);
    assert.equal(t.code, 11);
    const v = (JSON.parse(t.stdout) as { verdict: { failures: { code: string; stage: string }[] } }).verdict;
    assert.deepEqual(
      v.failures.map((f) => [f.stage, f.code]),
      [['quote', 'ERR_DCAP_QUOTE_SIGNATURE']],
    );
    const late = await runMse(['home', 'quote', 'verify', ...PHALA, '--at', '1752919279', ...ACCEPT]);
    assert.equal(late.code, 11);
    assert.match(late.stderr, /ERR_DCAP_QE_IDENTITY_EXPIRED/);
    const tolerated = await runMse([
      'home',
      'quote',
      'verify',
      ...PHALA,
      '--at',
      '1752919279',
      ...ACCEPT,
      '--allow-expired-collateral',
    ]);
    assert.equal(tolerated.code, 0, tolerated.stderr);
  });

  it('rejects bad flags with usage errors', async () => {
    assert.equal((await runMse(['home', 'quote', 'verify', ...PHALA, '--at', 'yesterday'])).code, 2);
    assert.equal((await runMse(['home', 'quote', 'verify', ...PHALA, '--accept-tcb-status', 'Fine'])).code, 2);
    assert.equal((await runMse(['home', 'quote', 'verify', ...PHALA, '--mrsigner', 'abc'])).code, 2);
    const both = await runMse(['home', 'quote', 'verify', ...PHALA, '--pccs', 'http://127.0.0.1:1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /ERR_CONFLICTING_OPTIONS/);
  });

  it('fetches collateral from a PCCS on loopback, and saves it', async () => {
    const srv = await serve(pccsHandler());
    try {
      const saved = path.join(dir, 'collateral.json');
      const r = await runMse([
        'home',
        'quote',
        'verify',
        '--quote',
        V('automata-dcap-attestation/quotev3.bin'),
        '--pccs',
        srv.url,
        '--at',
        '2025-08-20',
        '--accept-tcb-status',
        'SWHardeningNeeded',
        '--allow-advisory',
        'INTEL-SA-00615',
        '--save-collateral',
        saved,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const again = await runMse([
        'home',
        'quote',
        'verify',
        '--quote',
        V('automata-dcap-attestation/quotev3.bin'),
        '--collateral',
        saved,
        '--at',
        '2025-08-20',
        '--accept-tcb-status',
        'SWHardeningNeeded',
        '--allow-advisory',
        'INTEL-SA-00615',
      ]);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await srv.close();
    }
  });

  it('reads the PCCS URL from the QCNL configuration, and reports an unreachable PCCS', async () => {
    const conf = path.join(dir, 'qcnl.conf');
    writeFileSync(conf, '{\n  // test\n  "pccs_url": "http://127.0.0.1:1/sgx/certification/v4/"\n}\n');
    const r = await runMse([
      'home',
      'quote',
      'verify',
      '--quote',
      V('phala-dcap-qvl/sgx_quote.bin'),
      '--qcnl-conf',
      conf,
    ]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /ERR_PCCS_UNREACHABLE/);
  });
});

describe('verify (evidence.json)', () => {
  const MRENCLAVE = '0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b';

  it('reports MSE’s real evidence as invalid (subject and expiration mismatch) and writes nothing', async () => {
    const out = mkdtempSync(path.join(dir, 'out-'));
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      vectorPath('mse', 'evidence.json'),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      out,
      '--at',
      '2023-06-10',
      '--ignore-issue-dates',
      '--json',
    ]);
    assert.equal(r.code, 11, r.stderr);
    const v = (
      JSON.parse(r.stdout) as { verdict: { failures: { code: string; policy: boolean }[]; mrenclave: string } }
    ).verdict;
    assert.equal(v.mrenclave, MRENCLAVE);
    assert.deepEqual(
      v.failures.filter((f) => !f.policy).map((f) => f.code),
      ['ERR_RATLS_SUBJECT_MISMATCH', 'ERR_RATLS_EXPIRATION_MISMATCH'],
    );
    assert.deepEqual(readdirSync(out), []);
  });

  it('needs --mrenclave or --package, and an existing output directory', async () => {
    const ev = vectorPath('mse', 'evidence.json');
    const none = await runMse(['home', 'verify', '--evidence', ev, '--output', dir]);
    assert.equal(none.code, 2);
    const pkg = await runMse([
      'home',
      'verify',
      '--evidence',
      ev,
      '--package',
      path.join(dir, 'x.tar'),
      '--output',
      dir,
    ]);
    assert.equal(pkg.code, 3);
    assert.match(pkg.stderr, /ERR_FILE_NOT_FOUND/);
    const missing = await runMse([
      'home',
      'verify',
      '--evidence',
      ev,
      '--mrenclave',
      MRENCLAVE,
      '--output',
      path.join(dir, 'nope'),
    ]);
    assert.equal(missing.code, 3);
    assert.equal(existsSync(path.join(dir, 'nope')), false);
  });

  it('keeps the certificate it would write identical to the evidence’s', () => {
    const e = parseEvidence(readVectorText('mse', 'evidence.json'));
    assert.equal(readRatlsCertificate(e.ratlsCertificate.trim() + '\n').fingerprint.length, 64);
  });
});
