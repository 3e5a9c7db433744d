/**
 * The enclave's spawn arguments (MSE's `input_args`), their argument-vector form (`--size … --port 443`)
 * and the **args file** that carries them, the same bytes on both platforms: NUL-terminated strings, the
 * launcher first (`/usr/bin/dash /usr/local/bin/mse-run --size …`), the format of Gramine's
 * `loader.argv_src_file`. `spawn` writes it into the deployment's private state directory, mounted
 * read-only into the container at `ARGS_FILE` (`./layout.ts`). On sgx Gramine reads it (a trusted file, measured) and
 * starts the launcher with it as argv inside the enclave; on sim the container runs the same launcher
 * with only `--argv-file ARGS_FILE` and the bootstrap reads the file. `evidence`, `run` and `status` read
 * it back through the engine: it is the single source of truth of a deployment's arguments. It never goes
 * on a host command line: it holds the deployment UUID, the credential of the configuration request (see
 * docs/enclave.md). Pure.
 */
import type { InputArgs as EvidenceInputArgs } from '../attestation/evidence.js';
import { isIP } from 'node:net';
import { InputError, UsageError } from '../errors.js';
import { INPUT_LIMITS, MEASUREMENT_LIMITS } from '../fs/limits.js';
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

const PY_IDENT = '[A-Za-z_][A-Za-z0-9_]*';
/** A dotted Python module path (`pkg.module`). */
export const PYTHON_MODULE_PATTERN = new RegExp(`^${PY_IDENT}(\\.${PY_IDENT})*$`);
/** `module:variable`: input_args.application, and mse.toml's python_application (`project/config.ts`). */
export const PYTHON_APPLICATION_PATTERN = new RegExp(`^${PY_IDENT}(\\.${PY_IDENT})*:${PY_IDENT}$`);

export const DEFAULT_SUBJECT = 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A DNS name (labels of letters, digits, hyphens) or an IPv4/IPv6 literal.
const SAN =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9.]{7,15}$|^[0-9A-Fa-f:]{2,39}$/;

/** Largest `--size` (MiB): the largest enclave mse-home measures (64 GiB, docs/cli.md "Input limits"). */
export const MAX_ENCLAVE_SIZE_MIB = MEASUREMENT_LIMITS.maxEnclaveBytes / 2 ** 20;

/**
 * Enclave size rule: MSE's (at least 1024 MiB and a power of two), and at most {@link MAX_ENCLAVE_SIZE_MIB}
 * so that `verify` can measure every enclave `spawn` makes.
 */
export function checkEnclaveSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 1024 || (size & (size - 1)) !== 0 || size > MAX_ENCLAVE_SIZE_MIB) {
    throw new UsageError(
      'ERR_ENCLAVE_SIZE',
      `--size must be a power of two from 1024 to ${MAX_ENCLAVE_SIZE_MIB} (MiB), got ${size}`,
      { hint: 'For example --size 2048.' },
    );
  }
}

/** Check every field; throws `UsageError` naming the field. */
export function checkInputArgs(a: InputArgs): InputArgs {
  checkEnclaveSize(a.size);
  checkSan(a.san);
  if (!UUID.test(a.appId)) throw new InputError('ERR_APP_ID', `app id '${a.appId}' is not a version 4 UUID`);
  if (!PYTHON_APPLICATION_PATTERN.test(a.application)) {
    throw new InputError('ERR_APPLICATION', `application '${a.application}' is not "module:variable"`);
  }
  if (!Number.isSafeInteger(a.expiration) || a.expiration <= 0) {
    throw new InputError('ERR_EXPIRATION', `expiration '${a.expiration}' is not a Unix time`);
  }
  checkSubject(a.subject);
  return a;
}

/** `--san`: one DNS name or IP literal (the certificate's single subjectAltName). */
export function checkSan(san: string): void {
  if (!SAN.test(san)) {
    throw new UsageError('ERR_SAN', `--san must be one DNS name or IP address, got '${san}'`, {
      hint: 'For example --san localhost or --san 192.0.2.10.',
    });
  }
}

