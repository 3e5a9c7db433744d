/**
 * Full offline DCAP appraisal of an SGX quote: Intel QVL's order of checks, plus what Intel leaves to the
 * relying party, as one pure function of (quote, collateral, policy, time, extra roots) → {@link Verdict}.
 *
 * Structure: a fixed plan of checks (see {@link CHECK_PLAN} and docs/verification.md), each a small named
 * function of one typed context (`CHECKS`), which reads what earlier checks established and records what it
 * establishes for the later ones; `appraise` runs the plan and assembles the verdict. Structural,
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
  type QeTcbLevel,
  type QeTcbStatus,
  type TcbInfo,
  type TcbLevel,
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

/** Every check, in the order it runs (one function each: CHECKS below). */
const PLAN = [
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
] as const satisfies readonly PlanEntry[];

/** The id of a check of the plan. */
type CheckId = (typeof PLAN)[number]['id'];

/** Every check, in the order it runs. */
export const CHECK_PLAN: readonly PlanEntry[] = PLAN;

const PLAN_BY_ID = new Map(CHECK_PLAN.map((p) => [p.id, p]));

/** A problem found by a check. */
interface Problem {
  code: string;
  message: string;
  hint: string;
}

class Halt extends Error {}

/** What a check that did not run says. */
const HALT_REASON = 'not run: an earlier check failed';

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

  /** Run a non-terminal check: an AttestationError fails it; passes unless it recorded its own result. */
  check(id: string, fn: () => void): void {
    try {
      fn();
      if (!this.results.has(id)) this.pass(id);
    } catch (error) {
      this.problem(id, 'fail', toProblem(error));
    }
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
    const [first] = problems;
    if (first === undefined) return this.pass(id);
    const failing = problems.filter((p) => !p.tolerated);
    const lead = failing[0] ?? first;
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

// ---------------------------------------------------------------------------------------------------
// The appraisal context: the inputs, and what each check established for the checks after it

/** The collateral's certificates and CRLs, parsed (check collateral.parse). */
interface ParsedCollateral {
  rootCrl: Crl;
  pckCrl: Crl;
  pckCrlChain: Certificate[];
  tcbChain: Certificate[];
  qeChain: Certificate[];
}

/**
 * One appraisal's state. The inputs are fixed; every other field is set by the check named in its comment
 * and read only by checks after it in {@link CHECK_PLAN} (read through {@link known}).
 */
interface AppraisalContext {
  readonly input: AppraisalInput;
  readonly policy: Policy;
  readonly at: Date;
  readonly atMs: number;
  /** notBefore and issue dates are checked (false: Intel QVL semantics, --ignore-issue-dates). */
  readonly strict: boolean;
  readonly r: Recorder;
  /** Every dated item read, in the order read: the collateral window and age. */
  readonly dated: Dated[];
  /** Some item had expired within the tolerance (the *.validity checks). */
  collateralExpired: boolean;
  /** quote.parse */
  quote?: Quote;
  /** pck-chain.parse */
  pck?: PckChain;
  /** pck-chain.root */
  anchor?: TrustAnchor;
  /** collateral.parse */
  collateral?: ParsedCollateral;
  /** tcb-info.chain, qe-identity.chain */
  signers: { [K in SignedKind]?: Certificate };
  /** tcb-info.parse */
  tcbInfo?: TcbInfo;
  /** qe-identity.parse */
  identity?: EnclaveIdentity;
  /** qe-identity.tcb */
  qeLevel?: QeTcbLevel;
  /** tcb.level (set before its Revoked failure, so the verdict still reports the statuses) */
  platformLevel?: TcbLevel;
  tcbStatus?: TcbStatus;
}

/** A check of the plan: throws an AttestationError to fail; may record its own pass message, skip or warning. */
type CheckFn = (ctx: AppraisalContext) => void;

/**
 * A fact an earlier check established. Missing means the plan runs out of order: a bug, which fails the
 * check as ERR_VERIFIER_INTERNAL rather than passing it.
 */
function known<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`appraisal plan out of order: ${what} is not known yet`);
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Time validity: expiry within the tolerance is a warning; beyond it, and any not-yet-valid item, a failure

function expiryProblem(ctx: AppraisalContext, d: Dated): Problem & { tolerated: boolean } {
  const tolerance = ctx.policy.expiredCollateralToleranceSeconds;
  const toleranceText = formatDuration(tolerance);
  const by = (ctx.atMs - d.until.getTime()) / 1000;
  const tolerated = by <= tolerance;
  const when = `${d.untilName} ${iso(d.until)}, ${formatDuration(by)} before the verification time ${iso(ctx.at)}`;
  return {
    code: d.codes.expired,
    tolerated,
    message: tolerated
      ? `${d.what} expired (${when}): within the tolerated ${toleranceText}`
      : `${d.what} expired (${when})${tolerance ? `: beyond the tolerated ${toleranceText}` : ''}`,
    hint: tolerated
      ? 'Tolerated by --allow-expired-collateral; fetch fresh collateral (PCCS) to verify without it.'
      : `Fetch fresh collateral (PCCS) and verify again, or verify at an earlier --at time. Accepting it would take --allow-expired-collateral ${formatDuration(Math.ceil(by / 86400) * 86400)}: only if what Intel published since does not matter to you.`,
  };
}

