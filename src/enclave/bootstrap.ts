/**
 * The enclave bootstrap: the container's entrypoint program (bundled to `dist/enclave/bootstrap.mjs`, run
 * by the base image's Node.js 18 as `mse-run`).
 *
 * First start: create the X25519 and RA-TLS keys, get a quote binding them (sim or sgx), write the RA-TLS
 * certificate to `/key`, read `/opt/input/app.tar`, serve the configuration server until a valid
 * configuration is written (secrets files, code in `/mse-app`), then run the app on the same port with the
 * same certificate. Restart (`/mse-app` exists): reuse the keys, certificate and secrets, no new quote, run
 * the app directly.
 */
import { promises as fs } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { isMseError } from '../errors.js';
import { VERSION } from '../version.js';
import { appCommand, runApp } from './app.js';
import { loadAppArchive } from './app-code.js';
import { argvFileOf, checkArgvFileVector, parseBootstrapArgs } from './args.js';
import { parseArgvFile } from '../launch/args.js';
import { runConfigurationServer } from './config-server.js';
import { createLogger, type EnclaveLogger } from './log.js';
import { enclavePaths } from './paths.js';
import { detectQuoteProvider } from './quote.js';
import { loadEnclaveState, loadOrCreateEnclaveState } from './state.js';
import { pathExists, readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';

/**
 * Run the bootstrap; resolves with the process exit code (the app's, or the error class's exit code when
 * the bootstrap itself fails; the error is logged, never thrown).
 */
export async function runBootstrap(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  log: EnclaveLogger = createLogger({ debug: argv.includes('--debug') }),
): Promise<number> {
  // As PID 1 in a container, signals have no default action: leave cleanly while waiting for secrets.
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
    const vector = argvFile
      ? checkArgvFileVector(parseArgvFile(await readUserFile(argvFile, 'argv file', INPUT_LIMITS.argvFile)).slice(1))
      : argv;
    const args = parseBootstrapArgs(vector);
    const paths = enclavePaths(env.MSE_ENCLAVE_ROOT || '/');
    log.info(`mse-home enclave bootstrap ${VERSION} (Node.js ${process.versions.node})`);
    // The deployment UUID is a credential: never logged (nor passed on to the app).
    log.info(
      `Application ${args.application}, SAN ${args.san}, subject ${args.subject}, ` +
        `expires ${args.expiration.toISOString()}, size ${args.size}`,
    );
    await fs.mkdir(paths.home, { recursive: true, mode: 0o700 });
    const configured = await pathExists(paths.appDir);
    // the code is read (and a damaged archive refused) before any key or quote is made
    const archive = configured ? undefined : await loadAppArchive(paths.appTar);
    const state = configured
      ? await loadEnclaveState(paths, args)
      : await loadOrCreateEnclaveState(paths, args, () => detectQuoteProvider(env), log);
    if (state.created) log.info(`RA-TLS certificate created (fingerprint sha256:${state.cert.fingerprint})`);

    if (!archive) {
      log.info('Already configured: reusing the keys, certificate and secrets, starting the app');
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
    stopEarly();
    return await runApp(appCommand(args, paths, env), log);
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
