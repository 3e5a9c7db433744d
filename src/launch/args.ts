/**
 * The enclave's spawn arguments (MSE's `input_args`): **one set of rules and every form they take**.
 *
 * - The rules ({@link inputArgProblem}): size a power of two of MiB from 1024 to 64 GiB, subject an RFC 4514
 *   name the enclave's parser accepts, SAN one DNS name or IP literal, app id a lowercase version 4 UUID,
 *   application `module:variable`, expiration a Unix time in seconds the certificate can carry (1 to the
 *   end of year 9999). Every string is well-formed Unicode without NUL (argv strings end at NUL, and a lone
 *   surrogate would be measured as U+FFFD). spawn, measure, the bootstrap and the argv file all check with
 *   these rules; each reports a violation with its own stable code and the field's name in its own form
 *   (`--size`, `the enclave arguments' --size`), through a {@link FieldFail}. Recorded arguments (evidence)
 *   are untrusted claims: they are read for their shape only and measured under the looser
 *   {@link measurableArgProblem}, so that `verify` names a wrong value in its verdict.
 * - The argument vector (`mse-run --size 4096M --subject … --expiration 1714058115`, MSE's order), with the
 *   bootstrap's own options after it (`--host`, `--port`, `--timeout`, `--debug`):
 *   {@link encodeEnclaveArgv} and the one strict decoder {@link decodeEnclaveArgv}.
 * - The **args file**, the same bytes on both platforms: NUL-terminated strings, the launcher first
 *   (`/usr/bin/dash /usr/local/bin/mse-run --size …`), the format of Gramine's `loader.argv_src_file`
 *   ({@link enclaveArgvFile}, {@link fromEnclaveArgvFile}). `spawn` writes it into the deployment's private
 *   state directory, mounted read-only into the container at `ARGS_FILE` (`./layout.ts`). On sgx Gramine
 *   reads it (a trusted file, measured) and starts the launcher with it as argv inside the enclave; on sim
 *   the container runs the same launcher with only `--argv-file ARGS_FILE` and the bootstrap reads the file.
 *   `evidence`, `run` and `status` read it back through the engine: it is the single source of truth of a
 *   deployment's arguments. It never goes on a host command line: it holds the deployment UUID, the
 *   credential of the configuration request (docs/enclave.md).
 * - `evidence.json`'s `input_args` object (MSE's keys, MSE's order, `expiration_date` may be null):
 *   {@link encodeEvidenceInputArgs}, {@link decodeEvidenceInputArgs}.
 *
 * Pure.
 */
import { isIP } from 'node:net';
import type { FieldFail, JsonValue } from '../base/json-fields.js';
import { InputError, UsageError } from '../errors.js';
import { formatBytes, INPUT_LIMITS, MEASUREMENT_LIMITS } from '../fs/limits.js';
import { parseSubject } from '../ratls/dn.js';
import { ENCLAVE_HOST, ENCLAVE_PORT, LAUNCHER_ARGV } from './layout.js';

/** What Gramine would measure besides the code and image, as `evidence.json` carries it. */
export interface InputArgs {
  /** Enclave size in MiB. */
  size: number;
  /** RFC 4514 subject of the RA-TLS certificate. */
  subject: string;
  /** The single subjectAltName of the RA-TLS certificate (DNS name or IP). */
  san: string;
  /** Deployment UUID, required in the configuration POST. */
  appId: string;
  /** `module:variable`. */
  application: string;
  /** RA-TLS certificate expiry, Unix seconds. */
  expiration: number;
}

/** The spawn arguments as `evidence.json` records them: MSE allows a null `expiration_date`. */
export type RecordedInputArgs = Omit<InputArgs, 'expiration'> & { expiration: number | null };

/** MSE's `input_args` keys, in MSE's order: the only ones evidence may carry. */
export const INPUT_ARG_FIELDS = [
  'subject',
  'subject_alternative_name',
  'expiration_date',
  'size',
  'app_id',
  'application',
] as const;
export type InputArgField = (typeof INPUT_ARG_FIELDS)[number];

