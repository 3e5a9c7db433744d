/**
 * Starting the app: `mse-serve` (the base image's launcher, shared with `localtest`) serves the WSGI/ASGI
 * app from `/mse-app` on the configuration server's host and port, over TLS with the RA-TLS key and
 * certificate. The bootstrap stays its parent: it forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT and exits with the
 * app's code (128 + signal number when the app died of a signal).
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { StateError } from '../errors.js';
import type { BootstrapArgs } from './args.js';
import type { EnclaveLogger } from './log.js';
import type { EnclavePaths } from './paths.js';

/** The launcher's default command; `MSE_SERVE` (whitespace-separated words) replaces it in tests. */
export const DEFAULT_MSE_SERVE = 'mse-serve';

export interface AppCommand {
  file: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

/** The command line and environment of the app. */
export function appCommand(args: BootstrapArgs, paths: EnclavePaths, env: NodeJS.ProcessEnv = process.env): AppCommand {
  const words = (env.MSE_SERVE || DEFAULT_MSE_SERVE).trim().split(/\s+/);
  const [file, ...prefix] = words;
  return {
    file: file!,
    argv: [
      ...prefix,
      '--application',
      args.application,
      '--app-dir',
      paths.appDir,
      '--host',
      args.host,
      '--port',
      String(args.port),
      '--certfile',
      paths.ratlsCert,
      '--keyfile',
      paths.ratlsKey,
    ],
    env: {
      ...env,
      HOME: paths.home,
      KEY_PATH: paths.keyDir,
      MODULE_PATH: paths.appDir,
      SECRETS_PATH: paths.secretsFile,
      SEALED_SECRETS_PATH: paths.sealedSecretsFile,
      TMP_PATH: '/tmp',
    },
  };
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/** Run the app to completion; resolves with the exit code the bootstrap should exit with. */
export function runApp(command: AppCommand, log: EnclaveLogger): Promise<number> {
  return new Promise((resolve, reject) => {
    log.info(`Starting the app: ${command.file} ${command.argv.join(' ')}`);
    const child = spawn(command.file, command.argv, { env: command.env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      log.info(`Received ${signal}, forwarding it to the app`);
      child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, forward);
    const cleanup = (): void => {
      for (const s of FORWARDED) process.off(s, forward);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        new StateError('ERR_APP_START', `cannot start the app with ${command.file}: ${error.message}`, {
          hint:
            error.code === 'ENOENT'
              ? 'The image has no mse-serve launcher; rebuild it from the mse-home base image.'
              : undefined,
          cause: error,
        }),
      );
    });
    child.on('exit', (code, signal) => {
      cleanup();
      if (signal) {
        log.warn(`The app was stopped by ${signal}`);
        resolve(128 + (osConstants.signals[signal] ?? 0));
      } else {
        (code === 0 ? log.info : log.error)(`The app exited with code ${code ?? 0}`);
        resolve(code ?? 0);
      }
    });
  });
}
