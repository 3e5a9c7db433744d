/**
 * verifyEvidence on evidence of a simulated enclave (real quote, certificate and collateral; no Docker):
 * - `tcb_cert` is one source of truth with the issuer chains: a replaced one is refused, not ignored;
 * - no false accept on the spawn arguments: with the expectations `verify --package` derives (MRENCLAVE
 *   recomputed from the package and the evidence's input_args, entry point from mse.toml), no edit of
 *   input_args (seeded random values of every field) is ever accepted.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Evidence, InputArgs } from '../attestation/evidence.js';
import { verifyEvidence, type EvidenceVerdict, type ExpectedIdentity } from '../verify/verify-evidence.js';
import { makeSimEvidence } from '../testing/sim-evidence.js';
import { simMrenclaveOfEvidence } from './package-measurement.js';
import { loadOrCreateSimPlatform, type SimPlatform } from './platform.js';
import { loadOrCreateSignerKey } from '../launch/signer.js';

let dir: string;
let sim: SimPlatform;
let evidence: Evidence;
const at = new Date();
// A package as readPackage reports it: what the measurement takes from it.
const pkg = {
  imageConfigDigest: `sha256:${createHash('sha256').update('image config').digest('hex')}`,
  appFiles: [{ path: 'app.py', sha256: createHash('sha256').update('app = object()\n').digest('hex'), size: 15 }],
};
const PACKAGE_APPLICATION = 'app:app';
const args: InputArgs = {
  subject: 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France',
  subjectAlternativeName: 'localhost',
  expirationDate: Math.floor(at.getTime() / 1000) + 86400,
  size: 2048,
  appId: '0f7e6f0e-5d1c-4b7a-9a57-3a5f1d6b2c11',
  application: PACKAGE_APPLICATION,
};

/** What `verify --package` expects of `e`: the package measured with e's input_args, mse.toml's entry point. */
function expectedByPackage(e: Evidence): ExpectedIdentity {
  return {
    mrenclave: simMrenclaveOfEvidence(pkg, e.inputArgs),
    inputArgsMeasured: true,
    application: PACKAGE_APPLICATION,
  };
}

const verify = (e: Evidence): EvidenceVerdict =>
  verifyEvidence({ evidence: e, expected: expectedByPackage(e), at, policy: { allowSimulation: true } });

const checkOf = (v: EvidenceVerdict, id: string) => v.checks.find((c) => c.id === id)!;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-evidence-binding-'));
  sim = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  const signerPk = (await loadOrCreateSignerKey(path.join(dir, 'signer.pem'))).publicKeyPem;
  evidence = makeSimEvidence({
    sim,
    mrEnclave: expectedByPackage({ inputArgs: args } as Evidence).mrenclave!,
    signerPk,
    inputArgs: args,
    now: at,
  });
});
after(() => fs.rm(dir, { recursive: true, force: true }));

