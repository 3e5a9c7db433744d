/**
 * Full offline DCAP appraisal of an SGX quote: Intel QVL's order of checks, plus what Intel leaves to the
 * relying party, as one pure function of (quote, collateral, policy, time, extra roots) → {@link Verdict}.
 *
 * Structure: a fixed plan of checks (see {@link CHECK_PLAN} and docs/verification.md). Structural,
 * signature and revocation checks are terminal: the first failure stops the cryptographic flow and the
 * remaining checks are reported as skipped. Time-validity checks are recorded without stopping, so a
 * report on stale collateral still says whether every signature verifies. Policy checks run on whatever
 * the quote revealed, but only a valid verdict can be accepted.
 *
 * Speed: parses and signature checks over collateral and certificate chains are memoised by content
 * (x509.ts), so repeat appraisals redo only the per-quote work (QE report signature, key binding, quote
 * signature) and the cheap time and policy checks.
 */
import { AttestationError, isMseError } from '../errors.js';
import { bytesEqual, registerCache, registerMemo, sha256, toHex } from './bytes.js';
import {
  convergeTcbStatus,
  matchQeTcbLevel,
  matchTcbLevel,
  parseEnclaveIdentity,
  parseTcbInfo,
  type Collateral,
  type EnclaveIdentity,
  type QeTcbStatus,
  type TcbInfo,
  type TcbStatus,
} from './collateral.js';
import { formatDuration } from '../base/duration.js';
import { bytesOf } from './frozen.js';
import { INTEL_SGX_ROOT_CA_DER } from './intel-root.js';
import { parsePckExtension, type PckExtension } from './pck.js';
import { makePolicy, TCB_STATUS_EXPLANATIONS, type Policy } from './policy.js';
import { CERT_TYPE_PCK_CHAIN, INTEL_QE_VENDOR_ID, parseQuote, type Quote } from './quote.js';
import {
  KEY_USAGE,
  OID,
  parseCertificate,
  parseCrl,
  pemBlocks,
  publicKeyFromRawP256,
  verifySignedBy,
  verifyP1363,
  verifyP1363WithCert,
  type Certificate,
  type Crl,
} from './x509.js';

export type Stage =
  'quote' | 'collateral' | 'pck-chain' | 'crl' | 'tcb-info' | 'qe-identity' | 'tcb' | 'policy' | 'ratls' | 'identity';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** One line of the verdict report. */
export interface Check {
  id: string;
  stage: Stage;
  title: string;
  status: CheckStatus;
  /** Set for fail and warn. */
  code?: string;
  message?: string;
  hint?: string;
  /** A policy check (failure means "valid but rejected"). */
  policy: boolean;
}

export interface Failure {
  stage: Stage;
  code: string;
  message: string;
  hint: string;
  policy: boolean;
}

export interface TrustAnchor {
  /** intel: the pinned Intel SGX Root CA; extra: a root passed by the caller; simulation: the chain's own root. */
  kind: 'intel' | 'extra' | 'simulation';
  subject: string;
  sha256: string;
}

/** The outcome of an appraisal. JSON-serializable as is. */
export interface Verdict {
  /** Every structural, cryptographic, revocation and collateral check passed. */
  valid: boolean;
  /** Valid and the policy passed. */
  accepted: boolean;
  /** Final TCB status (platform level converged with the QE level), null when not determined. */
  tcbStatus: TcbStatus | null;
  platformTcbStatus: TcbStatus | null;
  qeTcbStatus: QeTcbStatus | null;
  /** Union of the platform and QE levels' advisory IDs, sorted. */
  advisoryIds: string[];
  debug: boolean | null;
  mrenclave: string | null;
  mrsigner: string | null;
  isvProdId: number | null;
  isvSvn: number | null;
  /** 64 bytes, hex. */
  reportData: string | null;
  quoteVersion: number | null;
  fmspc: string | null;
  pceId: string | null;
  /** processor or platform, from the PCK intermediate CA's name. */
  pckCaType: 'processor' | 'platform' | null;
  tcbEvaluationDataNumber: number | null;
  /** tcbDate of the matched platform TCB level. */
  tcbDate: string | null;
  trustAnchor: TrustAnchor | null;
  /** The chain roots in something other than Intel's root. */
  simulated: boolean;
  /** Some item had expired at the verification time and was tolerated (policy.expiredCollateralToleranceSeconds). */
  collateralExpired: boolean;
  /** Latest start and earliest end of every dated item seen (strict semantics). */
  collateralWindow: { from: string; until: string } | null;
  /** How old the collateral is at the verification time; null when no dated item was read. */
  collateralAge: CollateralAge | null;
  /** Verification time, ISO 8601. */
  at: string;
  timeSemantics: 'strict' | 'intel';
  checks: Check[];
  failures: Failure[];
  warnings: string[];
}

/**
 * The age of the collateral at the verification time, in seconds (docs/verification.md). Dated items: the
 * PCK chain, the collateral's issuer chains, both CRLs, the TCB info and the QE identity.
 */
export interface CollateralAge {
  /**
   * When the TCB info (it decides the TCB status and advisories) was issued, and its age at the
   * verification time (negative when issued after it); null when it was not read.
   */
  tcbInfo: { issued: string; seconds: number } | null;
  /** The same for the QE identity. */
  qeIdentity: { issued: string; seconds: number } | null;
  /** The item expired the longest before the verification time (notAfter / nextUpdate); null when none. */
  expired: { item: string; expiry: string; seconds: number } | null;
  /** How long an item may have expired and still be accepted (policy); 0 = not at all. */
  toleranceSeconds: number;
}

export interface AppraisalInput {
  /** Raw quote bytes, or an already parsed quote. */
  quote: Uint8Array | Quote;
  collateral: Collateral;
  policy?: Partial<Policy>;
  /** Verification time (explicit: appraisal never reads the clock). */
  at: Date;
  /** Extra trusted root certificates (DER), e.g. a test root. */
  trustedRoots?: Uint8Array[];
  /** Trust the pinned Intel SGX Root CA (default true; false only to test other anchors). */
  trustIntelRoot?: boolean;
}

interface PlanEntry {
  id: string;
  stage: Stage;
  title: string;
  policy?: boolean;
}

