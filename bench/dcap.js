#!/usr/bin/env node
// DCAP appraisal benchmark: our verifier (warm: collateral checks memoised; cold: every cache dropped
// before each run) against @phala/dcap-qvl on the same real quotes and collateral, in the same process;
// plus the cost of just the ECDSA verifications a full appraisal performs, and one full `mse home verify`
// process. Prints a table and one `name: value unit` line per figure. Run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appraise, quotePckChain } from '../dist/attestation/appraise.js';
import { clearAttestationCaches } from '../dist/attestation/bytes.js';
import { parseQuote } from '../dist/attestation/quote.js';
import { parseCertificate, parseCrl, pemBlocks } from '../dist/attestation/x509.js';
import { caseCollateral, caseQuote, caseTime, dcapCase } from '../dist/testing/dcap.js';
import { readVectorText, vectorPath } from '../dist/testing/vectors.js';

const require = createRequire(import.meta.url);
const phala = require('@phala/dcap-qvl');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const CASES = [
  'phala-sgx-v3-processor',
  'automata-quotev3-platform@2025-08',
  'oasis-quote@2025-08',
  'dcaprs-quote@2025-08',
];
const quick = process.argv.includes('--quick');
const N = { warm: quick ? 100 : 400, cold: quick ? 20 : 80, phala: quick ? 10 : 40, ecdsa: quick ? 20 : 80 };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function time(n, fn, before) {
  const out = [];
  for (let i = 0; i < n; i++) {
    before?.();
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

/** The ECDSA verifications one cold appraisal performs, with keys imported each time, nothing else. */
function ecdsaOnly(c) {
  const quote = parseQuote(caseQuote(c));
  const col = caseCollateral(c);
  const chain = quotePckChain(quote);
  const ctx = { stage: 'bench', code: 'E', what: 'bench' };
  const tcbChain = pemBlocks(col.tcb_info_issuer_chain, 'CERTIFICATE', ctx).map((d) => parseCertificate(d, ctx));
  const rootCrl = parseCrl(col.root_ca_crl, ctx);
  const pckCrl = parseCrl(col.pck_crl, ctx);
  // One key import per distinct key (as the verifier does), then every verification.
  const jwk = (xy) => ({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(xy.subarray(0, 32)).toString('base64url'),
      y: Buffer.from(xy.subarray(32)).toString('base64url'),
    },
    format: 'jwk',
  });
  const certXy = (cert) => cert.publicKeyPoint.subarray(1);
  const der = [
    [chain.root, chain.root], // root self-signature
    [chain.intermediate, chain.root],
    [chain.leaf, chain.intermediate],
    [rootCrl, chain.root],
    [pckCrl, chain.intermediate],
    [tcbChain[0], chain.root],
  ];
  const p1363 = [
    [col.tcb_info, col.tcb_info_signature, tcbChain[0]],
    [col.qe_identity, col.qe_identity_signature, tcbChain[0]],
    [quote.qeReport.raw, quote.qeReportSignature, chain.leaf],
  ];
  return () => {
    const keys = new Map();
    const key = (cert) => {
      let k = keys.get(cert);
      if (!k) keys.set(cert, (k = createPublicKey(jwk(certXy(cert)))));
      return k;
    };
    let ok = true;
    for (const [signed, issuer] of der) ok &&= cryptoVerify('sha256', signed.tbs, key(issuer), signed.signature);
    for (const [data, sig, signer] of p1363) {
      ok &&= cryptoVerify('sha256', data, { key: key(signer), dsaEncoding: 'ieee-p1363' }, sig);
    }
    const att = createPublicKey(jwk(quote.attestationKey));
    ok &&= cryptoVerify('sha256', quote.signedRegion, { key: att, dsaEncoding: 'ieee-p1363' }, quote.signature);
    if (!ok) throw new Error('ECDSA benchmark inputs do not verify');
  };
}

/** The ECDSA work a warm appraisal cannot avoid: QE report signature, attestation-key import, quote signature. */
function ecdsaPerQuote(c) {
  const quote = parseQuote(caseQuote(c));
  const leaf = quotePckChain(quote).leaf;
  const xy = leaf.publicKeyPoint.subarray(1);
  const k = (p) => ({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(p.subarray(0, 32)).toString('base64url'),
      y: Buffer.from(p.subarray(32)).toString('base64url'),
    },
    format: 'jwk',
  });
  const pck = createPublicKey(k(xy));
  return () => {
    const att = createPublicKey(k(quote.attestationKey));
    const ok =
      cryptoVerify('sha256', quote.qeReport.raw, { key: pck, dsaEncoding: 'ieee-p1363' }, quote.qeReportSignature) &&
      cryptoVerify('sha256', quote.signedRegion, { key: att, dsaEncoding: 'ieee-p1363' }, quote.signature);
    if (!ok) throw new Error('ECDSA benchmark inputs do not verify');
  };
}