/** Each argument: its `input_args` key, its `mse-run` option, and what the bootstrap does with it. */
export const INPUT_ARGS: Record<keyof InputArgs, { field: InputArgField; option: string; role: string }> = {
  subject: { field: 'subject', option: '--subject', role: 'subject of the RA-TLS certificate' },
  san: { field: 'subject_alternative_name', option: '--san', role: 'SAN of the RA-TLS certificate' },
  expiration: { field: 'expiration_date', option: '--expiration', role: 'notAfter of the RA-TLS certificate' },
  size: { field: 'size', option: '--size', role: 'enclave size (MiB)' },
  appId: { field: 'app_id', option: '--id', role: 'deployment UUID the configuration request must carry' },
  application: {
    field: 'application',
    option: '--application',
    role: 'entry point the enclave runs (module:variable)',
  },
};

/** The argument of an `input_args` key. */
export const ARG_OF_FIELD = Object.fromEntries(
  (Object.keys(INPUT_ARGS) as (keyof InputArgs)[]).map((k) => [INPUT_ARGS[k].field, k]),
) as Record<InputArgField, keyof InputArgs>;

const PY_IDENT = '[A-Za-z_][A-Za-z0-9_]*';
/** A dotted Python module path (`pkg.module`). */
export const PYTHON_MODULE_PATTERN = new RegExp(`^${PY_IDENT}(\\.${PY_IDENT})*$`);
/** `module:variable`: input_args.application, and mse.toml's python_application (`project/config.ts`). */
export const PYTHON_APPLICATION_PATTERN = new RegExp(`^${PY_IDENT}(\\.${PY_IDENT})*:${PY_IDENT}$`);

export const DEFAULT_SUBJECT = 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France';
/** Smallest enclave (MiB): MSE's rule. */
export const MIN_ENCLAVE_MIB = 1024;
/**
 * Largest enclave (MiB): the largest mse-home measures without EDMM, 64 GiB (`MEASUREMENT_LIMITS` of
 * src/fs/limits.ts; measuring hashes 64 bytes a page), so that `verify` can measure every enclave `spawn` makes.
 */
export const MAX_ENCLAVE_MIB = MEASUREMENT_LIMITS.maxEnclaveBytes / 2 ** 20;
/** Latest expiration (Unix seconds): 9999-12-31T23:59:59Z, the last time an X.509 certificate can carry. */
export const MAX_EXPIRATION = 253_402_300_799;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A DNS name (labels of letters, digits, hyphens) or an IPv4/IPv6 literal.
const SAN =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9.]{7,15}$|^[0-9A-Fa-f:]{2,39}$/;

function stringProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.includes('\0')) return 'must not hold a NUL character';
  if (/\p{Cs}/u.test(value)) return 'is not well-formed Unicode (lone surrogate)';
  return undefined;
}

/**
 * The rule of one spawn argument: undefined when `value` is valid, else what is wrong with it, worded to
 * follow the field's name (`must be …`).
 */
export function inputArgProblem(key: keyof InputArgs, value: unknown): string | undefined {
  switch (key) {
    case 'size':
      return typeof value === 'number' &&
        Number.isSafeInteger(value) &&
        value >= MIN_ENCLAVE_MIB &&
        value <= MAX_ENCLAVE_MIB &&
        (value & (value - 1)) === 0
        ? undefined
        : `must be a power of two of at least ${MIN_ENCLAVE_MIB} (MiB)` +
            (typeof value === 'number' && value > MAX_ENCLAVE_MIB ? ` and at most ${MAX_ENCLAVE_MIB}` : '') +
            `, got ${JSON.stringify(value)}`;
    case 'expiration':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_EXPIRATION
        ? undefined
        : `must be a Unix time in seconds from 1 to ${MAX_EXPIRATION}, got ${JSON.stringify(value)}`;
    case 'subject': {
      const s = stringProblem(value);
      if (s) return s;
      try {
        parseSubject(value as string);
        return undefined;
      } catch (error) {
        return `must be an RFC 4514 name: ${(error as Error).message}`;
      }
    }
    case 'san':
      return (
        stringProblem(value) ??
        (SAN.test(value as string) ? undefined : `must be one DNS name or IP address, got ${JSON.stringify(value)}`)
      );
    case 'appId':
      return (
        stringProblem(value) ??
        (UUID_V4.test(value as string) ? undefined : `must be a lowercase version 4 UUID, got ${JSON.stringify(value)}`)
      );
    case 'application':
      return (
        stringProblem(value) ??
        (PYTHON_APPLICATION_PATTERN.test(value as string)
          ? undefined
          : `must be "module:variable", got ${JSON.stringify(value)}`)
      );
  }
}

