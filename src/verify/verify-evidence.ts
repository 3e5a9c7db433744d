/**
 * Verify an `evidence.json` offline: the RA-TLS certificate, the full DCAP appraisal of the quote it
 * carries (with the evidence's collateral), and the enclave identity against the provider's
 * expectations. Pure: (evidence, expectations, policy, time, extra roots) → verdict.
 *
 * The expected MRENCLAVE comes from the caller: `--mrenclave HEX`, or, for `--package`, a value computed
 * from the package and `input_args` (see {@link ExpectedIdentity}). Every `input_args` field is reported
 * with what bound it (the measurement, the package, the certificate) or, when nothing did, a warning that
 * it is only shown (docs/verification.md, "What binds input_args").
 */
import { subjectsEqual } from '../ratls/dn.js';
import { normalizeSan } from '../ratls/format.js';
import {
  checkRatlsKeyBinding,
  checkRatlsValidity,
  readRatlsCertificate,
  verifyRatlsSignature,
  type RatlsCertificate,
} from '../ratls/read.js';
import { AttestationError, isMseError } from '../errors.js';
import { appraise, failuresOf, quotePckChain, type Check, type Verdict } from '../attestation/appraise.js';
import { bytesEqual, toHex } from '../attestation/bytes.js';
import { EMPTY_COLLATERAL } from '../attestation/collateral.js';
import { checkTcbCertAgreement, evidenceCollateral, maskAppId, type Evidence } from '../launch/evidence.js';
import { ARG_OF_FIELD, INPUT_ARG_FIELDS, INPUT_ARGS, inputArgValue, type InputArgField } from '../launch/args.js';
import { mrsignerFromPublicKey } from '../attestation/mrsigner.js';
import type { Policy } from '../attestation/policy.js';
import { parseQuote } from '../attestation/quote.js';

/** evidence.json's reader and writer, for users of this entry point (their home is `launch/evidence.ts`). */
export { parseEvidence, serializeEvidence, type Evidence } from '../launch/evidence.js';

/** What the provider expects the enclave to be. Unset fields are not checked. */
export interface ExpectedIdentity {
  mrenclave?: Uint8Array;
  /**
   * True when `mrenclave` was computed from the package *and this evidence's input_args* (`verify
   * --package`): a match then binds every input_args field. False or unset (`--mrenclave HEX`): the value
   * binds whatever arguments it was computed for, which this verifier cannot know.
   */
  inputArgsMeasured?: boolean;
  /**
   * Why `mrenclave` was not computed though the caller meant to (`verify --package` measures only evidence
   * that authenticates, see {@link authenticationFailures}): `policy.mrenclave` is reported skipped with it.
   */
  mrenclaveSkipped?: string;
  /** The entry point the package defines (`mse.toml` `python_application`): input_args.application must equal it. */
  application?: string;
  mrsigner?: Uint8Array;
  isvProdId?: number;
  minIsvSvn?: number;
}

/** A check on how the expected MRENCLAVE was obtained, and facts for the JSON verdict. */
export interface MeasurementExplanation {
  check: Check;
  details: Record<string, unknown>;
}

/** Outcome of one way of binding an input_args field. `not-checked`: that comparison was not made. */
export type BindingResult = 'pass' | 'fail' | 'not-checked';

/** How one `input_args` field is bound to the enclave, in the verdict. */
export interface InputArgBinding {
  /** MSE's name of the field. */
  field: InputArgField;
  /** As the evidence carries it, but `app_id`: masked ({@link maskAppId}), the UUID being a credential. */
  value: string | number | null;
  /** What the enclave does with it. */
  role: string;
  /** Part of the MRENCLAVE recomputed from the package and these input_args, and the quote matched it. */
  measured: BindingResult;
  /** Compared with the package; null when a package does not define this field. */
  package: BindingResult | null;
  /** Compared with the RA-TLS certificate; null when the certificate does not carry it. */
  certificate: BindingResult | null;
  /** `bound`: a comparison held and none failed; `mismatch`: one failed; `unbound`: none was made (only shown). */
  status: 'bound' | 'mismatch' | 'unbound';
  /** Why the field is not bound (status `unbound`). */
  reason?: string;
}

