import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMseError } from '../errors.js';
import {
  caseCollateral,
  caseQuote,
  caseTime,
  dcapCase,
  dcapCases,
  trustAnchorDer,
  type DcapCase,
} from '../testing/dcap.js';
import { readVectorText } from '../testing/vectors.js';
import {
  appraise,
  CHECK_PLAN,
  quotePckChain,
  verifyAttestationKeyBinding,
  verifyPckChainSignatures,
  verifyQeReportSignature,
  verifyQuoteSignature,
  type Verdict,
} from './appraise.js';
import { clearAttestationCaches } from './bytes.js';
import { parseCollateralJson, type Collateral, type TcbStatus } from './collateral.js';
import { INTEL_SGX_ROOT_CA_DER } from './intel-root.js';
import type { Policy } from './policy.js';
import { parseQuote } from './quote.js';
import { parseCertificate, parseCrl } from './x509.js';

/** Intel QVL status names in vectors.json → our stable codes. */
const STATUS_TO_CODE: [RegExp, RegExp][] = [
  [/STATUS_INVALID_QUOTE_SIGNATURE/, /^ERR_DCAP_QUOTE_SIGNATURE$/],
  [/STATUS_INVALID_QE_REPORT_SIGNATURE/, /^ERR_DCAP_QE_REPORT_SIGNATURE$/],
  [/STATUS_INVALID_QE_REPORT_DATA/, /^ERR_DCAP_QE_REPORT_DATA$/],
  [/STATUS_UNSUPPORTED_QUOTE_FORMAT/, /^ERR_QUOTE_(LENGTH|TRUNCATED|VERSION_UNSUPPORTED)$/],
  [/STATUS_TCB_INFO_INVALID_SIGNATURE/, /^ERR_DCAP_TCB_INFO_SIGNATURE$/],
  [/STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE/, /^ERR_DCAP_QE_IDENTITY_SIGNATURE$/],
  [/STATUS_INVALID_PCK_CRL or STATUS_TCB_INFO_MISMATCH/, /^ERR_DCAP_(PCK_CRL_INVALID|TCB_INFO_MISMATCH)$/],
  [/STATUS_INVALID_PCK_CRL/, /^ERR_DCAP_PCK_CRL_INVALID$/],
  [/STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED/, /^ERR_DCAP_PCK_CHAIN_UNTRUSTED$/],
  [/STATUS_SGX_ENCLAVE_IDENTITY_EXPIRED/, /^ERR_DCAP_QE_IDENTITY_EXPIRED$/],
  [/STATUS_SGX_CRL_EXPIRED/, /^ERR_DCAP_CRL_EXPIRED$/],
  [/TCB info issueDate in the future/, /^ERR_DCAP_TCB_INFO_NOT_YET_VALID$/],
  [/STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE/, /^ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED$/],
];

function run(c: DcapCase, policy: Partial<Policy> = {}, collateral?: Collateral, at?: Date): Verdict {
  const extra = c.trusted_root.includes('intel-root')
    ? {}
    : { trustedRoots: [trustAnchorDer(c.trusted_root)], trustIntelRoot: false };
  return appraise({
    quote: caseQuote(c),
    collateral: collateral ?? caseCollateral(c),
    policy,
    at: at ?? caseTime(c),
    ...extra,
  });
}

/** The policy that accepts exactly what a case expects (status, advisories, debug). */
function acceptingPolicy(status: string, advisories: string[], debug: boolean): Partial<Policy> {
  return { acceptedTcbStatuses: [status as TcbStatus], allowedAdvisoryIds: advisories, allowDebug: debug };
}

const sorted = (a: unknown): string[] => [...(a as string[])].sort();
const DAY = 86400;
const failureCodes = (v: Verdict): string[] => v.failures.map((f) => f.code);

function assertNoInternal(v: Verdict): void {
  assert.ok(!failureCodes(v).includes('ERR_VERIFIER_INTERNAL'), JSON.stringify(v.failures));
}