function earlyProblem(ctx: AppraisalContext, d: Dated): Problem & { tolerated: boolean } {
  return {
    code: d.codes.early,
    tolerated: false,
    message: `${d.what} is not yet valid: ${d.fromName} ${iso(d.from)} is after the verification time ${iso(ctx.at)}`,
    hint:
      d.fromName === 'issueDate' || d.fromName === 'notBefore'
        ? 'Check the clock or --at; --ignore-issue-dates applies Intel QVL semantics (issue dates unchecked).'
        : 'Check the clock or --at.',
  };
}

/** Record a *.validity check over `items` (non-terminal: a failure does not stop the flow). */
function timeCheck(ctx: AppraisalContext, id: string, items: Dated[]): void {
  const problems: (Problem & { tolerated: boolean })[] = [];
  for (const d of items) {
    if (ctx.atMs > d.until.getTime()) problems.push(expiryProblem(ctx, d));
    else if ((ctx.strict || d.fromAlwaysChecked) && ctx.atMs < d.from.getTime()) problems.push(earlyProblem(ctx, d));
  }
  ctx.r.nonTerminal(id, problems);
  if (problems.some((p) => p.tolerated)) ctx.collateralExpired = true;
}

// ---------------------------------------------------------------------------------------------------
// The checks of the cryptographic flow, in plan order (Intel QVL's order)

/** quote.parse */
function checkQuoteStructure(ctx: AppraisalContext): void {
  const raw = ctx.input.quote;
  ctx.quote = raw instanceof Uint8Array ? parseQuote(raw) : raw;
}

