/** Run a Python snippet with Debian's interpreter, for interop tests against real Python libraries. Tests only. */
import { spawnSync } from 'node:child_process';
import { DEBIAN_PYTHON } from './vectors.js';

/**
 * Run `code` with `input` as JSON on stdin; the snippet prints one JSON document on stdout, returned parsed.
 * Throws with Python's stderr when it fails.
 */
export function runPython<T = unknown>(code: string, input: unknown = null): T {
  const r = spawnSync(DEBIAN_PYTHON, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