/** Every check, in the order it runs. */
export const CHECK_PLAN: readonly PlanEntry[] = [
  { id: 'quote.parse', stage: 'quote', title: 'Quote structure (version, key type, lengths)' },
  { id: 'quote.qe-vendor', stage: 'quote', title: 'Quoting enclave vendor is Intel' },
  { id: 'quote.certification-data', stage: 'quote', title: 'Certification data is a PCK certificate chain' },
  { id: 'pck-chain.parse', stage: 'pck-chain', title: 'PCK chain: 3 certificates, names, SGX extension' },
  { id: 'pck-chain.root', stage: 'pck-chain', title: 'PCK chain root is a trusted root' },
  { id: 'pck-chain.signatures', stage: 'pck-chain', title: 'PCK chain issuers and signatures' },
  { id: 'collateral.parse', stage: 'collateral', title: 'Collateral certificates and CRLs are well-formed' },
  { id: 'crl.root', stage: 'crl', title: 'Root CA CRL issued and signed by the root' },
  { id: 'crl.pck', stage: 'crl', title: 'PCK CRL issued and signed by the PCK CA' },
  { id: 'pck-chain.revocation', stage: 'pck-chain', title: 'PCK CA and PCK certificate not revoked' },
  { id: 'pck-chain.validity', stage: 'pck-chain', title: 'PCK chain valid at verification time' },
  { id: 'crl.validity', stage: 'crl', title: 'CRLs current at verification time' },
  { id: 'tcb-info.chain', stage: 'tcb-info', title: 'TCB signing chain roots in the trusted root' },
  { id: 'tcb-info.revocation', stage: 'tcb-info', title: 'TCB signing certificate not revoked' },
  { id: 'tcb-info.signature', stage: 'tcb-info', title: 'TCB info signature over the exact bytes' },
  { id: 'tcb-info.parse', stage: 'tcb-info', title: 'TCB info structure (v2/v3)' },
  { id: 'tcb-info.validity', stage: 'tcb-info', title: 'TCB info valid at verification time' },
  { id: 'qe-identity.chain', stage: 'qe-identity', title: 'QE identity signing chain roots in the trusted root' },
  { id: 'qe-identity.revocation', stage: 'qe-identity', title: 'QE identity signing certificate not revoked' },
  { id: 'qe-identity.signature', stage: 'qe-identity', title: 'QE identity signature over the exact bytes' },
  { id: 'qe-identity.parse', stage: 'qe-identity', title: 'QE identity structure (v2)' },
  { id: 'qe-identity.validity', stage: 'qe-identity', title: 'QE identity valid at verification time' },
  { id: 'tcb-info.match', stage: 'tcb-info', title: 'TCB info is for this platform (SGX, FMSPC, PCEID)' },
  { id: 'quote.qe-report-signature', stage: 'quote', title: 'QE report signed by the PCK key' },
  { id: 'quote.attestation-key', stage: 'quote', title: 'Attestation key bound to the QE report' },
  { id: 'qe-identity.match', stage: 'qe-identity', title: 'QE report matches the QE identity' },
  { id: 'qe-identity.tcb', stage: 'qe-identity', title: 'QE TCB level' },
  { id: 'quote.signature', stage: 'quote', title: 'Quote signed by the attestation key' },
  { id: 'tcb.level', stage: 'tcb', title: 'Platform TCB level and status' },
  { id: 'policy.trust-anchor', stage: 'policy', title: 'Trust anchor is Intel', policy: true },
  { id: 'policy.debug', stage: 'policy', title: 'Enclave is not in debug mode', policy: true },
  { id: 'policy.mrenclave', stage: 'policy', title: 'MRENCLAVE as expected', policy: true },
  { id: 'policy.mrsigner', stage: 'policy', title: 'MRSIGNER as expected', policy: true },
  { id: 'policy.isvprodid', stage: 'policy', title: 'ISV product ID as expected', policy: true },
  { id: 'policy.isvsvn', stage: 'policy', title: 'ISV SVN at least the minimum', policy: true },
  {
    id: 'policy.tcb-eval-num',
    stage: 'policy',
    title: 'TCB evaluation data number at least the minimum',
    policy: true,
  },
  { id: 'policy.tcb-status', stage: 'policy', title: 'TCB status accepted', policy: true },
  { id: 'policy.advisories', stage: 'policy', title: 'Advisory IDs allowed', policy: true },
];

const PLAN_BY_ID = new Map(CHECK_PLAN.map((p) => [p.id, p]));

/** A problem found by a check. */
interface Problem {
  code: string;
  message: string;
  hint: string;
}

class Halt {}

/** Records check outcomes in plan order. */
class Recorder {
  readonly results = new Map<string, Check>();
  warnings: string[] = [];

  private put(id: string, status: CheckStatus, message?: string, pr?: Problem): void {
    const p = PLAN_BY_ID.get(id);
    if (!p) throw new Error(`unknown check ${id}`);
    const c: Check = { id, stage: p.stage, title: p.title, status, policy: p.policy === true };
    if (pr) {
      c.code = pr.code;
      c.message = pr.message;
      c.hint = pr.hint;
    } else if (message !== undefined) c.message = message;
    this.results.set(id, c);
  }

  pass(id: string, message?: string): void {
    this.put(id, 'pass', message);
  }

  problem(id: string, status: 'fail' | 'warn', pr: Problem): void {
    this.put(id, status, undefined, pr);
  }

  skip(id: string, message: string): void {
    this.put(id, 'skip', message);
  }

  /** Run a terminal check: an AttestationError fails it and halts the cryptographic flow. */
  run<T>(id: string, fn: () => T): T {
    try {
      const r = fn();
      if (!this.results.has(id)) this.pass(id);
      return r;
    } catch (error) {
      this.problem(id, 'fail', toProblem(error));
      throw new Halt();
    }
  }

  /**
   * Record a non-terminal check from its problems: pass when there are none, warn when every one is
   * tolerated, fail otherwise (the code is the first untolerated problem's; messages are joined).
   */
  nonTerminal(id: string, problems: (Problem & { tolerated: boolean })[]): void {
    if (problems.length === 0) return this.pass(id);
    const failing = problems.filter((p) => !p.tolerated);
    const lead = failing[0] ?? problems[0]!;
    const merged: Problem = {
      code: lead.code,
      message: problems.map((p) => p.message).join('; '),
      hint: lead.hint,
    };
    this.problem(id, failing.length ? 'fail' : 'warn', merged);
  }

  checks(haltReason: string): Check[] {
    return CHECK_PLAN.map(
      (p) =>
        this.results.get(p.id) ?? {
          id: p.id,
          stage: p.stage,
          title: p.title,
          status: 'skip' as const,
          policy: p.policy === true,
          message: haltReason,
        },
    );
  }
}

function toProblem(error: unknown): Problem {
  if (isMseError(error)) return { code: error.code, message: error.message, hint: error.hint };
  // A bug in the verifier must not look like a verdict about the evidence; it still fails closed.
  return {
    code: 'ERR_VERIFIER_INTERNAL',
    message: `internal verifier error: ${(error as Error)?.message ?? String(error)}`,
    hint: 'This is a bug in mse-home; please report it with the evidence that triggered it.',
  };
}