export interface EvidenceVerificationInput {
  evidence: Evidence;
  expected?: ExpectedIdentity;
  policy?: Partial<Policy>;
  at: Date;
  trustedRoots?: Uint8Array[];
  /**
   * Called with the quote's MRENCLAVE (hex; null when the quote was unreadable) and every other check of
   * the verdict once they are known: a check saying what the expected value covers and, when they differ,
   * why (SGX packages: the differing manifest entries; worked out only when nothing else failed). Must be
   * pure.
   */
  explainMeasurement?: (quotedMrenclave: string | null, others: readonly Check[]) => MeasurementExplanation;
}

/** A verdict on evidence: the quote verdict plus the certificate and signer-key checks. */
export interface EvidenceVerdict extends Verdict {
  certificate: { subject: string; san: string; notBefore: string; notAfter: string; fingerprint: string } | null;
  /** MRSIGNER computed from `signer_pk`, hex. */
  signerKeyMrsigner: string | null;
  /** `platform` as the evidence declares it (MSE's evidence has none: sgx). */
  declaredPlatform: 'sgx' | 'sim';
  /** Every input_args field with what bound it, in MSE's order. */
  inputArgs: InputArgBinding[];
  /** From {@link EvidenceVerificationInput.explainMeasurement}, when given. */
  measurement?: Record<string, unknown>;
}

type EvidenceStage = 'ratls' | 'identity' | 'collateral';

function check(id: string, stage: EvidenceStage, title: string, fn: () => string | void, policy = false): Check {
  try {
    const message = fn();
    return { id, stage, title, status: 'pass', policy, ...(message ? { message } : {}) };
  } catch (error) {
    const e = isMseError(error)
      ? error
      : new AttestationError(stage, 'ERR_VERIFIER_INTERNAL', `internal verifier error: ${String(error)}`);
    return { id, stage, title, status: 'fail', policy, code: e.code, message: e.message, hint: e.hint };
  }
}

const skipped = (id: string, stage: EvidenceStage, title: string, why: string): Check => ({
  id,
  stage,
  title,
  status: 'skip',
  policy: false,
  message: why,
});

const EXPIRATION_ID = 'ratls.expiration';
const EXPIRATION_TITLE = 'Certificate notAfter = input_args.expiration_date';
const APPLICATION_ID = 'identity.application';

const INCONSISTENT_HINT = 'The certificate was not made for these spawn arguments: the evidence is inconsistent.';

/** The RA-TLS checks of a readable certificate `c`: its signature, validity, key binding, and input_args agreement. */
function certificateChecks(c: RatlsCertificate, ia: Evidence['inputArgs'], at: Date): Check[] {
  return [
    check('ratls.signature', 'ratls', 'RA-TLS certificate self-signature', () => verifyRatlsSignature(c)),
    check('ratls.validity', 'ratls', 'RA-TLS certificate valid at verification time', () => checkRatlsValidity(c, at)),
    check('ratls.key-binding', 'ratls', 'report_data[0:32] = SHA-256(certificate public key)', () =>
      checkRatlsKeyBinding(c),
    ),
    check('ratls.subject', 'ratls', 'Certificate subject = input_args.subject', () => {
      if (!subjectsEqual(c.subject, ia.subject, { anyOrder: true })) {
        throw new AttestationError(
          'ratls',
          'ERR_RATLS_SUBJECT_MISMATCH',
          `certificate subject "${c.subject}" differs from input_args.subject "${ia.subject}"`,
          { hint: INCONSISTENT_HINT },
        );
      }
    }),
    check('ratls.san', 'ratls', 'Certificate SAN = input_args.subject_alternative_name', () => {
      // DNS names compare case-insensitively, IP addresses by value (the enclave keeps the spelling given)
      if (normalizeSan(ia.san) !== normalizeSan(c.san)) {
        throw new AttestationError(
          'ratls',
          'ERR_RATLS_SAN_MISMATCH',
          `certificate SAN "${c.san}" differs from input_args.subject_alternative_name "${ia.san}"`,
          { hint: INCONSISTENT_HINT },
        );
      }
    }),
    ia.expiration === null
      ? skipped(EXPIRATION_ID, 'ratls', EXPIRATION_TITLE, 'input_args.expiration_date is null')
      : check(EXPIRATION_ID, 'ratls', EXPIRATION_TITLE, () => {
          // the bootstrap writes the certificate's notAfter from --expiration, to the second
          const notAfter = c.notAfter.getTime() / 1000;
          if (notAfter !== ia.expiration) {
            throw new AttestationError(
              'ratls',
              'ERR_RATLS_EXPIRATION_MISMATCH',
              `certificate notAfter ${c.notAfter.toISOString()} (${notAfter}) differs from input_args.expiration_date ${ia.expiration}`,
              { hint: INCONSISTENT_HINT },
            );
          }
        }),
  ];
}

