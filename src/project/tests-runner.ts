/**
 * Running a project's tests (`tests_cmd` from mse.toml) with Debian's Python against a live app, for
 * `localtest` (local container) and `test` (the enclave). There is no package index here: requirements
 * are checked, not installed. Both commands report a failed run the same way ({@link testsFailedError}).
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../base/log.js';
import { ExitCode, InputError, MseError } from '../errors.js';

/** Python that runs the tests: Debian's, which sees Debian's python3-* packages. `MSE_PYTHON` overrides. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/**
 * Import names of distributions whose module is not their name (lower-cased, `-` → `_`). Each entry is the
 * distribution's documented top-level module; anything else is looked up under its own name.
 */
export const IMPORT_NAMES: Readonly<Record<string, string>> = {
  attrs: 'attr',
  beautifulsoup4: 'bs4',
  'email-validator': 'email_validator',
  mysqlclient: 'MySQLdb',
  'opencv-python': 'cv2',
  'opencv-python-headless': 'cv2',
  pillow: 'PIL',
  protobuf: 'google.protobuf',
  'psycopg2-binary': 'psycopg2',
  pyjwt: 'jwt',
  pynacl: 'nacl',
  pyopenssl: 'OpenSSL',
  pyserial: 'serial',
  'python-dateutil': 'dateutil',
  'python-dotenv': 'dotenv',
  'python-multipart': 'multipart',
  pyyaml: 'yaml',
  pyzmq: 'zmq',
  'scikit-image': 'skimage',
  'scikit-learn': 'sklearn',
};

/**
 * Debian packages for modules whose package is not `python3-<module>` (Debian's Python policy names the
 * package after the module). Checked against Debian bookworm's archive (tests-runner.e2e.test.ts).
 */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  cv2: 'python3-opencv',
  'google.protobuf': 'python3-protobuf',
};

export interface Requirement {
  /** As written in `tests_requirements` (the distribution name). */
  name: string;
  /** The module the tests would import. */
  module: string;
}

/**
 * The distribution name and import name of each `tests_requirements` entry (`"requests>=2"`,
 * `"scikit-learn[alldeps]; python_version>'3'"`…). Entries without a name are skipped.
 */
export function parseRequirements(requirements: string[]): Requirement[] {
  const out: Requirement[] = [];
  for (const r of requirements) {
    const name = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(r)?.[1];
    if (name === undefined) continue;
    const key = name.toLowerCase().replace(/_/g, '-');
    out.push({ name, module: IMPORT_NAMES[key] ?? name.toLowerCase().replace(/-/g, '_') });
  }
  return out;
}

/** Debian package names that may provide `req`, by policy or by {@link DEBIAN_PACKAGES}; most likely first. */
export function debianCandidates(req: Requirement): string[] {
  const fromModule = DEBIAN_PACKAGES[req.module] ?? `python3-${req.module.toLowerCase().replace(/_/g, '-')}`;
  const fromName = `python3-${req.name.toLowerCase().replace(/[._]/g, '-')}`;
  return [...new Set([fromModule, fromName])];
}

/** Packages among `candidates` that this machine's apt knows (`apt-cache policy`: a candidate version). */
async function knownDebianPackages(candidates: string[]): Promise<Set<string>> {
  const r = await capture('apt-cache', ['policy', ...candidates], {});
  const known = new Set<string>();
  let current: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) current = head[1];
    else if (current && /^\s+Candidate: (?!\(none\))\S/.test(line)) known.add(current);
  }
  return known;
}

/**
 * Warn about `tests_requirements` that the test Python cannot import (there is no package index to install
 * them). A requirement is there when its module imports (`importlib.util.find_spec`) or its distribution is
 * installed; for the others, the Debian package providing the module is suggested when apt knows one, and
 * none is invented when it does not.
 */
export async function checkTestRequirements(
  python: string,
  requirements: string[],
  log: Logger,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const reqs = parseRequirements(requirements);
  if (reqs.length === 0) return;
  const code = [
    'import importlib.metadata as m, importlib.util as u, json, sys',
    'missing = []',
    'for name, module in json.loads(sys.argv[1]):',
    '    try:',
    '        found = u.find_spec(module) is not None',
    '    except (ImportError, ValueError):',
    '        found = False',
    '    if not found:',
    '        try:',
    '            m.distribution(name)',
    '            found = True',
    '        except m.PackageNotFoundError:',
    '            pass',
    '    if not found:',
    '        missing.append(name)',
    'print(json.dumps(missing))',
  ].join('\n');
  const result = await capture(python, ['-c', code, JSON.stringify(reqs.map((r) => [r.name, r.module]))], options);
  if (result.code === -1) {
    throw new InputError('ERR_PYTHON_MISSING', `cannot run ${python} to test the app`, {
      hint: 'Install Debian python3 (scripts/setup.sh does), or set MSE_PYTHON.',
    });
  }
  let missingNames: string[];
  try {
    missingNames = JSON.parse(result.stdout) as string[];
  } catch {
    return; // informational only
  }
  const missing = reqs.filter((r) => missingNames.includes(r.name));
  if (missing.length === 0) return;
  const known = await knownDebianPackages(missing.flatMap(debianCandidates));
  const parts = missing.map((r) => {
    const pkg = debianCandidates(r).find((c) => known.has(c));
    const what = r.module === r.name ? r.name : `${r.name} (module ${r.module})`;
    return pkg ? `${what}: apt-get install ${pkg}` : `${what}: no Debian package found for it`;
  });
  log.warn(`tests_requirements that ${python} cannot import (there is no package index here): ${parts.join('; ')}`);
}