/**
 * What any enclave command line can carry, whatever spawn would accept: the rule for measuring recorded
 * (untrusted) arguments, where a value spawn refuses must still be measured so that the verdict names it.
 * Strings without NUL (argv strings end at NUL) and well-formed Unicode (a lone surrogate would be measured
 * as U+FFFD), a size that is a power of two of MiB up to {@link MAX_ENCLAVE_MIB} (measuring hashes 64
 * bytes a page: a bound on what untrusted input_args cost a verifier), a positive expiration. Undefined
 * when `value` can be measured, else what is wrong (`= 1025 MiB is not a power of two`).
 */
export function measurableArgProblem(key: keyof InputArgs, value: string | number): string | undefined {
  if (typeof value === 'string') {
    return value.includes('\0') || /[\uD800-\uDFFF]/u.test(value)
      ? 'holds a NUL character or is not well-formed Unicode'
      : undefined;
  }
  if (key === 'size') {
    if (!Number.isSafeInteger(value) || value < 1 || (value & (value - 1)) !== 0)
      return `= ${value} MiB is not a power of two`;
    if (value > MAX_ENCLAVE_MIB) {
      return `= ${value} MiB is more than ${MAX_ENCLAVE_MIB} MiB (${formatBytes(MEASUREMENT_LIMITS.maxEnclaveBytes)}), the largest enclave mse-home spawns and measures`;
    }
  }
  if (key === 'expiration' && (!Number.isSafeInteger(value) || value < 1))
    return `= ${value} is not a positive Unix time`;
  return undefined;
}

/** Check every argument with the rules; the first violation calls `fail(key, detail)`. Returns `a`. */
export function checkInputArgs<T extends InputArgs | RecordedInputArgs>(
  a: T,
  fail: (key: keyof InputArgs, detail: string) => never = spawnFail,
): T {
  for (const key of ['size', 'san', 'appId', 'application', 'expiration', 'subject'] as const) {
    if (key === 'expiration' && a.expiration === null) continue;
    const problem = inputArgProblem(key, a[key]);
    if (problem) fail(key, problem);
  }
  return a;
}

/** Check one argument with the rules, reporting as {@link spawnFail} does. */
export function checkInputArg(key: keyof InputArgs, value: unknown): void {
  const problem = inputArgProblem(key, value);
  if (problem) spawnFail(key, problem);
}

/**
 * How `spawn` and `measure` report a bad argument: each its own stable code, named by its option
 * (`--size must be a power of two …`). Size, SAN and subject are command-line errors (exit 2); app id,
 * application and expiration, which spawn derives, are input errors (exit 3).
 */
export function spawnFail(key: keyof InputArgs, detail: string): never {
  const what =
    key === 'appId' ? 'app id' : key === 'application' || key === 'expiration' ? key : INPUT_ARGS[key].option;
  const message = `${what} ${detail}`;
  switch (key) {
    case 'size':
      throw new UsageError('ERR_ENCLAVE_SIZE', message, { hint: 'For example --size 2048.' });
    case 'san':
      throw new UsageError('ERR_SAN', message, { hint: 'For example --san localhost or --san 192.0.2.10.' });
    case 'subject':
      throw new UsageError('ERR_SUBJECT', message, {
        hint: 'Write it as an RFC 4514 name, e.g. "CN=app.example.com,O=Example Corp,C=FR".',
      });
    case 'appId':
      throw new InputError('ERR_APP_ID', message);
    case 'application':
      throw new InputError('ERR_APPLICATION', message, {
        hint: "Set python_application in the package's mse.toml to module:variable.",
      });
    case 'expiration':
      throw new InputError('ERR_EXPIRATION', message);
  }
}

