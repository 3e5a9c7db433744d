/**
 * Evidence of a simulated enclave made in-process, without Docker: a real quote signed by a real simulated
 * platform for the given MRENCLAVE, a real RA-TLS certificate binding a fresh key to it, and the platform's
 * real collateral, in `evidence.json`'s shape. What `spawn` + `evidence` produce, minus the container.
 * Tests only.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Evidence, InputArgs } from '../attestation/evidence.js';
import { mrsignerFromPublicKey } from '../attestation/mrsigner.js';
import { createRatlsCertificate } from '../ratls/certificate.js';
import { ratlsReportData } from '../ratls/format.js';
import type { SimPlatform } from '../sim/platform.js';

export interface SimEvidenceInput {
  sim: SimPlatform;
  mrEnclave: Uint8Array;
  /** PEM public key of the enclave signer (MRSIGNER is derived from it). */
  signerPk: string;
  /** input_args; the certificate's subject, SAN and notAfter are taken from them. */
  inputArgs: InputArgs;
  now?: Date;
}

/** Build consistent evidence of a simulated enclave (see the module comment). */
export function makeSimEvidence(input: SimEvidenceInput): Evidence {
  const { sim, inputArgs: a } = input;
  const now = input.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!;
  const quote = sim.signQuote({
    mrEnclave: input.mrEnclave,
    mrSigner: mrsignerFromPublicKey(input.signerPk),
    reportData: ratlsReportData(publicKey, new Uint8Array(Buffer.from(x25519, 'base64url'))),
    isvProdId: 0,
    isvSvn: 0,
  });
  const cert = createRatlsCertificate({
    privateKey,
    publicKey,
    quote,
    subject: a.subject,
    san: a.subjectAlternativeName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date((a.expirationDate ?? Math.floor(now.getTime() / 1000) + 86400) * 1000),
  });
  const c = sim.buildCollateral({ now });
  return {
    inputArgs: a,
    ratlsCertificate: cert.pem,
    rootCaCrl: c.rootCaCrlDer,
    pckCrl: c.pckCrlDer,
    tcbInfoBody: new Uint8Array(Buffer.from(c.tcbInfo.body)),
    qeIdentityBody: new Uint8Array(Buffer.from(c.qeIdentity.body)),
    tcbCert: input.sim.tcbSigning.pem,
    signerPk: input.signerPk,
    platform: 'sim',
    collectedAt: now.toISOString(),
    pckCrlIssuerChain: c.pckCrlIssuerChainPem,
    tcbInfoIssuerChain: c.tcbInfoIssuerChainPem,
    qeIdentityIssuerChain: c.qeIdentityIssuerChainPem,
  };
}