/** Counts from the test runner's last summary line (pytest or unittest). */
export interface TestSummary {
  /** The summary line itself, e.g. `1 failed, 4 passed in 0.28s`. */
  line: string;
  passed?: number;
  failed?: number;
  errors?: number;
  skipped?: number;
  /** Tests run (unittest). */
  total?: number;
}

/** Parse the summary of a pytest (`1 failed, 4 passed in 0.28s`) or unittest (`Ran 5 tests` + `FAILED (…)`) run. */
export function parseTestSummary(output: string): TestSummary | undefined {
  const lines = output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const count = (text: string, word: RegExp): number | undefined => {
    const m = new RegExp(`(\\d+) ${word.source}\\b`).exec(text);
    return m ? Number(m[1]) : undefined;
  };
  for (const [i, line] of [...lines.entries()].reverse()) {
    const bare = line.replace(/^=+\s*|\s*=+$/g, '');
    if (/^(?:\d+ \w+(?:, )?)+ in [\d.]+s\b/.test(bare) || /^no tests ran in [\d.]+s\b/.test(bare)) {
      return withCounts(bare, {
        passed: count(bare, /passed/),
        failed: count(bare, /failed/),
        errors: count(bare, /errors?/),
        skipped: count(bare, /skipped/),
      });
    }
    const ran = /^Ran (\d+) tests? in /.exec(line);
    if (ran) {
      const status = lines.slice(i + 1).find((l) => /^(OK|FAILED)\b/.test(l)) ?? '';
      const total = Number(ran[1]);
      const kv = (k: string): number | undefined => {
        const m = new RegExp(`\\b${k}=(\\d+)`).exec(status);
        return m ? Number(m[1]) : undefined;
      };
      const failed = kv('failures');
      const errors = kv('errors');
      const skipped = kv('skipped');
      return withCounts(`${lines[i]} ${status}`.trim(), {
        total,
        failed,
        errors,
        skipped,
        passed: total - (failed ?? 0) - (errors ?? 0) - (skipped ?? 0),
      });
    }
  }
  return undefined;
}

function withCounts(line: string, counts: Omit<TestSummary, 'line'>): TestSummary {
  const out: TestSummary = { line };
  for (const [k, v] of Object.entries(counts) as [keyof Omit<TestSummary, 'line'>, number | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** How a test run ended. */
export interface TestRun {
  /** Exit code of `python3 -m <tests_cmd>`. */
  code: number;
  summary: TestSummary | undefined;
}

/**
 * The result fields `localtest` and `test` print with `--json` (also on failure, beside the error):
 * `tests` (`passed`/`failed`), the runner's exit code and its summary.
 */
export function testRunResult(run: TestRun): Record<string, unknown> {
  return { tests: run.code === 0 ? 'passed' : 'failed', testsExitCode: run.code, testSummary: run.summary ?? null };
}

/**
 * The error for a failed test run, the same for `localtest` and `test`: `ERR_TESTS_FAILED`, exit 8, with the
 * summary in the message and `data` (the command's other `--json` fields) next to the test result.
 */
export function testsFailedError(testsCmd: string, run: TestRun, data: Record<string, unknown> = {}): MseError {
  return new MseError(
    'ERR_TESTS_FAILED',
    `tests failed: python3 -m ${testsCmd} exited with ${run.code}${run.summary ? ` (${run.summary.line})` : ''}`,
    ExitCode.testsFailed,
    {
      hint:
        run.code === 5 && /pytest/.test(testsCmd)
          ? 'pytest collected no tests: check the tests directory.'
          : 'See the test output above.',
      data: { ...data, ...testRunResult(run) },
    },
  );
}

/** pytest options that keep a run from writing into the project (`.pytest_cache/`). */
const PYTEST_NO_CACHE = '-p no:cacheprovider';

/**
 * The environment of a test run: `env` plus what keeps the project's tests directory untouched, namely no
 * `__pycache__/` (`PYTHONDONTWRITEBYTECODE`) and no `.pytest_cache/` (pytest's cache plugin off, through
 * `PYTEST_ADDOPTS`, which only pytest reads).
 */
export function testEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const addopts = env.PYTEST_ADDOPTS ?? '';
  return {
    ...env,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTEST_ADDOPTS: addopts.includes(PYTEST_NO_CACHE) ? addopts : `${addopts} ${PYTEST_NO_CACHE}`.trim(),
  };
}

/** Run `python -m <testsCmd>` in `cwd`, streaming its output to `output`; `signal` stops it. */
export function runTests(o: {
  python: string;
  testsCmd: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  output: NodeJS.WritableStream;
  signal: AbortSignal;
}): Promise<TestRun> {
  return new Promise((resolve, reject) => {
    const args = ['-m', ...o.testsCmd.trim().split(/\s+/)];
    const child = spawn(o.python, args, { cwd: o.cwd, env: testEnvironment(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    // The end of the output, for the summary line.
    let tail = '';
    const onData = (d: Buffer): void => {
      o.output.write(d);
      tail = (tail + d.toString('utf8')).slice(-16_384);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const abort = (): void => {
      child.kill('SIGTERM');
    };
    if (o.signal.aborted) abort();
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
      resolve({ code: code ?? (sig ? 128 : 1), summary: parseTestSummary(tail) });
    });
  });
}

/** Run a short helper and collect its stdout; `code` -1 when it cannot be started. */
function capture(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', () => resolve({ code: -1, stdout: '' }));
    child.on('close', (c) => resolve({ code: c ?? -1, stdout }));
  });
}
