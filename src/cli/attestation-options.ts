/**
 * Policy, trust and time flags shared by `quote verify` and `verify`, and how their verdict is printed.
 */
import { UsageError } from '../errors.js';
import { readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { bytesEqual } from '../attestation/bytes.js';
import type { Verdict } from '../attestation/appraise.js';
import { INTEL_SGX_ROOT_CA_DER } from '../attestation/intel-root.js';
import { DURATION_SYNTAX, formatDuration } from '../base/duration.js';
import {
  normalizeAdvisoryId,
  parseExpiryTolerance,
  parseMeasurement,
  parseTcbStatus,
  type Policy,
} from '../attestation/policy.js';
import { formatVerdict, verdictExitCode } from '../verify/report.js';
import { parseCertificate, pemBlocks } from '../attestation/x509.js';
import { useColor } from '../base/log.js';
import { integerOption, stringOption, type CommandContext, type OptionSpec, type OptionValues } from './command.js';
import { printJson } from './output.js';

export const POLICY_OPTIONS: Record<string, OptionSpec> = {
  at: {
    type: 'string',
    placeholder: 'TIME',
    description: 'Verification time: ISO 8601 (2025-07-01T00:00:00Z, 2025-07-01) or unix seconds (default: now)',
  },
  'accept-tcb-status': {
    type: 'string',
    multiple: true,
    placeholder: 'STATUS',
    description: 'Also accept this TCB status (repeatable; default UpToDate only)',
  },
  'allow-advisory': {
    type: 'string',
    multiple: true,
    placeholder: 'ID',
    description: 'Allow this Intel security advisory, e.g. INTEL-SA-00615 or 00615 (repeatable)',
  },
  'allow-debug': { type: 'boolean', description: 'Accept a DEBUG enclave (its memory is readable: testing only)' },
  mrsigner: { type: 'string', placeholder: 'HEX', description: 'Expected MRSIGNER (64 hex characters)' },
  isvprodid: { type: 'string', placeholder: 'N', description: 'Expected ISV product ID' },
  'min-isvsvn': { type: 'string', placeholder: 'N', description: 'Minimum ISV SVN' },
  'min-tcb-eval-num': {
    type: 'string',
    placeholder: 'N',
    description: 'Minimum TCB evaluation data number (refuse collateral from before a TCB recovery)',
  },
  'allow-simulation': {
    type: 'boolean',
    description: 'Accept evidence from the simulated SGX platform (proves nothing about hardware)',
  },
  'trusted-root': {
    type: 'string',
    multiple: true,
    placeholder: 'FILE',
    description: 'Also trust this root CA certificate, PEM or DER (repeatable; e.g. a test root)',
  },
  'ignore-issue-dates': {
    type: 'boolean',
    description: 'Intel QVL time semantics: do not check issue dates (notBefore, issueDate)',
  },
  'allow-expired-collateral': {
    type: 'string',
    placeholder: 'DURATION',
    description: `Accept collateral that expired at most DURATION before the verification time, with a warning (${DURATION_SYNTAX})`,
    valueHint: `--allow-expired-collateral takes a bound: how long collateral may have expired, ${DURATION_SYNTAX}. There is no unbounded form.`,
  },
};

/** Parse `--at`: ISO 8601 with a zone, a date (UTC midnight), or unix seconds. */
export function parseAt(raw: string | undefined, now: () => Date = () => new Date()): Date {
  if (raw === undefined) return now();
  const t = raw.trim();
  let ms: number;
  if (/^\d{1,12}$/.test(t)) ms = Number(t) * 1000;
  else if (/^\d{4}-\d\d-\d\d$/.test(t)) ms = Date.parse(`${t}T00:00:00Z`);
  else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(t)) ms = Date.parse(t);
  else ms = NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError('ERR_OPTION_VALUE', `--at '${raw}' is not a time`, {
      hint: 'Use ISO 8601 with a zone (2025-07-01T00:00:00Z), a date (2025-07-01) or unix seconds.',
    });
  }
  return new Date(ms);
}

export interface AppraisalSettings {
  policy: Partial<Policy>;
  trustedRoots: Uint8Array[];
  at: Date;
}