/** The RA-TLS checks reported skipped, the certificate being unreadable. */
function unreadableCertificateChecks(): Check[] {
  const why = 'not run: the certificate could not be read';
  return [
    skipped('ratls.signature', 'ratls', 'RA-TLS certificate self-signature', why),
    skipped('ratls.validity', 'ratls', 'RA-TLS certificate valid at verification time', why),
    skipped('ratls.key-binding', 'ratls', 'report_data[0:32] = SHA-256(certificate public key)', why),
    skipped('ratls.subject', 'ratls', 'Certificate subject = input_args.subject', why),
    skipped('ratls.san', 'ratls', 'Certificate SAN = input_args.subject_alternative_name', why),
    skipped(EXPIRATION_ID, 'ratls', EXPIRATION_TITLE, why),
  ];
}

/** The checks before the quote's appraisal: the RA-TLS certificate's, then the tcb_cert agreement. */
function preAppraisalChecks(e: Evidence, at: Date): { cert: RatlsCertificate | undefined; checks: Check[] } {
  let cert: RatlsCertificate | undefined;
  const parse = check('ratls.parse', 'ratls', 'RA-TLS certificate is well-formed and carries a quote', () => {
    cert = readRatlsCertificate(e.ratlsCertificate);
  });
  const c = cert;
  const ratls = c ? certificateChecks(c, e.inputArgs, at) : unreadableCertificateChecks();
  const tcbCert = check(
    'collateral.tcb-cert',
    'collateral',
    'tcb_cert = the issuer chains’ signing certificate',
    () => {
      const compared = checkTcbCertAgreement(e);
      return compared.length ? `same as ${compared.join(' and ')}` : 'no issuer chains: tcb_cert is used';
    },
  );
  return { cert: c, checks: [parse, ...ratls, tcbCert] };
}

/** The quote's DCAP appraisal, with the evidence's collateral and the expected identity as policy. */
function appraiseQuote(input: EvidenceVerificationInput, quoteBytes: Uint8Array): Verdict {
  const { evidence: e, expected = {}, at } = input;
  // Collateral from the evidence, with issuer chains rebuilt from the quote's own chain when absent.
  let collateral = EMPTY_COLLATERAL;
  try {
    const chain = quotePckChain(parseQuote(quoteBytes));
    collateral = evidenceCollateral(e, { intermediate: chain.intermediate.der, root: chain.root.der });
  } catch {
    // appraise() reports the quote or chain failure itself, before it would look at the collateral
  }
  return withMrenclaveSkipReason(
    expected,
    appraise({
      quote: quoteBytes,
      collateral,
      at,
      trustedRoots: input.trustedRoots,
      policy: {
        ...input.policy,
        mrEnclave: expected.mrenclave,
        mrSigner: expected.mrsigner,
        isvProdId: expected.isvProdId,
        minIsvSvn: expected.minIsvSvn,
      },
    }),
  );
}

/** The signer key check, and the MRSIGNER computed from `signer_pk` (null when it could not be). */
function signerKeyCheck(e: Evidence, verdict: Verdict): { check: Check; mrsigner: string | null } {
  let mrsigner: string | null = null;
  const result = check(
    'identity.signer-key',
    'identity',
    'signer_pk is RSA-3072 e=3, MRSIGNER = SHA-256 of its modulus',
    () => {
      const m = mrsignerFromPublicKey(e.signerPk, 'signer_pk');
      mrsigner = toHex(m);
      if (verdict.mrsigner === null) return 'quote not readable';
      if (!bytesEqual(m, Buffer.from(verdict.mrsigner, 'hex'))) {
        throw new AttestationError(
          'identity',
          'ERR_IDENTITY_SIGNER_KEY_MISMATCH',
          `quote MRSIGNER ${verdict.mrsigner} is not the hash of signer_pk (${toHex(m)})`,
          { hint: 'The enclave was not signed with the operator key in the evidence.' },
        );
      }
    },
  );
  return { check: result, mrsigner };
}

