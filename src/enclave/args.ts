/**
 * The bootstrap's command line: MSE's `mse-run` argv, which the measurement covers (`--size --subject --san
 * --id --application --expiration`), plus the optional `--host` (default 0.0.0.0), `--port` (default 443),
 * `--timeout` (seconds to wait for the configuration; default: wait forever) and `--debug`. The vector and
 * its rules are `launch/args.ts`'s (one decoder for spawn, the bootstrap, evidence and the sgx manifest);
 * this module adds what only the enclave checks (an expiration in the past) and the shape it runs with.
 *
 * The launcher `mse-run` passes its own arguments on. They arrive one of two ways: `--argv-file FILE` (the
 * sim container's command: the vector is read from the deployment's args file, after the launcher's two
 * words, so the deployment UUID is on no command line another local user can read), or as the arguments
 * themselves (sgx: Gramine gives the launcher the args file's vector as argv, inside the enclave; tests).
 */
import { UsageError } from '../errors.js';
import { decodeEnclaveArgv, type EnclaveArgvSource } from '../launch/args.js';

export interface BootstrapArgs {
  /** Enclave size in MiB. */
  sizeMiB: number;
  /** The `--size` text (`4096M`), as measured. */
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

function usage(code: 'ERR_ENCLAVE_ARGS' | 'ERR_ENCLAVE_EXPIRED', message: string): UsageError {
  return new UsageError(code, message, { hint: USAGE });
}

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
 * Parse and validate the bootstrap's argv (without `node` and the script), or the vector of its args file
 * (`source` `'args-file'`: only the measured arguments, no `--debug` nor `--timeout`, see
 * `EnclaveArgvSource`): `ERR_ENCLAVE_ARGS` naming the option, `ERR_ENCLAVE_EXPIRED` for an expiration not
 * after `now`. Both exit 2.
 */
export function parseBootstrapArgs(
  argv: readonly string[],
  now = new Date(),
  source: EnclaveArgvSource = 'command-line',
): BootstrapArgs {
  const line = decodeEnclaveArgv(
    argv,
    (option, detail) => {
      throw usage('ERR_ENCLAVE_ARGS', `${option} ${detail}`);
    },
    source,
  );
  const a = line.args;
  const expiration = new Date(a.expiration * 1000);
  if (expiration.getTime() <= now.getTime()) {
    throw usage('ERR_ENCLAVE_EXPIRED', `--expiration ${a.expiration} (${expiration.toISOString()}) is in the past`);
  }
  return {
    sizeMiB: a.size,
    size: `${a.size}M`,
    subject: a.subject,
    san: a.san,
    id: a.appId,
    application: a.application,
    expiration,
    host: line.host ?? '0.0.0.0',
    port: line.port ?? 443,
    timeoutMs: line.timeout === undefined ? undefined : line.timeout * 1000,
    debug: line.debug === true,
  };
}
