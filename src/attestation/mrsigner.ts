/**
 * MRSIGNER: the SGX measurement of an enclave signer's RSA public key, SHA-256 of the modulus in
 * little-endian byte order over key_size/8 bytes (how the CPU hashes SIGSTRUCT's modulus), and what an SGX
 * signing key must be (RSA-3072, e = 3). The one implementation: `verify` checks evidence's signer_pk with
 * it, the simulated platform signs with it, Gramine SIGSTRUCTs are signed and read with it.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';

/** SGX enclave signing keys: RSA-3072 with public exponent 3 (what EINIT accepts). */
export const SIGNER_KEY_BITS = 3072;
export const SIGNER_PUBLIC_EXPONENT = 3;

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

/**
 * Throw unless `key` is an SGX enclave signing key: RSA-3072 with public exponent 3 (what EINIT accepts).
 * `what` names the key in messages. `ERR_SIGNER_KEY_EXPONENT` for an RSA-3072 key with another exponent,
 * `ERR_SIGNER_KEY_INVALID` for any other kind or size.
 */
export function assertSgxSigningKey(key: KeyObject, what: string): void {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && d?.modulusLength === SIGNER_KEY_BITS && d.publicExponent !== undefined) {
    if (d.publicExponent === BigInt(SIGNER_PUBLIC_EXPONENT)) return;
    throw new InputError(
      'ERR_SIGNER_KEY_EXPONENT',
      `${what} is RSA-3072 with public exponent ${d.publicExponent}; SGX requires exponent 3`,
      { hint: 'Use a Gramine enclave key (gramine-sgx-gen-private-key, or openssl genrsa -3 3072).' },
    );
  }
  const kind =
    key.asymmetricKeyType === 'rsa'
      ? `RSA-${d?.modulusLength ?? '?'} with e=${d?.publicExponent ?? '?'}`
      : key.asymmetricKeyType;
  throw new InputError('ERR_SIGNER_KEY_INVALID', `${what} is ${kind}; SGX enclave signing needs RSA-3072 with e=3`, {
    hint: 'Use a Gramine enclave key: RSA-3072 with public exponent 3 (gramine-sgx-gen-private-key makes one).',
  });
}