const rows = [];
for (const id of CASES) {
  const c = dcapCase(id);
  const quote = caseQuote(c);
  const collateral = caseCollateral(c);
  const at = caseTime(c);
  const policy = { acceptedTcbStatuses: [c.expect.tcb_status], allowedAdvisoryIds: c.expect.advisory_ids };
  const run = () => {
    const v = appraise({ quote, collateral, at, policy });
    if (!v.accepted) throw new Error(`${id}: not accepted: ${JSON.stringify(v.failures)}`);
  };
  const phalaCollateral = JSON.parse(readVectorText('dcap', c.collateral));
  const nowSecs = c.verify_at;
  const runPhala = () => {
    const r = phala.verify(quote, phalaCollateral, nowSecs);
    if (r.status !== c.expect.tcb_status) throw new Error(`${id}: phala says ${r.status}`);
  };
  const ecdsa = ecdsaOnly(c);
  const ecdsaQuote = ecdsaPerQuote(c);
  for (let i = 0; i < 20; i++) {
    // warm-up (JIT)
    run();
    runPhala();
    ecdsa();
  }
  rows.push({
    id,
    warm: time(N.warm, run),
    cold: time(N.cold, run, clearAttestationCaches),
    phala: time(N.phala, runPhala),
    ecdsa: time(N.ecdsa, ecdsa),
    ecdsaQuote: time(N.warm, ecdsaQuote),
  });
}

function processMs(args, runs = 5) {
  const out = [];
  let code;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'mse.js'), ...args], { encoding: 'utf8' });
    out.push(performance.now() - t);
    code = r.status;
  }
  return { ms: median(out), code };
}
const outDir = mkdtempSync(path.join(os.tmpdir(), 'mse-bench-'));
const verifyProc = processMs([
  'home',
  'verify',
  '--evidence',
  vectorPath('mse', 'evidence.json'),
  '--mrenclave',
  '0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b',
  '--output',
  outDir,
  '--at',
  '2023-06-10',
  '--ignore-issue-dates',
  '--json',
]);
const quoteVerifyProc = processMs([
  'home',
  'quote',
  'verify',
  '--quote',
  vectorPath('dcap', 'phala-dcap-qvl/sgx_quote.bin'),
  '--collateral',
  vectorPath('dcap', 'phala-dcap-qvl/sgx_quote_collateral.json'),
  '--at',
  '2025-07-01',
  '--json',
]);
rmSync(outDir, { recursive: true, force: true });

const f = (x) => x.toFixed(3);
console.log('DCAP appraisal, median ms per quote (same process, same inputs)');
console.log(
  `${'case'.padEnd(36)}${'ours warm'.padStart(11)}${'ours cold'.padStart(11)}${'phala'.padStart(10)}${'ECDSA only'.padStart(12)}${'phala/warm'.padStart(12)}${'phala/cold'.padStart(12)}`,
);
for (const r of rows) {
  console.log(
    `${r.id.padEnd(36)}${f(r.warm).padStart(11)}${f(r.cold).padStart(11)}${f(r.phala).padStart(10)}${f(r.ecdsa).padStart(12)}${(r.phala / r.warm).toFixed(1).padStart(11)}x${(r.phala / r.cold).toFixed(1).padStart(11)}x`,
  );
}
const med = (k) => median(rows.map((r) => r[k]));
const ours = med('warm');
const cold = med('cold');
const ph = med('phala');
const ecdsa = med('ecdsa');
console.log('');
console.log(
  `full process: mse home verify (MSE evidence) ${verifyProc.ms.toFixed(0)} ms (exit ${verifyProc.code}); mse home quote verify ${quoteVerifyProc.ms.toFixed(0)} ms (exit ${quoteVerifyProc.code})`,
);
console.log('');
console.log(`dcap.ours_ms: ${f(ours)} ms`);
console.log(`dcap.ours_cold_ms: ${f(cold)} ms`);
console.log(`dcap.phala_ms: ${f(ph)} ms`);
console.log(`dcap.ratio_vs_phala: ${(ph / ours).toFixed(1)} x`);
console.log(`dcap.ratio_cold_vs_phala: ${(ph / cold).toFixed(1)} x`);
console.log(`dcap.ecdsa_only_ms: ${f(ecdsa)} ms`);
console.log(`dcap.cold_over_ecdsa: ${(cold / ecdsa).toFixed(2)} x`);
console.log(`dcap.ecdsa_per_quote_ms: ${f(med('ecdsaQuote'))} ms`);
console.log(`dcap.warm_over_ecdsa_per_quote: ${(ours / med('ecdsaQuote')).toFixed(2)} x`);
console.log(`verify.process_ms: ${verifyProc.ms.toFixed(0)} ms`);
console.log(`quote_verify.process_ms: ${quoteVerifyProc.ms.toFixed(0)} ms`);
