/**
 * The enclave's arguments: MSE's `mse-run` argv, which the measurement covers (`--size --subject --san --id
 * --application --expiration`), plus the optional `--host` (default 0.0.0.0), `--port` (default 443),
 * `--timeout` (seconds to wait for the configuration; default: wait forever) and `--debug`.
 *
 * The launcher `mse-run` passes its own arguments on. They arrive one of two ways: `--argv-file FILE` (the
 * sim container's command: the vector is read from the deployment's args file, after the launcher's two
 * words, so the deployment UUID is on no command line another local user can read), or as the arguments
 * themselves (sgx: Gramine gives the launcher the args file's vector as argv, inside the enclave; tests).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { checkSan, checkSubject, ARGV_FILE_KEYS } from '../launch/args.js';

export interface BootstrapArgs {
  /** Enclave size in MiB (`--size 4096M`; `G` is accepted and converted). */
  sizeMiB: number;
  /** The `--size` text as given (it is measured as is). */
  size: string;
  /** RFC 4514 subject of the RA-TLS certificate. */
  subject: string;
  /** The single subjectAltName of the RA-TLS certificate. */
  san: string;
  /** Deployment UUID; the configuration request must carry it. */
  id: string;
  /** `module:variable` of the WSGI/ASGI app. */
  application: string;
  /** RA-TLS certificate expiry. */
  expiration: Date;
  host: string;
  port: number;
  /** Milliseconds to wait for the configuration, or undefined to wait forever. */
  timeoutMs: number | undefined;
  debug: boolean;
}

export const USAGE =
  'usage: mse-run --argv-file FILE | mse-run --size <N>M --subject <RFC 4514> --san <host|ip> --id <uuid> --application <module:var> ' +
  '--expiration <unix seconds> [--host 0.0.0.0] [--port 443] [--timeout <seconds>] [--debug]';

function usage(code: string, message: string): UsageError {
  return new UsageError(code, message, { hint: USAGE });
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const APPLICATION = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$/;

/** The option naming the argv file. */
export const ARGV_FILE_OPTION = '--argv-file';

/**
 * The argv file named by the process's command line when it is exactly `--argv-file FILE`; undefined
 * when the command line carries the arguments themselves.
 */
export function argvFileOf(argv: readonly string[]): string | undefined {
  if (argv[0] !== ARGV_FILE_OPTION) return undefined;
  if (argv.length !== 2 || !argv[1]) {
    throw usage('ERR_ENCLAVE_ARGS', `${ARGV_FILE_OPTION} takes one file and nothing else may follow it`);
  }
  return argv[1];
}

/**
 * Check a vector read from an argv file (`--argv-file`): it carries only the measured arguments, each once
 * with its value (`--size V --subject V …`, any order), and `--host`/`--port` (fixed and measured on SGX;
 * they only choose where it listens). On sim the file is the operator's and the measurement covers
 * input_args only: a `--debug` or `--timeout` there, or a second `--id` that the parser would let win,
 * would change the enclave without changing its MRENCLAVE. Throws `ERR_ENCLAVE_ARGS`.
 */
export function checkArgvFileVector(vector: readonly string[]): readonly string[] {
  const seen = new Set<string>();
  for (let i = 0; i < vector.length; i += 2) {
    const name = vector[i]!.startsWith('--') ? vector[i]!.slice(2) : '';
    if (!ARGV_FILE_KEYS.includes(name) || seen.has(name) || i + 1 >= vector.length) {
      throw usage(
        'ERR_ENCLAVE_ARGS',
        `the argv file may carry only the measured arguments, each once with its value ` +
          `(--${ARGV_FILE_KEYS.join(', --')}): '${vector[i]}' at position ${i + 1}`,
      );
    }
    seen.add(name);
  }
  return vector;
}

/** Parse and validate the bootstrap's argv (without `node` and the script). Throws `UsageError`. */
export function parseBootstrapArgs(argv: readonly string[], now = new Date()): BootstrapArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        size: { type: 'string' },
        subject: { type: 'string' },
        san: { type: 'string' },
        id: { type: 'string' },
        application: { type: 'string' },
        expiration: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        timeout: { type: 'string' },
        debug: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw usage('ERR_ENCLAVE_ARGS', (error as Error).message);
  }
  const required = (name: string): string => {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw usage('ERR_ENCLAVE_ARGS', `missing required option --${name}`);
    return v;
  };

  const size = required('size');
  const sizeMatch = /^([1-9][0-9]{0,6})([MG])$/.exec(size);
  if (!sizeMatch) throw usage('ERR_ENCLAVE_ARGS', `--size ${size} must be a number of MiB such as 4096M`);
  const sizeMiB = Number(sizeMatch[1]) * (sizeMatch[2] === 'G' ? 1024 : 1);

  // the host's checks (spawn refuses the same values before anything starts)
  const subject = required('subject');
  const san = required('san');
  for (const check of [() => checkSubject(subject), () => checkSan(san)]) {
    try {
      check();
    } catch (error) {
      throw usage('ERR_ENCLAVE_ARGS', (error as Error).message);
    }
  }
  const id = required('id');
  if (!UUID.test(id)) throw usage('ERR_ENCLAVE_ARGS', `--id ${id} is not a UUID`);
  const application = required('application');
  if (!APPLICATION.test(application)) {
    throw usage('ERR_ENCLAVE_ARGS', `--application ${application} must be module:variable, e.g. app:app`);
  }
  const expirationText = required('expiration');
  if (!/^[1-9][0-9]{0,11}$/.test(expirationText)) {
    throw usage('ERR_ENCLAVE_ARGS', `--expiration ${expirationText} must be a Unix time in seconds`);
  }
  const expiration = new Date(Number(expirationText) * 1000);
  if (expiration.getTime() <= now.getTime()) {
    throw usage('ERR_ENCLAVE_EXPIRED', `--expiration ${expirationText} (${expiration.toISOString()}) is in the past`);
  }

  const host = typeof values.host === 'string' ? values.host : '0.0.0.0';
  if (!isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host))
    throw usage('ERR_ENCLAVE_ARGS', `--host ${host} is not an address`);
  const port = integer(values.port, 'port', 443, 1, 65535);
  const timeoutS = values.timeout === undefined ? undefined : integer(values.timeout, 'timeout', 0, 1, 30 * 86400);
  return {
    sizeMiB,
    size,
    subject,
    san,
    id: id.toLowerCase(),
    application,
    expiration,
    host,
    port,
    timeoutMs: timeoutS === undefined ? undefined : timeoutS * 1000,
    debug: values.debug === true,
  };
}

function integer(v: string | boolean | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw usage('ERR_ENCLAVE_ARGS', `--${name} ${String(v)} must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}