function fail(stage: Stage, code: string, message: string, hint: string): never {
  throw new AttestationError(stage, code, message, { hint });
}

const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

const chainCache = registerCache<Uint8Array[]>(128);
const tcbInfoMemo = registerMemo<TcbInfo>(64);
const identityMemo = registerMemo<EnclaveIdentity>(64);
const pckExtCache = new WeakMap<Certificate, PckExtension>();

function parseChain(pem: string, what: string, stage: Stage, code: string): Certificate[] {
  let ders = chainCache.get(pem);
  if (!ders) {
    ders = pemBlocks(pem, 'CERTIFICATE', { stage, code, what });
    chainCache.set(pem, ders);
  }
  return ders.map((d, i) => parseCertificate(d, { stage, code, what: `${what} certificate ${i + 1}` }));
}

const CRITICAL_OK = new Set<string>([OID.basicConstraints, OID.keyUsage]);

/** Issuer linkage, CA flags, key usage and signature of `cert` by `issuer`. */
function checkIssued(
  cert: Certificate,
  issuer: Certificate,
  certName: string,
  issuerName: string,
  stage: Stage,
  code: string,
): void {
  if (!bytesEqual(bytesOf(cert.issuer).der, bytesOf(issuer.subject).der)) {
    fail(
      stage,
      code,
      `${certName} issuer "${cert.issuer.text}" is not ${issuerName} "${issuer.subject.text}"`,
      'The chain is not linked: certificates from different chains were mixed.',
    );
  }
  if (!issuer.isCa)
    fail(
      stage,
      code,
      `${issuerName} "${issuer.subject.text}" is not a CA certificate`,
      'Only CA certificates may issue certificates.',
    );
  if (issuer.keyUsage !== undefined && !(issuer.keyUsage & KEY_USAGE.keyCertSign)) {
    fail(
      stage,
      code,
      `${issuerName} "${issuer.subject.text}" may not sign certificates (keyUsage)`,
      'The issuer’s key usage forbids certificate signing.',
    );
  }
  if (!bytesOf(issuer).publicKeyPoint)
    fail(stage, code, `${issuerName} does not have a P-256 key`, 'SGX DCAP chains use ECDSA P-256 throughout.');
  if (!verifySignedBy(cert, issuer)) {
    fail(
      stage,
      code,
      `${certName} signature does not verify with the key of ${issuerName} "${issuer.subject.text}"`,
      'The certificate was altered or was not issued by this CA.',
    );
  }
  for (const c of [cert, issuer]) {
    for (const e of c.extensions) {
      if (e.critical && !CRITICAL_OK.has(e.oid)) {
        fail(
          stage,
          code,
          `"${c.subject.text}" has an unsupported critical extension ${e.oid}`,
          'A certificate with an unknown critical extension must be rejected.',
        );
      }
    }
  }
}

function checkSelfSigned(root: Certificate, what: string, stage: Stage, code: string): void {
  if (!bytesEqual(bytesOf(root.issuer).der, bytesOf(root.subject).der))
    fail(
      stage,
      code,
      `${what} "${root.subject.text}" is not self-signed`,
      'A trust anchor must be a self-signed root CA.',
    );
  checkIssued(root, root, what, what, stage, code);
}

