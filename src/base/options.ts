/**
 * The vocabulary of command options, below the CLI so that modules which take options (a project's paths,
 * `package/project.ts`) need not import `cli/`: an option's spec, the parsed values, and the readers of one
 * value. Parsing an argument vector against a command's specs is `cli/command.ts`'s job.
 */
import { UsageError } from '../errors.js';
import { DURATION_SYNTAX, formatDuration, parseDurationSeconds } from './duration.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times; the value is then an array. */
  multiple?: boolean;
  /** Shown in help, e.g. `FILE`. */
  placeholder?: string;
  description: string;
  required?: boolean;
  /** For a string flag: what its value must be, shown as the hint when the flag is given without one. */
  valueHint?: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** Exactly one of `names` must be set (or at most one when `required` is false). */
export function requireOneOf(values: OptionValues, names: string[], required = true): string | undefined {
  const set = names.filter((n) => values[n] !== undefined && values[n] !== false);
  if (set.length > 1) {
    throw new UsageError(
      'ERR_CONFLICTING_OPTIONS',
      `options ${set.map((n) => `--${n}`).join(' and ')} cannot be used together`,
    );
  }
  if (required && set.length === 0) {
    throw new UsageError('ERR_MISSING_OPTION', `one of ${names.map((n) => `--${n}`).join(', ')} is required`);
  }
  return set[0];
}

/** A string flag's value, or undefined. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Parse a decimal integer flag strictly (no `+`, no exponent, no spaces; `-` only when `min` allows it). */
export function integerOption(values: OptionValues, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  if (!/^-?[0-9]+$/.test(raw)) {
    throw new UsageError('ERR_OPTION_VALUE', `--${name} must be a whole number, got '${raw}'`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max || (raw.startsWith('-') && min >= 0)) {
    throw new UsageError('ERR_OPTION_VALUE', `--${name} must be between ${min} and ${max}, got ${raw}`);
  }
  return n;
}

/** The unit a bare number is read in, for options that kept MSE's unitless form. */
export type BareUnit = 'ms' | 's' | 'm';

const BARE_UNIT_MS: Record<BareUnit, number> = { ms: 1, s: 1000, m: 60_000 };
const BARE_UNIT_NAME: Record<BareUnit, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes' };

/**
 * A duration flag in milliseconds, or undefined when absent. Takes a unit (`90s`, `10m`, `1h`, `2d`) or a bare
 * whole number read in `bare`, the unit MSE's flag always had (so `spawn --timeout 10` still means ten
 * minutes). Refused outside `[minMs, maxMs]`, with the bounds in the hint.
 */
export function durationOption(
  values: OptionValues,
  name: string,
  range: { bare: BareUnit; minMs: number; maxMs: number },
): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const hint = `--${name} takes ${DURATION_SYNTAX}; a bare number is ${BARE_UNIT_NAME[range.bare]}`;
  let ms: number;
  if (/^[0-9]{1,12}$/.test(raw)) ms = Number(raw) * BARE_UNIT_MS[range.bare];
  else {
    const seconds = parseDurationSeconds(raw);
    if (seconds === undefined) {
      throw new UsageError('ERR_OPTION_VALUE', `--${name} '${raw}' is not a duration`, { hint: `${hint}.` });
    }
    ms = seconds * 1000;
  }
  if (!Number.isSafeInteger(ms) || ms < range.minMs || ms > range.maxMs) {
    throw new UsageError(
      'ERR_OPTION_VALUE',
      `--${name} must be between ${formatMs(range.minMs)} and ${formatMs(range.maxMs)}, got ${raw}`,
      { hint: `${hint}.` },
    );
  }
  return ms;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : formatDuration(Math.floor(ms / 1000));
}
