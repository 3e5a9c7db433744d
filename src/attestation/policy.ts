/**
 * The relying party's policy: what Intel's QVL leaves to the caller (identity, debug, acceptable TCB
 * statuses and advisories) plus trust-anchor and time semantics. Plain data; defaults are the strict,
 * production ones, and every relaxation is an explicit field.
 */
import { UsageError } from '../errors.js';
import { fromHexStrict } from './bytes.js';
import { TCB_STATUSES, type TcbStatus } from './collateral.js';
import { DURATION_SYNTAX, parseDurationSeconds } from '../base/duration.js';

export interface Policy {
  /** Expected MRENCLAVE (32 bytes). */
  mrEnclave?: Uint8Array;
  /** Expected MRSIGNER (32 bytes). */
  mrSigner?: Uint8Array;
  /** Expected ISV product ID. */
  isvProdId?: number;
  /** Minimum ISV SVN. */
  minIsvSvn?: number;
  /** Minimum `tcbEvaluationDataNumber` of the TCB info (refuses collateral from before a TCB recovery). */
  minTcbEvaluationDataNumber?: number;
  /** Accept enclaves with the DEBUG attribute (their memory is readable by the host). Default false. */
  allowDebug: boolean;
  /** TCB statuses to accept. Default: UpToDate only. */
  acceptedTcbStatuses: TcbStatus[];
  /** Advisory IDs (e.g. INTEL-SA-00615) that may be present. Default: none. */
  allowedAdvisoryIds: string[];
  /**
   * Accept a chain rooted in a self-signed root other than Intel's (the simulated platform). Such evidence
   * proves nothing about hardware. Default false.
   */
  allowSimulation: boolean;
  /**
   * Intel QVL time semantics: do not check certificate notBefore nor TCB Info / QE Identity issueDate.
   * Default false (strict: every item must be valid at the verification time, issue dates included).
   */
  ignoreIssueDates: boolean;
  /**
   * How long, in seconds, an item may have expired before the verification time and still be accepted
   * (with a warning, and verdict.collateralExpired): any certificate of the PCK chain or of the collateral's
   * issuer chains (notAfter), either CRL and the TCB info / QE identity (nextUpdate). Intel QvE tolerates
   * any expiry; here the tolerance is a bound. Default 0: every expired item fails.
   */
  expiredCollateralToleranceSeconds: number;
}

/** The production defaults. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  allowDebug: false,
  acceptedTcbStatuses: ['UpToDate'] as TcbStatus[],
  allowedAdvisoryIds: [] as string[],
  allowSimulation: false,
  ignoreIssueDates: false,
  expiredCollateralToleranceSeconds: 0,
});

/** A complete policy from a partial one (defaults for the rest). */
export function makePolicy(p: Partial<Policy> = {}): Policy {
  const out: Policy = {
    ...DEFAULT_POLICY,
    acceptedTcbStatuses: [...DEFAULT_POLICY.acceptedTcbStatuses],
    allowedAdvisoryIds: [...DEFAULT_POLICY.allowedAdvisoryIds],
  };
  if ('allowExpiredCollateral' in p) {
    // The unbounded boolean of earlier versions: refuse it rather than guess a bound.
    throw new UsageError('ERR_OPTION_VALUE', 'policy.allowExpiredCollateral was replaced by a bound', {
      hint: 'Set expiredCollateralToleranceSeconds to the longest expiry you accept (e.g. 30 * 86400).',
    });
  }
  for (const [k, v] of Object.entries(p)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  const tol = out.expiredCollateralToleranceSeconds;
  if (typeof tol !== 'number' || !Number.isSafeInteger(tol) || tol < 0) {
    throw new UsageError(
      'ERR_OPTION_VALUE',
      `policy.expiredCollateralToleranceSeconds must be a whole number of seconds ≥ 0, got ${String(tol)}`,
    );
  }
  out.allowedAdvisoryIds = out.allowedAdvisoryIds.map(normalizeAdvisoryId);
  return out;
}

/** `INTEL-SA-00615`, `intel-sa-00615` and `00615` / `615` all mean INTEL-SA-00615. */
export function normalizeAdvisoryId(id: string): string {
  const t = id.trim().toUpperCase();
  if (/^\d{1,5}$/.test(t)) return `INTEL-SA-${t.padStart(5, '0')}`;
  return t;
}

/** Parse a TCB status name case-insensitively; throws UsageError naming the valid ones. */
export function parseTcbStatus(name: string, flag = '--accept-tcb-status'): TcbStatus {
  const found = TCB_STATUSES.find((s) => s.toLowerCase() === name.trim().toLowerCase());
  if (!found) {
    throw new UsageError('ERR_OPTION_VALUE', `${flag} '${name}' is not a TCB status`, {
      hint: `Valid statuses: ${TCB_STATUSES.join(', ')}.`,
    });
  }
  return found;
}

/**
 * Parse the bound of `--allow-expired-collateral` (`30d`, `12h`, `90s`, `5m`) into seconds; throws
 * UsageError `ERR_OPTION_VALUE` naming the syntax.
 */
export function parseExpiryTolerance(text: string, flag = '--allow-expired-collateral'): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || !Number.isSafeInteger(seconds)) {
    throw new UsageError('ERR_OPTION_VALUE', `${flag} '${text}' is not a duration`, {
      hint: `${flag} takes how long collateral may have expired: ${DURATION_SYNTAX}.`,
    });
  }
  return seconds;
}

/** Parse a 32-byte measurement given as 64 hex characters; throws UsageError naming the flag. */
export function parseMeasurement(hex: string, flag: string): Uint8Array {
  const b = fromHexStrict(hex.trim());
  if (!b || b.length !== 32) {
    throw new UsageError('ERR_OPTION_VALUE', `${flag} must be 64 hex characters (32 bytes), got '${hex}'`);
  }
  return b;
}

/** What each TCB status means and what accepting it implies (used in verdict hints). */
export const TCB_STATUS_EXPLANATIONS: Record<TcbStatus, string> = {
  UpToDate: 'the platform is fully patched',
  SWHardeningNeeded:
    'the platform is patched, but some vulnerabilities can only be mitigated by the enclave software itself',
  ConfigurationNeeded: 'the platform is patched but its BIOS configuration leaves it vulnerable',
  ConfigurationAndSWHardeningNeeded:
    'the platform needs a BIOS configuration change, and the enclave software must mitigate some vulnerabilities itself',
  OutOfDate: 'the platform needs a microcode/BIOS update',
  OutOfDateConfigurationNeeded: 'the platform needs a microcode/BIOS update and a BIOS configuration change',
  Revoked: 'the platform’s keys or TCB level are revoked by Intel',
};