function checkCrlIssued(
  crl: Crl,
  issuer: Certificate,
  crlName: string,
  issuerName: string,
  stage: Stage,
  code: string,
): void {
  if (!bytesEqual(bytesOf(crl.issuer).der, bytesOf(issuer.subject).der)) {
    fail(
      stage,
      code,
      `${crlName} is issued by "${crl.issuer.text}", not by ${issuerName} "${issuer.subject.text}"`,
      `Pass the CRL of ${issuerName}; a CRL from another CA says nothing about this certificate.`,
    );
  }
  if (issuer.keyUsage !== undefined && !(issuer.keyUsage & KEY_USAGE.cRLSign)) {
    fail(stage, code, `${issuerName} may not sign CRLs (keyUsage)`, 'The issuer’s key usage forbids CRL signing.');
  }
  if (!verifySignedBy(crl, issuer)) {
    fail(
      stage,
      code,
      `${crlName} signature does not verify with the key of ${issuerName}`,
      'The CRL was altered or was not issued by this CA; fetch it again.',
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Building blocks (each throws AttestationError; appraise() runs them in order)

/** The quote's PCK chain: parsed certificates, their names checked, the leaf's SGX extension. */
export interface PckChain {
  leaf: Certificate;
  intermediate: Certificate;
  root: Certificate;
  extension: PckExtension;
  /** From the intermediate CA's common name. */
  caType: 'processor' | 'platform' | null;
}

/**
 * Parse the PCK chain embedded in a quote (certification data type 5). The certificates and the extension
 * are shared with every other parse of the same bytes, so everything returned is deeply immutable.
 */
export function quotePckChain(q: Quote): PckChain {
  if (q.pckChainPem === null) {
    fail(
      'quote',
      'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
      `quote certification data type is ${q.certificationData.type}, not 5 (PCK certificate chain)`,
      'The quote does not embed its PCK certificate chain.',
    );
  }
  const certs = parseChain(q.pckChainPem, 'quote PCK chain', 'pck-chain', 'ERR_DCAP_PCK_CHAIN_FORMAT');
  if (certs.length !== 3) {
    fail(
      'pck-chain',
      'ERR_DCAP_PCK_CHAIN_FORMAT',
      `quote PCK chain has ${certs.length} certificates, expected 3 (PCK, PCK CA, root)`,
      'The quote’s certification data must hold the full chain.',
    );
  }
  const [leaf, intermediate, root] = certs as [Certificate, Certificate, Certificate];
  const names: [Certificate, string, string][] = [
    [leaf, 'SGX PCK Certificate', 'PCK leaf certificate'],
    [intermediate, 'CA', 'PCK intermediate certificate'],
    [root, 'SGX Root CA', 'PCK chain root certificate'],
  ];
  for (const [c, needle, what] of names) {
    if (!c.subject.commonName?.includes(needle)) {
      fail(
        'pck-chain',
        'ERR_DCAP_PCK_CHAIN_FORMAT',
        `${what} common name "${c.subject.commonName ?? ''}" does not contain "${needle}"`,
        'The certificates are not an SGX PCK chain in the expected order (leaf, CA, root).',
      );
    }
  }
  let extension = pckExtCache.get(leaf);
  if (!extension) {
    extension = parsePckExtension(leaf);
    pckExtCache.set(leaf, extension);
  }
  const cn = intermediate.subject.commonName ?? '';
  const caType = /platform/i.test(cn) ? 'platform' : /processor/i.test(cn) ? 'processor' : null;
  return Object.freeze({ leaf, intermediate, root, extension, caType });
}

/** Root → PCK CA → PCK leaf: issuer names, CA flags, key usages and signatures. */
export function verifyPckChainSignatures(leaf: Certificate, intermediate: Certificate, root: Certificate): void {
  checkIssued(
    intermediate,
    root,
    'PCK intermediate certificate',
    'the root CA',
    'pck-chain',
    'ERR_DCAP_PCK_INVALID_ISSUER',
  );
  checkIssued(leaf, intermediate, 'PCK leaf certificate', 'the PCK CA', 'pck-chain', 'ERR_DCAP_PCK_INVALID_ISSUER');
  if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE.digitalSignature)) {
    fail(
      'pck-chain',
      'ERR_DCAP_PCK_INVALID_ISSUER',
      'PCK leaf certificate may not make digital signatures (keyUsage)',
      'The PCK certificate cannot sign QE reports.',
    );
  }
}

/** The QE report is signed by the PCK leaf's key (ERR_DCAP_QE_REPORT_SIGNATURE). */
export function verifyQeReportSignature(q: Quote, pckLeaf: Certificate): void {
  if (!verifyP1363WithCert(q.qeReport.raw, q.qeReportSignature, pckLeaf, false)) {
    fail(
      'quote',
      'ERR_DCAP_QE_REPORT_SIGNATURE',
      'QE report signature does not verify with the PCK certificate’s key',
      'The quote was altered, or its QE report was not signed by this platform.',
    );
  }
}

/** QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes (ERR_DCAP_QE_REPORT_DATA). */
export function verifyAttestationKeyBinding(q: Quote): void {
  const expected = sha256(q.attestationKey, q.qeAuthData);
  const rd = q.qeReport.reportData;
  if (!bytesEqual(rd.subarray(0, 32), expected)) {
    fail(
      'quote',
      'ERR_DCAP_QE_REPORT_DATA',
      'QE report data is not SHA-256(attestation key ‖ QE authentication data): the attestation key is not bound to the QE',
      'The quote’s attestation key or QE authentication data was altered.',
    );
  }
  if (!rd.subarray(32).every((b) => b === 0)) {
    fail(
      'quote',
      'ERR_DCAP_QE_REPORT_DATA',
      'QE report data bytes 32..63 are not zero',
      'Intel’s QE always zero-pads the key hash; the QE report is not canonical.',
    );
  }
}

/** The header and enclave report are signed by the attestation key (ERR_DCAP_QUOTE_SIGNATURE). */
export function verifyQuoteSignature(q: Quote): void {
  const key = publicKeyFromRawP256(q.attestationKey, 'quote', 'ERR_DCAP_QUOTE_SIGNATURE', 'quote attestation key');
  if (!verifyP1363(q.signedRegion, q.signature, key)) {
    fail(
      'quote',
      'ERR_DCAP_QUOTE_SIGNATURE',
      'quote signature does not verify with the attestation key over the header and enclave report',
      'The quote was altered after the quoting enclave signed it (e.g. report data, attributes or measurements changed).',
    );
  }
}

interface Dated {
  what: string;
  from: Date;
  until: Date;
  /** What the start date is called (notBefore, thisUpdate, issueDate). */
  fromName: string;
  untilName: string;
  /** Checked even with Intel semantics (CRL thisUpdate). */
  fromAlwaysChecked: boolean;
  codes: { expired: string; early: string };
}

const PCK_CHAIN_CODES = { expired: 'ERR_DCAP_PCK_CHAIN_EXPIRED', early: 'ERR_DCAP_PCK_CHAIN_NOT_YET_VALID' };
const CRL_CODES = { expired: 'ERR_DCAP_CRL_EXPIRED', early: 'ERR_DCAP_CRL_NOT_YET_VALID' };
const SIGNING_CERT_CODES = {
  expired: 'ERR_DCAP_TCB_SIGNING_CERT_EXPIRED',
  early: 'ERR_DCAP_TCB_SIGNING_CERT_NOT_YET_VALID',
};

function certDates(c: Certificate, what: string, codes: Dated['codes']): Dated {
  return {
    what,
    from: c.notBefore,
    until: c.notAfter,
    fromName: 'notBefore',
    untilName: 'notAfter',
    fromAlwaysChecked: false,
    codes,
  };
}

/**
 * Appraise a quote against collateral and policy at time `at`. Pure: no I/O, no clock; never throws for bad
 * evidence (every problem is a failed check in the verdict).
 */
export function appraise(input: AppraisalInput): Verdict {
  const policy = makePolicy(input.policy);
  const at = input.at;
  const atMs = at.getTime();
  const strict = !policy.ignoreIssueDates;
  const r = new Recorder();
  const dated: Dated[] = [];

  let quote: Quote | undefined;
  let ext: PckExtension | undefined;
  let caType: 'processor' | 'platform' | null = null;
  let anchor: TrustAnchor | undefined;
  let tcbInfo: TcbInfo | undefined;
  let identity: EnclaveIdentity | undefined;
  let platformStatus: TcbStatus | undefined;
  let platformAdvisories: string[] = [];
  let platformTcbDate: string | null = null;
  let qeStatus: QeTcbStatus | undefined;
  let qeAdvisories: string[] = [];
  let tcbStatus: TcbStatus | undefined;
  let collateralExpired = false;
  let completed = false;
  let haltReason = 'not run: an earlier check failed';

  const tolerance = policy.expiredCollateralToleranceSeconds;
  const toleranceText = formatDuration(tolerance);
  // Expiry within the tolerance is a warning; beyond it, and any not-yet-valid item, a failure.
  const timeCheck = (id: string, items: Dated[]): void => {
    const problems: (Problem & { tolerated: boolean })[] = [];
    for (const d of items) {
      if (atMs > d.until.getTime()) {
        const by = (atMs - d.until.getTime()) / 1000;
        const tolerated = by <= tolerance;
        const when = `${d.untilName} ${iso(d.until)}, ${formatDuration(by)} before the verification time ${iso(at)}`;
        problems.push({
          code: d.codes.expired,
          tolerated,
          message: tolerated
            ? `${d.what} expired (${when}): within the tolerated ${toleranceText}`
            : `${d.what} expired (${when})${tolerance ? `: beyond the tolerated ${toleranceText}` : ''}`,
          hint: tolerated
            ? 'Tolerated by --allow-expired-collateral; fetch fresh collateral (PCCS) to verify without it.'
            : `Fetch fresh collateral (PCCS) and verify again, or verify at an earlier --at time. Accepting it would take --allow-expired-collateral ${formatDuration(Math.ceil(by / 86400) * 86400)}: only if what Intel published since does not matter to you.`,
        });
      } else if ((strict || d.fromAlwaysChecked) && atMs < d.from.getTime()) {
        problems.push({
          code: d.codes.early,
          tolerated: false,
          message: `${d.what} is not yet valid: ${d.fromName} ${iso(d.from)} is after the verification time ${iso(at)}`,
          hint:
            d.fromName === 'issueDate' || d.fromName === 'notBefore'
              ? 'Check the clock or --at; --ignore-issue-dates applies Intel QVL semantics (issue dates unchecked).'
              : 'Check the clock or --at.',
        });
      }
    }
    r.nonTerminal(id, problems);
    if (problems.some((p) => p.tolerated)) collateralExpired = true;
  };

  try {
    // --- the quote -----------------------------------------------------------------------------------
    quote = r.run('quote.parse', () => (input.quote instanceof Uint8Array ? parseQuote(input.quote) : input.quote));
    const q = quote;
    r.run('quote.qe-vendor', () => {
      if (toHex(q.header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
        fail(
          'quote',
          'ERR_QUOTE_QE_VENDOR',
          `quote QE vendor ID ${toHex(q.header.qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`,
          'Only quotes produced by Intel’s quoting enclave can be verified against Intel collateral.',
        );
      }
    });
    r.run('quote.certification-data', () => {
      if (q.certificationData.type !== CERT_TYPE_PCK_CHAIN || q.pckChainPem === null) {
        fail(
          'quote',
          'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
          `quote certification data type is ${q.certificationData.type}, not 5 (PCK certificate chain)`,
          'The quote does not embed its PCK certificate chain; configure the quote provider library to include it (DCAP default).',
        );
      }
    });

    // --- PCK chain -----------------------------------------------------------------------------------
    const [pckLeaf, pckCa, pckRoot] = r.run('pck-chain.parse', () => {
      const chain = quotePckChain(q);
      ext = chain.extension;
      caType = chain.caType;
      return [chain.leaf, chain.intermediate, chain.root] as const;
    });

    r.run('pck-chain.root', () => {
      const sha = pckRoot.sha256;
      if (input.trustIntelRoot !== false && bytesEqual(bytesOf(pckRoot).der, INTEL_SGX_ROOT_CA_DER)) {
        anchor = { kind: 'intel', subject: pckRoot.subject.text, sha256: sha };
      } else if ((input.trustedRoots ?? []).some((t) => bytesEqual(t, bytesOf(pckRoot).der))) {
        anchor = { kind: 'extra', subject: pckRoot.subject.text, sha256: sha };
      } else if (policy.allowSimulation) {
        anchor = { kind: 'simulation', subject: pckRoot.subject.text, sha256: sha };
      } else {
        const sim = /simulat/i.test(pckRoot.subject.text);
        fail(
          'pck-chain',
          'ERR_DCAP_PCK_CHAIN_UNTRUSTED',
          `PCK chain root "${pckRoot.subject.text}" (SHA-256 ${sha}) is not the pinned Intel SGX Root CA`,
          sim
            ? 'This evidence comes from the simulated SGX platform, which proves nothing about hardware; pass --allow-simulation to accept it anyway.'
            : 'The quote was not produced by a genuine Intel SGX platform. A test root can be trusted explicitly with --trusted-root FILE.',
        );
      }
      checkSelfSigned(pckRoot, 'PCK chain root', 'pck-chain', 'ERR_DCAP_PCK_CHAIN_UNTRUSTED');
    });
    const root = pckRoot;

    r.run('pck-chain.signatures', () => verifyPckChainSignatures(pckLeaf, pckCa, root));
    dated.push(
      certDates(pckLeaf, 'PCK certificate', PCK_CHAIN_CODES),
      certDates(pckCa, `PCK CA certificate "${pckCa.subject.commonName}"`, PCK_CHAIN_CODES),
      certDates(root, 'root CA certificate', PCK_CHAIN_CODES),
    );

    // --- collateral structure ------------------------------------------------------------------------
    const c = input.collateral;
    const parsed = r.run('collateral.parse', () => {
      const crlCtx = (what: string) => ({ stage: 'collateral', code: 'ERR_DCAP_COLLATERAL_FORMAT', what });
      const rootCrl = parseCrl(c.root_ca_crl, crlCtx('root CA CRL'));
      const pckCrl = parseCrl(c.pck_crl, crlCtx('PCK CRL'));
      const pckCrlChain = parseChain(
        c.pck_crl_issuer_chain,
        'PCK CRL issuer chain',
        'collateral',
        'ERR_DCAP_COLLATERAL_FORMAT',
      );
      const tcbChain = parseChain(
        c.tcb_info_issuer_chain,
        'TCB info issuer chain',
        'collateral',
        'ERR_DCAP_COLLATERAL_FORMAT',
      );
      const qeChain = parseChain(
        c.qe_identity_issuer_chain,
        'QE identity issuer chain',
        'collateral',
        'ERR_DCAP_COLLATERAL_FORMAT',
      );
      return { rootCrl, pckCrl, pckCrlChain, tcbChain, qeChain };
    });

    r.run('crl.root', () =>
      checkCrlIssued(parsed.rootCrl, root, 'root CA CRL', 'the root CA', 'crl', 'ERR_DCAP_ROOT_CRL_INVALID'),
    );
    r.run('crl.pck', () => {
      // Intel QVL: the PCK CRL issuer must be the PCK certificate's issuer (raw DN comparison).
      checkCrlIssued(parsed.pckCrl, pckCa, 'PCK CRL', 'the PCK CA', 'crl', 'ERR_DCAP_PCK_CRL_INVALID');
      const chain = parsed.pckCrlChain;
      if (
        chain.length !== 2 ||
        !bytesEqual(bytesOf(chain[0]!).der, bytesOf(pckCa).der) ||
        !bytesEqual(bytesOf(chain[1]!).der, bytesOf(root).der)
      ) {
        fail(
          'crl',
          'ERR_DCAP_PCK_CRL_INVALID',
          'collateral pck_crl_issuer_chain is not the quote’s PCK CA and root certificates',
          'Fetch the PCK CRL for this platform’s CA (processor or platform) with its issuer chain.',
        );
      }
    });
    r.run('pck-chain.revocation', () => {
      if (parsed.rootCrl.revokedSerials.has(pckCa.serialHex)) {
        fail(
          'pck-chain',
          'ERR_DCAP_PCK_CA_REVOKED',
          `PCK CA certificate "${pckCa.subject.commonName}" (serial ${pckCa.serialHex}) is revoked by the root CA CRL`,
          'Intel revoked this CA: no quote under it can be trusted.',
        );
      }
      if (parsed.pckCrl.revokedSerials.has(pckLeaf.serialHex)) {
        fail(
          'pck-chain',
          'ERR_DCAP_PCK_REVOKED',
          `PCK certificate (serial ${pckLeaf.serialHex}) is revoked by the PCK CRL`,
          'Intel revoked this platform’s PCK certificate: the platform must not be trusted.',
        );
      }
    });
    timeCheck('pck-chain.validity', dated.slice());
    const crlDates: Dated[] = [
      {
        what: 'root CA CRL',
        from: parsed.rootCrl.thisUpdate,
        until: parsed.rootCrl.nextUpdate,
        fromName: 'thisUpdate',
        untilName: 'nextUpdate',
        fromAlwaysChecked: true,
        codes: CRL_CODES,
      },
      {
        what: `PCK CRL (${parsed.pckCrl.issuer.commonName})`,
        from: parsed.pckCrl.thisUpdate,
        until: parsed.pckCrl.nextUpdate,
        fromName: 'thisUpdate',
        untilName: 'nextUpdate',
        fromAlwaysChecked: true,
        codes: CRL_CODES,
      },
    ];
    dated.push(...crlDates);
    timeCheck('crl.validity', crlDates);

    // --- TCB info and QE identity --------------------------------------------------------------------
    const signedDoc = <T>(
      kind: 'tcb-info' | 'qe-identity',
      chain: Certificate[],
      signed: Uint8Array,
      signature: Uint8Array,
      parse: () => T,
    ): T => {
      const label = kind === 'tcb-info' ? 'TCB info' : 'QE identity';
      const CODE = kind === 'tcb-info' ? 'TCB_INFO' : 'QE_IDENTITY';
      const signer = r.run(`${kind}.chain`, () => {
        const code = `ERR_DCAP_${CODE}_SIGNING_CHAIN`;
        if (chain.length !== 2)
          fail(
            kind,
            code,
            `${label} issuer chain has ${chain.length} certificates, expected 2 (TCB signing, root)`,
            'Use the issuer chain that came with the document.',
          );
        const [s, rt] = chain as [Certificate, Certificate];
        if (!s.subject.commonName?.includes('SGX TCB Signing')) {
          fail(
            kind,
            code,
            `${label} signer common name "${s.subject.commonName ?? ''}" does not contain "SGX TCB Signing"`,
            'The document must be signed by the TCB signing certificate.',
          );
        }
        if (!bytesEqual(bytesOf(rt).der, bytesOf(root).der)) {
          fail(
            kind,
            code,
            `${label} issuer chain root "${rt.subject.text}" (SHA-256 ${rt.sha256}) is not the trusted root of the PCK chain`,
            'Collateral must chain to the same trusted root as the quote.',
          );
        }
        checkIssued(s, root, `${label} signing certificate`, 'the root CA', kind, code);
        if (s.keyUsage !== undefined && !(s.keyUsage & KEY_USAGE.digitalSignature)) {
          fail(
            kind,
            code,
            `${label} signing certificate may not make digital signatures (keyUsage)`,
            'Wrong certificate in the issuer chain.',
          );
        }
        return s;
      });
      r.run(`${kind}.revocation`, () => {
        if (parsed.rootCrl.revokedSerials.has(signer.serialHex)) {
          fail(
            kind,
            'ERR_DCAP_TCB_SIGNING_CERT_REVOKED',
            `TCB signing certificate (serial ${signer.serialHex}) is revoked by the root CA CRL`,
            'Intel revoked the key that signed this collateral.',
          );
        }
      });
      r.run(`${kind}.signature`, () => {
        if (!verifyP1363WithCert(signed, signature, signer)) {
          fail(
            kind,
            `ERR_DCAP_${CODE}_SIGNATURE`,
            `${label} signature does not verify over the exact signed bytes (${signed.length} bytes)`,
            `The ${label} was altered or re-serialized; use the bytes exactly as the PCCS served them.`,
          );
        }
      });
      const doc = r.run(`${kind}.parse`, parse);
      dated.push(certDates(signer, `${label} signing certificate`, SIGNING_CERT_CODES));
      return doc;
    };

    // A signed document's validity: its own issueDate..nextUpdate, then its signing certificate's dates
    // (the signing certificate is bound like every other dated item, as Intel QvE's expiry status counts it).
    const checkDocumentDates = (
      stage: 'tcb-info' | 'qe-identity',
      what: string,
      signer: Certificate,
      doc: { issueDate: Date; nextUpdate: Date },
      codes: { expired: string; early: string },
    ): void => {
      const own: Dated = {
        what,
        from: doc.issueDate,
        until: doc.nextUpdate,
        fromName: 'issueDate',
        untilName: 'nextUpdate',
        fromAlwaysChecked: false,
        codes,
      };
      dated.push(own);
      timeCheck(`${stage}.validity`, [own, certDates(signer, `${what} signing certificate`, SIGNING_CERT_CODES)]);
    };

    tcbInfo = signedDoc('tcb-info', parsed.tcbChain, c.tcb_info, c.tcb_info_signature, () => {
      return tcbInfoMemo.get(c.tcb_info, parseTcbInfo);
    });
    checkDocumentDates('tcb-info', 'TCB info', parsed.tcbChain[0]!, tcbInfo, {
      expired: 'ERR_DCAP_TCB_INFO_EXPIRED',
      early: 'ERR_DCAP_TCB_INFO_NOT_YET_VALID',
    });
    const ti = tcbInfo;

    identity = signedDoc('qe-identity', parsed.qeChain, c.qe_identity, c.qe_identity_signature, () => {
      return identityMemo.get(c.qe_identity, parseEnclaveIdentity);
    });
    checkDocumentDates('qe-identity', 'QE identity', parsed.qeChain[0]!, identity, {
      expired: 'ERR_DCAP_QE_IDENTITY_EXPIRED',
      early: 'ERR_DCAP_QE_IDENTITY_NOT_YET_VALID',
    });
    const qi = identity;

    // --- the quote against the collateral --------------------------------------------------------------
    const e = ext!;
    r.run('tcb-info.match', () => {
      const code = 'ERR_DCAP_TCB_INFO_MISMATCH';
      if (ti.version === 3 && ti.id !== 'SGX')
        fail(
          'tcb-info',
          code,
          `TCB info is for ${ti.id}, not SGX`,
          'Fetch the SGX TCB info (/sgx/certification/v4/tcb).',
        );
      if (ti.tcbType !== 0)
        fail(
          'tcb-info',
          code,
          `TCB info tcbType ${ti.tcbType} is not supported (expected 0)`,
          'Only component-wise TCB comparison (tcbType 0) is defined.',
        );
      if (!bytesEqual(bytesOf(ti).fmspc, bytesOf(e).fmspc)) {
        fail(
          'tcb-info',
          code,
          `TCB info is for FMSPC ${toHex(ti.fmspc).toUpperCase()}, but the PCK certificate has FMSPC ${toHex(e.fmspc).toUpperCase()}`,
          'Fetch the TCB info for this platform’s FMSPC.',
        );
      }
      if (!bytesEqual(bytesOf(ti).pceId, bytesOf(e).pceId)) {
        fail(
          'tcb-info',
          code,
          `TCB info is for PCE ID ${toHex(ti.pceId)}, but the PCK certificate has PCE ID ${toHex(e.pceId)}`,
          'Fetch the TCB info for this platform.',
        );
      }
    });
    r.run('quote.qe-report-signature', () => verifyQeReportSignature(q, pckLeaf));
    r.run('quote.attestation-key', () => verifyAttestationKeyBinding(q));
    r.run('qe-identity.match', () => {
      const code = 'ERR_DCAP_QE_IDENTITY_MISMATCH';
      const qr = q.qeReport;
      if (qi.id !== 'QE')
        fail(
          'qe-identity',
          code,
          `QE identity is for "${qi.id}", not the SGX quoting enclave "QE"`,
          'Fetch /sgx/certification/v4/qe/identity.',
        );
      const qb = bytesOf(qi);
      const misc = qr.raw.subarray(16, 20);
      if (!misc.every((b, i) => (b & qb.miscselectMask[i]!) === qb.miscselect[i])) {
        fail(
          'qe-identity',
          code,
          `QE report MISCSELECT ${toHex(misc)} does not match the QE identity (${toHex(qi.miscselect)} under mask ${toHex(qi.miscselectMask)})`,
          'The quote was not produced by Intel’s quoting enclave.',
        );
      }
      if (!qr.attributes.every((b, i) => (b & qb.attributesMask[i]!) === qb.attributes[i])) {
        fail(
          'qe-identity',
          code,
          `QE report attributes ${toHex(qr.attributes)} do not match the QE identity (${toHex(qi.attributes)} under mask ${toHex(qi.attributesMask)})`,
          'The quoting enclave runs with unexpected attributes (e.g. debug).',
        );
      }
      if (!bytesEqual(qr.mrSigner, qb.mrsigner)) {
        fail(
          'qe-identity',
          code,
          `QE report MRSIGNER ${toHex(qr.mrSigner)} is not the QE identity's ${toHex(qi.mrsigner)}`,
          'The quoting enclave is not Intel’s.',
        );
      }
      if (qr.isvProdId !== qi.isvProdId) {
        fail(
          'qe-identity',
          code,
          `QE report ISVPRODID ${qr.isvProdId} is not the QE identity's ${qi.isvProdId}`,
          'The quoting enclave is not the SGX QE.',
        );
      }
    });
    r.run('qe-identity.tcb', () => {
      const lv = matchQeTcbLevel(qi, q.qeReport.isvSvn);
      if (!lv) {
        fail(
          'qe-identity',
          'ERR_DCAP_QE_TCB_NOT_SUPPORTED',
          `QE ISVSVN ${q.qeReport.isvSvn} is below every level of the QE identity`,
          'The quoting enclave is older than anything Intel still lists; update the platform software (DCAP).',
        );
      }
      qeStatus = lv.status;
      qeAdvisories = lv.advisoryIds;
      r.pass('qe-identity.tcb', `QE ISVSVN ${q.qeReport.isvSvn}: ${lv.status}`);
    });
    r.run('quote.signature', () => verifyQuoteSignature(q));
    r.run('tcb.level', () => {
      const lv = matchTcbLevel(ti, e.tcb);
      if (!lv) {
        fail(
          'tcb',
          'ERR_DCAP_TCB_NOT_SUPPORTED',
          `the PCK TCB (components ${e.tcb.components.join(',')}, PCESVN ${e.tcb.pceSvn}) is below every level of the TCB info`,
          'The platform is older than anything Intel lists: update its microcode/BIOS and platform software.',
        );
      }
      platformStatus = lv.status;
      platformAdvisories = lv.advisoryIds;
      platformTcbDate = lv.tcbDate;
      tcbStatus = convergeTcbStatus(lv.status, qeStatus!);
      if (tcbStatus === 'Revoked') {
        const which = lv.status === 'Revoked' ? 'the platform TCB level' : 'the quoting enclave TCB level';
        fail(
          'tcb',
          'ERR_DCAP_TCB_REVOKED',
          `TCB status is Revoked (${which})`,
          'Intel revoked this TCB level: the platform must not be trusted.',
        );
      }
      r.pass('tcb.level', `${tcbStatus}: platform ${lv.status}, QE ${qeStatus}, tcbDate ${lv.tcbDate.slice(0, 10)}`);
    });
    completed = true;
  } catch (error) {
    if (!(error instanceof Halt)) throw error;
  }
  if (!completed) haltReason = 'not run: an earlier check failed';

  // --- policy ----------------------------------------------------------------------------------------
  const advisoryIds = [...new Set([...platformAdvisories, ...qeAdvisories])].sort();
  if (quote) {
    const b = quote.body;
    const polFail = (id: string, code: string, message: string, hint: string): void =>
      r.problem(id, 'fail', { code, message, hint });
    if (anchor && anchor.kind !== 'intel') {
      const msg =
        anchor.kind === 'simulation'
          ? `trust anchor is the chain's own root "${anchor.subject}" (simulated platform, accepted by --allow-simulation): this proves nothing about hardware`
          : `trust anchor is an extra trusted root "${anchor.subject}" (SHA-256 ${anchor.sha256}), not Intel's`;
      r.problem('policy.trust-anchor', 'warn', {
        code: anchor.kind === 'simulation' ? 'WARN_SIMULATED_PLATFORM' : 'WARN_EXTRA_TRUSTED_ROOT',
        message: msg,
        hint: 'Never accept such evidence for production secrets.',
      });
      r.warnings.push(msg);
    } else if (anchor) r.pass('policy.trust-anchor');
    if (b.debug && !policy.allowDebug) {
      polFail(
        'policy.debug',
        'ERR_POLICY_DEBUG_ENCLAVE',
        'the enclave runs in DEBUG mode: the host can read and modify its memory',
        'Debug enclaves keep no secret; rebuild/spawn in production mode, or pass --allow-debug for testing only.',
      );
    } else {
      r.pass('policy.debug', b.debug ? 'debug enclave allowed by --allow-debug' : undefined);
      if (b.debug)
        r.warnings.push('the enclave runs in DEBUG mode (allowed by policy): its memory is not confidential');
    }
    const eq = (
      id: string,
      code: string,
      name: string,
      want: Uint8Array | undefined,
      got: Uint8Array,
      hint: string,
    ): void => {
      if (want === undefined) r.skip(id, 'no expectation given');
      else if (!bytesEqual(want, got)) polFail(id, code, `${name} is ${toHex(got)}, expected ${toHex(want)}`, hint);
      else r.pass(id);
    };
    eq(
      'policy.mrenclave',
      'ERR_POLICY_MRENCLAVE_MISMATCH',
      'MRENCLAVE',
      policy.mrEnclave,
      b.mrEnclave,
      'The enclave does not run the expected code (or arguments); check the package and spawn arguments.',
    );
    eq(
      'policy.mrsigner',
      'ERR_POLICY_MRSIGNER_MISMATCH',
      'MRSIGNER',
      policy.mrSigner,
      b.mrSigner,
      'The enclave was signed by another key than expected.',
    );
    if (policy.isvProdId === undefined) r.skip('policy.isvprodid', 'no expectation given');
    else if (b.isvProdId !== policy.isvProdId)
      polFail(
        'policy.isvprodid',
        'ERR_POLICY_ISVPRODID_MISMATCH',
        `ISV product ID is ${b.isvProdId}, expected ${policy.isvProdId}`,
        'The enclave is a different product of the same signer.',
      );
    else r.pass('policy.isvprodid');
    if (policy.minIsvSvn === undefined) r.skip('policy.isvsvn', 'no minimum given');
    else if (b.isvSvn < policy.minIsvSvn)
      polFail(
        'policy.isvsvn',
        'ERR_POLICY_ISVSVN_TOO_LOW',
        `ISV SVN is ${b.isvSvn}, below the minimum ${policy.minIsvSvn}`,
        'The enclave is an older, possibly vulnerable version.',
      );
    else r.pass('policy.isvsvn');
    // After an Intel TCB recovery, older TCB info stays valid until its nextUpdate: a minimum evaluation
    // data number refuses collateral from before the recovery.
    if (policy.minTcbEvaluationDataNumber === undefined) r.skip('policy.tcb-eval-num', 'no minimum given');
    else if (!tcbInfo) r.skip('policy.tcb-eval-num', 'TCB info not read');
    else if (tcbInfo.tcbEvaluationDataNumber < policy.minTcbEvaluationDataNumber)
      polFail(
        'policy.tcb-eval-num',
        'ERR_POLICY_TCB_EVAL_NUM_TOO_LOW',
        `TCB evaluation data number is ${tcbInfo.tcbEvaluationDataNumber}, below the minimum ${policy.minTcbEvaluationDataNumber}`,
        'The collateral predates a TCB recovery you require; fetch current collateral from the PCCS.',
      );
    else r.pass('policy.tcb-eval-num');
    if (tcbStatus === undefined) {
      r.skip('policy.tcb-status', 'TCB status not determined');
      r.skip('policy.advisories', 'TCB status not determined');
    } else {
      if (!policy.acceptedTcbStatuses.includes(tcbStatus)) {
        const sa = advisoryIds.length ? advisoryIds.join(', ') : 'the advisories Intel lists for it';
        polFail(
          'policy.tcb-status',
          'ERR_POLICY_TCB_STATUS',
          `TCB is ${tcbStatus}: ${TCB_STATUS_EXPLANATIONS[tcbStatus]}`,
          `Accept with --accept-tcb-status ${tcbStatus} only if you understand ${sa}.`,
        );
      } else r.pass('policy.tcb-status', tcbStatus);
      const allowed = new Set(policy.allowedAdvisoryIds);
      const bad = advisoryIds.filter((a) => !allowed.has(a));
      if (bad.length) {
        polFail(
          'policy.advisories',
          'ERR_POLICY_ADVISORY',
          `advisories not allowed by policy: ${bad.join(', ')}`,
          `Read them (https://www.intel.com/content/www/us/en/security-center/advisory/<id>.html) and allow each with --allow-advisory ${bad[0]} if the enclave is not affected or mitigates it.`,
        );
      } else r.pass('policy.advisories', advisoryIds.length ? advisoryIds.join(', ') : 'none');
    }
  }

  const checks = r.checks(haltReason);
  const failures: Failure[] = checks
    .filter((c) => c.status === 'fail')
    .map((c) => ({ stage: c.stage, code: c.code!, message: c.message!, hint: c.hint ?? '', policy: c.policy }));
  const valid = completed && failures.every((f) => f.policy);
  const accepted = valid && failures.length === 0;
  const warnings = [...r.warnings];
  // Non-policy warnings are tolerated expiries; their messages say so and against which bound.
  for (const ch of checks) if (ch.status === 'warn' && !ch.policy) warnings.push(ch.message!);

  let window: Verdict['collateralWindow'] = null;
  let age: CollateralAge | null = null;
  if (dated.length) {
    const from = Math.max(...dated.map((d) => d.from.getTime()));
    const until = Math.min(...dated.map((d) => d.until.getTime()));
    window = { from: iso(new Date(from)), until: iso(new Date(until)) };
    const issued = (doc: { issueDate: Date } | undefined) =>
      doc ? { issued: iso(doc.issueDate), seconds: Math.floor((atMs - doc.issueDate.getTime()) / 1000) } : null;
    const worst = dated
      .filter((d) => d.until.getTime() < atMs)
      .reduce<Dated | undefined>((w, d) => (!w || d.until < w.until ? d : w), undefined);
    age = {
      tcbInfo: issued(tcbInfo),
      qeIdentity: issued(identity),
      expired: worst
        ? {
            item: `${worst.what} ${worst.untilName}`,
            expiry: iso(worst.until),
            seconds: Math.floor((atMs - worst.until.getTime()) / 1000),
          }
        : null,
      toleranceSeconds: tolerance,
    };
  }
  const b = quote?.body;
  return {
    valid,
    accepted,
    tcbStatus: tcbStatus ?? null,
    platformTcbStatus: platformStatus ?? null,
    qeTcbStatus: qeStatus ?? null,
    advisoryIds,
    debug: b ? b.debug : null,
    mrenclave: b ? toHex(b.mrEnclave) : null,
    mrsigner: b ? toHex(b.mrSigner) : null,
    isvProdId: b ? b.isvProdId : null,
    isvSvn: b ? b.isvSvn : null,
    reportData: b ? toHex(b.reportData) : null,
    quoteVersion: quote ? quote.version : null,
    fmspc: ext ? toHex(ext.fmspc).toUpperCase() : null,
    pceId: ext ? toHex(ext.pceId).toUpperCase() : null,
    pckCaType: caType,
    tcbEvaluationDataNumber: tcbInfo ? tcbInfo.tcbEvaluationDataNumber : null,
    tcbDate: platformTcbDate,
    trustAnchor: anchor ?? null,
    simulated: anchor !== undefined && anchor.kind !== 'intel',
    collateralExpired,
    collateralWindow: window,
    collateralAge: age,
    at: iso(at),
    timeSemantics: strict ? 'strict' : 'intel',
    checks,
    failures,
    warnings,
  };
}
