/**
 * Collecting a deployment's evidence (`evidence.json`): the RA-TLS certificate the enclave presents,
 * checked for self-consistency, plus the DCAP collateral for its quote from a PCCS, plus the signer's
 * public key. Nothing here decides trust: `verify` does, on the provider's side, from this file alone.
 */
import { quotePckChain } from '../attestation/appraise.js';
import { toHex } from '../attestation/bytes.js';
import type { Evidence } from '../attestation/evidence.js';
import { parseQuote } from '../attestation/quote.js';
import { PccsClient } from '../pccs/client.js';
import { DEFAULT_QCNL_CONF, pccsTarget, readQcnlConfig, type PccsTarget } from '../pccs/config.js';
import { checkRatlsBinding, readRatlsCertificate } from '../ratls/read.js';
import type { InputArgs } from '../launch/args.js';
import type { Platform } from '../launch/layout.js';
import { fetchPresentedCertificate, type EnclaveEndpoint } from './enclave-client.js';
import { isMseError, NetworkError, UsageError } from '../errors.js';

export interface CollectEvidenceInput {
  endpoint: EnclaveEndpoint;
  args: InputArgs;
  platform: Platform;
  /** PCCS base URL (sim: the simulated PCCS). */
  pccsUrl: string;
  /** Verify the PCCS's TLS certificate (default true; the QCNL file's `use_secure_cert` may say false). */
  pccsSecureCert?: boolean;
  /** The operator's signer public key, SubjectPublicKeyInfo PEM. */
  signerPublicKeyPem: string;
  /** sgx: the enclave's final Gramine manifest text and its argv (the args file), for `verify`'s diff. */
  gramine?: { manifest: string; argv: string[] };
  now?: Date;
}

/** Fetch the enclave's certificate and the collateral; returns the evidence and the certificate PEM. */
export async function collectEvidence(input: CollectEvidenceInput): Promise<{ evidence: Evidence; ratlsPem: string }> {
  const der = await fetchPresentedCertificate(input.endpoint);
  const cert = readRatlsCertificate(der);
  checkRatlsBinding(cert, { at: input.now ?? new Date() });
  const quote = parseQuote(cert.quote);
  const chain = quotePckChain(quote);
  if (!chain.caType) {
    throw new NetworkError('ERR_PCK_CA_TYPE', 'cannot tell the PCK CA type (processor or platform) from the quote');
  }
  const pccs = new PccsClient({ url: input.pccsUrl, timeoutMs: 30_000, secureCert: input.pccsSecureCert ?? true });
  const [rootCaCrl, pck, tcb, qe] = await Promise.all([
    pccs.getRootCaCrl(),
    pccs.getPckCrl(chain.caType),
    pccs.getTcbInfo(toHex(chain.extension.fmspc)),
    pccs.getQeIdentity(),
  ]);
  const tcbCert = firstPem(tcb.issuerChain);
  const evidence: Evidence = {
    inputArgs: evidenceInputArgs(input.args),
    ratlsCertificate: cert.pem,
    rootCaCrl,
    pckCrl: pck.crl,
    tcbInfoBody: tcb.body,
    qeIdentityBody: qe.body,
    tcbCert,
    signerPk: input.signerPublicKeyPem,
    platform: input.platform,
    collectedAt: (input.now ?? new Date()).toISOString(),
    pckCrlIssuerChain: pck.issuerChain,
    tcbInfoIssuerChain: tcb.issuerChain,
    qeIdentityIssuerChain: qe.issuerChain,
    ...(input.gramine ? { gramineManifest: input.gramine.manifest, gramineArgv: input.gramine.argv } : {}),
  };
  return { evidence, ratlsPem: cert.pem };
}

/**
 * Where an sgx deployment's evidence gets its collateral (`spawn` and `evidence` alike): `--pccs` (its TLS
 * certificate verified), else the operator's QCNL configuration (`collateral_service`, else `pccs_url`,
 * with its `use_secure_cert` setting, as the quote provider reads it; see {@link pccsTarget}). Throws
 * `ERR_MISSING_OPTION` when neither names a PCCS, and the QCNL reader's errors for a malformed file.
 */
export async function sgxCollateralSource(flag: string | undefined, qcnlFile = DEFAULT_QCNL_CONF): Promise<PccsTarget> {
  let qcnl;
  if (!flag) {
    try {
      qcnl = await readQcnlConfig(qcnlFile);
    } catch (error) {
      if (!(isMseError(error) && error.code === 'ERR_FILE_NOT_FOUND')) throw error;
    }
  }
  const target = pccsTarget(flag, qcnl, 'collateral');
  if (!target) {
    throw new UsageError('ERR_MISSING_OPTION', `no PCCS for the collateral: no --pccs, and ${qcnlFile} names none`, {
      hint: `Pass --pccs URL, or set "pccs_url" in ${qcnlFile} (mse home doctor checks it).`,
    });
  }
  return target;
}

/** The spawn arguments in `evidence.json`'s form. */
export function evidenceInputArgs(a: InputArgs): Evidence['inputArgs'] {
  return {
    subject: a.subject,
    subjectAlternativeName: a.san,
    expirationDate: a.expiration,
    size: a.size,
    appId: a.appId,
    application: a.application,
  };
}

/** The first certificate of a PEM chain. */
function firstPem(chain: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chain);
  if (!m) throw new NetworkError('ERR_PCCS_RESPONSE', 'the TCB info issuer chain holds no certificate');
  return m[0] + '\n';
}
