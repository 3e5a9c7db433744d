/**
 * Verify an `evidence.json` offline: the RA-TLS certificate, the full DCAP appraisal of the quote it
 * carries (with the evidence's collateral), and the enclave identity against the provider's
 * expectations. Pure: (evidence, expectations, policy, time, extra roots) → verdict.
 *
 * The expected MRENCLAVE comes from the caller: `--mrenclave HEX` today, and, for `--package`, a value
 * computed from the package and `input_args` (pluggable: see {@link ExpectedIdentity}).
 */
import { subjectsEqual } from '../ratls/dn.js';
import {
  checkRatlsKeyBinding,
  checkRatlsValidity,
  normalizeSan,
  readRatlsCertificate,
  verifyRatlsSignature,
  type RatlsCertificate,
} from '../ratls/read.js';
import { AttestationError, isMseError } from '../errors.js';
import { appraise, quotePckChain, type Check, type Failure, type Verdict } from './appraise.js';
import { bytesEqual, toHex } from './bytes.js';
import { EMPTY_COLLATERAL } from './collateral.js';
import { evidenceCollateral, type Evidence } from './evidence.js';
import { mrsignerFromPublicKey } from './mrsigner.js';
import type { Policy } from './policy.js';
import { parseQuote } from './quote.js';

/** What the provider expects the enclave to be. Unset fields are not checked. */
export interface ExpectedIdentity {
  mrenclave?: Uint8Array;
  mrsigner?: Uint8Array;
  isvProdId?: number;
  minIsvSvn?: number;
}

/** A check on how the expected MRENCLAVE was obtained, and facts for the JSON verdict. */
export interface MeasurementExplanation {
  check: Check;
  details: Record<string, unknown>;
}

export interface EvidenceVerificationInput {
  evidence: Evidence;
  expected?: ExpectedIdentity;
  policy?: Partial<Policy>;
  at: Date;
  trustedRoots?: Uint8Array[];
  /**
   * Called with the quote's MRENCLAVE (hex; null when the quote was unreadable) once it is known: a check
   * saying what the expected value covers and, when they differ, why (SGX packages: the differing
   * manifest entries). Must be pure.
   */
  explainMeasurement?: (quotedMrenclave: string | null) => MeasurementExplanation;
}

/** A verdict on evidence: the quote verdict plus the certificate and signer-key checks. */
export interface EvidenceVerdict extends Verdict {
  certificate: { subject: string; san: string; notBefore: string; notAfter: string; fingerprint: string } | null;
  /** MRSIGNER computed from `signer_pk`, hex. */
  signerKeyMrsigner: string | null;
  /** `platform` as the evidence declares it (MSE's evidence has none: sgx). */
  declaredPlatform: 'sgx' | 'sim';
  /** From {@link EvidenceVerificationInput.explainMeasurement}, when given. */
  measurement?: Record<string, unknown>;
}

function check(id: string, stage: 'ratls' | 'identity', title: string, fn: () => string | void): Check {
  try {
    const message = fn();
    return { id, stage, title, status: 'pass', policy: false, ...(message ? { message } : {}) };
  } catch (error) {
    const e = isMseError(error)
      ? error
      : new AttestationError(stage, 'ERR_VERIFIER_INTERNAL', `internal verifier error: ${String(error)}`);
    return { id, stage, title, status: 'fail', policy: false, code: e.code, message: e.message, hint: e.hint };
  }
}

const skipped = (id: string, stage: 'ratls' | 'identity', title: string, why: string): Check => ({
  id,
  stage,
  title,
  status: 'skip',
  policy: false,
  message: why,
});

