/**
 * MRSIGNER: the SGX measurement of an enclave signer's RSA public key, SHA-256 of the modulus in
 * little-endian byte order over key_size/8 bytes (how the CPU hashes SIGSTRUCT's modulus). The one
 * implementation: `verify` checks evidence's signer_pk with it, the simulated platform signs with it.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';

function toPublicKey(key: KeyObject | string | Uint8Array): KeyObject {
  try {
    if (typeof key === 'string' || key instanceof Uint8Array) {
      const text = Buffer.from(key).toString('utf8');
      return /PRIVATE KEY/.test(text) ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    }
    return key.type === 'private' ? createPublicKey(key) : key;
  } catch (error) {
    throw new InputError('ERR_SIGNER_KEY_PARSE', 'the signer key is not a readable PEM public or private key', {
      hint: 'signer_pk must be a PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") of an RSA key.',
      cause: error,
    });
  }
}

/**
 * MRSIGNER of enclaves signed by this RSA key: SHA-256 of the modulus, little-endian, on key_size/8 bytes.
 * Accepts a KeyObject (public or private) or PEM text. Throws `ERR_SIGNER_KEY_PARSE` / `ERR_SIGNER_KEY_TYPE`.
 */
export function mrsignerFromPublicKey(key: KeyObject | string | Uint8Array): Uint8Array {
  const pub = toPublicKey(key);
  if (pub.asymmetricKeyType !== 'rsa') {
    throw new InputError(
      'ERR_SIGNER_KEY_TYPE',
      `the signer key is ${pub.asymmetricKeyType ?? 'unknown'}, expected RSA`,
    );
  }
  const bits = pub.asymmetricKeyDetails?.modulusLength ?? 0;
  const n = Buffer.from(pub.export({ format: 'jwk' }).n ?? '', 'base64url');
  const size = Math.ceil(bits / 8);
  if (n.length > size || n.length === 0)
    throw new InputError('ERR_SIGNER_KEY_TYPE', 'the signer key modulus is malformed');
  const le = Buffer.alloc(size); // big-endian n, zero-padded to key_size/8, then reversed
  n.copy(le, size - n.length);
  le.reverse();
  return mrsignerFromModulus(le);
}

/** MRSIGNER from a modulus already in SIGSTRUCT form: little-endian, key_size/8 bytes (SIGSTRUCT[128:512]). */
export function mrsignerFromModulus(modulusLE: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(modulusLE).digest());
}