describe('appraise: every case of vectors.json', () => {
  for (const c of dcapCases()) {
    const e = c.expect;
    if (e.result === 'ok') {
      it(`${c.id}: valid, ${String(e.tcb_status)}, advisories and identity as expected`, () => {
        const strictDefault = run(c);
        assert.equal(strictDefault.valid, true, JSON.stringify(strictDefault.failures));
        assert.equal(strictDefault.accepted, false, 'the default policy accepts UpToDate only');
        assert.ok(failureCodes(strictDefault).includes('ERR_POLICY_TCB_STATUS'));
        assert.ok(strictDefault.failures.every((f) => f.policy));
        const v = run(c, acceptingPolicy(e.tcb_status as string, e.advisory_ids as string[], e.debug as boolean));
        assert.equal(v.accepted, true, JSON.stringify(v.failures));
        assert.equal(v.tcbStatus, e.tcb_status);
        assert.equal(v.platformTcbStatus, e.platform_tcb_status);
        assert.equal(v.qeTcbStatus, e.qe_tcb_status);
        assert.deepEqual(v.advisoryIds, sorted(e.advisory_ids));
        assert.equal(v.debug, e.debug);
        assert.equal(v.fmspc, e.fmspc);
        assert.equal(v.pceId, e.pceid);
        assert.equal(v.mrenclave, e.mrenclave);
        assert.equal(v.mrsigner, e.mrsigner);
        assert.equal(v.trustAnchor?.kind, 'intel');
        assert.equal(v.simulated, false);
        assert.equal(v.pckCaType, (e.pck_issuer_cn as string).includes('Platform') ? 'platform' : 'processor');
        assert.ok(v.checks.every((ch) => ch.status === 'pass' || (ch.status === 'skip' && ch.policy)));
        if (e.debug) {
          const rejected = run(c, { ...acceptingPolicy(e.tcb_status as string, e.advisory_ids as string[], false) });
          assert.equal(rejected.valid, true);
          assert.equal(rejected.accepted, false);
          assert.deepEqual(failureCodes(rejected), ['ERR_POLICY_DEBUG_ENCLAVE']);
        }
      });
    } else if (e.result === 'error' && c.collateral) {
      it(`${c.id}: rejected with the code for "${String(e.error).slice(0, 60)}"`, () => {
        const v = run(c, { acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'] });
        assert.equal(v.valid, false);
        assert.equal(v.accepted, false);
        assertNoInternal(v);
        const expected = STATUS_TO_CODE.find(([status]) => status.test(String(e.error)));
        assert.ok(expected, `no mapping for ${String(e.error)}`);
        const crypto = v.failures.filter((f) => !f.policy);
        assert.equal(crypto.length, 1, JSON.stringify(crypto));
        assert.match(crypto[0]!.code, expected[1]);
        assert.ok(crypto[0]!.message.length > 10 && crypto[0]!.hint.length > 10);
      });
    }
  }

  it('neg-tcb-info-not-yet-valid: Intel semantics ignore the issue date and give the normal status', () => {
    const c = dcapCase('neg-tcb-info-not-yet-valid');
    const v = run(c, { ignoreIssueDates: true });
    assert.equal(v.valid, true, JSON.stringify(v.failures));
    assert.equal(v.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
    assert.equal(v.timeSemantics, 'intel');
  });

  for (const id of ['mobilecoin-crl-window-gap', 'mobilecoin-sgx-debug-qe-outofdate']) {
    it(`${id}: no instant is valid; with CRL time tolerated the verdict is as upstream`, () => {
      const c = dcapCase(id);
      const strict = run(c);
      assert.ok(Date.parse(strict.collateralWindow!.from) > Date.parse(strict.collateralWindow!.until));
      const ig = c.expect.if_crl_time_ignored as Record<string, unknown>;
      // The PCK CRL expired 51 days before the upstream verification time: a 30-day bound refuses it.
      const short = run(c, { ignoreIssueDates: true, expiredCollateralToleranceSeconds: 30 * DAY, allowDebug: true });
      assert.equal(short.valid, false);
      assert.deepEqual(
        failureCodes(short).filter((f) => !f.startsWith('ERR_POLICY')),
        ['ERR_DCAP_CRL_EXPIRED'],
      );
      assert.match(
        short.failures[0]!.message,
        /PCK CRL .* expired \(nextUpdate .*, 51d 22h before .*beyond the tolerated 30d/,
      );
      const v = run(c, { ignoreIssueDates: true, expiredCollateralToleranceSeconds: 60 * DAY, allowDebug: true });
      assert.equal(v.valid, true, JSON.stringify(v.failures));
      assert.equal(v.collateralExpired, true);
      assert.ok(v.warnings.some((w) => /PCK CRL .* expired .*within the tolerated 60d/.test(w)));
      assert.equal(v.checks.find((ch) => ch.id === 'crl.validity')!.status, 'warn');
      assert.equal(v.tcbStatus, ig.tcb_status);
      if (ig.platform_tcb_status) assert.equal(v.platformTcbStatus, ig.platform_tcb_status);
      if (ig.qe_tcb_status) assert.equal(v.qeTcbStatus, ig.qe_tcb_status);
      const advisories = ig.advisory_ids ?? [
        ...(ig.platform_advisory_ids as string[]),
        ...(ig.qe_advisory_ids as string[]),
      ];
      assert.deepEqual(v.advisoryIds, [...new Set(sorted(advisories))]);
      assert.equal(v.fmspc, ig.fmspc);
      if (typeof ig.debug === 'boolean') assert.equal(v.debug, ig.debug);
    });
  }

  it('neg-wrong-root: the Intel test root with the same subject does not anchor a production chain', () => {
    const v = run(dcapCase('neg-wrong-root'), { allowSimulation: false });
    assert.deepEqual(
      failureCodes(v).filter((x) => !x.startsWith('ERR_POLICY')),
      ['ERR_DCAP_PCK_CHAIN_UNTRUSTED'],
    );
  });

  it('neg-intel-qvl-sample-cert-type-1: parses, binding holds, refused as unsupported certification data', () => {
    const c = dcapCase('neg-intel-qvl-sample-cert-type-1');
    const q = parseQuote(caseQuote(c));
    verifyAttestationKeyBinding(q);
    const v = appraise({ quote: q, collateral: caseCollateral(dcapCase('phala-sgx-v3-processor')), at: caseTime(c) });
    assert.equal(v.valid, false);
    const expected = STATUS_TO_CODE.find(([s]) => s.test(String(c.expect.error)))!;
    assert.match(v.failures[0]!.code, expected[1]);
  });

  for (const c of dcapCases().filter((x) => x.expect.result === 'partial')) {
    it(`${c.id}: signatures, binding and chain to the Intel root hold at ${new Date(c.verify_at * 1000).toISOString()}`, () => {
      const q = parseQuote(caseQuote(c));
      const chain = quotePckChain(q);
      assert.deepEqual(Buffer.from(chain.root.der), Buffer.from(INTEL_SGX_ROOT_CA_DER));
      verifyPckChainSignatures(chain.leaf, chain.intermediate, chain.root);
      verifyQeReportSignature(q, chain.leaf);
      verifyAttestationKeyBinding(q);
      verifyQuoteSignature(q);
      const at = caseTime(c).getTime();
      for (const cert of [chain.leaf, chain.intermediate, chain.root]) {
        assert.ok(cert.notBefore.getTime() <= at && at <= cert.notAfter.getTime());
      }
    });
  }
});

describe('appraise: oasis 2022 (no CRLs published)', () => {
  const c = dcapCase('oasis-2022-no-crl');
  // Borrow real CRLs for the same (Platform) CA from the 2025 collateral: signatures, issuers and
  // revocation can then be checked, and only the CRLs' dates are out of range.
  const borrowed = caseCollateral(dcapCase('automata-quotev3-platform@2025-08'));
  const own = JSON.parse(readVectorText('dcap', c.collateral!)) as Record<string, string>;
  const collateral: Collateral = parseCollateralJson(
    JSON.stringify({
      ...own,
      root_ca_crl: Buffer.from(borrowed.root_ca_crl).toString('hex'),
      pck_crl: Buffer.from(borrowed.pck_crl).toString('hex'),
      pck_crl_issuer_chain: borrowed.pck_crl_issuer_chain,
    }),
  );
  const at = (t: number): Date => new Date(t * 1000);
  const aug2025 = new Date('2025-08-20T00:00:00Z');
  const intel: Partial<Policy> = {
    ignoreIssueDates: true,
    acceptedTcbStatuses: ['SWHardeningNeeded', 'OutOfDate'],
    allowedAdvisoryIds: ['00615', '00657', '00730', '00738', '00767', '00828', '00837', '00960'],
  };

  // Issue 8 item 2: this 2022 TCB info (expired January 2023) was accepted for 2025 as SWHardeningNeeded
  // with 2 advisories under an unbounded --allow-expired-collateral, where current collateral says
  // OutOfDate with 8. The tolerance is now a bound, and these items are ~2.6 years past it.
  it('2022 TCB info in 2025: refused beyond the tolerated bound, naming each item and how long ago it expired', () => {
    const current = appraise({
      quote: caseQuote(c),
      collateral: caseCollateral(dcapCase('oasis-quote@2025-08')),
      at: aug2025,
      policy: intel,
    });
    assert.equal(current.tcbStatus, 'OutOfDate');
    assert.equal(current.advisoryIds.length, 8);

    const v = appraise({
      quote: caseQuote(c),
      collateral,
      at: aug2025,
      policy: { ...intel, expiredCollateralToleranceSeconds: 30 * DAY },
    });
    assert.equal(v.valid, false);
    assert.equal(v.accepted, false);
    assert.equal(v.collateralExpired, false, 'nothing was within the bound');
    const tcb = v.checks.find((ch) => ch.id === 'tcb-info.validity')!;
    assert.equal(tcb.status, 'fail');
    assert.equal(tcb.code, 'ERR_DCAP_TCB_INFO_EXPIRED');
    assert.match(
      tcb.message!,
      /TCB info expired \(nextUpdate 2023-01-18T09:40:10Z, 944d 14h before .*beyond the tolerated 30d/,
    );
    assert.match(
      tcb.message!,
      /TCB info signing certificate expired \(notAfter 2025-05-21T10:50:10Z, 90d 13h before .*\): beyond the tolerated 30d/,
    );
    const qe = v.checks.find((ch) => ch.id === 'qe-identity.validity')!;
    assert.equal(qe.status, 'fail');
    assert.equal(qe.code, 'ERR_DCAP_QE_IDENTITY_EXPIRED');
    assert.match(qe.message!, /QE identity expired \(nextUpdate 2023-01-15T12:45:36Z, 947d 11h before/);
    assert.deepEqual(v.collateralAge, {
      tcbInfo: { issued: '2022-12-19T09:40:10Z', seconds: 84205190 },
      qeIdentity: { issued: '2022-12-16T12:45:36Z', seconds: 84453264 },
      expired: { item: 'QE identity nextUpdate', expiry: '2023-01-15T12:45:36Z', seconds: 81861264 },
      toleranceSeconds: 30 * DAY,
    });
  });

  it('2022 TCB info in 2025: accepted only when the bound covers it, and says how stale it is', () => {
    const v = appraise({
      quote: caseQuote(c),
      collateral,
      at: aug2025,
      policy: { ...intel, expiredCollateralToleranceSeconds: 1000 * DAY },
    });
    assert.equal(v.valid, true, JSON.stringify(v.failures));
    assert.equal(v.accepted, true);
    assert.equal(v.tcbStatus, c.expect.tcb_status);
    assert.deepEqual(v.advisoryIds, sorted(c.expect.advisory_ids));
    assert.equal(v.collateralExpired, true);
    const notPass = v.checks.filter((ch) => ch.status !== 'pass' && !ch.policy).map((ch) => [ch.id, ch.status]);
    assert.deepEqual(notPass, [
      ['tcb-info.validity', 'warn'],
      ['qe-identity.validity', 'warn'],
    ]);
    assert.equal(v.collateralAge?.expired?.seconds, 81861264);
    assert.ok(v.warnings.some((w) => /QE identity expired .*947d 11h.*within the tolerated 1000d/.test(w)));
  });

  it('CRLs issued after the verification time are refused even with a tolerance (they are not stale)', () => {
    const v = appraise({
      quote: caseQuote(c),
      collateral,
      at: caseTime(c),
      policy: { expiredCollateralToleranceSeconds: 3650 * DAY },
    });
    assert.equal(v.valid, false);
    const crl = v.checks.find((ch) => ch.id === 'crl.validity')!;
    assert.equal(crl.status, 'fail');
    assert.equal(crl.code, 'ERR_DCAP_CRL_NOT_YET_VALID');
    assert.equal(v.collateralExpired, false);
  });

  const cases: [number, string, string][] = [
    [1891163522, 'pck-chain.validity', 'ERR_DCAP_PCK_CHAIN_EXPIRED'],
    [1670238720, 'pck-chain.validity', 'ERR_DCAP_PCK_CHAIN_NOT_YET_VALID'],
    [1671194735, 'qe-identity.validity', 'ERR_DCAP_QE_IDENTITY_NOT_YET_VALID'],
    [1673786737, 'qe-identity.validity', 'ERR_DCAP_QE_IDENTITY_EXPIRED'],
  ];
  for (const [t, check, code] of cases) {
    it(`upstream negative at ${t}: ${code}`, () => {
      const v = appraise({ quote: caseQuote(c), collateral, at: at(t) });
      const ch = v.checks.find((x) => x.id === check)!;
      assert.equal(ch.status, 'fail');
      assert.equal(ch.code, code);
      assert.equal(v.valid, false);
    });
  }

  it('Intel semantics do not check the QE identity issue date (1671194735)', () => {
    const v = appraise({ quote: caseQuote(c), collateral, at: at(1671194735), policy: { ignoreIssueDates: true } });
    assert.equal(v.checks.find((x) => x.id === 'qe-identity.validity')!.status, 'pass');
  });

  it('the bad issuer chain (Platform CA instead of TCB signing) fails the TCB info chain', () => {
    const bad = readVectorText('dcap', 'oasis-core/tcb_info_v3_fmspc_00606A000000_certs_bad.pem');
    const v = appraise({
      quote: caseQuote(c),
      collateral: { ...collateral, tcb_info_issuer_chain: bad },
      at: caseTime(c),
    });
    assert.ok(failureCodes(v).includes('ERR_DCAP_TCB_INFO_SIGNING_CHAIN'), JSON.stringify(v.failures));
    assert.equal(v.checks.find((x) => x.id === 'tcb-info.chain')!.status, 'fail');
  });
});

describe('appraise: an expired TCB signing certificate is bound like every other item', () => {
  // Current (2025-08) collateral, but its issuer chains carry the previous TCB signing certificate: same
  // key and serial (Intel renewed it), notAfter 2025-05-21. Everything else is valid on 2025-08-20.
  const c = dcapCase('automata-quotev3-platform@2025-08');
  const old = (JSON.parse(readVectorText('dcap', 'oasis-core/collateral_no_crl.json')) as Record<string, string>)
    .tcb_info_issuer_chain!;
  const collateral: Collateral = {
    ...caseCollateral(c),
    tcb_info_issuer_chain: old,
    qe_identity_issuer_chain: old,
  };
  const accept = acceptingPolicy('SWHardeningNeeded', ['INTEL-SA-00615'], false);
  const signing = (v: Verdict) =>
    v.checks.filter((ch) => ch.id === 'tcb-info.validity' || ch.id === 'qe-identity.validity');

  it('is refused by default and beyond the bound, with its own code and how long ago it expired', () => {
    for (const tolerance of [0, 30 * DAY]) {
      const v = run(c, { ...accept, expiredCollateralToleranceSeconds: tolerance }, collateral);
      assert.equal(v.valid, false);
      for (const ch of signing(v)) {
        assert.equal(ch.status, 'fail');
        assert.equal(ch.code, 'ERR_DCAP_TCB_SIGNING_CERT_EXPIRED');
        assert.match(ch.message!, /signing certificate expired \(notAfter 2025-05-21T10:50:10Z, 90d 13h before/);
      }
    }
  });

  it('is a warning within the bound, reported in the age', () => {
    const v = run(c, { ...accept, expiredCollateralToleranceSeconds: 91 * DAY }, collateral);
    assert.equal(v.accepted, true, JSON.stringify(v.failures));
    assert.deepEqual(
      signing(v).map((ch) => ch.status),
      ['warn', 'warn'],
    );
    assert.equal(v.collateralExpired, true);
    assert.equal(v.collateralAge?.expired?.item, 'TCB info signing certificate notAfter');
    assert.equal(v.collateralAge?.toleranceSeconds, 91 * DAY);
  });
});

describe('appraise: semantics', () => {
  const phala = dcapCase('phala-sgx-v3-processor');
  const accept = acceptingPolicy('ConfigurationAndSWHardeningNeeded', ['INTEL-SA-00289', '00615'], false);

  it('treats both ends of the validity window as inclusive', () => {
    const w = phala as DcapCase & { valid_window: { from: number; to: number } };
    const raw = JSON.parse(readVectorText('dcap', 'vectors.json')) as {
      cases: (DcapCase & { valid_window: { from: number; to: number } })[];
    };
    const win = raw.cases.find((x) => x.id === w.id)!.valid_window;
    assert.equal(run(phala, accept, undefined, new Date(win.from * 1000)).accepted, true);
    assert.equal(run(phala, accept, undefined, new Date(win.to * 1000)).accepted, true);
    assert.equal(run(phala, accept, undefined, new Date(win.from * 1000 - 1000)).valid, false);
    assert.equal(run(phala, accept, undefined, new Date(win.to * 1000 + 1000)).valid, false);
    const v = run(phala, accept);
    assert.deepEqual(v.collateralWindow, { from: '2025-06-19T10:56:11Z', until: '2025-07-19T10:01:18Z' });
  });

  it('reports every check of the plan, in order, skipping what follows a terminal failure', () => {
    const v = run(dcapCase('neg-tampered-qe-report'), accept);
    assert.deepEqual(
      v.checks.map((ch) => ch.id),
      CHECK_PLAN.map((p) => p.id),
    );
    const i = v.checks.findIndex((ch) => ch.id === 'quote.qe-report-signature');
    assert.equal(v.checks[i]!.status, 'fail');
    assert.ok(v.checks.slice(0, i).every((ch) => ch.status === 'pass'));
    assert.ok(
      v.checks
        .slice(i + 1)
        .filter((ch) => !ch.policy)
        .every((ch) => ch.status === 'skip'),
    );
    assert.equal(v.tcbStatus, null);
  });

  it('checks identity expectations as policy (valid but rejected)', () => {
    const good = run(phala, {
      ...accept,
      mrEnclave: Buffer.from(phala.expect.mrenclave as string, 'hex'),
      isvProdId: 0,
      minIsvSvn: 0,
    });
    assert.equal(good.accepted, true, JSON.stringify(good.failures));
    const bad = run(phala, {
      ...accept,
      mrEnclave: new Uint8Array(32),
      mrSigner: new Uint8Array(32),
      isvProdId: 7,
      minIsvSvn: 9,
    });
    assert.equal(bad.valid, true);
    assert.equal(bad.accepted, false);
    assert.deepEqual(failureCodes(bad), [
      'ERR_POLICY_MRENCLAVE_MISMATCH',
      'ERR_POLICY_MRSIGNER_MISMATCH',
      'ERR_POLICY_ISVPRODID_MISMATCH',
      'ERR_POLICY_ISVSVN_TOO_LOW',
    ]);
  });

  it('refuses collateral older than a required TCB evaluation data number (policy)', () => {
    const base = run(phala, accept);
    const n = base.tcbEvaluationDataNumber!;
    assert.equal(typeof n, 'number');
    const atMin = run(phala, { ...accept, minTcbEvaluationDataNumber: n });
    assert.equal(atMin.accepted, true, JSON.stringify(atMin.failures));
    assert.equal(atMin.checks.find((c) => c.id === 'policy.tcb-eval-num')!.status, 'pass');
    const above = run(phala, { ...accept, minTcbEvaluationDataNumber: n + 1 });
    assert.equal(above.valid, true);
    assert.equal(above.accepted, false);
    assert.deepEqual(failureCodes(above), ['ERR_POLICY_TCB_EVAL_NUM_TOO_LOW']);
    assert.equal(base.checks.find((c) => c.id === 'policy.tcb-eval-num')!.status, 'skip');
  });

  it('requires every present advisory to be allowed and explains the TCB status', () => {
    const v = run(phala, {
      acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'],
      allowedAdvisoryIds: ['INTEL-SA-00615'],
    });
    assert.deepEqual(failureCodes(v), ['ERR_POLICY_ADVISORY']);
    assert.match(v.failures[0]!.message, /INTEL-SA-00289/);
    const d = run(phala);
    const f = d.failures.find((x) => x.code === 'ERR_POLICY_TCB_STATUS')!;
    assert.match(f.message, /ConfigurationAndSWHardeningNeeded/);
    assert.match(f.hint, /--accept-tcb-status ConfigurationAndSWHardeningNeeded .*INTEL-SA-00289/);
  });

  it('gives the same verdict cold and warm (caches only memoise pure work)', () => {
    clearAttestationCaches();
    const cold = run(phala, accept);
    const warm = run(phala, accept);
    assert.deepEqual(warm, cold);
  });

  it('accepts the quote parsed or raw', () => {
    const q = parseQuote(caseQuote(phala));
    const v = appraise({ quote: q, collateral: caseCollateral(phala), at: caseTime(phala), policy: accept });
    assert.equal(v.accepted, true);
  });
});

describe('appraise: memoised parses are shared, so a caller cannot change them', () => {
  const phala = dcapCase('phala-sgx-v3-processor');
  const accept = acceptingPolicy('ConfigurationAndSWHardeningNeeded', ['INTEL-SA-00289', '00615'], false);
  const ctx = { stage: 'pck-chain', code: 'ERR_DCAP_PCK_CHAIN_FORMAT', what: 'test' };

  it("moving a returned certificate's notAfter, or editing its extension or bytes, changes no later appraisal", () => {
    const chain = quotePckChain(parseQuote(caseQuote(phala)));
    const expiry = chain.leaf.notAfter.getTime();
    const late = new Date(expiry + 1000);
    const expired = (v: Verdict) => v.failures.some((f) => f.code === 'ERR_DCAP_PCK_CHAIN_EXPIRED');
    assert.equal(expired(run(phala, accept, undefined, late)), true);

    const leaf = parseCertificate(chain.leaf.der, ctx);
    assert.equal(leaf, chain.leaf, 'the same shared object');
    assert.throws(() => leaf.notAfter.setTime(Date.parse('2100-01-01T00:00:00Z')), TypeError);
    assert.throws(() => leaf.notAfter.setUTCFullYear(2100), TypeError);
    assert.throws(() => {
      (leaf as { notAfter: Date }).notAfter = new Date('2100-01-01T00:00:00Z');
    }, TypeError);
    assert.throws(() => {
      chain.extension.tcb.components[0] = 255;
    }, TypeError);
    assert.throws(() => {
      (chain.extension as { sgxType: number }).sgxType = 0;
    }, TypeError);
    chain.extension.fmspc.fill(0);
    chain.leaf.publicKeyPoint!.fill(0);
    chain.root.der.fill(0);
    chain.root.subject.der.fill(0);
    assert.equal(chain.leaf.notAfter.getTime(), expiry);

    assert.equal(expired(run(phala, accept, undefined, late)), true);
    const v = run(phala, accept);
    assert.equal(v.accepted, true, JSON.stringify(v.failures));
    assert.equal(v.fmspc, phala.expect.fmspc);
    assert.equal(v.tcbStatus, phala.expect.tcb_status);
  });

  it('returns deep-frozen values: frozen objects, read-only dates and sets, byte fields as copies', () => {
    const c = caseCollateral(phala);
    const crl = parseCrl(c.pck_crl, ctx);
    assert.ok(Object.isFrozen(crl) && Object.isFrozen(crl.issuer) && Object.isFrozen(crl.issuer.attributes));
    assert.throws(() => crl.nextUpdate.setTime(0), TypeError);
    assert.notEqual(crl.der, crl.der, 'each read is a fresh copy');
    assert.deepEqual(crl.der, new Uint8Array(c.pck_crl));
    const leaf = quotePckChain(parseQuote(caseQuote(phala))).leaf;
    assert.ok(Object.isFrozen(leaf.extensions) && leaf.extensions.every((e) => Object.isFrozen(e)));
    // JSON and spreads still see every field.
    assert.equal(JSON.parse(JSON.stringify(leaf)).serialHex, leaf.serialHex);
    assert.equal({ ...leaf }.der.length, leaf.der.length);
  });
});

describe('appraise: every single-byte change is detected', () => {
  const phala = dcapCase('phala-sgx-v3-processor');
  const quote = caseQuote(phala);
  const collateral = caseCollateral(phala);
  const at = caseTime(phala);
  const policy = acceptingPolicy('ConfigurationAndSWHardeningNeeded', ['INTEL-SA-00289', 'INTEL-SA-00615'], false);
  assert.equal(appraise({ quote, collateral, at, policy }).accepted, true);

  it(`in all ${quote.length} bytes of a real quote`, () => {
    const b = new Uint8Array(quote);
    const survivors: number[] = [];
    for (let i = 0; i < b.length; i++) {
      b[i]! ^= 0x01;
      const v = appraise({ quote: b, collateral, at, policy });
      if (v.valid) survivors.push(i);
      assertNoInternal(v);
      b[i]! ^= 0x01;
    }
    assert.deepEqual(survivors, []);
  });

  for (const key of [
    'tcb_info',
    'tcb_info_signature',
    'qe_identity',
    'qe_identity_signature',
    'root_ca_crl',
    'pck_crl',
  ] as const) {
    it(`in all ${collateral[key].length} bytes of collateral ${key}`, () => {
      const b = new Uint8Array(collateral[key]);
      const survivors: number[] = [];
      for (let i = 0; i < b.length; i++) {
        b[i]! ^= 0x01;
        const v = appraise({ quote, collateral: { ...collateral, [key]: b }, at, policy });
        if (v.valid) survivors.push(i);
        assertNoInternal(v);
        b[i]! ^= 0x01;
      }
      assert.deepEqual(survivors, []);
    });
  }
});

describe('appraise: random truncations and mutations yield verdicts, never exceptions', () => {
  /** Deterministic PRNG (mulberry32) so failures reproduce. */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const sources = ['phala-sgx-v3-processor', 'automata-quotev3-platform@2025-08'].map(dcapCase);

  function mutate(rand: () => number, input: Uint8Array): Uint8Array {
    if (rand() < 0.3) return input.slice(0, Math.floor(rand() * input.length));
    const b = new Uint8Array(input);
    const n = 1 + Math.floor(rand() * 8);
    for (let k = 0; k < n; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    return b;
  }

  it('on quotes and on each collateral field (bounded count, seeded)', () => {
    const rand = prng(0x5eed);
    for (const c of sources) {
      const quote = caseQuote(c);
      const collateral = caseCollateral(c);
      const at = caseTime(c);
      for (let n = 0; n < 150; n++) assertNoInternal(appraise({ quote: mutate(rand, quote), collateral, at }));
      for (const key of Object.keys(collateral) as (keyof Collateral)[]) {
        for (let n = 0; n < 25; n++) {
          const v = collateral[key];
          const m =
            typeof v === 'string'
              ? Buffer.from(mutate(rand, Buffer.from(v, 'latin1'))).toString('latin1')
              : mutate(rand, v);
          const verdict = appraise({ quote, collateral: { ...collateral, [key]: m }, at });
          assertNoInternal(verdict);
        }
      }
    }
  });

  it('on collateral JSON text: only typed errors', () => {
    const rand = prng(42);
    const text = Buffer.from(readVectorText('dcap', 'phala-dcap-qvl/sgx_quote_collateral.json'));
    for (let n = 0; n < 200; n++) {
      const m = Buffer.from(mutate(rand, text)).toString('latin1');
      try {
        const col = parseCollateralJson(m);
        assertNoInternal(appraise({ quote: caseQuote(sources[0]!), collateral: col, at: caseTime(sources[0]!) }));
      } catch (error) {
        assert.ok(isMseError(error), `untyped error: ${String(error)}`);
      }
    }
  });
});
