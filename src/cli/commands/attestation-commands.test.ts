// `quote show`, `quote verify` and `verify` through the real CLI: exit codes (0 accepted, 10 rejected by
// policy, 11 invalid), JSON output, the readable report, PCCS fetching, and no output on failure.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseEvidence } from '../../attestation/evidence.js';
import { readRatlsCertificate } from '../../ratls/index.js';
import { PHALA_CLI } from '../../testing/dcap.js';
import { runMse } from '../../testing/cli.js';
import { pccsHandler, serve } from '../../testing/pccs-server.js';
import { readVectorText, vectorPath } from '../../testing/vectors.js';

const V = (...p: string[]): string => vectorPath('dcap', ...p);
const { input: PHALA, at: AT, accept: ACCEPT } = PHALA_CLI;

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

  // Issue 8 item 6: a quote of another version is a quote, refused as such (exit 11), not "not a quote".
  it('names a quote of an unsupported version (v2, v5) instead of calling it not a quote', async () => {
    const v2 = await runMse(['home', 'quote', 'show', V('derived-negative/bad_version.bin')]);
    assert.equal(v2.code, 11, v2.stderr);
    assert.match(v2.stderr, /error\[ERR_QUOTE_VERSION_UNSUPPORTED\]: quote header field version is 2/);
    const v5 = Buffer.from(readFileSync(V('phala-dcap-qvl/sgx_quote.bin')));
    v5[0] = 5;
    const file = path.join(dir, 'v5.bin');
    writeFileSync(file, v5);
    const r5 = await runMse(['home', 'quote', 'show', file]);
    assert.equal(r5.code, 11, r5.stderr);
    assert.match(r5.stderr, /ERR_QUOTE_VERSION_UNSUPPORTED.*version is 5/);
    const verify = await runMse([
      'home',
      'quote',
      'verify',
      '--quote',
      V('derived-negative/bad_version.bin'),
      '--collateral',
      V('phala-dcap-qvl/sgx_quote_collateral.json'),
      ...AT,
      '--json',
    ]);
    assert.equal(verify.code, 11, verify.stderr);
    const v = (JSON.parse(verify.stdout) as { verdict: { failures: { stage: string; code: string }[] } }).verdict;
    assert.deepEqual(
      v.failures.map((f) => [f.stage, f.code]),
      [['quote', 'ERR_QUOTE_VERSION_UNSUPPORTED']],
    );
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
      '1d',
    ]);
    assert.equal(tolerated.code, 0, tolerated.stderr);
    assert.match(
      tolerated.stderr,
      /Age .*EXPIRED 1s before the verification time \(QE identity nextUpdate 2025-07-19T10:01:18Z; tolerated up to 1d\)/,
    );
  });

  // Issue 8 item 2: a 2022 TCB info (expired January 2023) with 2025 CRLs, for the oasis quote in 2025.
  it('--allow-expired-collateral is a bound: stale collateral beyond it is refused, and the age is shown', async () => {
    const own = JSON.parse(readVectorText('dcap', 'oasis-core/collateral_no_crl.json')) as Record<string, string>;
    const now = JSON.parse(readVectorText('dcap', 'automata-dcap-attestation/collateral-2025-08.json')) as Record<
      string,
      string
    >;
    const stale = path.join(dir, 'stale-collateral.json');
    const { root_ca_crl, pck_crl, pck_crl_issuer_chain } = now;
    writeFileSync(stale, JSON.stringify({ ...own, root_ca_crl, pck_crl, pck_crl_issuer_chain }));
    const args = (bound: string[]) => [
      'home',
      'quote',
      'verify',
      '--quote',
      V('oasis-core/quote_v3_ecdsa_p256_pck_chain.bin'),
      '--collateral',
      stale,
      '--at',
      '2025-08-20',
      '--ignore-issue-dates',
      '--accept-tcb-status',
      'SWHardeningNeeded',
      '--allow-advisory',
      '00615',
      '--allow-advisory',
      '00657',
      ...bound,
      '--json',
    ];
    const r = await runMse(args(['--allow-expired-collateral', '30d']));
    assert.equal(r.code, 11, r.stderr);
    assert.match(
      r.stderr,
      /ERR_DCAP_TCB_INFO_EXPIRED: TCB info expired \(nextUpdate 2023-01-18T09:40:10Z, 944d 14h before .*beyond the tolerated 30d/,
    );
    assert.match(r.stderr, /Age +TCB info 974d 14h old, QE identity 977d 11h old; EXPIRED 947d 11h before/);
    const v = (JSON.parse(r.stdout) as { verdict: { accepted: boolean; collateralAge: Record<string, unknown> } })
      .verdict;
    assert.equal(v.accepted, false);
    assert.deepEqual(v.collateralAge.expired, {
      item: 'QE identity nextUpdate',
      expiry: '2023-01-15T12:45:36Z',
      seconds: 81861264,
    });
    assert.equal(v.collateralAge.toleranceSeconds, 30 * 86400);
    // A bound that covers ~2.6 years of staleness is what it takes to accept it now, and it says so.
    const wide = await runMse(args(['--allow-expired-collateral', '1000d']));
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stderr, /--allow-expired-collateral 1000d: collateral that expired up to 1000d/);
  });

  it('--allow-expired-collateral without a duration is refused with the syntax, never unbounded', async () => {
    for (const tail of [['--allow-expired-collateral'], ['--allow-expired-collateral', '--json']]) {
      const r = await runMse(['home', 'quote', 'verify', ...PHALA, ...AT, ...tail]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error\[ERR_OPTION_VALUE\]: option --allow-expired-collateral needs a value/);
      assert.match(r.stderr, /hint: .*takes a bound.*30d/);
    }
    for (const bad of ['30', 'forever', '1y', '-1d', '1.5d']) {
      const r = await runMse(['home', 'quote', 'verify', ...PHALA, ...AT, `--allow-expired-collateral=${bad}`]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /ERR_OPTION_VALUE.*is not a duration/);
    }
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

  it('reads collateral and evidence files that start with a UTF-8 byte order mark', async () => {
    const bom = (from: string, name: string): string => {
      const f = path.join(dir, name);
      writeFileSync(f, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(from)]));
      return f;
    };
    const col = await runMse([
      'home',
      'quote',
      'verify',
      '--quote',
      V('phala-dcap-qvl/sgx_quote.bin'),
      '--collateral',
      bom(V('phala-dcap-qvl/sgx_quote_collateral.json'), 'bom-collateral.json'),
      ...AT,
      ...ACCEPT,
    ]);
    assert.equal(col.code, 0, col.stderr);
    const ev = await runMse([
      'home',
      'verify',
      '--evidence',
      bom(vectorPath('mse', 'evidence.json'), 'bom-evidence.json'),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      mkdtempSync(path.join(dir, 'out-')),
      '--at',
      '2023-06-10',
      '--ignore-issue-dates',
      '--json',
    ]);
    // The same verdict as without the BOM (see above), not ERR_EVIDENCE_FORMAT.
    assert.equal(ev.code, 11, ev.stderr);
    const v = (JSON.parse(ev.stdout) as { verdict: { failures: { code: string; policy: boolean }[] } }).verdict;
    assert.deepEqual(
      v.failures.filter((f) => !f.policy).map((f) => f.code),
      ['ERR_RATLS_SUBJECT_MISMATCH', 'ERR_RATLS_EXPIRATION_MISMATCH'],
    );
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
