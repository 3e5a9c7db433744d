/**
 * The verdict as a readable report (for stderr): every check with its outcome, failures with code, message
 * and hint, then the enclave's identity and platform facts. `--json` prints the Verdict object itself.
 */
import type { Check, CollateralAge, Verdict } from '../attestation/appraise.js';
import { formatDuration } from '../base/duration.js';
import type { BindingResult, InputArgBinding } from './verify-evidence.js';

export interface ReportOptions {
  color?: boolean;
}

const MARK: Record<Check['status'], string> = { pass: '✓', fail: '✗', warn: '!', skip: '·' };

/** Exit-code class of a verdict: 0 accepted, 10 valid but rejected by policy, 11 invalid. */
export function verdictExitCode(v: Verdict): 0 | 10 | 11 {
  return v.accepted ? 0 : v.valid ? 10 : 11;
}

/** One-line outcome. */
export function verdictSummary(v: Verdict): string {
  if (v.accepted) return `ACCEPTED: ${v.tcbStatus ?? 'status unknown'}${v.simulated ? ' (SIMULATED PLATFORM)' : ''}`;
  if (v.valid)
    return `VALID BUT REJECTED BY POLICY (${v.failures.length} policy failure${v.failures.length === 1 ? '' : 's'})`;
  const first = v.failures.find((f) => !f.policy);
  return `INVALID: ${first ? first.code : 'verification incomplete'}`;
}

/**
 * The collateral's age in one line: how old the TCB info and QE identity are, and whether (and how long)
 * anything had expired at the verification time, against the tolerated bound.
 */
export function formatAge(a: CollateralAge): string {
  const old = (name: string, d: { seconds: number } | null): string[] =>
    d
      ? [d.seconds >= 0 ? `${name} ${formatDuration(d.seconds)} old` : `${name} issued after the verification time`]
      : [];
  const parts = [...old('TCB info', a.tcbInfo), ...old('QE identity', a.qeIdentity)];
  const bound = a.toleranceSeconds ? `tolerated up to ${formatDuration(a.toleranceSeconds)}` : 'no expiry tolerated';
  const expiry = a.expired
    ? `EXPIRED ${formatDuration(a.expired.seconds)} before the verification time (${a.expired.item} ${a.expired.expiry}; ${bound})`
    : `nothing expired (${bound})`;
  return parts.length ? `${parts.join(', ')}; ${expiry}` : expiry;
}

/** Render the verdict as text lines (with the input_args table when it is an evidence verdict). */
export function formatVerdict(v: Verdict & { inputArgs?: InputArgBinding[] }, options: ReportOptions = {}): string {
  const c = options.color === true;
  const paint = (code: string, s: string): string => (c ? `\u001b[${code}m${s}\u001b[0m` : s);
  const colorOf: Record<Check['status'], string> = { pass: '32', fail: '31', warn: '33', skip: '2' };
  const lines: string[] = [];
  lines.push(`Verification at ${v.at} (${v.timeSemantics === 'strict' ? 'strict' : 'Intel QVL'} time semantics)`);
  const notRun = v.checks.filter(
    (ch) => ch.status === 'skip' && !ch.policy && /earlier check failed/.test(ch.message ?? ''),
  );
  for (const ch of v.checks) {
    if (notRun.includes(ch)) continue;
    const mark = paint(colorOf[ch.status], MARK[ch.status]);
    const note = ch.status === 'pass' || ch.status === 'skip' ? (ch.message ? paint('2', ` (${ch.message})`) : '') : '';
    lines.push(`  ${mark} ${ch.stage.padEnd(11)} ${ch.title}${note}`);
    if (ch.status === 'fail' || ch.status === 'warn') {
      lines.push(`      ${paint(colorOf[ch.status], `${ch.code}:`)} ${ch.message}`);
      if (ch.hint) lines.push(`      hint: ${ch.hint}`);
    }
  }
  if (notRun.length) lines.push(paint('2', `  · ${notRun.length} further checks not run (an earlier check failed)`));
  lines.push('');
  const outcome = verdictSummary(v);
  lines.push(`Result: ${paint(v.accepted ? '32' : v.valid ? '33' : '31', outcome)}`);
  const facts: [string, string | null][] = [
    [
      'TCB status',
      v.tcbStatus &&
        `${v.tcbStatus} (platform ${v.platformTcbStatus}, QE ${v.qeTcbStatus}${v.tcbDate ? `, tcbDate ${v.tcbDate.slice(0, 10)}` : ''})`,
    ],
    ['Advisories', v.tcbStatus ? (v.advisoryIds.length ? v.advisoryIds.join(', ') : 'none') : null],
    ['MRENCLAVE', v.mrenclave],
    ['MRSIGNER', v.mrsigner],
    ['ISV prod/SVN', v.isvProdId === null ? null : `${v.isvProdId} / ${v.isvSvn}`],
    ['Debug', v.debug === null ? null : v.debug ? 'YES (enclave memory readable by the host)' : 'no'],
    ['Report data', v.reportData],
    ['Platform', v.fmspc && `FMSPC ${v.fmspc}, PCE ID ${v.pceId}, ${v.pckCaType ?? '?'} CA`],
    ['Trust anchor', v.trustAnchor && `${v.trustAnchor.kind}: ${v.trustAnchor.subject}`],
    [
      'Collateral',
      v.collateralWindow &&
        `valid ${v.collateralWindow.from} .. ${v.collateralWindow.until}` +
          (Date.parse(v.collateralWindow.from) > Date.parse(v.collateralWindow.until) ? ' (NO COMMON WINDOW)' : '') +
          (v.tcbEvaluationDataNumber !== null ? `, TCB evaluation data number ${v.tcbEvaluationDataNumber}` : ''),
    ],
    ['Age', v.collateralAge && formatAge(v.collateralAge)],
  ];
  for (const [k, val] of facts) if (val) lines.push(`  ${k.padEnd(13)}${val}`);
  if (v.inputArgs) lines.push(...formatInputArgs(v.inputArgs, paint));
  for (const w of v.warnings) lines.push(paint('33', `  warning: ${w}`));
  return lines.join('\n');
}

const BINDING_MARK: Record<BindingResult, string> = { pass: '✓', fail: '✗', 'not-checked': '·' };

/**
 * The input_args table: per binding (measured, package, certificate) ✓ held, ✗ failed, · not checked,
 * blank when it does not apply; then the value. Fields no binding covered say NOT VERIFIED.
 */
function formatInputArgs(bindings: InputArgBinding[], paint: (code: string, s: string) => string): string[] {
  const lines = ['', `  ${'input_args'.padEnd(26)}measured  package  certificate  value`];
  const mark = (r: BindingResult | null): string =>
    r === null ? ' ' : paint(r === 'pass' ? '32' : r === 'fail' ? '31' : '2', BINDING_MARK[r]);
  for (const b of bindings) {
    let value = b.value === null ? 'null' : typeof b.value === 'string' ? JSON.stringify(b.value) : String(b.value);
    const date = b.field === 'expiration_date' && typeof b.value === 'number' ? new Date(b.value * 1000) : undefined;
    if (date && !Number.isNaN(date.getTime())) value += ` (${date.toISOString().replace('.000Z', 'Z')})`;
    const status =
      b.status === 'bound' ? '' : b.status === 'mismatch' ? paint('31', '  MISMATCH') : paint('33', '  NOT VERIFIED');
    lines.push(
      `  ${b.field.padEnd(26)}${mark(b.measured)}${' '.repeat(9)}${mark(b.package)}${' '.repeat(8)}${mark(b.certificate)}${' '.repeat(12)}${value}${status}`,
    );
  }
  return lines;
}
