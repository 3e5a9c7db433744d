/**
 * AES-GCM results as the scaffolded app's `/result/secrets` endpoint produces them:
 * nonce (12) ‖ ciphertext ‖ tag (16), under a 16-, 24- or 32-byte key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError, InputError } from '../errors.js';

export const AES_GCM_NONCE_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;
export const AES_KEY_LENGTHS = [16, 24, 32];

function cipherName(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new InputError('ERR_KEY_LENGTH', `AES key is ${key.length} bytes, expected 16, 24 or 32`, {
        hint: 'Give the key as 32, 48 or 64 hex characters.',
      });
  }
}

/** Encrypt with a fresh random nonce (or the given one, for tests). */
export function aesGcmEncrypt(
  plaintext: Uint8Array,
  key: Uint8Array,
  nonce: Uint8Array = randomBytes(AES_GCM_NONCE_BYTES),
): Buffer {
  const cipher = createCipheriv(cipherName(key), key, nonce, { authTagLength: AES_GCM_TAG_BYTES });
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Decrypt nonce ‖ ciphertext ‖ tag. Throws `ERR_AES_GCM_AUTH` for a wrong key or altered data. */
export function aesGcmDecrypt(data: Uint8Array, key: Uint8Array): Buffer {
  const name = cipherName(key);
  if (data.length < AES_GCM_NONCE_BYTES + AES_GCM_TAG_BYTES) {
    throw new CryptoError(
      'ERR_AES_GCM_TRUNCATED',
      `AES-GCM data is ${data.length} bytes, shorter than nonce + tag (28)`,
      {
        hint: 'The input is truncated or is not an AES-GCM result.',
      },
    );
  }
  const nonce = data.subarray(0, AES_GCM_NONCE_BYTES);
  const tag = data.subarray(data.length - AES_GCM_TAG_BYTES);
  const ciphertext = data.subarray(AES_GCM_NONCE_BYTES, data.length - AES_GCM_TAG_BYTES);
  try {
    const decipher = createDecipheriv(name, key, nonce, { authTagLength: AES_GCM_TAG_BYTES });
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (cause) {
    throw new CryptoError('ERR_AES_GCM_AUTH', 'AES-GCM authentication failed: wrong key, or the data was altered', {
      hint: 'Check that the key is the one the app used.',
      cause,
    });
  }
}
