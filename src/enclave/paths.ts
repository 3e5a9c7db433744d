/**
 * Where the enclave keeps its state. Inside the container these are absolute paths (`/key`, `/mse-app`,
 * `/root/.cache/mse`, `/opt/mse/enclave`); tests move the whole tree under a temporary directory with the
 * environment variable `MSE_ENCLAVE_ROOT`. On sgx `/key`, `/root` and `/mse-app` are Gramine encrypted
 * mounts sealed to MRENCLAVE: they always exist (mount points), and only regular files can be renamed in
 * them, so "configured" is a marker file, not the existence of `/mse-app`.
 */
import path from 'node:path';
import { APP_TAR_FILE, ENCLAVE_DIR } from '../launch/layout.js';

export interface EnclavePaths {
  /** The root all paths below hang from (`/` in the container). */
  root: string;
  /** `/key`: RA-TLS key and certificate, enclave X25519 key pair. Mode 0700. */
  keyDir: string;
  /** `/key/key.ratls.pem`: the RA-TLS private key, PKCS#8 PEM. */
  ratlsKey: string;
  /** `/key/cert.ratls.pem`: the RA-TLS certificate, PEM. */
  ratlsCert: string;
  /** `/key/enclave.key`: the X25519 private key, 32 raw bytes. */
  enclaveKey: string;
  /** `/key/enclave.pub`: the X25519 public key, 32 raw bytes. */
  enclavePub: string;
  /** `/key/configured`: written last by a successful configuration; its existence means "configured". */
  configured: string;
  /**
   * `/key/serve.json`: how the launcher starts the app (`mse-serve --launch`), written at every start.
   */
  launchFile: string;
  /** `/mse-app`: the app code once configured. */
  appDir: string;
  /** `/root`: the app's HOME. */
  home: string;
  /** `/root/.cache/mse`: where secrets are written. Mode 0700. */
  secretsDir: string;
  /** `/root/.cache/mse/secrets.json` (`SECRETS_PATH`). */
  secretsFile: string;
  /** `/root/.cache/mse/sealed_secrets.json` (`SEALED_SECRETS_PATH`). */
  sealedSecretsFile: string;
  /** `/opt/mse/enclave`: the enclave's inputs, a read-only bind mount from the host. */
  enclaveDir: string;
  /** `/opt/mse/enclave/app.tar`: the app code as packaged (files may be `.enc`). */
  appTar: string;
}

/** The enclave's paths under `root` (default `/`). */
export function enclavePaths(root = '/'): EnclavePaths {
  const at = (...p: string[]): string => path.join(root, ...p);
  const keyDir = at('key');
  const secretsDir = at('root', '.cache', 'mse');
  return {
    root,
    keyDir,
    ratlsKey: path.join(keyDir, 'key.ratls.pem'),
    ratlsCert: path.join(keyDir, 'cert.ratls.pem'),
    enclaveKey: path.join(keyDir, 'enclave.key'),
    enclavePub: path.join(keyDir, 'enclave.pub'),
    configured: path.join(keyDir, 'configured'),
    launchFile: path.join(keyDir, 'serve.json'),
    appDir: at('mse-app'),
    home: at('root'),
    secretsDir,
    secretsFile: path.join(secretsDir, 'secrets.json'),
    sealedSecretsFile: path.join(secretsDir, 'sealed_secrets.json'),
    enclaveDir: at(ENCLAVE_DIR),
    appTar: at(APP_TAR_FILE),
  };
}
