/**
 * Evidence as `spawn` collects it on the simulated platform, made in-process without Docker: a sim quote
 * for `mrEnclave` in a real RA-TLS certificate, with the platform's collateral. Tests only.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parseEvidence, type Evidence } from '../attestation/evidence.js';
import { mrsignerFromPublicKey } from '../attestation/mrsigner.js';
import { createRatlsCertificate, ratlsReportData } from '../ratls/certificate.js';
import type { InputArgs } from '../deploy/args.js';
import type { SimPlatform } from '../sim/platform.js';
import { readVectorText } from './vectors.js';

export const SIM_EVIDENCE_SUBJECT = 'CN=app.example.com,O=Example,C=FR';

/**
 * Sim evidence for `mrEnclave` (or for what `measure` computes from its input_args, e.g. a package's
 * measurement), collected `now`, valid for a day.
 */
export function simEvidence(
  sim: SimPlatform,
  mrEnclave: Uint8Array | ((args: InputArgs) => Uint8Array),
  now = new Date(),
): Evidence {
  const inputArgs = {
    subject: SIM_EVIDENCE_SUBJECT,
    subjectAlternativeName: 'app.example.com',
    expirationDate: Math.floor(now.getTime() / 1000) + 86400,
    size: 4096,
    appId: '63322f85-1ff8-4483-91ae-f18d7398d157',
    application: 'app:app',
  };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!;
  // The signer key of MSE's real evidence: its MRSIGNER is what the sim quote carries.
  const signerPk = parseEvidence(readVectorText('mse', 'evidence.json')).signerPk;
  const quote = sim.signQuote({
    mrEnclave:
      typeof mrEnclave === 'function'
        ? mrEnclave({
            size: inputArgs.size,
            subject: inputArgs.subject,
            san: inputArgs.subjectAlternativeName,
            appId: inputArgs.appId,
            application: inputArgs.application,
            expiration: inputArgs.expirationDate,
          })
        : mrEnclave,
    mrSigner: mrsignerFromPublicKey(signerPk),
    reportData: ratlsReportData(publicKey, new Uint8Array(Buffer.from(x25519, 'base64url'))),
    isvProdId: 0,
    isvSvn: 0,
  });
  const cert = createRatlsCertificate({
    privateKey,
    publicKey,
    quote,
    subject: SIM_EVIDENCE_SUBJECT,
    san: 'app.example.com',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 86400_000),
  });
  const c = sim.buildCollateral({ now });
  return {
    inputArgs,
    ratlsCertificate: cert.pem,
    rootCaCrl: c.rootCaCrlDer,
    pckCrl: c.pckCrlDer,
    tcbInfoBody: new Uint8Array(Buffer.from(c.tcbInfo.body)),
    qeIdentityBody: new Uint8Array(Buffer.from(c.qeIdentity.body)),
    tcbCert: sim.tcbSigning.pem,
    signerPk,
    platform: 'sim',
    collectedAt: now.toISOString(),
    pckCrlIssuerChain: c.pckCrlIssuerChainPem,
    tcbInfoIssuerChain: c.tcbInfoIssuerChainPem,
    qeIdentityIssuerChain: c.qeIdentityIssuerChainPem,
  };
}