/** quote.qe-vendor */
function checkQeVendor(ctx: AppraisalContext): void {
  const q = known(ctx.quote, 'the quote');
  if (toHex(q.header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
    fail(
      'quote',
      'ERR_QUOTE_QE_VENDOR',
      `quote QE vendor ID ${toHex(q.header.qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`,
      'Only quotes produced by Intel’s quoting enclave can be verified against Intel collateral.',
    );
  }
}

/** quote.certification-data */
function checkCertificationData(ctx: AppraisalContext): void {
  const q = known(ctx.quote, 'the quote');
  if (q.certificationData.type !== CERT_TYPE_PCK_CHAIN || q.pckChainPem === null) {
    fail(
      'quote',
      'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
      `quote certification data type is ${q.certificationData.type}, not 5 (PCK certificate chain)`,
      'The quote does not embed its PCK certificate chain; configure the quote provider library to include it (DCAP default).',
    );
  }
}

/** pck-chain.parse */
function checkPckChainStructure(ctx: AppraisalContext): void {
  ctx.pck = quotePckChain(known(ctx.quote, 'the quote'));
}

/** The trust anchor the PCK chain's root is: Intel's pinned root, an extra trusted root, or (allowed) its own. */
function trustAnchorOf(ctx: AppraisalContext, root: Certificate): TrustAnchor | undefined {
  const der = bytesOf(root).der;
  const named = { subject: root.subject.text, sha256: root.sha256 };
  if (ctx.input.trustIntelRoot !== false && bytesEqual(der, INTEL_SGX_ROOT_CA_DER)) return { kind: 'intel', ...named };
  if ((ctx.input.trustedRoots ?? []).some((t) => bytesEqual(t, der))) return { kind: 'extra', ...named };
  if (ctx.policy.allowSimulation) return { kind: 'simulation', ...named };
  return undefined;
}

/** pck-chain.root */
function checkPckChainRoot(ctx: AppraisalContext): void {
  const root = known(ctx.pck, 'the PCK chain').root;
  ctx.anchor = trustAnchorOf(ctx, root);
  if (!ctx.anchor) {
    const sim = /simulat/i.test(root.subject.text);
    fail(
      'pck-chain',
      'ERR_DCAP_PCK_CHAIN_UNTRUSTED',
      `PCK chain root "${root.subject.text}" (SHA-256 ${root.sha256}) is not the pinned Intel SGX Root CA`,
      sim
        ? 'This evidence comes from the simulated SGX platform, which proves nothing about hardware; pass --allow-simulation to accept it anyway.'
        : 'The quote was not produced by a genuine Intel SGX platform. A test root can be trusted explicitly with --trusted-root FILE.',
    );
  }
  checkSelfSigned(root, 'PCK chain root', 'pck-chain', 'ERR_DCAP_PCK_CHAIN_UNTRUSTED');
}

/** pck-chain.signatures; the chain's dates join the dated items once it verifies. */
function checkPckChainSignatures(ctx: AppraisalContext): void {
  const { leaf, intermediate, root } = known(ctx.pck, 'the PCK chain');
  verifyPckChainSignatures(leaf, intermediate, root);
  ctx.dated.push(
    certDates(leaf, 'PCK certificate', PCK_CHAIN_CODES),
    certDates(intermediate, `PCK CA certificate "${intermediate.subject.commonName}"`, PCK_CHAIN_CODES),
    certDates(root, 'root CA certificate', PCK_CHAIN_CODES),
  );
}

/** collateral.parse */
function checkCollateralStructure(ctx: AppraisalContext): void {
  const c = ctx.input.collateral;
  const stage = 'collateral';
  const code = 'ERR_DCAP_COLLATERAL_FORMAT';
  const crlCtx = (what: string) => ({ stage, code, what });
  ctx.collateral = {
    rootCrl: parseCrl(c.root_ca_crl, crlCtx('root CA CRL')),
    pckCrl: parseCrl(c.pck_crl, crlCtx('PCK CRL')),
    pckCrlChain: parseChain(c.pck_crl_issuer_chain, 'PCK CRL issuer chain', stage, code),
    tcbChain: parseChain(c.tcb_info_issuer_chain, 'TCB info issuer chain', stage, code),
    qeChain: parseChain(c.qe_identity_issuer_chain, 'QE identity issuer chain', stage, code),
  };
}

/** crl.root */
function checkRootCrl(ctx: AppraisalContext): void {
  const { rootCrl } = known(ctx.collateral, 'the collateral');
  const { root } = known(ctx.pck, 'the PCK chain');
  checkCrlIssued(rootCrl, root, 'root CA CRL', 'the root CA', 'crl', 'ERR_DCAP_ROOT_CRL_INVALID');
}

/** crl.pck. Intel QVL: the PCK CRL issuer must be the PCK certificate's issuer (raw DN comparison). */
function checkPckCrl(ctx: AppraisalContext): void {
  const { pckCrl, pckCrlChain: chain } = known(ctx.collateral, 'the collateral');
  const { intermediate: pckCa, root } = known(ctx.pck, 'the PCK chain');
  checkCrlIssued(pckCrl, pckCa, 'PCK CRL', 'the PCK CA', 'crl', 'ERR_DCAP_PCK_CRL_INVALID');
  const [first, second] = chain;
  if (
    chain.length !== 2 ||
    !first ||
    !second ||
    !bytesEqual(bytesOf(first).der, bytesOf(pckCa).der) ||
    !bytesEqual(bytesOf(second).der, bytesOf(root).der)
  ) {
    fail(
      'crl',
      'ERR_DCAP_PCK_CRL_INVALID',
      'collateral pck_crl_issuer_chain is not the quote’s PCK CA and root certificates',
      'Fetch the PCK CRL for this platform’s CA (processor or platform) with its issuer chain.',
    );
  }
}

/** pck-chain.revocation */
function checkPckChainRevocation(ctx: AppraisalContext): void {
  const { rootCrl, pckCrl } = known(ctx.collateral, 'the collateral');
  const { leaf, intermediate: pckCa } = known(ctx.pck, 'the PCK chain');
  if (rootCrl.revokedSerials.has(pckCa.serialHex)) {
    fail(
      'pck-chain',
      'ERR_DCAP_PCK_CA_REVOKED',
      `PCK CA certificate "${pckCa.subject.commonName}" (serial ${pckCa.serialHex}) is revoked by the root CA CRL`,
      'Intel revoked this CA: no quote under it can be trusted.',
    );
  }
  if (pckCrl.revokedSerials.has(leaf.serialHex)) {
    fail(
      'pck-chain',
      'ERR_DCAP_PCK_REVOKED',
      `PCK certificate (serial ${leaf.serialHex}) is revoked by the PCK CRL`,
      'Intel revoked this platform’s PCK certificate: the platform must not be trusted.',
    );
  }
}

/** pck-chain.validity (non-terminal): the PCK chain's dates, the only dated items so far. */
function checkPckChainValidity(ctx: AppraisalContext): void {
  timeCheck(ctx, 'pck-chain.validity', ctx.dated.slice());
}

function crlDates(crl: Crl, what: string): Dated {
  return {
    what,
    from: crl.thisUpdate,
    until: crl.nextUpdate,
    fromName: 'thisUpdate',
    untilName: 'nextUpdate',
    fromAlwaysChecked: true,
    codes: CRL_CODES,
  };
}

/** crl.validity (non-terminal) */
function checkCrlValidity(ctx: AppraisalContext): void {
  const { rootCrl, pckCrl } = known(ctx.collateral, 'the collateral');
  const items = [crlDates(rootCrl, 'root CA CRL'), crlDates(pckCrl, `PCK CRL (${pckCrl.issuer.commonName})`)];
  ctx.dated.push(...items);
  timeCheck(ctx, 'crl.validity', items);
}

// --- the signed collateral documents: TCB info and QE identity, the same five checks each -----------

type SignedKind = 'tcb-info' | 'qe-identity';

/** What differs between the two signed documents. */
interface SignedDocument {
  kind: SignedKind;
  label: string;
  /** The codes of its chain and signature checks (each one literal: src/error-codes.ts). */
  chainCode: 'ERR_DCAP_TCB_INFO_SIGNING_CHAIN' | 'ERR_DCAP_QE_IDENTITY_SIGNING_CHAIN';
  signatureCode: 'ERR_DCAP_TCB_INFO_SIGNATURE' | 'ERR_DCAP_QE_IDENTITY_SIGNATURE';
  chain(c: ParsedCollateral): Certificate[];
  signed(c: Collateral): Uint8Array;
  signature(c: Collateral): Uint8Array;
  /** The document's issueDate and nextUpdate (after its parse check). */
  dates(ctx: AppraisalContext): { issueDate: Date; nextUpdate: Date };
  dateCodes: { expired: string; early: string };
}

const TCB_INFO_DOCUMENT: SignedDocument = {
  kind: 'tcb-info',
  label: 'TCB info',
  chainCode: 'ERR_DCAP_TCB_INFO_SIGNING_CHAIN',
  signatureCode: 'ERR_DCAP_TCB_INFO_SIGNATURE',
  chain: (c) => c.tcbChain,
  signed: (c) => c.tcb_info,
  signature: (c) => c.tcb_info_signature,
  dates: (ctx) => known(ctx.tcbInfo, 'the TCB info'),
  dateCodes: { expired: 'ERR_DCAP_TCB_INFO_EXPIRED', early: 'ERR_DCAP_TCB_INFO_NOT_YET_VALID' },
};

const QE_IDENTITY_DOCUMENT: SignedDocument = {
  kind: 'qe-identity',
  label: 'QE identity',
  chainCode: 'ERR_DCAP_QE_IDENTITY_SIGNING_CHAIN',
  signatureCode: 'ERR_DCAP_QE_IDENTITY_SIGNATURE',
  chain: (c) => c.qeChain,
  signed: (c) => c.qe_identity,
  signature: (c) => c.qe_identity_signature,
  dates: (ctx) => known(ctx.identity, 'the QE identity'),
  dateCodes: { expired: 'ERR_DCAP_QE_IDENTITY_EXPIRED', early: 'ERR_DCAP_QE_IDENTITY_NOT_YET_VALID' },
};

/** <doc>.chain: TCB signing certificate ‖ the PCK chain's root, the signer issued by that root. */
function checkSigningChain(doc: SignedDocument): CheckFn {
  return (ctx) => {
    const { kind, label } = doc;
    const chain = doc.chain(known(ctx.collateral, 'the collateral'));
    const { root } = known(ctx.pck, 'the PCK chain');
    const code = doc.chainCode;
    const [s, rt] = chain;
    if (chain.length !== 2 || !s || !rt)
      fail(
        kind,
        code,
        `${label} issuer chain has ${chain.length} certificates, expected 2 (TCB signing, root)`,
        'Use the issuer chain that came with the document.',
      );
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
    ctx.signers[kind] = s;
  };
}

/** <doc>.revocation: the signing certificate is not on the root CA CRL. */
function checkSignerRevocation(doc: SignedDocument): CheckFn {
  return (ctx) => {
    const signer = known(ctx.signers[doc.kind], `the ${doc.label} signer`);
    if (known(ctx.collateral, 'the collateral').rootCrl.revokedSerials.has(signer.serialHex)) {
      fail(
        doc.kind,
        'ERR_DCAP_TCB_SIGNING_CERT_REVOKED',
        `TCB signing certificate (serial ${signer.serialHex}) is revoked by the root CA CRL`,
        'Intel revoked the key that signed this collateral.',
      );
    }
  };
}

/** <doc>.signature: over the exact bytes served, before they are parsed. */
function checkDocumentSignature(doc: SignedDocument): CheckFn {
  return (ctx) => {
    const signer = known(ctx.signers[doc.kind], `the ${doc.label} signer`);
    const signed = doc.signed(ctx.input.collateral);
    if (!verifyP1363WithCert(signed, doc.signature(ctx.input.collateral), signer)) {
      fail(
        doc.kind,
        doc.signatureCode,
        `${doc.label} signature does not verify over the exact signed bytes (${signed.length} bytes)`,
        `The ${doc.label} was altered or re-serialized; use the bytes exactly as the PCCS served them.`,
      );
    }
  };
}

/** The signing certificate's dates join the dated items once the document it signed is read. */
function pushSignerDates(ctx: AppraisalContext, doc: SignedDocument): void {
  const signer = known(ctx.signers[doc.kind], `the ${doc.label} signer`);
  ctx.dated.push(certDates(signer, `${doc.label} signing certificate`, SIGNING_CERT_CODES));
}

/** tcb-info.parse */
function checkTcbInfoStructure(ctx: AppraisalContext): void {
  ctx.tcbInfo = tcbInfoMemo.get(ctx.input.collateral.tcb_info, parseTcbInfo);
  pushSignerDates(ctx, TCB_INFO_DOCUMENT);
}

/** qe-identity.parse */
function checkQeIdentityStructure(ctx: AppraisalContext): void {
  ctx.identity = identityMemo.get(ctx.input.collateral.qe_identity, parseEnclaveIdentity);
  pushSignerDates(ctx, QE_IDENTITY_DOCUMENT);
}

/**
 * <doc>.validity (non-terminal): its own issueDate..nextUpdate, then its signing certificate's dates (the
 * signing certificate is bound like every other dated item, as Intel QvE's expiry status counts it).
 */
function checkDocumentValidity(doc: SignedDocument): CheckFn {
  return (ctx) => {
    const { issueDate, nextUpdate } = doc.dates(ctx);
    const signer = known(ctx.signers[doc.kind], `the ${doc.label} signer`);
    const own: Dated = {
      what: doc.label,
      from: issueDate,
      until: nextUpdate,
      fromName: 'issueDate',
      untilName: 'nextUpdate',
      fromAlwaysChecked: false,
      codes: doc.dateCodes,
    };
    ctx.dated.push(own);
    timeCheck(ctx, `${doc.kind}.validity`, [
      own,
      certDates(signer, `${doc.label} signing certificate`, SIGNING_CERT_CODES),
    ]);
  };
}

// --- the quote against the collateral ----------------------------------------------------------------

/** tcb-info.match: the TCB info is SGX's, component-wise, and for the PCK certificate's FMSPC and PCE ID. */
function checkTcbInfoMatch(ctx: AppraisalContext): void {
  const ti = known(ctx.tcbInfo, 'the TCB info');
  const e = known(ctx.pck, 'the PCK chain').extension;
  const code = 'ERR_DCAP_TCB_INFO_MISMATCH';
  if (ti.version === 3 && ti.id !== 'SGX')
    fail('tcb-info', code, `TCB info is for ${ti.id}, not SGX`, 'Fetch the SGX TCB info (/sgx/certification/v4/tcb).');
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
}

/** quote.qe-report-signature */
function checkQeReportSignature(ctx: AppraisalContext): void {
  verifyQeReportSignature(known(ctx.quote, 'the quote'), known(ctx.pck, 'the PCK chain').leaf);
}

/** quote.attestation-key */
function checkAttestationKey(ctx: AppraisalContext): void {
  verifyAttestationKeyBinding(known(ctx.quote, 'the quote'));
}

/** `value` equals `expected` on every bit set in `mask` (byte-wise; QE identity masks). */
function maskedEqual(value: Uint8Array, mask: Uint8Array, expected: Uint8Array): boolean {
  return value.every((b, i) => (b & (mask[i] ?? 0)) === expected[i]);
}

/** qe-identity.match: the QE report's MISCSELECT, attributes, MRSIGNER and ISVPRODID are the identity's. */
function checkQeIdentityMatch(ctx: AppraisalContext): void {
  const qi = known(ctx.identity, 'the QE identity');
  const qr = known(ctx.quote, 'the quote').qeReport;
  const code = 'ERR_DCAP_QE_IDENTITY_MISMATCH';
  if (qi.id !== 'QE')
    fail(
      'qe-identity',
      code,
      `QE identity is for "${qi.id}", not the SGX quoting enclave "QE"`,
      'Fetch /sgx/certification/v4/qe/identity.',
    );
  const qb = bytesOf(qi);
  const misc = qr.raw.subarray(16, 20);
  if (!maskedEqual(misc, qb.miscselectMask, qb.miscselect)) {
    fail(
      'qe-identity',
      code,
      `QE report MISCSELECT ${toHex(misc)} does not match the QE identity (${toHex(qi.miscselect)} under mask ${toHex(qi.miscselectMask)})`,
      'The quote was not produced by Intel’s quoting enclave.',
    );
  }
  if (!maskedEqual(qr.attributes, qb.attributesMask, qb.attributes)) {
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
}

/** qe-identity.tcb: the QE's TCB level by its ISVSVN. */
function checkQeTcbLevel(ctx: AppraisalContext): void {
  const isvSvn = known(ctx.quote, 'the quote').qeReport.isvSvn;
  const lv = matchQeTcbLevel(known(ctx.identity, 'the QE identity'), isvSvn);
  if (!lv) {
    fail(
      'qe-identity',
      'ERR_DCAP_QE_TCB_NOT_SUPPORTED',
      `QE ISVSVN ${isvSvn} is below every level of the QE identity`,
      'The quoting enclave is older than anything Intel still lists; update the platform software (DCAP).',
    );
  }
  ctx.qeLevel = lv;
  ctx.r.pass('qe-identity.tcb', `QE ISVSVN ${isvSvn}: ${lv.status}`);
}

/** quote.signature */
function checkQuoteSignature(ctx: AppraisalContext): void {
  verifyQuoteSignature(known(ctx.quote, 'the quote'));
}

/** tcb.level: the platform's TCB level, converged with the QE's; Revoked fails. */
function checkTcbLevel(ctx: AppraisalContext): void {
  const e = known(ctx.pck, 'the PCK chain').extension;
  const qe = known(ctx.qeLevel, 'the QE TCB level');
  const lv = matchTcbLevel(known(ctx.tcbInfo, 'the TCB info'), e.tcb);
  if (!lv) {
    fail(
      'tcb',
      'ERR_DCAP_TCB_NOT_SUPPORTED',
      `the PCK TCB (components ${e.tcb.components.join(',')}, PCESVN ${e.tcb.pceSvn}) is below every level of the TCB info`,
      'The platform is older than anything Intel lists: update its microcode/BIOS and platform software.',
    );
  }
  ctx.platformLevel = lv;
  const tcbStatus = (ctx.tcbStatus = convergeTcbStatus(lv.status, qe.status));
  if (tcbStatus === 'Revoked') {
    const which = lv.status === 'Revoked' ? 'the platform TCB level' : 'the quoting enclave TCB level';
    fail(
      'tcb',
      'ERR_DCAP_TCB_REVOKED',
      `TCB status is Revoked (${which})`,
      'Intel revoked this TCB level: the platform must not be trusted.',
    );
  }
  ctx.r.pass('tcb.level', `${tcbStatus}: platform ${lv.status}, QE ${qe.status}, tcbDate ${lv.tcbDate.slice(0, 10)}`);
}

// ---------------------------------------------------------------------------------------------------
// The policy checks: run on whatever the quote revealed; a failure rejects a valid verdict

/** policy.trust-anchor: anything but Intel's root is a warning (not run when the root was not established). */
function checkTrustAnchorPolicy(ctx: AppraisalContext): void {
  const anchor = ctx.anchor;
  if (!anchor) return ctx.r.skip('policy.trust-anchor', HALT_REASON);
  if (anchor.kind === 'intel') return ctx.r.pass('policy.trust-anchor');
  const msg =
    anchor.kind === 'simulation'
      ? `trust anchor is the chain's own root "${anchor.subject}" (simulated platform, accepted by --allow-simulation): this proves nothing about hardware`
      : `trust anchor is an extra trusted root "${anchor.subject}" (SHA-256 ${anchor.sha256}), not Intel's`;
  ctx.r.problem('policy.trust-anchor', 'warn', {
    code: anchor.kind === 'simulation' ? 'WARN_SIMULATED_PLATFORM' : 'WARN_EXTRA_TRUSTED_ROOT',
    message: msg,
    hint: 'Never accept such evidence for production secrets.',
  });
  ctx.r.warnings.push(msg);
}

/** policy.debug */
function checkDebugPolicy(ctx: AppraisalContext): void {
  const debug = known(ctx.quote, 'the quote').body.debug;
  if (debug && !ctx.policy.allowDebug) {
    fail(
      'policy',
      'ERR_POLICY_DEBUG_ENCLAVE',
      'the enclave runs in DEBUG mode: the host can read and modify its memory',
      'Debug enclaves keep no secret; rebuild/spawn in production mode, or pass --allow-debug for testing only.',
    );
  }
  ctx.r.pass('policy.debug', debug ? 'debug enclave allowed by --allow-debug' : undefined);
  if (debug) ctx.r.warnings.push('the enclave runs in DEBUG mode (allowed by policy): its memory is not confidential');
}

/** An expected measurement: skipped without an expectation, else equal. */
function checkExpectedBytes(
  ctx: AppraisalContext,
  id: string,
  want: Uint8Array | undefined,
  got: Uint8Array,
  mismatch: { code: string; name: string; hint: string },
): void {
  if (want === undefined) return ctx.r.skip(id, 'no expectation given');
  if (!bytesEqual(want, got))
    fail('policy', mismatch.code, `${mismatch.name} is ${toHex(got)}, expected ${toHex(want)}`, mismatch.hint);
}

/** policy.mrenclave */
function checkMrEnclavePolicy(ctx: AppraisalContext): void {
  checkExpectedBytes(ctx, 'policy.mrenclave', ctx.policy.mrEnclave, known(ctx.quote, 'the quote').body.mrEnclave, {
    code: 'ERR_POLICY_MRENCLAVE_MISMATCH',
    name: 'MRENCLAVE',
    hint: 'The enclave does not run the expected code (or arguments); check the package and spawn arguments.',
  });
}

/** policy.mrsigner */
function checkMrSignerPolicy(ctx: AppraisalContext): void {
  checkExpectedBytes(ctx, 'policy.mrsigner', ctx.policy.mrSigner, known(ctx.quote, 'the quote').body.mrSigner, {
    code: 'ERR_POLICY_MRSIGNER_MISMATCH',
    name: 'MRSIGNER',
    hint: 'The enclave was signed by another key than expected.',
  });
}

/** policy.isvprodid */
function checkIsvProdIdPolicy(ctx: AppraisalContext): void {
  const want = ctx.policy.isvProdId;
  const got = known(ctx.quote, 'the quote').body.isvProdId;
  if (want === undefined) return ctx.r.skip('policy.isvprodid', 'no expectation given');
  if (got !== want)
    fail(
      'policy',
      'ERR_POLICY_ISVPRODID_MISMATCH',
      `ISV product ID is ${got}, expected ${want}`,
      'The enclave is a different product of the same signer.',
    );
}

/** policy.isvsvn */
function checkIsvSvnPolicy(ctx: AppraisalContext): void {
  const min = ctx.policy.minIsvSvn;
  const got = known(ctx.quote, 'the quote').body.isvSvn;
  if (min === undefined) return ctx.r.skip('policy.isvsvn', 'no minimum given');
  if (got < min)
    fail(
      'policy',
      'ERR_POLICY_ISVSVN_TOO_LOW',
      `ISV SVN is ${got}, below the minimum ${min}`,
      'The enclave is an older, possibly vulnerable version.',
    );
}

/**
 * policy.tcb-eval-num. After an Intel TCB recovery, older TCB info stays valid until its nextUpdate: a
 * minimum evaluation data number refuses collateral from before the recovery.
 */
function checkTcbEvaluationNumberPolicy(ctx: AppraisalContext): void {
  const min = ctx.policy.minTcbEvaluationDataNumber;
  if (min === undefined) return ctx.r.skip('policy.tcb-eval-num', 'no minimum given');
  if (!ctx.tcbInfo) return ctx.r.skip('policy.tcb-eval-num', 'TCB info not read');
  const got = ctx.tcbInfo.tcbEvaluationDataNumber;
  if (got < min)
    fail(
      'policy',
      'ERR_POLICY_TCB_EVAL_NUM_TOO_LOW',
      `TCB evaluation data number is ${got}, below the minimum ${min}`,
      'The collateral predates a TCB recovery you require; fetch current collateral from the PCCS.',
    );
}

/** The union of the platform and QE levels' advisory IDs, sorted. */
function advisoryIdsOf(ctx: AppraisalContext): string[] {
  const all = [...(ctx.platformLevel?.advisoryIds ?? []), ...(ctx.qeLevel?.advisoryIds ?? [])];
  return [...new Set(all)].sort();
}

/** policy.tcb-status */
function checkTcbStatusPolicy(ctx: AppraisalContext): void {
  const status = ctx.tcbStatus;
  if (status === undefined) return ctx.r.skip('policy.tcb-status', 'TCB status not determined');
  if (!ctx.policy.acceptedTcbStatuses.includes(status)) {
    const advisories = advisoryIdsOf(ctx);
    const sa = advisories.length ? advisories.join(', ') : 'the advisories Intel lists for it';
    fail(
      'policy',
      'ERR_POLICY_TCB_STATUS',
      `TCB is ${status}: ${TCB_STATUS_EXPLANATIONS[status]}`,
      `Accept with --accept-tcb-status ${status} only if you understand ${sa}.`,
    );
  }
  ctx.r.pass('policy.tcb-status', status);
}

/** policy.advisories */
function checkAdvisoriesPolicy(ctx: AppraisalContext): void {
  if (ctx.tcbStatus === undefined) return ctx.r.skip('policy.advisories', 'TCB status not determined');
  const advisories = advisoryIdsOf(ctx);
  const allowed = new Set(ctx.policy.allowedAdvisoryIds);
  const bad = advisories.filter((a) => !allowed.has(a));
  if (bad.length) {
    fail(
      'policy',
      'ERR_POLICY_ADVISORY',
      `advisories not allowed by policy: ${bad.join(', ')}`,
      `Read them (https://www.intel.com/content/www/us/en/security-center/advisory/<id>.html) and allow each with --allow-advisory ${bad[0]} if the enclave is not affected or mitigates it.`,
    );
  }
  ctx.r.pass('policy.advisories', advisories.length ? advisories.join(', ') : 'none');
}

// ---------------------------------------------------------------------------------------------------
// The plan: every check of CHECK_PLAN and the function that makes it

/** The function of every check; the compiler holds it to CHECK_PLAN (one function per id, no other). */
const CHECKS: { readonly [id in CheckId]: CheckFn } = {
  'quote.parse': checkQuoteStructure,
  'quote.qe-vendor': checkQeVendor,
  'quote.certification-data': checkCertificationData,
  'pck-chain.parse': checkPckChainStructure,
  'pck-chain.root': checkPckChainRoot,
  'pck-chain.signatures': checkPckChainSignatures,
  'collateral.parse': checkCollateralStructure,
  'crl.root': checkRootCrl,
  'crl.pck': checkPckCrl,
  'pck-chain.revocation': checkPckChainRevocation,
  'pck-chain.validity': checkPckChainValidity,
  'crl.validity': checkCrlValidity,
  'tcb-info.chain': checkSigningChain(TCB_INFO_DOCUMENT),
  'tcb-info.revocation': checkSignerRevocation(TCB_INFO_DOCUMENT),
  'tcb-info.signature': checkDocumentSignature(TCB_INFO_DOCUMENT),
  'tcb-info.parse': checkTcbInfoStructure,
  'tcb-info.validity': checkDocumentValidity(TCB_INFO_DOCUMENT),
  'qe-identity.chain': checkSigningChain(QE_IDENTITY_DOCUMENT),
  'qe-identity.revocation': checkSignerRevocation(QE_IDENTITY_DOCUMENT),
  'qe-identity.signature': checkDocumentSignature(QE_IDENTITY_DOCUMENT),
  'qe-identity.parse': checkQeIdentityStructure,
  'qe-identity.validity': checkDocumentValidity(QE_IDENTITY_DOCUMENT),
  'tcb-info.match': checkTcbInfoMatch,
  'quote.qe-report-signature': checkQeReportSignature,
  'quote.attestation-key': checkAttestationKey,
  'qe-identity.match': checkQeIdentityMatch,
  'qe-identity.tcb': checkQeTcbLevel,
  'quote.signature': checkQuoteSignature,
  'tcb.level': checkTcbLevel,
  'policy.trust-anchor': checkTrustAnchorPolicy,
  'policy.debug': checkDebugPolicy,
  'policy.mrenclave': checkMrEnclavePolicy,
  'policy.mrsigner': checkMrSignerPolicy,
  'policy.isvprodid': checkIsvProdIdPolicy,
  'policy.isvsvn': checkIsvSvnPolicy,
  'policy.tcb-eval-num': checkTcbEvaluationNumberPolicy,
  'policy.tcb-status': checkTcbStatusPolicy,
  'policy.advisories': checkAdvisoriesPolicy,
};

const FLOW_PLAN = PLAN.filter((p) => !('policy' in p));
const POLICY_PLAN = PLAN.filter((p) => 'policy' in p);

/**
 * The structural, cryptographic, revocation and collateral checks, in plan order; the first terminal
 * failure stops them (the rest are reported as skipped). True when every one ran.
 */
function runFlow(ctx: AppraisalContext): boolean {
  try {
    for (const { id } of FLOW_PLAN) ctx.r.run(id, () => CHECKS[id](ctx));
    return true;
  } catch (error) {
    if (!(error instanceof Halt)) throw error;
    return false;
  }
}

/** The policy checks, in plan order, each on its own (a failure rejects but stops nothing). Need the quote. */
function runPolicy(ctx: AppraisalContext): void {
  if (!ctx.quote) return;
  for (const { id } of POLICY_PLAN) ctx.r.check(id, () => CHECKS[id](ctx));
}

// ---------------------------------------------------------------------------------------------------
// The verdict

/** The collateral's window (latest start, earliest end of every dated item) and its age. */
function collateralTimes(ctx: AppraisalContext): Pick<Verdict, 'collateralWindow' | 'collateralAge'> {
  const { dated, atMs } = ctx;
  if (!dated.length) return { collateralWindow: null, collateralAge: null };
  const from = Math.max(...dated.map((d) => d.from.getTime()));
  const until = Math.min(...dated.map((d) => d.until.getTime()));
  const issued = (doc: { issueDate: Date } | undefined) =>
    doc ? { issued: iso(doc.issueDate), seconds: Math.floor((atMs - doc.issueDate.getTime()) / 1000) } : null;
  const worst = dated
    .filter((d) => d.until.getTime() < atMs)
    .reduce<Dated | undefined>((w, d) => (!w || d.until < w.until ? d : w), undefined);
  return {
    collateralWindow: { from: iso(new Date(from)), until: iso(new Date(until)) },
    collateralAge: {
      tcbInfo: issued(ctx.tcbInfo),
      qeIdentity: issued(ctx.identity),
      expired: worst
        ? {
            item: `${worst.what} ${worst.untilName}`,
            expiry: iso(worst.until),
            seconds: Math.floor((atMs - worst.until.getTime()) / 1000),
          }
        : null,
      toleranceSeconds: ctx.policy.expiredCollateralToleranceSeconds,
    },
  };
}

/** What the quote and its PCK certificate say, null where they were not read. */
function quoteFacts(ctx: AppraisalContext) {
  const q = ctx.quote;
  const b = q?.body;
  const ext = ctx.pck?.extension;
  return {
    debug: b ? b.debug : null,
    mrenclave: b ? toHex(b.mrEnclave) : null,
    mrsigner: b ? toHex(b.mrSigner) : null,
    isvProdId: b ? b.isvProdId : null,
    isvSvn: b ? b.isvSvn : null,
    reportData: b ? toHex(b.reportData) : null,
    quoteVersion: q ? q.version : null,
    fmspc: ext ? toHex(ext.fmspc).toUpperCase() : null,
    pceId: ext ? toHex(ext.pceId).toUpperCase() : null,
    pckCaType: ctx.pck ? ctx.pck.caType : null,
  };
}

/** The failures of a verdict: its failed checks, in order (a failed check always carries a code and a message). */
export function failuresOf(checks: readonly Check[]): Failure[] {
  return checks
    .filter((c) => c.status === 'fail')
    .map((c) => ({
      stage: c.stage,
      code: c.code ?? '',
      message: c.message ?? '',
      hint: c.hint ?? '',
      policy: c.policy,
    }));
}

function verdictOf(ctx: AppraisalContext, completed: boolean): Verdict {
  const checks = ctx.r.checks(HALT_REASON);
  const failures = failuresOf(checks);
  const valid = completed && failures.every((f) => f.policy);
  // Non-policy warnings are tolerated expiries; their messages say so and against which bound.
  const expiries = checks.filter((ch) => ch.status === 'warn' && !ch.policy).map((ch) => ch.message ?? '');
  const anchor = ctx.anchor;
  return {
    valid,
    accepted: valid && failures.length === 0,
    tcbStatus: ctx.tcbStatus ?? null,
    platformTcbStatus: ctx.platformLevel?.status ?? null,
    qeTcbStatus: ctx.qeLevel?.status ?? null,
    advisoryIds: advisoryIdsOf(ctx),
    ...quoteFacts(ctx),
    tcbEvaluationDataNumber: ctx.tcbInfo ? ctx.tcbInfo.tcbEvaluationDataNumber : null,
    tcbDate: ctx.platformLevel?.tcbDate ?? null,
    trustAnchor: anchor ?? null,
    simulated: anchor !== undefined && anchor.kind !== 'intel',
    collateralExpired: ctx.collateralExpired,
    ...collateralTimes(ctx),
    at: iso(ctx.at),
    timeSemantics: ctx.strict ? 'strict' : 'intel',
    checks,
    failures,
    warnings: [...ctx.r.warnings, ...expiries],
  };
}

/**
 * Appraise a quote against collateral and policy at time `at`. Pure: no I/O, no clock; never throws for bad
 * evidence (every problem is a failed check in the verdict).
 *
 * The checks of {@link CHECK_PLAN}, in its order: the cryptographic flow until its first terminal failure,
 * then the policy checks on whatever the quote revealed.
 */
export function appraise(input: AppraisalInput): Verdict {
  const policy = makePolicy(input.policy);
  const ctx: AppraisalContext = {
    input,
    policy,
    at: input.at,
    atMs: input.at.getTime(),
    strict: !policy.ignoreIssueDates,
    r: new Recorder(),
    dated: [],
    collateralExpired: false,
    signers: {},
  };
  const completed = runFlow(ctx);
  runPolicy(ctx);
  return verdictOf(ctx, completed);
}
