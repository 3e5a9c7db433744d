/**
 * The `identity.manifest` check of `verify --package` on SGX evidence: what the MRENCLAVE recomputed from
 * the package covers and, when the quote's differs, which manifest entries make the difference.
 *
 * The enclave's own final manifest comes from `evidence.json` (`gramine_manifest`), written by the
 * operator: it is used only once measuring it with the package's Gramine PAL gives exactly the quoted
 * MRENCLAVE (then it is, byte for byte, the manifest the CPU measured); its argv (`gramine_argv`) only
 * once it hashes to that manifest's args file entry. Measuring it costs up to seconds (its size and thread
 * count are the operator's, within `MEASUREMENT_LIMITS` of src/fs/limits.ts), so it is measured only for
 * evidence that authenticates. Pure.
 */
import { toHex } from '../attestation/bytes.js';
import type { Evidence } from '../launch/evidence.js';
import type { Check } from '../attestation/appraise.js';
import { authenticationFailures, type MeasurementExplanation } from '../verify/verify-evidence.js';
import { computeMrenclave, readFinalManifest } from '../gramine/index.js';
import { isMseError, type MseError } from '../errors.js';
import { describeDifference, diffManifests, type ManifestDifference } from './manifest-diff.js';
import type { GramineMeasurement } from './package-measurement.js';

/** Differences listed in the check's message (all of them go to the JSON verdict, up to {@link MAX_LISTED}). */
const SHOWN = 5;
const MAX_LISTED = 100;

const TITLE = "MRENCLAVE recomputed from the package's image, code and input_args (Gramine)";

/** What became of the enclave manifest carried by the evidence. */
export type EnclaveManifestStatus = 'absent' | 'not-measured' | 'unreadable' | 'untrusted' | 'trusted';

/** Build the explanation for `verifyEvidence` (see `EvidenceVerificationInput.explainMeasurement`). */
export function explainGramineMeasurement(
  ours: GramineMeasurement,
  evidence: Evidence,
): (quotedMrenclave: string | null, others?: readonly Check[]) => MeasurementExplanation {
  return (quoted, others = []) => {
    const mrenclave = toHex(ours.mrenclave);
    const details: Record<string, unknown> = {
      platform: 'sgx',
      template: ours.enclave.version,
      mrenclave,
      trustedFiles: ours.stats.trustedFiles,
      filesHashed: ours.stats.filesHashed,
      bytesHashed: ours.stats.fileBytes,
      layerBytesChecked: ours.stats.layerBytes,
    };
    const check = (status: Check['status'], message: string, extra: Partial<Check> = {}): MeasurementExplanation => ({
      check: { id: 'identity.manifest', stage: 'identity', title: TITLE, status, policy: true, message, ...extra },
      details,
    });
    const summary = `${ours.stats.trustedFiles} trusted files, template ${ours.enclave.version}`;
    if (quoted === null) return check('skip', 'quote not readable');
    if (quoted === mrenclave) return check('pass', summary);

    const fail = (message: string, hint: string): MeasurementExplanation =>
      check('fail', message, { code: 'ERR_SGX_MEASUREMENT_MISMATCH', hint });
    const status = (s: EnclaveManifestStatus): void => {
      details.enclaveManifest = s;
    };
    const head = `the enclave (MRENCLAVE ${quoted}) does not run this package with these input_args (${mrenclave})`;
    if (evidence.gramineManifest === undefined) {
      status('absent');
      return fail(
        `${head}; the evidence carries no enclave manifest to say what differs`,
        'Ask the operator for evidence written by `mse home evidence` (it includes the enclave’s manifest).',
      );
    }
    // Measuring the operator's manifest costs up to seconds: never for evidence that does not authenticate
    // (verify --package does not even measure the package then; this keeps every other caller as strict).
    const failing = authenticationFailures({ checks: others }).map((x) => x.id);
    if (failing.length > 0) {
      status('not-measured');
      return fail(
        `${head}; the evidence's gramine_manifest was not measured to say what differs, as the evidence does not authenticate (${failing.join(', ')})`,
        'Fix what the other checks report first.',
      );
    }
    let theirs: ReturnType<typeof readFinalManifest>['table'];
    let measured: string;
    try {
      const bytes = new Uint8Array(Buffer.from(evidence.gramineManifest, 'utf8'));
      // Its size and threads are bounded by the reader (`checkMeasurementLimits`).
      theirs = readFinalManifest(bytes).table;
      measured = toHex(computeMrenclave(bytes, ours.libpal).mrenclave);
    } catch (error) {
      status('unreadable');
      return fail(
        `${head}; the evidence's gramine_manifest cannot be measured (${isMseError(error) || error instanceof Error ? error.message : String(error)})`,
        'The evidence was altered or not written by mse-home; its manifest says nothing.',
      );
    }
    if (measured !== quoted) {
      status('untrusted');
      details.enclaveManifestMrenclave = measured;
      return fail(
        `${head}; the evidence's gramine_manifest measures to ${measured}, not the quoted MRENCLAVE: it is not the enclave's manifest and is ignored`,
        'The evidence was altered, or the enclave does not use this package’s Gramine (libpal).',
      );
    }
    status('trusted');
    const differences: ManifestDifference[] = diffManifests(
      { table: ours.final.table, argv: ours.enclave.argv },
      { table: theirs, ...(evidence.gramineArgv ? { argv: evidence.gramineArgv } : {}) },
    );
    if (differences.length === 0) {
      return fail(
        `${head}: the two manifests hold the same entries written differently (not as Gramine's signer writes them)`,
        'The enclave’s manifest was not finalized by mse-home or gramine-sgx-sign.',
      );
    }
    details.differenceCount = differences.length;
    details.differences = differences.slice(0, MAX_LISTED);
    const shown = differences.slice(0, SHOWN).map(describeDifference).join('; ');
    const more = differences.length > SHOWN ? `; and ${differences.length - SHOWN} more (see --json)` : '';
    return fail(
      `${head}: ${differences.length} manifest entr${differences.length === 1 ? 'y differs' : 'ies differ'}: ${shown}${more}`,
      'Each entry names what the enclave runs differently from the package and input_args: a changed file, argument or setting.',
    );
  };
}

/**
 * The explanation when input_args cannot be measured at all (`ERR_SGX_ARGUMENT`, e.g. a size that is not
 * a power of two): no enclave runs with them, so the evidence is rejected, naming the argument.
 */
export function unmeasurableArguments(error: MseError): (quotedMrenclave: string | null) => MeasurementExplanation {
  return () => ({
    check: {
      id: 'identity.manifest',
      stage: 'identity',
      title: TITLE,
      status: 'fail',
      policy: true,
      code: 'ERR_SGX_MEASUREMENT_MISMATCH',
      message: `input_args cannot be what the enclave runs with: ${error.message}`,
      hint: error.hint,
    },
    details: { platform: 'sgx', unmeasurable: error.message },
  });
}

/**
 * The `identity.manifest` check when the package was not measured because the evidence does not
 * authenticate (`authenticationFailures` in src/attestation/verify-evidence.ts): skipped, with the reason.
 */
export function notMeasured(reason: string): (quotedMrenclave: string | null) => MeasurementExplanation {
  return () => ({
    check: { id: 'identity.manifest', stage: 'identity', title: TITLE, status: 'skip', policy: true, message: reason },
    details: { platform: 'sgx', measured: false, reason },
  });
}