/**
 * `--subject`: an RFC 4514 name the enclave can put in its certificate, checked with the parser the
 * enclave uses ({@link parseSubject}), so a bad subject is refused on the host before anything starts.
 */
export function checkSubject(subject: string): void {
  try {
    parseSubject(subject);
  } catch (error) {
    throw new UsageError('ERR_SUBJECT', `--subject: ${(error as Error).message}`, {
      hint: 'Write it as an RFC 4514 name, e.g. "CN=app.example.com,O=Example Corp,C=FR".',
      cause: error,
    });
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

/**
 * The spawn arguments as `evidence.json` records them (`input_args`), for measuring a package with them.
 * Throws `ERR_EVIDENCE_FIELD` when `expiration_date` is null: mse-home's enclaves always have one, and the
 * measurement covers it. (The inverse is `evidenceInputArgs` in ./evidence.ts.)
 */
export function spawnArgsOfEvidence(a: EvidenceInputArgs): InputArgs {
  if (a.expirationDate === null) {
    throw new InputError(
      'ERR_EVIDENCE_FIELD',
      'evidence field input_args.expiration_date is null: cannot measure the package',
      {
        hint: 'Evidence of an mse-home enclave always has an expiration date: collect it again with `mse home evidence`.',
      },
    );
  }
  return {
    size: a.size,
    subject: a.subject,
    san: a.subjectAlternativeName,
    appId: a.appId,
    application: a.application,
    expiration: a.expirationDate,
  };
}

/**
 * The options an argv file may carry (without `--`): those of {@link toEnclaveArgv}, and `host` and `port`,
 * which on SGX are fixed in the measured argv (`enclaveArgv` in src/sgx/enclave-manifest.ts) and only
 * choose where the enclave listens. Not `--debug` nor `--timeout`: they change what the enclave does.
 */
export const ARGV_FILE_KEYS: readonly string[] = [
  'size',
  'subject',
  'san',
  'id',
  'application',
  'expiration',
  'host',
  'port',
];

/** The `mse-run` argument vector, in MSE's order. */
export function toEnclaveArgv(a: InputArgs): string[] {
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
  ];
}

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
 * arguments ({@link toEnclaveArgv}), then the fixed host and port.
 */
export function enclaveArgv(a: InputArgs): string[] {
  return [...LAUNCHER_ARGV, ...toEnclaveArgv(a), '--host', ENCLAVE_HOST, '--port', String(ENCLAVE_PORT)];
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

/** Read `input_args` back from a deployment's args file. */
export function fromEnclaveArgvFile(bytes: Uint8Array): InputArgs {
  return fromEnclaveArgv(argsOfArgvFile(bytes));
}

/** Read `input_args` back from an argument vector (MSE's `--key value` pairs, without argv[0]). */
export function fromEnclaveArgv(argv: string[]): InputArgs {
  const map = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (!k.startsWith('--')) throw new InputError('ERR_ARGV_FILE', `unexpected word '${k}' in the enclave arguments`);
    const v = argv[i + 1];
    // only the measured arguments, each once with its value (what spawn writes; the bootstrap refuses the rest)
    if (!ARGV_FILE_KEYS.includes(k.slice(2)) || map.has(k.slice(2)) || v === undefined) {
      throw new InputError('ERR_ARGV_FILE', `unexpected or repeated '${k}' in the enclave arguments`, {
        hint: 'The argv file carries only the measured arguments (and --host, --port), each once.',
      });
    }
    map.set(k.slice(2), v);
    i++;
  }
  const need = (k: string): string => {
    const v = map.get(k);
    if (v === undefined)
      throw new InputError('ERR_ARGV_FILE', `the enclave arguments have no --${k}`, {
        hint: 'The container was not created by mse home spawn.',
      });
    return v;
  };
  const size = /^(\d+)M$/.exec(need('size'));
  if (!size) throw new InputError('ERR_ARGV_FILE', `bad --size '${need('size')}' in the enclave arguments`);
  return {
    size: Number(size[1]),
    subject: need('subject'),
    san: need('san'),
    appId: need('id'),
    application: need('application'),
    expiration: Number(need('expiration')),
  };
}