/** The policy check that input_args.application is the package's entry point `want`. */
function applicationCheck(ia: Evidence['inputArgs'], want: string): Check {
  return check(
    APPLICATION_ID,
    'identity',
    'input_args.application = the package’s mse.toml python_application',
    () => {
      if (ia.application !== want) {
        throw new AttestationError(
          'identity',
          'ERR_IDENTITY_APPLICATION_MISMATCH',
          `the enclave runs the entry point "${ia.application}" (input_args.application), the package's mse.toml names "${want}"`,
          {
            hint: 'The operator spawned the package with another entry point (e.g. an edited copy of mse.toml): this enclave does not run your app. Do not seal secrets to it.',
            policy: true,
          },
        );
      }
    },
    true,
  );
}

/** The verdict's warnings: the appraisal's, unbound input_args, and a declared platform the quote contradicts. */
function evidenceWarnings(verdict: Verdict, inputArgs: InputArgBinding[], declaredPlatform: 'sgx' | 'sim'): string[] {
  const warnings = [...verdict.warnings];
  const unbound = inputArgs.filter((b) => b.status === 'unbound').map((b) => b.field);
  if (unbound.length) warnings.push(`input_args not verified, only shown: ${unbound.join(', ')}`);
  if (declaredPlatform === 'sim' && verdict.trustAnchor?.kind === 'intel') {
    warnings.push('evidence says platform "sim" but its quote chains to Intel’s root');
  }
  if (declaredPlatform === 'sgx' && verdict.simulated) {
    warnings.push('evidence says platform "sgx" but its quote does not chain to Intel’s root');
  }
  return warnings;
}

/** The certificate's facts in the verdict. */
function certificateSummary(c: RatlsCertificate | undefined): EvidenceVerdict['certificate'] {
  return c
    ? {
        subject: c.subject,
        san: c.san,
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        fingerprint: c.fingerprint,
      }
    : null;
}

/** Verify evidence. Never throws for bad evidence: every problem is a failed check. */
export function verifyEvidence(input: EvidenceVerificationInput): EvidenceVerdict {
  const { evidence: e, expected = {}, at } = input;
  const { cert: c, checks: pre } = preAppraisalChecks(e, at);
  const verdict = appraiseQuote(input, c?.quote ?? new Uint8Array());
  const signerKey = signerKeyCheck(e, verdict);
  const post: Check[] = [signerKey.check];
  const explainAt = post.length;
  if (expected.application !== undefined) post.push(applicationCheck(e.inputArgs, expected.application));
  // Last, so that it knows whether anything else failed; listed after the signer key check.
  const explained = input.explainMeasurement?.(verdict.mrenclave, [...pre, ...verdict.checks, ...post]);
  if (explained) post.splice(explainAt, 0, explained.check);
  const inputArgs = bindInputArgs(e, expected, [...pre, ...verdict.checks, ...post]);
  post.push(...inputArgs.filter((b) => b.status === 'unbound').map(unboundWarning));
  const declaredPlatform = e.platform ?? 'sgx';

  const checks = [...pre, ...verdict.checks, ...post];
  const failures = failuresOf(checks);
  const valid = verdict.valid && failures.every((f) => f.policy);
  const accepted = valid && failures.length === 0;
  return {
    ...verdict,
    valid,
    accepted,
    checks,
    failures,
    warnings: evidenceWarnings(verdict, inputArgs, declaredPlatform),
    certificate: certificateSummary(c),
    signerKeyMrsigner: signerKey.mrsigner,
    declaredPlatform,
    inputArgs,
    ...(explained ? { measurement: explained.details } : {}),
  };
}

