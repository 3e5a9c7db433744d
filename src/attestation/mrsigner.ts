/**
 * Enclave signer keys and MRSIGNER, the one implementation: `verify` checks evidence's `signer_pk` with it,
 * the simulated platform (and Gramine's signing) load the operator's key file with it.
 *
 * An SGX enclave is signed with RSA-3072 and public exponent 3: SIGSTRUCT has room for a 384-byte modulus
 * only, and the CPU's EINIT verifies the signature with e = 3 whatever key is presented. MRSIGNER is the
 * SHA-256 of the modulus, little-endian, over key_size/8 bytes (how the CPU hashes SIGSTRUCT's modulus). It
 * covers the modulus only, so a key that claims another exponent would hash to the same MRSIGNER although
 * it is not the key that signed: {@link checkSgxSignerKey} refuses it.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';

/** The modulus size SIGSTRUCT holds. */
export const SGX_SIGNER_KEY_BITS = 3072;
/** The only public exponent EINIT verifies with. */
export const SGX_SIGNER_PUBLIC_EXPONENT = 3;

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
 * Refuse a key SGX cannot sign enclaves with: not RSA (`ERR_SIGNER_KEY_TYPE`), a modulus other than 3072
 * bits (`ERR_SIGNER_KEY_SIZE`), a public exponent other than 3 (`ERR_SIGNER_KEY_EXPONENT`). All are
 * InputErrors; `what` names the key in the message ("signer_pk", "signer key FILE") and `hint` says what to
 * do about it. Accepts a public or private KeyObject.
 */
export function checkSgxSignerKey(key: KeyObject, what = 'the signer key', hint?: string): void {
  const d = key.asymmetricKeyDetails;
  const is =
    key.asymmetricKeyType === 'rsa'
      ? `RSA-${d?.modulusLength ?? '?'} with e=${d?.publicExponent ?? '?'}`
      : (key.asymmetricKeyType ?? 'of an unknown type');
  const refuse = (code: string): never => {
    throw new InputError(code, `${what} is ${is}; SGX enclave signing needs RSA-${SGX_SIGNER_KEY_BITS} with e=3`, {
      hint:
        hint ??
        (code === 'ERR_SIGNER_KEY_EXPONENT'
          ? 'MRSIGNER covers only the modulus: a key with another exponent is not the key that signed the enclave.'
          : 'Use the RSA-3072, e=3 key the enclave was signed with (Gramine: gramine-sgx-gen-private-key).'),
    });
  };
  if (key.asymmetricKeyType !== 'rsa') refuse('ERR_SIGNER_KEY_TYPE');
  if (d?.modulusLength !== SGX_SIGNER_KEY_BITS) refuse('ERR_SIGNER_KEY_SIZE');
  if (d?.publicExponent !== BigInt(SGX_SIGNER_PUBLIC_EXPONENT)) refuse('ERR_SIGNER_KEY_EXPONENT');
}

/**
 * MRSIGNER of enclaves signed by this key: SHA-256 of the modulus, little-endian, on key_size/8 bytes.
 * Accepts a KeyObject (public or private) or PEM text, and only a key SGX can sign with
 * ({@link checkSgxSignerKey}). Throws `ERR_SIGNER_KEY_PARSE`, `ERR_SIGNER_KEY_TYPE`, `ERR_SIGNER_KEY_SIZE`,
 * `ERR_SIGNER_KEY_EXPONENT`.
 */
export function mrsignerFromPublicKey(key: KeyObject | string | Uint8Array, what = 'the signer key'): Uint8Array {
  const pub = toPublicKey(key);
  checkSgxSignerKey(pub, what);
  const size = SGX_SIGNER_KEY_BITS / 8;
  const n = Buffer.from(pub.export({ format: 'jwk' }).n ?? '', 'base64url');
  if (n.length > size || n.length === 0) throw new InputError('ERR_SIGNER_KEY_TYPE', `${what} modulus is malformed`);
  const le = Buffer.alloc(size); // big-endian n, zero-padded to key_size/8, then reversed
  n.copy(le, size - n.length);
  le.reverse();
  return mrsignerFromModulus(le);
}

/** MRSIGNER from a modulus already in SIGSTRUCT form: little-endian, key_size/8 bytes (SIGSTRUCT[128:512]). */
export function mrsignerFromModulus(modulusLE: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(modulusLE).digest());
}
