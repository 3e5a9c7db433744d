/**
 * Where the enclave keeps its state. Inside the container these are absolute paths (`/key`, `/mse-app`,
 * `/root/.cache/mse`, `/opt/input`); tests move the whole tree under a temporary directory with the
 * environment variable `MSE_ENCLAVE_ROOT`.
 */
import path from 'node:path';

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
  /** `/mse-app`: the app code once configured; its existence means "configured". */
  appDir: string;
  /** `/root`: the app's HOME. */
  home: string;
  /** `/root/.cache/mse`: where secrets are written. Mode 0700. */
  secretsDir: string;
  /** `/root/.cache/mse/secrets.json` (`SECRETS_PATH`). */
  secretsFile: string;
  /** `/root/.cache/mse/sealed_secrets.json` (`SEALED_SECRETS_PATH`). */
  sealedSecretsFile: string;
  /** `/opt/input`: bind mount from the host. */
  inputDir: string;
  /** `/opt/input/app.tar`: the app code as packaged (files may be `.enc`). */
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
    appDir: at('mse-app'),
    home: at('root'),
    secretsDir,
    secretsFile: path.join(secretsDir, 'secrets.json'),
    sealedSecretsFile: path.join(secretsDir, 'sealed_secrets.json'),
    inputDir: at('opt', 'input'),
    appTar: at('opt', 'input', 'app.tar'),
  };
}