describe('tcb_cert and the issuer chains: one source of truth, checked', () => {
  it('accepts consistent evidence, saying the chains were compared', () => {
    const v = verify(evidence);
    assert.deepEqual(v.failures, []);
    assert.equal(v.accepted, true);
    assert.equal(
      checkOf(v, 'collateral.tcb-cert').message,
      'same as tcb_info_issuer_chain and qe_identity_issuer_chain',
    );
  });

  it('refuses a tcb_cert replaced by another certificate (the chains would otherwise win silently)', () => {
    for (const other of [sim.pckCa.pem, sim.root.pem]) {
      const v = verify({ ...evidence, tcbCert: other });
      assert.equal(v.valid, false);
      assert.equal(v.accepted, false);
      const c = checkOf(v, 'collateral.tcb-cert');
      assert.equal(c.code, 'ERR_EVIDENCE_TCB_CERT_MISMATCH');
      assert.match(c.message!, /tcb_cert is not the signing certificate of tcb_info_issuer_chain/);
      // the appraisal itself, on the chains, still passes: the report says exactly what is wrong
      assert.deepEqual(
        v.failures.map((f) => f.code),
        ['ERR_EVIDENCE_TCB_CERT_MISMATCH'],
      );
    }
  });

  it('refuses a QE identity chain whose signing certificate is not tcb_cert, naming it', () => {
    const v = verify({ ...evidence, qeIdentityIssuerChain: sim.pckCa.pem + sim.root.pem });
    const c = checkOf(v, 'collateral.tcb-cert');
    assert.equal(c.status, 'fail');
    assert.match(c.message!, /qe_identity_issuer_chain/);
    assert.equal(v.accepted, false);
  });

  it('refuses a tcb_cert holding more than one certificate, or none readable', () => {
    for (const tcbCert of [
      sim.tcbSigning.pem + sim.root.pem,
      '-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n',
    ]) {
      const v = verify({ ...evidence, tcbCert });
      assert.equal(checkOf(v, 'collateral.tcb-cert').code, 'ERR_EVIDENCE_TCB_CERT_MISMATCH');
      assert.equal(v.valid, false);
    }
  });

  it('uses tcb_cert when the evidence has no issuer chains (MSE’s evidence), and then it must verify', () => {
    const mse: Evidence = { ...evidence };
    delete mse.tcbInfoIssuerChain;
    delete mse.qeIdentityIssuerChain;
    delete mse.pckCrlIssuerChain;
    const v = verify(mse);
    assert.deepEqual(v.failures, []);
    assert.equal(checkOf(v, 'collateral.tcb-cert').message, 'no issuer chains: tcb_cert is used');
    const replaced = verify({ ...mse, tcbCert: sim.pckCa.pem });
    assert.equal(replaced.valid, false);
    assert.ok(
      replaced.failures.some((f) => f.code === 'ERR_DCAP_TCB_INFO_SIGNING_CHAIN'),
      JSON.stringify(replaced.failures),
    );
  });
});

describe('input_args: no edit is ever accepted with the expectations of verify --package', () => {
  it('edits of each field, seeded and bounded, are all refused', () => {
    let seed = 8;
    const rand = (k: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    const pick = <T>(xs: T[]): T => xs[rand(xs.length)]!;
    const edits: ((a: InputArgs) => Partial<InputArgs>)[] = [
      (a) => ({ size: pick([1024, 4096, 8192, a.size * 2, 1]) }),
      (a) => ({ expirationDate: a.expirationDate! + pick([1, -1, 60, 86400, -86400]) }),
      () => ({ appId: pick(['0f7e6f0e-5d1c-4b7a-9a57-3a5f1d6b2c12', '00000000-0000-4000-8000-000000000000']) }),
      () => ({ application: pick(['wsgiref.simple_server:demo_app', 'app:application', 'app2:app', 'App:app']) }),
      () => ({ subjectAlternativeName: pick(['attacker.example', '127.0.0.1', 'localhost.']) }),
      () => ({ subject: pick(['CN=attacker', 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris', 'CN=localhost']) }),
    ];
    let tried = 0;
    for (let n = 0; n < 60; n++) {
      const change = pick(edits)(evidence.inputArgs);
      const inputArgs = { ...evidence.inputArgs, ...change };
      if (JSON.stringify(inputArgs) === JSON.stringify(evidence.inputArgs)) continue;
      tried++;
      const v = verify({ ...evidence, inputArgs });
      assert.equal(v.accepted, false, `accepted with ${JSON.stringify(change)}`);
      assert.ok(
        v.inputArgs.some((b) => b.status === 'mismatch'),
        `${JSON.stringify(change)}: a binding must say mismatch`,
      );
    }
    assert.ok(tried > 50);
  });

  it('an entry point measured consistently but not the package’s is refused by the identity check alone', () => {
    const evil = { ...args, application: 'wsgiref.simple_server:demo_app' };
    const signerPk = evidence.signerPk;
    const e = makeSimEvidence({
      sim,
      mrEnclave: expectedByPackage({ inputArgs: evil } as Evidence).mrenclave!,
      signerPk,
      inputArgs: evil,
      now: at,
    });
    const v = verify(e);
    assert.equal(v.valid, true, 'every cryptographic check passes');
    assert.deepEqual(
      v.failures.map((f) => [f.stage, f.code, f.policy]),
      [['identity', 'ERR_IDENTITY_APPLICATION_MISMATCH', true]],
    );
    assert.equal(checkOf(v, 'policy.mrenclave').status, 'pass');
  });
});