function list(values: OptionValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** Read a trusted root certificate file (PEM or DER) and check that it is a certificate. */
async function readRoot(file: string): Promise<Uint8Array> {
  const raw = await readUserFile(file, 'trusted root certificate', INPUT_LIMITS.certificate);
  const text = raw.toString('latin1');
  const ctx = { stage: 'input', code: 'ERR_TRUSTED_ROOT', what: `trusted root ${file}` };
  let der: Uint8Array;
  try {
    if (text.trimStart().startsWith('-----BEGIN')) {
      const blocks = pemBlocks(text.trim() + '\n', 'CERTIFICATE', ctx);
      if (blocks.length !== 1) throw new Error(`${blocks.length} certificates`);
      der = blocks[0]!;
    } else der = new Uint8Array(raw);
    parseCertificate(der, ctx);
  } catch (error) {
    throw new UsageError('ERR_TRUSTED_ROOT', `--trusted-root ${file} is not one X.509 certificate (PEM or DER)`, {
      hint: (error as Error).message,
    });
  }
  return der;
}

/** Policy, extra roots and time from the flags. Prints loud warnings for every relaxation. */
export async function appraisalSettings(ctx: CommandContext): Promise<AppraisalSettings> {
  const v = ctx.values;
  const mrsigner = stringOption(v, 'mrsigner');
  const tolerance = stringOption(v, 'allow-expired-collateral');
  const policy: Partial<Policy> = {
    acceptedTcbStatuses: ['UpToDate', ...list(v, 'accept-tcb-status').map((s) => parseTcbStatus(s))],
    allowedAdvisoryIds: list(v, 'allow-advisory').map(normalizeAdvisoryId),
    allowDebug: v['allow-debug'] === true,
    allowSimulation: v['allow-simulation'] === true,
    ignoreIssueDates: v['ignore-issue-dates'] === true,
    expiredCollateralToleranceSeconds: tolerance === undefined ? 0 : parseExpiryTolerance(tolerance),
    ...(mrsigner ? { mrSigner: parseMeasurement(mrsigner, '--mrsigner') } : {}),
  };
  const isv = integerOption(v, 'isvprodid', 0, 0xffff);
  if (isv !== undefined) policy.isvProdId = isv;
  const minSvn = integerOption(v, 'min-isvsvn', 0, 0xffff);
  if (minSvn !== undefined) policy.minIsvSvn = minSvn;
  const minEval = integerOption(v, 'min-tcb-eval-num', 0, 0xffffffff);
  if (minEval !== undefined) policy.minTcbEvaluationDataNumber = minEval;
  for (const a of policy.allowedAdvisoryIds!) {
    if (!/^[A-Z][A-Z0-9]*-SA-\d+$/.test(a)) {
      throw new UsageError('ERR_OPTION_VALUE', `--allow-advisory '${a}' is not an advisory ID like INTEL-SA-00615`);
    }
  }
  const trustedRoots: Uint8Array[] = [];
  for (const f of list(v, 'trusted-root')) {
    const der = await readRoot(f);
    if (!bytesEqual(der, INTEL_SGX_ROOT_CA_DER)) trustedRoots.push(der);
  }
  const at = parseAt(stringOption(v, 'at'));
  if (policy.allowSimulation) {
    ctx.log.warn(
      '--allow-simulation: evidence from the SIMULATED platform is accepted; it proves nothing about hardware',
    );
  }
  if (trustedRoots.length)
    ctx.log.warn(`--trusted-root: ${trustedRoots.length} root(s) other than Intel's are trusted`);
  if (policy.allowDebug) ctx.log.warn('--allow-debug: a DEBUG enclave is accepted; its memory is not confidential');
  if (tolerance !== undefined) {
    ctx.log.warn(
      `--allow-expired-collateral ${tolerance}: collateral that expired up to ${formatDuration(policy.expiredCollateralToleranceSeconds!)} before the verification time is accepted (with a warning)`,
    );
  }
  for (const s of policy.acceptedTcbStatuses!) if (s !== 'UpToDate') ctx.log.warn(`accepting TCB status ${s}`);
  return { policy, trustedRoots, at };
}

/** Print a verdict (table on stderr; JSON on stdout with --json) and return its exit code. */
export function reportVerdict(ctx: CommandContext, verdict: Verdict, extra: Record<string, unknown> = {}): number {
  const code = verdictExitCode(verdict);
  const stream = process.stderr as { isTTY?: boolean };
  ctx.log.line(formatVerdict(verdict, { color: useColor(stream, ctx.env) }));
  if (ctx.json) printJson(ctx, { ok: verdict.accepted, ...extra, verdict, exitCode: code });
  return code;
}
