/**
 * The enclave bootstrap (bundled to `dist/enclave/bootstrap.mjs`, run by the base image's Node.js 18): the
 * first step of the launcher `mse-run`, which runs it to completion as a child and then `exec`s the app
 * server (docs/enclave.md, "The launcher").
 *
 * First start: read `/opt/mse/enclave/app.tar`, create the X25519 and RA-TLS keys, get a quote binding
 * them (sim or sgx), write the RA-TLS certificate to `/key`, serve the configuration server until a valid
 * configuration is written (secrets files, code in `/mse-app`, then the `/key/configured` marker).
 * Restart (the marker exists): check the keys, certificate and secrets left there, no new quote. Either
 * way it writes the launch file (`/key/serve.json`: how to start the app on the same port with the same
 * certificate) and exits 0, so the launcher starts the app.
 */
import { promises as fs } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { isMseError } from '../errors.js';
import { VERSION } from '../version.js';
import { appLaunch, writeLaunchFile } from './app.js';
import { loadAppArchive } from './app-code.js';
import { argvFileOf, parseBootstrapArgs } from './args.js';
import { argsOfArgvFile } from '../launch/args.js';
import { runConfigurationServer } from './config-server.js';
import { createLogger, type EnclaveLogger } from './log.js';
import { enclavePaths } from './paths.js';
import { detectQuoteProvider } from './quote.js';
import { loadEnclaveState, loadOrCreateEnclaveState } from './state.js';
import { pathExists, readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';

/**
 * Run the bootstrap; resolves with the process exit code: 0 when the app may start (the launch file is
 * written), else the error class's exit code (the error is logged, never thrown).
 */
export async function runBootstrap(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  log: EnclaveLogger = createLogger({ debug: argv.includes('--debug') }),
): Promise<number> {
  // Leave cleanly on a signal while waiting for the secrets (the launcher forwards the container's).
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info(`Received ${signal} before the app started, exiting`);
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  const early: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of early) process.on(s, onSignal);
  const stopEarly = (): void => {
    for (const s of early) process.off(s, onSignal);
  };
  try {
    const argvFile = argvFileOf(argv);
    const args = argvFile
      ? parseBootstrapArgs(
          argsOfArgvFile(await readUserFile(argvFile, 'argv file', INPUT_LIMITS.argvFile)),
          undefined,
          'args-file',
        )
      : parseBootstrapArgs(argv);
    const paths = enclavePaths(env.MSE_ENCLAVE_ROOT || '/');
    log.info(`mse-home enclave bootstrap ${VERSION} (Node.js ${process.versions.node})`);
    // The deployment UUID is a credential: never logged (nor passed on to the app).
    log.info(
      `Application ${args.application}, SAN ${args.san}, subject ${args.subject}, ` +
        `expires ${args.expiration.toISOString()}, size ${args.size}`,
    );
    await fs.mkdir(paths.home, { recursive: true, mode: 0o700 });
    const configured = await pathExists(paths.configured);
    // the code is read (and a damaged archive refused) before any key or quote is made
    const archive = configured ? undefined : await loadAppArchive(paths.appTar);
    const state = configured
      ? await loadEnclaveState(paths, args)
      : await loadOrCreateEnclaveState(paths, args, () => detectQuoteProvider(env), log);
    if (state.created) log.info(`RA-TLS certificate created (fingerprint sha256:${state.cert.fingerprint})`);

    if (!archive) {
      log.info('Already configured: reusing the keys, certificate and secrets');
    } else {
      const fileCount = archive.plain.filter((e) => e.type === 'file').length + archive.encrypted.length;
      log.info(
        `App code: ${fileCount} files${archive.encrypted.length ? ` (${archive.encrypted.length} encrypted)` : ''}`,
      );
      const outcome = await runConfigurationServer({
        host: args.host,
        port: args.port,
        certPem: state.certPem,
        keyPem: state.ratlsKeyPem,
        context: { expectedUuid: args.id, x25519: state.x25519, archive },
        paths,
        log,
        timeoutMs: args.timeoutMs,
      });
      const what = [outcome.appSecrets && 'app secrets', outcome.sealedSecrets && 'sealed secrets'].filter(Boolean);
      log.info(
        `Configuration received: ${what.length ? what.join(' and ') : 'no secrets'}, ${outcome.files} code files written` +
          (outcome.codeKeySource ? ` (decrypted with the key from ${outcome.codeKeySource})` : ''),
      );
    }
    await writeLaunchFile(paths, appLaunch(args, paths));
    stopEarly();
    log.info(`Starting the app (${args.application}) on ${args.host}:${args.port}`);
    return 0;
  } catch (error) {
    stopEarly();
    if (isMseError(error)) {
      log.error(`${error.code}: ${error.message}${error.hint ? ` (${error.hint})` : ''}`);
      return error.exitCode;
    }
    log.error(`ERR_INTERNAL: ${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}
