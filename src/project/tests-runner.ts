/**
 * Running a project's tests (`tests_cmd` from mse.toml) with Debian's Python against a live app, for
 * `localtest` (local container) and `test` (the enclave). There is no package index here: requirements
 * are checked, not installed.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../cli/log.js';
import { InputError } from '../errors.js';

/** Python that runs the tests: Debian's, which sees Debian's python3-* packages. `MSE_PYTHON` overrides. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** Warn about `tests_requirements` the test Python does not have (there is no package index to install them). */
export async function checkTestRequirements(python: string, requirements: string[], log: Logger): Promise<void> {
  const names = requirements
    .map((r) => /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(r)?.[1])
    .filter((n): n is string => n !== undefined);
  if (names.length === 0) return;
  const code = [
    'import importlib.metadata as m, json, sys',
    'missing = []',
    'for n in json.loads(sys.argv[1]):',
    '    try: m.version(n)',
    '    except m.PackageNotFoundError: missing.append(n)',
    'print(json.dumps(missing))',
  ].join('\n');
  const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
    const child = spawn(python, ['-c', code, JSON.stringify(names)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', () => resolve({ code: -1, stdout: '' }));
    child.on('close', (c) => resolve({ code: c ?? -1, stdout }));
  });
  if (result.code === -1) {
    throw new InputError('ERR_PYTHON_MISSING', `cannot run ${python} to test the app`, {
      hint: 'Install Debian python3 (scripts/setup.sh does), or set MSE_PYTHON.',
    });
  }
  try {
    const missing = JSON.parse(result.stdout) as string[];
    if (missing.length) {
      log.warn(
        `tests_requirements not installed for ${python}: ${missing.join(', ')} (no package index here: install them from Debian, e.g. python3-${missing[0]})`,
      );
    }
  } catch {
    // Informational only.
  }
}

export function runTests(o: {
  python: string;
  testsCmd: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  output: NodeJS.WritableStream;
  signal: AbortSignal;
}): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['-m', ...o.testsCmd.trim().split(/\s+/)];
    const child = spawn(o.python, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => o.output.write(d));
    child.stderr.on('data', (d: Buffer) => o.output.write(d));
    const abort = (): void => {
      child.kill('SIGTERM');
    };
    o.signal.addEventListener('abort', abort);
    child.on('error', (error: NodeJS.ErrnoException) => {
      o.signal.removeEventListener('abort', abort);
      reject(
        new InputError('ERR_PYTHON_MISSING', `cannot run ${o.python}: ${error.code ?? error.message}`, {
          hint: 'Install Debian python3 (scripts/setup.sh does), or set MSE_PYTHON.',
          cause: error,
        }),
      );
    });
    child.on('close', (code, sig) => {
      o.signal.removeEventListener('abort', abort);
      resolve(code ?? (sig ? 128 : 1));
    });
  });
}
