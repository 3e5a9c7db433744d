/**
 * Attestation core: SGX DCAP quotes, collateral, appraisal, policy and evidence files. Verifying evidence
 * and the verdict report are `src/verify/`, a layer above (docs/architecture.md).
 */
export {
  appraise,
  CHECK_PLAN,
  quotePckChain,
  verifyAttestationKeyBinding,
  verifyPckChainSignatures,
  verifyQeReportSignature,
  verifyQuoteSignature,
  type AppraisalInput,
  type Check,
  type CheckStatus,
  type CollateralAge,
  type Failure,
  type PckChain,
  type Stage,
  type TrustAnchor,
  type Verdict,
} from './appraise.js';
export { clearAttestationCaches } from './bytes.js';
export {
  convergeTcbStatus,
  matchQeTcbLevel,
  matchTcbLevel,
  parseCollateralJson,
  parseEnclaveIdentity,
  parseTcbInfo,
  serializeCollateralJson,
  splitSignedBody,
  TCB_STATUSES,
  type Collateral,
  type EnclaveIdentity,
  type QeTcbStatus,
  type TcbInfo,
  type TcbLevel,
  type TcbStatus,
} from './collateral.js';
export { evidenceCollateral, parseEvidence, serializeEvidence, type Evidence, type InputArgs } from './evidence.js';
export { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from './intel-root.js';
export { checkSgxSignerKey, mrsignerFromPublicKey } from './mrsigner.js';
export { parsePckExtension, type PckExtension, type PckTcb } from './pck.js';
export { DEFAULT_POLICY, makePolicy, normalizeAdvisoryId, type Policy } from './policy.js';
export {
  parseQuote,
  parseReportBody,
  type CertificationData,
  type Header,
  type Quote,
  type ReportBody,
} from './quote.js';
export { parseCertificate, parseCrl, pemBlocks, toPem, type Certificate, type Crl } from './x509.js';
