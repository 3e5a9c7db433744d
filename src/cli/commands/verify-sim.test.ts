// `mse home verify` on evidence from the simulated platform (no Docker): rejected by default (root not
// Intel's), accepted with --allow-simulation or the sim root as --trusted-root, writing ratls.pem; every
// inconsistency (wrong MRENCLAVE, wrong signer key, wrong SAN) rejected without output.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeEvidence, parseEvidence, type Evidence } from '../../launch/evidence.js';
import { loadOrCreateSimPlatform, type SimPlatform } from '../../sim/platform.js';
import { runMse } from '../../testing/cli.js';
import { makeSimEvidence } from '../../testing/sim-evidence.js';
import { readVectorText } from '../../testing/vectors.js';

let dir: string;
let sim: SimPlatform;
let evidence: Evidence;
const mrEnclave = createHash('sha256').update('verify-sim enclave').digest();
const MRENCLAVE = mrEnclave.toString('hex');

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-verify-sim-'));
  sim = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  const now = new Date();
  evidence = makeSimEvidence({
    sim,
    mrEnclave,
    // The signer key of MSE's real evidence: its MRSIGNER is what the sim quote carries.
    signerPk: parseEvidence(readVectorText('mse', 'evidence.json')).signerPk,
    inputArgs: {
      subject: 'CN=app.example.com,O=Example,C=FR',
      san: 'app.example.com',
      expiration: Math.floor(now.getTime() / 1000) + 86400,
      size: 4096,
      appId: '63322f85-1ff8-4483-91ae-f18d7398d157',
      application: 'app:app',
    },
    now,
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, e: Evidence): string {
  const f = path.join(dir, name);
  writeFileSync(f, serializeEvidence(e));
  return f;
}

function outDir(): string {
  return mkdtempSync(path.join(dir, 'out-'));
}

describe('verify on simulated-platform evidence', () => {
  it('rejects it by default as untrusted (exit 11), pointing at --allow-simulation, and writes nothing', async () => {
    const out = outDir();
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      write('e.json', evidence),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      out,
    ]);
    assert.equal(r.code, 11, r.stderr);
    assert.match(r.stderr, /ERR_DCAP_PCK_CHAIN_UNTRUSTED/);
    assert.match(r.stderr, /--allow-simulation/);
    assert.equal(existsSync(path.join(out, 'ratls.pem')), false);
  });

  it('accepts it with --allow-simulation (loudly) and writes the certificate', async () => {
    const out = outDir();
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      write('e.json', evidence),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      out,
      '--allow-simulation',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: --allow-simulation/);
    const j = JSON.parse(r.stdout) as {
      ratlsCertificate: string;
      verdict: { simulated: boolean; tcbStatus: string; trustAnchor: { kind: string } };
    };
    assert.equal(j.verdict.simulated, true);
    assert.equal(j.verdict.trustAnchor.kind, 'simulation');
    assert.equal(j.verdict.tcbStatus, 'UpToDate');
    assert.equal(readFileSync(path.join(out, 'ratls.pem'), 'utf8').trim(), evidence.ratlsCertificate.trim());
  });

  it('accepts it with the sim root pinned as --trusted-root', async () => {
    const out = outDir();
    const root = path.join(dir, 'root.pem');
    writeFileSync(root, sim.root.pem);
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      write('e.json', evidence),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      out,
      '--trusted-root',
      root,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(out, 'ratls.pem')));
  });

  it('rejects a wrong MRENCLAVE by policy (exit 10) and inconsistent evidence as invalid (exit 11)', async () => {
    const wrong = await runMse([
      'home',
      'verify',
      '--evidence',
      write('e.json', evidence),
      '--mrenclave',
      '00'.repeat(32),
      '--output',
      outDir(),
      '--allow-simulation',
    ]);
    assert.equal(wrong.code, 10, wrong.stderr);
    assert.match(wrong.stderr, /ERR_POLICY_MRENCLAVE_MISMATCH/);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    const otherSigner = { ...evidence, signerPk: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    const signer = await runMse([
      'home',
      'verify',
      '--evidence',
      write('s.json', otherSigner),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      outDir(),
      '--allow-simulation',
    ]);
    assert.equal(signer.code, 11);
    assert.match(signer.stderr, /ERR_IDENTITY_SIGNER_KEY_MISMATCH/);
    const san = { ...evidence, inputArgs: { ...evidence.inputArgs, san: 'other.example.com' } };
    const s = await runMse([
      'home',
      'verify',
      '--evidence',
      write('n.json', san),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      outDir(),
      '--allow-simulation',
    ]);
    assert.equal(s.code, 11);
    assert.match(s.stderr, /ERR_RATLS_SAN_MISMATCH/);
  });

  // Issue 8 item 3: the quote's MRSIGNER is SHA-256 of the modulus only, so this evidence was ACCEPTED.
  it('refuses evidence whose signer_pk has the right modulus but e=5 (exit 11), and writes nothing', async () => {
    const n = createPublicKey(evidence.signerPk).export({ format: 'jwk' }).n!;
    const e5 = createPublicKey({ key: { kty: 'RSA', n, e: Buffer.from([5]).toString('base64url') }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const out = outDir();
    const r = await runMse([
      'home',
      'verify',
      '--evidence',
      write('e5.json', { ...evidence, signerPk: e5 }),
      '--mrenclave',
      MRENCLAVE,
      '--output',
      out,
      '--allow-simulation',
    ]);
    assert.equal(r.code, 11, r.stderr);
    assert.match(
      r.stderr,
      /ERR_SIGNER_KEY_EXPONENT: signer_pk is RSA-3072 with e=5; SGX enclave signing needs RSA-3072 with e=3/,
    );
    assert.equal(existsSync(path.join(out, 'ratls.pem')), false);
  });
});
