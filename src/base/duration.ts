/**
 * Durations as the verifier's flags take them and as verdicts print them: a whole number and one unit,
 * `s` (seconds), `m` (minutes), `h` (hours) or `d` (days of 86400 s), e.g. `90s`, `12h`, `30d`.
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The duration units, for help texts and hints. */
export const DURATION_SYNTAX = 'a whole number and a unit: s, m (minutes), h or d, e.g. 90s, 12h, 30d';

/** Seconds in `text` (`30d`, `12h`, `90s`, `5m`), or undefined when it is not such a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = /^(\d{1,12})([smhd])$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

/** A readable duration, two units at most, rounded down: `958d 3h`, `5h 12m`, `45s`, `0s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d) return h ? `${d}d ${h}h` : `${d}d`;
  if (h) return m ? `${h}h ${m}m` : `${h}h`;
  if (m) return r ? `${m}m ${r}s` : `${m}m`;
  return `${r}s`;
}