/** Verify evidence. Never throws for bad evidence: every problem is a failed check. */
export function verifyEvidence(input: EvidenceVerificationInput): EvidenceVerdict {
  const { evidence: e, expected = {}, at } = input;
  const ia = e.inputArgs;
  let cert: RatlsCertificate | undefined;
  const pre: Check[] = [];
  pre.push(
    check('ratls.parse', 'ratls', 'RA-TLS certificate is well-formed and carries a quote', () => {
      cert = readRatlsCertificate(e.ratlsCertificate);
    }),
  );
  const c = cert;
  if (c) {
    pre.push(
      check('ratls.signature', 'ratls', 'RA-TLS certificate self-signature', () => verifyRatlsSignature(c)),
      check('ratls.validity', 'ratls', 'RA-TLS certificate valid at verification time', () =>
        checkRatlsValidity(c, at),
      ),
      check('ratls.key-binding', 'ratls', 'report_data[0:32] = SHA-256(certificate public key)', () =>
        checkRatlsKeyBinding(c),
      ),
      check('ratls.subject', 'ratls', 'Certificate subject = input_args.subject', () => {
        if (!subjectsEqual(c.subject, ia.subject, { anyOrder: true })) {
          throw new AttestationError(
            'ratls',
            'ERR_RATLS_SUBJECT_MISMATCH',
            `certificate subject "${c.subject}" differs from input_args.subject "${ia.subject}"`,
            { hint: 'The certificate was not made for these spawn arguments: the evidence is inconsistent.' },
          );
        }
      }),
      check('ratls.san', 'ratls', 'Certificate SAN = input_args.subject_alternative_name', () => {
        // DNS names compare case-insensitively, IP addresses by value (the enclave keeps the spelling given)
        if (normalizeSan(ia.subjectAlternativeName) !== normalizeSan(c.san)) {
          throw new AttestationError(
            'ratls',
            'ERR_RATLS_SAN_MISMATCH',
            `certificate SAN "${c.san}" differs from input_args.subject_alternative_name "${ia.subjectAlternativeName}"`,
            { hint: 'The certificate was not made for these spawn arguments: the evidence is inconsistent.' },
          );
        }
      }),
    );
  } else {
    const why = 'not run: the certificate could not be read';
    pre.push(
      skipped('ratls.signature', 'ratls', 'RA-TLS certificate self-signature', why),
      skipped('ratls.validity', 'ratls', 'RA-TLS certificate valid at verification time', why),
      skipped('ratls.key-binding', 'ratls', 'report_data[0:32] = SHA-256(certificate public key)', why),
      skipped('ratls.subject', 'ratls', 'Certificate subject = input_args.subject', why),
      skipped('ratls.san', 'ratls', 'Certificate SAN = input_args.subject_alternative_name', why),
    );
  }

  // Collateral from the evidence, with issuer chains rebuilt from the quote's own chain when absent.
  let collateral = EMPTY_COLLATERAL;
  const quoteBytes = c?.quote ?? new Uint8Array();
  try {
    const chain = quotePckChain(parseQuote(quoteBytes));
    collateral = evidenceCollateral(e, { intermediate: chain.intermediate.der, root: chain.root.der });
  } catch {
    // appraise() reports the quote or chain failure itself, before it would look at the collateral
  }
  const verdict = appraise({
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
  });

  let signerKeyMrsigner: string | null = null;
  const post: Check[] = [
    check('identity.signer-key', 'identity', 'MRSIGNER = SHA-256 of signer_pk modulus', () => {
      const m = mrsignerFromPublicKey(e.signerPk);
      signerKeyMrsigner = toHex(m);
      if (verdict.mrsigner === null) return 'quote not readable';
      if (!bytesEqual(m, Buffer.from(verdict.mrsigner, 'hex'))) {
        throw new AttestationError(
          'identity',
          'ERR_IDENTITY_SIGNER_KEY_MISMATCH',
          `quote MRSIGNER ${verdict.mrsigner} is not the hash of signer_pk (${toHex(m)})`,
          { hint: 'The enclave was not signed with the operator key in the evidence.' },
        );
      }
    }),
  ];
  const explained = input.explainMeasurement?.(verdict.mrenclave);
  if (explained) post.push(explained.check);
  const declaredPlatform = e.platform ?? 'sgx';
  const warnings = [...verdict.warnings];
  if (declaredPlatform === 'sim' && verdict.trustAnchor?.kind === 'intel') {
    warnings.push('evidence says platform "sim" but its quote chains to Intel’s root');
  }
  if (declaredPlatform === 'sgx' && verdict.simulated) {
    warnings.push('evidence says platform "sgx" but its quote does not chain to Intel’s root');
  }

  const checks = [...pre, ...verdict.checks, ...post];
  const failures: Failure[] = checks
    .filter((x) => x.status === 'fail')
    .map((x) => ({ stage: x.stage, code: x.code!, message: x.message!, hint: x.hint ?? '', policy: x.policy }));
  const valid = verdict.valid && failures.every((f) => f.policy);
  const accepted = valid && failures.length === 0;
  return {
    ...verdict,
    valid,
    accepted,
    checks,
    failures,
    warnings,
    certificate: c
      ? {
          subject: c.subject,
          san: c.san,
          notBefore: c.notBefore.toISOString(),
          notAfter: c.notAfter.toISOString(),
          fingerprint: c.fingerprint,
        }
      : null,
    signerKeyMrsigner,
    declaredPlatform,
    ...(explained ? { measurement: explained.details } : {}),
  };
}
