/**
 * NaCl secretbox (XSalsa20-Poly1305), in PyNaCl's `SecretBox.encrypt` layout: nonce (24) ‖ tag (16) ‖
 * ciphertext. Used for `package --encrypt` code files (MSE's format) and their decryption in the enclave.
 */
import { randomBytes } from 'node:crypto';
import { CryptoError, InputError } from '../errors.js';
import { sodium } from './sodium.js';

export const SECRETBOX_KEY_BYTES = 32;
export const SECRETBOX_NONCE_BYTES = 24;
export const SECRETBOX_OVERHEAD = 40;

/** Encrypt with a 32-byte key and a fresh random nonce. */
export async function secretboxSeal(plaintext: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  const s = await sodium();
  const nonce = randomBytes(SECRETBOX_NONCE_BYTES);
  const boxed = s.crypto_secretbox_easy(plaintext, nonce, key);
  return Buffer.concat([nonce, boxed]);
}

/** Decrypt nonce ‖ tag ‖ ciphertext. Throws `ERR_SECRETBOX_OPEN` for a wrong key or altered data. */
export async function secretboxOpen(data: Uint8Array, key: Uint8Array, what = 'encrypted data'): Promise<Uint8Array> {
  checkKey(key);
  if (data.length < SECRETBOX_OVERHEAD) {
    throw new CryptoError(
      'ERR_SECRETBOX_TRUNCATED',
      `${what} is ${data.length} bytes, shorter than the ${SECRETBOX_OVERHEAD}-byte minimum`,
    );
  }
  const s = await sodium();
  try {
    return s.crypto_secretbox_open_easy(
      data.subarray(SECRETBOX_NONCE_BYTES),
      data.subarray(0, SECRETBOX_NONCE_BYTES),
      key,
    );
  } catch (cause) {
    throw new CryptoError('ERR_SECRETBOX_OPEN', `${what} does not decrypt with this key: wrong key, or altered`, {
      cause,
    });
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== SECRETBOX_KEY_BYTES) {
    throw new InputError('ERR_KEY_LENGTH', `code key must be ${SECRETBOX_KEY_BYTES} bytes, got ${key.length}`, {
      hint: 'Use the .key file written by `mse home package --encrypt` (32 raw bytes).',
    });
  }
}
