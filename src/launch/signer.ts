/**
 * The operator's enclave signing key and MRSIGNER.
 *
 * Gramine (and so MSE) signs enclaves with an RSA-3072 key whose public exponent is 3; MRSIGNER is the
 * SHA-256 of the key's modulus written little-endian on key_size/8 bytes. The sim platform uses the same
 * key and the same derivation, so `evidence.json`'s `signer_pk` means the same thing on both platforms.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '../errors.js';
import { readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import {
  SGX_SIGNER_KEY_BITS,
  SGX_SIGNER_PUBLIC_EXPONENT,
  checkSgxSignerKey,
  mrsignerFromPublicKey,
} from '../attestation/mrsigner.js';
import { publishExclusive } from '../fs/publish.js';

export { mrsignerFromPublicKey };

export interface SignerKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo PEM: what `evidence.json` carries as `signer_pk`. */
  publicKeyPem: string;
  mrSigner: Uint8Array;
  /** True when this call generated the key. */
  created: boolean;
}

function checkSignerKey(file: string, key: KeyObject): void {
  checkSgxSignerKey(
    key,
    `signer key ${file}`,
    'Point --signer-key at a Gramine enclave key (RSA-3072, e=3), or at a path that does not exist yet to generate one.',
  );
}

function loaded(privateKey: KeyObject, created: boolean): SignerKey {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    mrSigner: mrsignerFromPublicKey(publicKey),
    created,
  };
}

function parseSignerKey(file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const text = pem.toString('latin1');
    const passphrase = /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(text);
    throw new InputError(
      'ERR_SIGNER_KEY_PARSE',
      `signer key ${file} is ${passphrase ? 'passphrase-protected' : 'not a PEM private key'}`,
      {
        hint: passphrase
          ? 'Use an unencrypted key (Gramine cannot use encrypted ones).'
          : 'Check the file, or remove it to generate a new key.',
        cause: error,
      },
    );
  }
}

/**
 * Load the existing enclave signing key at `file`; never creates one (for commands that must use the key
 * an enclave was signed with, such as `evidence`). Throws `ERR_FILE_NOT_FOUND` when it is absent, and the
 * errors of {@link loadOrCreateSignerKey} for a bad key.
 */
export async function loadSignerKey(file: string): Promise<SignerKey> {
  const key = parseSignerKey(file, await readUserFile(file, 'signer key', INPUT_LIMITS.key));
  checkSignerKey(file, key);
  return loaded(key, false);
}

/**
 * Load the enclave signing key at `file`, or generate it (RSA-3072, e=3, PKCS#1 PEM as Gramine's
 * `gramine-sgx-gen-private-key` writes it, mode 0600, parent directories 0700) when the file does not
 * exist. Concurrent first calls agree on one key. Throws `ERR_SIGNER_KEY_TYPE` / `ERR_SIGNER_KEY_SIZE` /
 * `ERR_SIGNER_KEY_EXPONENT` for a key SGX cannot sign with (attestation/mrsigner.ts), and
 * `ERR_SIGNER_KEY_PARSE` for an unreadable or passphrase-protected one.
 */
export async function loadOrCreateSignerKey(file: string): Promise<SignerKey> {
  const existing = await fs.stat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : true),
  );
  if (existing) return loadSignerKey(file);
  const { privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: SGX_SIGNER_KEY_BITS,
    publicExponent: SGX_SIGNER_PUBLIC_EXPONENT,
  });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  try {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    if (await publishExclusive(file, pem, 0o600)) return loaded(privateKey, true);
  } catch (error) {
    throw new InputError('ERR_SIGNER_KEY_WRITE', `cannot write the new signer key ${file}`, {
      hint: 'Check that the directory is writable, or pass another --signer-key path.',
      cause: error,
    });
  }
  // Someone else created it meanwhile: use theirs.
  return loadSignerKey(file);
}