/** `verdict` with the reason `expected.mrenclaveSkipped` on its skipped `policy.mrenclave` check. */
function withMrenclaveSkipReason<V extends { checks: Check[] }>(expected: ExpectedIdentity, verdict: V): V {
  const why = expected.mrenclave === undefined ? expected.mrenclaveSkipped : undefined;
  if (!why) return verdict;
  return {
    ...verdict,
    checks: verdict.checks.map((x) =>
      x.id === 'policy.mrenclave' && x.status === 'skip' ? { ...x, message: why } : x,
    ),
  };
}

/** The warning check of an input_args field nothing bound. */
function unboundWarning(b: InputArgBinding): Check {
  return {
    id: `identity.input-args.${b.field}`,
    stage: 'identity',
    title: `input_args.${b.field} bound to the enclave`,
    status: 'warn',
    policy: false,
    code: 'WARN_INPUT_ARG_UNBOUND',
    message: `input_args.${b.field} = ${JSON.stringify(b.value)} (${b.role}) is NOT verified: ${b.reason}`,
    hint: 'Only shown. --package binds every spawn argument (simulated platform).',
  };
}

/** Pure: the binding of every input_args field, from the checks that ran. */
function bindInputArgs(e: Evidence, expected: ExpectedIdentity, checks: Check[]): InputArgBinding[] {
  const result = (id: string): BindingResult => {
    const s = checks.find((c) => c.id === id)?.status;
    return s === 'pass' ? 'pass' : s === 'fail' ? 'fail' : 'not-checked';
  };
  const measured: BindingResult = expected.inputArgsMeasured ? result('policy.mrenclave') : 'not-checked';
  const certificateCheck: Partial<Record<InputArgField, string>> = {
    subject: 'ratls.subject',
    subject_alternative_name: 'ratls.san',
    expiration_date: EXPIRATION_ID,
  };
  return INPUT_ARG_FIELDS.map((field) => {
    const cert = certificateCheck[field];
    const b: InputArgBinding = {
      field,
      // the UUID is a credential until the enclave is configured: reports show its first characters only
      value: field === 'app_id' ? maskAppId(e.inputArgs.appId) : inputArgValue(e.inputArgs, field),
      role: INPUT_ARGS[ARG_OF_FIELD[field]].role,
      measured,
      package:
        field === 'application' ? (expected.application !== undefined ? result(APPLICATION_ID) : 'not-checked') : null,
      certificate: cert ? result(cert) : null,
      status: 'unbound',
    };
    const outcomes = [b.measured, b.package, b.certificate];
    b.status = outcomes.includes('fail') ? 'mismatch' : outcomes.includes('pass') ? 'bound' : 'unbound';
    if (b.status === 'unbound') {
      b.reason = expected.inputArgsMeasured
        ? (expected.mrenclaveSkipped ?? 'the MRENCLAVE comparison did not run')
        : expected.mrenclave
          ? 'an MRENCLAVE given with --mrenclave binds the arguments it was computed for, not necessarily these'
          : 'no expected MRENCLAVE';
    }
    return b;
  });
}

/** The checks that make evidence authentic: the certificate's signature and its binding to the quote, the tcb_cert agreement, the quote's whole appraisal but the policy. */
const AUTHENTICATING = new Set(['ratls.parse', 'ratls.signature', 'ratls.key-binding', 'collateral.tcb-cert']);

/**
 * The checks that keep `v` from authenticating: the RA-TLS certificate unreadable, its self-signature, its
 * key not bound into the quote's report_data, the collateral's signing certificate disagreeing, or any
 * non-policy check of the quote's appraisal (structure, PCK chain to a trusted root, CRLs, TCB info, QE
 * identity, signatures, TCB level) failing. Empty when the evidence is what an enclave on a genuine
 * platform (or the simulated one, when allowed) produced, whatever its input_args say. Recomputing the
 * MRENCLAVE from a package costs seconds (SGX): `verify --package` does it only for evidence that
 * authenticates, so forged evidence costs a verifier nothing. Pure.
 */
export function authenticationFailures(v: { checks: readonly Check[] }): Check[] {
  return v.checks.filter(
    (x) =>
      (AUTHENTICATING.has(x.id) || (!x.policy && x.stage !== 'ratls' && x.stage !== 'identity')) &&
      (x.status === 'fail' || (x.id === 'ratls.parse' && x.status !== 'pass')),
  );
}
