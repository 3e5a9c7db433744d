/**
 * MRSIGNER: the SGX measurement of an enclave signer's RSA-3072 public key, SHA-256 of the modulus in
 * little-endian byte order over key_size/8 bytes (how the CPU hashes SIGSTRUCT's modulus).
 */
import { createHash, createPublicKey } from 'node:crypto';
import { InputError } from '../errors.js';

/** MRSIGNER of an RSA public key given as PEM (SubjectPublicKeyInfo or PKCS#1) or a KeyObject's PEM. */
export function mrsignerFromRsaPublicKeyPem(pem: string): Uint8Array {
  let n: Buffer;
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key`);
    const jwk = key.export({ format: 'jwk' });
    n = Buffer.from(jwk.n!, 'base64url');
  } catch (error) {
    throw new InputError('ERR_SIGNER_KEY', `signer public key is not an RSA public key: ${(error as Error).message}`, {
      hint: 'signer_pk must be the PEM public key of the enclave signing key (RSA-3072, e=3).',
      cause: error,
    });
  }
  while (n.length > 1 && n[0] === 0) n = n.subarray(1);
  const le = Buffer.alloc(n.length); // key_size / 8 bytes
  for (let i = 0; i < n.length; i++) le[i] = n[n.length - 1 - i]!;
  return new Uint8Array(createHash('sha256').update(le).digest());
}
