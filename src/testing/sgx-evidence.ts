/**
 * Honest TEST evidence for an SGX-shaped enclave on a machine without SGX: what `mse home evidence` would
 * write for an enclave measured to `mrenclave` and started with `args`, except that the quote is signed by
 * the simulated platform's quoting machinery (src/sim: a simulated PCK chain under the simulation root, not
 * Intel's). The evidence says `platform: "sgx"`, so `verify` accepts it only with `--allow-simulation`
 * and warns that its quote does not chain to Intel. Tests only.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Evidence } from '../attestation/evidence.js';
import { mrsignerFromPublicKey } from '../attestation/mrsigner.js';
import type { InputArgs } from '../deploy/args.js';
import { evidenceInputArgs } from '../deploy/evidence.js';
import { createRatlsCertificate, ratlsReportData } from '../ratls/certificate.js';
import type { SimPlatform } from '../sim/platform.js';
import { readVectorText } from './vectors.js';
import { parseEvidence } from '../attestation/evidence.js';

export interface SgxTestEvidenceInput {
  sim: SimPlatform;
  /** The MRENCLAVE the quote carries. */
  mrenclave: Uint8Array;
  args: InputArgs;
  /** The enclave's final manifest and argv, as `mse home evidence` includes them on sgx. */
  gramineManifest?: string;
  gramineArgv?: string[];
  now?: Date;
}

/** Evidence for `input`, its quote signed by the simulated quoting enclave (see the module comment). */
export function sgxTestEvidence(input: SgxTestEvidenceInput): Evidence {
  const now = input.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!;
  // An RSA-3072 e=3 operator key: that of MSE's real evidence (its MRSIGNER goes into the quote).
  const signerPk = parseEvidence(readVectorText('mse', 'evidence.json')).signerPk;
  const quote = input.sim.signQuote({
    mrEnclave: input.mrenclave,
    mrSigner: mrsignerFromPublicKey(signerPk),
    reportData: ratlsReportData(publicKey, new Uint8Array(Buffer.from(x25519, 'base64url'))),
    isvProdId: 0,
    isvSvn: 0,
  });
  const cert = createRatlsCertificate({
    privateKey,
    publicKey,
    quote,
    subject: input.args.subject,
    san: input.args.san,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(input.args.expiration * 1000),
  });
  const c = input.sim.buildCollateral({ now });
  return {
    inputArgs: evidenceInputArgs(input.args),
    ratlsCertificate: cert.pem,
    rootCaCrl: c.rootCaCrlDer,
    pckCrl: c.pckCrlDer,
    tcbInfoBody: new Uint8Array(Buffer.from(c.tcbInfo.body)),
    qeIdentityBody: new Uint8Array(Buffer.from(c.qeIdentity.body)),
    tcbCert: input.sim.tcbSigning.pem,
    signerPk,
    platform: 'sgx',
    collectedAt: now.toISOString(),
    pckCrlIssuerChain: c.pckCrlIssuerChainPem,
    tcbInfoIssuerChain: c.tcbInfoIssuerChainPem,
    qeIdentityIssuerChain: c.qeIdentityIssuerChainPem,
    ...(input.gramineManifest !== undefined ? { gramineManifest: input.gramineManifest } : {}),
    ...(input.gramineArgv !== undefined ? { gramineArgv: input.gramineArgv } : {}),
  };
}
