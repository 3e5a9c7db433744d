/**
 * How the app is started: the bootstrap writes the **launch file** (`/key/serve.json`) and exits; the
 * launcher (base-image/mse-run) then becomes the app server with
 * `exec /usr/bin/python3 /usr/local/bin/mse-serve --launch /key/serve.json`, in the same process (under
 * Gramine: the same, first enclave). `mse-serve` (the base image's launcher, shared with `localtest`)
 * serves the WSGI/ASGI app from `/mse-app` on the configuration server's host and port, over TLS with the
 * RA-TLS key and certificate, with the app's environment from the file.
 *
 * The file is JSON: `{"argv": [mse-serve's options], "env": {the app's variables}}`. It holds nothing
 * secret (paths, the module name, host and port) and is rewritten at every start; on sgx it lives in the
 * sealed `/key`, the one place both enclaves (the bootstrap's child enclave and the launcher's) can write
 * and read with the same key.
 */
import { writeFileAtomic } from '../fs/files.js';
import type { BootstrapArgs } from './args.js';
import type { EnclavePaths } from './paths.js';

/** The app's command line (mse-serve's options) and the environment variables it is given. */
export interface AppLaunch {
  argv: string[];
  env: Record<string, string>;
}

/** The app's options and environment. Pure. */
export function appLaunch(args: BootstrapArgs, paths: EnclavePaths): AppLaunch {
  return {
    argv: [
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
      HOME: paths.home,
      KEY_PATH: paths.keyDir,
      MODULE_PATH: paths.appDir,
      SECRETS_PATH: paths.secretsFile,
      SEALED_SECRETS_PATH: paths.sealedSecretsFile,
      TMP_PATH: '/tmp',
    },
  };
}

/** Write the launch file (0600, atomically). */
export async function writeLaunchFile(paths: EnclavePaths, launch: AppLaunch): Promise<void> {
  await writeFileAtomic(paths.launchFile, JSON.stringify(launch) + '\n', { mode: 0o600 });
}
