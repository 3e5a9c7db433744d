/**
 * The simulated platform against the project's DCAP verifier, unchanged: a freshly signed sim quote with
 * the sim collateral is ACCEPTED when the sim root is passed as an extra trusted root, and REJECTED by
 * default (the root is not Intel's pinned root). Variants (revocation, outdated TCB, debug, stale
 * collateral) must fail where Intel's rules say they fail.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appraise, quotePckChain, type Verdict } from '../attestation/appraise.js';
import { parseCollateralJson, type Collateral } from '../attestation/collateral.js';
import { collateralToJson, loadOrCreateSimPlatform, type SimCollateralOptions, type SimPlatform } from './platform.js';
import { startSimPccs } from './pccs.js';
import { SIM_TCB_EVALUATION_DATA_NUMBER } from './collateral.js';
import { PccsClient } from '../pccs/client.js';
import { parseQuote } from '../attestation/quote.js';
import { parseCrl } from '../attestation/x509.js';

let dir: string;
let p: SimPlatform;
const mrEnclave = createHash('sha256').update('sim appraisal enclave').digest();
const mrSigner = createHash('sha256').update('sim appraisal signer').digest();
const reportData = createHash('sha512').update('ra-tls key').digest();

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-appraise-'));
  p = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
});
after(() => fs.rm(dir, { recursive: true }));

const quote = (attributes?: Uint8Array) =>
  p.signQuote({ mrEnclave, mrSigner, reportData, isvProdId: 1, isvSvn: 2, attributes });
const collateralOf = (options: SimCollateralOptions = {}): Collateral =>
  parseCollateralJson(JSON.stringify(collateralToJson(p.buildCollateral(options))));
const failureCodes = (v: Verdict) => v.failures.map((f) => f.code);

test('ACCEPTED with the sim root passed as an extra trusted root', () => {
  const at = new Date();
  const v = appraise({
    quote: quote(),
    collateral: collateralOf({ now: at }),
    at,
    trustedRoots: [p.root.der],
    policy: {
      mrEnclave,
      mrSigner,
      isvProdId: 1,
      minIsvSvn: 2,
      minTcbEvaluationDataNumber: SIM_TCB_EVALUATION_DATA_NUMBER,
    },
  });
  assert.deepEqual(v.failures, []);
  assert.equal(v.valid, true);
  assert.equal(v.accepted, true);
  assert.equal(v.tcbStatus, 'UpToDate');
  assert.equal(v.qeTcbStatus, 'UpToDate');
  assert.equal(v.debug, false);
  assert.equal(v.mrenclave, mrEnclave.toString('hex'));
  assert.equal(v.reportData, reportData.toString('hex'));
  assert.equal(v.fmspc?.toLowerCase(), Buffer.from(p.tcb.fmspc).toString('hex'));
  assert.equal(v.pckCaType, 'platform');
  assert.equal(v.trustAnchor?.kind, 'extra');
  assert.equal(v.trustAnchor?.sha256.toLowerCase(), p.rootFingerprint);
  assert.equal(v.simulated, true);
  assert.ok(v.checks.every((c) => c.status === 'pass' || c.status === 'warn'));
});

test('REJECTED by default: the sim root is not pinned', () => {
  const at = new Date();
  const v = appraise({ quote: quote(), collateral: collateralOf({ now: at }), at });
  assert.equal(v.valid, false);
  assert.equal(v.accepted, false);
  assert.deepEqual(failureCodes(v), ['ERR_DCAP_PCK_CHAIN_UNTRUSTED']);
  assert.match(v.failures[0]?.hint ?? '', /simulated SGX platform/);
});

test('allowSimulation accepts it, flagged as simulated', () => {
  const at = new Date();
  const v = appraise({ quote: quote(), collateral: collateralOf({ now: at }), at, policy: { allowSimulation: true } });
  assert.equal(v.valid, true);
  assert.equal(v.trustAnchor?.kind, 'simulation');
  assert.equal(v.simulated, true);
});

test('collateral fetched from the simulated PCCS over HTTP verifies too', async () => {
  const pccs = await startSimPccs(p);
  try {
    const get = async (suffix: string, header?: string) => {
      const res = await fetch(pccs.url + suffix);
      assert.equal(res.status, 200, suffix);
      return {
        body: Buffer.from(await res.arrayBuffer()),
        chain: header ? decodeURIComponent(res.headers.get(header) ?? '') : '',
      };
    };
    const fmspc = Buffer.from(p.tcb.fmspc).toString('hex');
    const tcb = await get(`tcb?fmspc=${fmspc}`, 'TCB-Info-Issuer-Chain');
    const qe = await get('qe/identity', 'SGX-Enclave-Identity-Issuer-Chain');
    const pck = await get('pckcrl?ca=platform&encoding=der', 'SGX-PCK-CRL-Issuer-Chain');
    const root = await get('rootcacrl');
    const collateral = parseCollateralJson(
      JSON.stringify({
        pck_crl_issuer_chain: pck.chain,
        root_ca_crl: root.body.toString('utf8'),
        pck_crl: pck.body.toString('hex'),
        tcb_info_issuer_chain: tcb.chain,
        tcb_info: tcb.body.toString('utf8'),
        qe_identity_issuer_chain: qe.chain,
        qe_identity: qe.body.toString('utf8'),
      }),
    );
    const v = appraise({ quote: quote(), collateral, at: new Date(), trustedRoots: [p.root.der] });
    assert.deepEqual(v.failures, []);
    assert.equal(v.accepted, true);
  } finally {
    await pccs.close();
  }
});

test("the project's PCCS client collects the sim collateral for a sim quote (the evidence path)", async () => {
  const pccs = await startSimPccs(p);
  try {
    const q = quote();
    const collateral = await new PccsClient({ url: pccs.url }).getCollateralForQuote(parseQuote(q));
    const v = appraise({ quote: q, collateral, at: new Date(), trustedRoots: [p.root.der] });
    assert.deepEqual(v.failures, []);
    assert.equal(v.accepted, true);
    // The client also accepts the base URL without the API path, as a user would write it.
    const origin = new URL(pccs.url).origin;
    const again = await new PccsClient({ url: origin }).getCollateralForQuote(parseQuote(q));
    assert.equal(Buffer.from(again.tcb_info).toString('utf8'), Buffer.from(collateral.tcb_info).toString('utf8'));
  } finally {
    await pccs.close();
  }
});

test('variants fail where Intel rules say they fail', () => {
  const at = new Date();
  const base = { at, trustedRoots: [p.root.der] };
  const revoked = appraise({ ...base, quote: quote(), collateral: collateralOf({ now: at, revoke: { pck: true } }) });
  assert.equal(revoked.valid, false);
  assert.match(failureCodes(revoked).join(), /REVOKED/);
  const caRevoked = appraise({
    ...base,
    quote: quote(),
    collateral: collateralOf({ now: at, revoke: { pckCa: true } }),
  });
  assert.equal(caRevoked.valid, false);
  assert.match(failureCodes(caRevoked).join(), /REVOKED/);
  const tcbRevoked = appraise({
    ...base,
    quote: quote(),
    collateral: collateralOf({ now: at, revoke: { tcbSigning: true } }),
  });
  assert.equal(tcbRevoked.valid, false);
  assert.match(failureCodes(tcbRevoked).join(), /REVOKED/);

  // Outdated platform: valid evidence, rejected by the default policy, accepted when the status is allowed.
  const outdated = { now: at, platformTcbStatus: 'SWHardeningNeeded' as const, advisoryIds: ['INTEL-SA-00615'] };
  const sw = appraise({ ...base, quote: quote(), collateral: collateralOf(outdated) });
  assert.equal(sw.valid, true);
  assert.equal(sw.accepted, false);
  assert.equal(sw.tcbStatus, 'SWHardeningNeeded');
  const swOk = appraise({
    ...base,
    quote: quote(),
    collateral: collateralOf(outdated),
    policy: { acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'], allowedAdvisoryIds: ['INTEL-SA-00615'] },
  });
  assert.equal(swOk.accepted, true);

  // QE OutOfDate converges an UpToDate platform to OutOfDate.
  const qeOld = appraise({ ...base, quote: quote(), collateral: collateralOf({ now: at, qeTcbStatus: 'OutOfDate' }) });
  assert.equal(qeOld.tcbStatus, 'OutOfDate');
  assert.equal(qeOld.accepted, false);

  // A debug enclave: cryptographically fine, rejected by policy.
  const debug = appraise({
    ...base,
    quote: quote(Buffer.from('0700000000000000e700000000000000', 'hex')),
    collateral: collateralOf({ now: at }),
  });
  assert.equal(debug.valid, true);
  assert.equal(debug.debug, true);
  assert.equal(debug.accepted, false);

  // Stale collateral: past nextUpdate.
  const c = p.buildCollateral({ now: at });
  const stale = appraise({
    ...base,
    quote: quote(),
    collateral: parseCollateralJson(JSON.stringify(collateralToJson(c))),
    at: new Date(c.nextUpdate.getTime() + 1000),
  });
  assert.equal(stale.valid, false);
  assert.match(failureCodes(stale).join(), /EXPIRED/);

  // A flipped byte in the signed body breaks the quote signature.
  const tampered = Buffer.from(quote());
  tampered.writeUInt8(tampered.readUInt8(112) ^ 1, 112);
  const bad = appraise({ ...base, quote: tampered, collateral: collateralOf({ now: at }) });
  assert.equal(bad.valid, false);
  assert.match(failureCodes(bad).join(), /SIGNATURE/);
});

test("another sim platform (another operator) is not trusted by this one's root", async () => {
  const other = await loadOrCreateSimPlatform({ dir: path.join(dir, 'other') });
  const at = new Date();
  const q = other.signQuote({ mrEnclave, mrSigner, reportData, isvProdId: 1, isvSvn: 2 });
  const c = parseCollateralJson(JSON.stringify(collateralToJson(other.buildCollateral({ now: at }))));
  const v = appraise({ quote: q, collateral: c, at, trustedRoots: [p.root.der] });
  assert.equal(v.valid, false);
  assert.deepEqual(failureCodes(v), ['ERR_DCAP_PCK_CHAIN_UNTRUSTED']);
});

test('a caller editing a parsed CRL or certificate cannot make the next appraisal accept a revoked PCK', () => {
  const at = new Date();
  const collateral = collateralOf({ now: at, revoke: { pck: true } });
  const q = quote();
  const input = { quote: q, collateral, at, trustedRoots: [p.root.der] };
  assert.ok(failureCodes(appraise(input)).includes('ERR_DCAP_PCK_REVOKED'));

  // The parsers are memoised: these are the very objects the next appraisal will be handed.
  const ctx = { stage: 'collateral', code: 'ERR_DCAP_COLLATERAL_FORMAT', what: 'PCK CRL' };
  const crl = parseCrl(collateral.pck_crl, ctx);
  const leaf = quotePckChain(parseQuote(q)).leaf;
  assert.equal(crl.revokedSerials.has(leaf.serialHex), true);
  assert.throws(() => (crl.revokedSerials as Set<string>).clear(), TypeError);
  assert.throws(() => (crl.revokedSerials as Set<string>).delete(leaf.serialHex), TypeError);
  assert.throws(() => Set.prototype.clear.call(crl.revokedSerials), TypeError);
  assert.throws(() => {
    (crl as { revokedSerials: ReadonlySet<string> }).revokedSerials = new Set();
  }, TypeError);
  // Byte fields are copies: scribbling on them changes nothing shared.
  crl.der.fill(0);
  crl.tbs.fill(0);
  leaf.der.fill(0);
  assert.notEqual(crl.der[0], 0);
  assert.equal(parseCrl(collateral.pck_crl, ctx).revokedSerials.has(leaf.serialHex), true);

  const again = appraise(input);
  assert.equal(again.valid, false);
  assert.ok(failureCodes(again).includes('ERR_DCAP_PCK_REVOKED'), JSON.stringify(again.failures));
});