/** `--host`: the host address a deployment's port is published on must be an IP literal. */
export function checkHostAddress(host: string): void {
  if (isIP(host) === 0) {
    throw new UsageError('ERR_HOST', `--host must be an IPv4 or IPv6 address, got '${host}'`, {
      hint: 'For example --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface).',
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// The argument vector

/** The bootstrap's own options, after the spawn arguments on its command line (measured on sgx too). */
export interface EnclaveOptions {
  /** Address the bootstrap listens on (default 0.0.0.0). */
  host?: string;
  /** Port (default 443). */
  port?: number;
  /** Seconds to wait for the configuration (default: forever). */
  timeout?: number;
  debug?: boolean;
}

/** A whole `mse-run` command line. */
export interface EnclaveCommandLine extends EnclaveOptions {
  args: InputArgs;
}

/** Largest `--timeout` (seconds): 30 days. */
export const MAX_ENCLAVE_TIMEOUT = 30 * 86_400;

/** The `mse-run` argument vector, in MSE's order, then the options given. */
export function encodeEnclaveArgv(a: InputArgs, options: EnclaveOptions = {}): string[] {
  return [
    '--size',
    `${a.size}M`,
    '--subject',
    a.subject,
    '--san',
    a.san,
    '--id',
    a.appId,
    '--application',
    a.application,
    '--expiration',
    String(a.expiration),
    ...(options.host !== undefined ? ['--host', options.host] : []),
    ...(options.port !== undefined ? ['--port', String(options.port)] : []),
    ...(options.timeout !== undefined ? ['--timeout', String(options.timeout)] : []),
    ...(options.debug ? ['--debug'] : []),
  ];
}

const VALUE_OPTIONS = [
  '--size',
  '--subject',
  '--san',
  '--id',
  '--application',
  '--expiration',
  '--host',
  '--port',
  '--timeout',
];

/**
 * Where an argument vector comes from: a command line (tests; Gramine's measured argv on sgx), or an **args
 * file** read by the bootstrap (`--argv-file`) or by the operator's commands. An args file carries only the
 * measured arguments: the spawn arguments and `--host`/`--port` (fixed and measured on sgx, they only
 * choose where the enclave listens). On sim the file is the operator's and the measurement covers
 * input_args only, so a `--debug` or `--timeout` there would change what the enclave does without changing
 * its MRENCLAVE: refused (review info c).
 */
export type EnclaveArgvSource = 'command-line' | 'args-file';

/** The bootstrap options an args file may not carry ({@link EnclaveArgvSource}). */
const UNMEASURED_OPTIONS = ['--debug', '--timeout'];

/**
 * Decode an `mse-run` argument vector (without argv[0]): each option once, `--debug` without a value, every
 * other with one, nothing else (and from an args file, neither `--debug` nor `--timeout`:
 * {@link EnclaveArgvSource}); the spawn arguments by {@link inputArgProblem}'s rules, in the encoding
 * {@link encodeEnclaveArgv} writes (`--size <N>M`, `--expiration` in canonical decimal: the text is
 * measured, so one value has one spelling). Failures call `fail(option, detail)`.
 */
export function decodeEnclaveArgv(
  argv: readonly string[],
  fail: FieldFail,
  source: EnclaveArgvSource = 'command-line',
): EnclaveCommandLine {
  const given = new Map<string, string>();
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (source === 'args-file' && UNMEASURED_OPTIONS.includes(word)) {
      fail(word, 'is not measured: an args file carries only the spawn arguments, --host and --port');
    }
    if (word === '--debug') {
      if (debug) fail(word, 'is given twice');
      debug = true;
      continue;
    }
    if (!VALUE_OPTIONS.includes(word))
      fail(word, word.startsWith('--') ? 'is not an option of mse-run' : 'is not an option (unexpected word)');
    if (given.has(word)) fail(word, 'is given twice');
    const value = argv[i + 1];
    if (value === undefined) fail(word, 'needs a value');
    given.set(word, value);
    i++;
  }
  const need = (option: string): string => given.get(option) ?? fail(option, 'is missing');
  const decimal = (option: string, text: string): number =>
    /^[1-9][0-9]{0,15}$/.test(text)
      ? Number(text)
      : fail(option, `must be a positive decimal integer, got ${JSON.stringify(text)}`);
  const sizeText = need('--size');
  const sizeMatch = /^([1-9][0-9]{0,15})M$/.exec(sizeText);
  if (!sizeMatch) fail('--size', `must be a number of MiB such as 4096M, got ${JSON.stringify(sizeText)}`);
  const args: InputArgs = {
    size: Number(sizeMatch[1]),
    subject: need('--subject'),
    san: need('--san'),
    appId: need('--id'),
    application: need('--application'),
    expiration: decimal('--expiration', need('--expiration')),
  };
  checkInputArgs(args, (key, detail) => fail(INPUT_ARGS[key].option, detail));
  const line: EnclaveCommandLine = { args, ...(debug ? { debug } : {}) };
  const host = given.get('--host');
  if (host !== undefined) {
    if (!isIP(host) && !/^[A-Za-z0-9.-]{1,253}$/.test(host))
      fail('--host', `must be an address, got ${JSON.stringify(host)}`);
    line.host = host;
  }
  const port = given.get('--port');
  if (port !== undefined) {
    line.port = decimal('--port', port);
    if (line.port > 65_535) fail('--port', `must be an integer from 1 to 65535, got ${port}`);
  }
  const timeout = given.get('--timeout');
  if (timeout !== undefined) {
    line.timeout = decimal('--timeout', timeout);
    if (line.timeout > MAX_ENCLAVE_TIMEOUT)
      fail('--timeout', `must be an integer from 1 to ${MAX_ENCLAVE_TIMEOUT}, got ${timeout}`);
  }
  return line;
}

// ---------------------------------------------------------------------------------------------------------
// The argv file

/** Largest args file read back (the arguments are a few hundred bytes). */
export const MAX_ARGV_FILE_BYTES = INPUT_LIMITS.argvFile.maxBytes;

/** Serialize an argument vector as an argv file: each string NUL-terminated, argv[0] first. */
export function serializeArgvFile(argv: readonly string[]): Buffer {
  for (const a of argv) {
    if (a.includes('\0')) throw new InputError('ERR_ARGV_FILE', 'an argument contains a NUL character');
  }
  return Buffer.from(argv.map((a) => `${a}\0`).join(''), 'utf8');
}

/** Parse an argv file back into its vector (argv[0] included). Throws `ERR_ARGV_FILE`. */
export function parseArgvFile(bytes: Uint8Array): string[] {
  if (bytes.length === 0 || bytes.length > MAX_ARGV_FILE_BYTES || bytes[bytes.length - 1] !== 0) {
    throw new InputError('ERR_ARGV_FILE', 'the argv file is empty, too large or not NUL-terminated', {
      hint: "The deployment's argv file is written by mse home spawn; spawn the deployment again.",
    });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytes.length - 1));
  } catch (cause) {
    throw new InputError('ERR_ARGV_FILE', 'the argv file is not UTF-8', { cause });
  }
  return text.split('\0');
}

/**
 * The enclave's whole argv, as its args file holds it: the launcher ({@link LAUNCHER_ARGV}), the spawn
 * arguments, then the fixed host and port ({@link encodeEnclaveArgv}).
 */
export function enclaveArgv(a: InputArgs): string[] {
  return [...LAUNCHER_ARGV, ...encodeEnclaveArgv(a, { host: ENCLAVE_HOST, port: ENCLAVE_PORT })];
}

/** The args file of a deployment: {@link enclaveArgv}, serialized. */
export function enclaveArgvFile(a: InputArgs): Buffer {
  return serializeArgvFile(enclaveArgv(a));
}

/**
 * The arguments an args file gives the bootstrap: its vector after the launcher. Throws `ERR_ARGV_FILE`
 * when the file does not start with {@link LAUNCHER_ARGV} (not written by this mse-home's spawn).
 */
export function argsOfArgvFile(bytes: Uint8Array): string[] {
  const argv = parseArgvFile(bytes);
  if (LAUNCHER_ARGV.some((word, i) => argv[i] !== word)) {
    throw new InputError(
      'ERR_ARGV_FILE',
      `the args file starts with ${JSON.stringify(argv.slice(0, 2))}, not the launcher ${JSON.stringify(LAUNCHER_ARGV)}`,
      { hint: 'The args file is written by mse home spawn of this version; spawn the deployment again.' },
    );
  }
  return argv.slice(LAUNCHER_ARGV.length);
}

/** Read `input_args` back from a deployment's args file. Throws `ERR_ARGV_FILE` naming the option. */
export function fromEnclaveArgvFile(bytes: Uint8Array): InputArgs {
  return decodeEnclaveArgv(
    argsOfArgvFile(bytes),
    (option, detail) => {
      throw new InputError('ERR_ARGV_FILE', `the enclave arguments' ${option} ${detail}`, {
        hint: 'The container was not created by mse home spawn.',
      });
    },
    'args-file',
  ).args;
}

// ---------------------------------------------------------------------------------------------------------
// evidence.json's input_args

/** `input_args` as MSE writes it (its keys, its order). */
export function encodeEvidenceInputArgs(a: RecordedInputArgs): Record<InputArgField, string | number | null> {
  return {
    subject: a.subject,
    subject_alternative_name: a.san,
    expiration_date: a.expiration,
    size: a.size,
    app_id: a.appId,
    application: a.application,
  };
}

/** The value of `field` in recorded input args (as the evidence writes it). */
export function inputArgValue(a: RecordedInputArgs, field: InputArgField): string | number | null {
  return a[ARG_OF_FIELD[field]];
}

/**
 * Decode `input_args` (`v`, read at its path, e.g. `input_args`): an object of MSE's six keys and nothing
 * else (an argument this verifier does not know could change what runs unnoticed), strings non-empty,
 * size and expiration non-negative integers, `expiration_date` possibly null. Only the shape: the values
 * are untrusted claims that `verify` judges (a wrong one is a failed check of the verdict, naming the
 * argument, not a damaged file). Failures go to `v`'s {@link FieldFail} with the key's path.
 */
export function decodeEvidenceInputArgs(v: JsonValue): RecordedInputArgs {
  const o = v.object();
  o.onlyKeys(INPUT_ARG_FIELDS, `is not a spawn argument this verifier knows (${INPUT_ARG_FIELDS.join(', ')})`);
  const text = (key: keyof InputArgs): string => o.string(INPUT_ARGS[key].field, { nonEmpty: true });
  const expiration = o.get('expiration_date');
  return {
    subject: text('subject'),
    san: text('san'),
    expiration: expiration.isNull ? null : expiration.integer(),
    size: o.integer('size'),
    appId: text('appId'),
    application: text('application'),
  };
}

/**
 * The spawn arguments of recorded ones, for measuring a package with them. Throws `ERR_EVIDENCE_FIELD` when
 * `expiration_date` is null: mse-home's enclaves always have one, and the measurement covers it.
 */
export function spawnArgsOfEvidence(a: RecordedInputArgs): InputArgs {
  if (a.expiration === null) {
    throw new InputError(
      'ERR_EVIDENCE_FIELD',
      'evidence field input_args.expiration_date is null: cannot measure the package',
      {
        hint: 'Evidence of an mse-home enclave always has an expiration date: collect it again with `mse home evidence`.',
      },
    );
  }
  return { ...a, expiration: a.expiration };
}
