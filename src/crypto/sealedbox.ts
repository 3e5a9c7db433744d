/**
 * Sealed boxes (libsodium `crypto_box_seal`): anonymous public-key encryption to an X25519 key.
 * Wire format, as libsodium, PyNaCl and MSE: ephemeral public key (32) ‖ Poly1305 tag (16) ‖ ciphertext.
 * This is how a code provider hands secrets to one enclave: the recipient key comes from the enclave's
 * attested report_data[32:64], so only that enclave can open the box.
 */
import { CryptoError, InputError } from '../errors.js';
import { sodium } from './sodium.js';

export const X25519_KEY_BYTES = 32;
/** Bytes a sealed box adds to its plaintext. */
export const SEALED_BOX_OVERHEAD = 48;

export interface X25519KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A fresh X25519 key pair (raw 32-byte keys, as libsodium and MSE store them). */
export async function generateX25519KeyPair(): Promise<X25519KeyPair> {
  const s = await sodium();
  const kp = s.crypto_box_keypair();
  return { publicKey: kp.publicKey, privateKey: kp.privateKey };
}

/** The X25519 public key of a raw 32-byte private key. */
export async function x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array> {
  checkKey(privateKey, 'X25519 private key');
  return (await sodium()).crypto_scalarmult_base(privateKey);
}

/** Seal `plaintext` to `recipientPublicKey`. */
export async function sealBox(plaintext: Uint8Array, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
  checkKey(recipientPublicKey, 'recipient X25519 public key');
  const s = await sodium();
  if (isLowOrderPoint(recipientPublicKey)) {
    throw new InputError('ERR_KEY_WEAK', 'recipient X25519 public key is a low-order point', {
      hint: 'The key is not a real public key; check its source.',
    });
  }
  return s.crypto_box_seal(plaintext, recipientPublicKey);
}

/** Open a sealed box. Throws `ERR_SEALED_BOX_OPEN` when it was not sealed to this key or was altered. */
export async function openSealedBox(
  box: Uint8Array,
  publicKey: Uint8Array,
  privateKey: Uint8Array,
): Promise<Uint8Array> {
  checkKey(publicKey, 'X25519 public key');
  checkKey(privateKey, 'X25519 private key');
  if (box.length < SEALED_BOX_OVERHEAD) {
    throw new CryptoError(
      'ERR_SEALED_BOX_TRUNCATED',
      `sealed box is ${box.length} bytes, shorter than the ${SEALED_BOX_OVERHEAD}-byte minimum`,
      {
        hint: 'The file is truncated or is not a sealed box.',
      },
    );
  }
  const s = await sodium();
  try {
    return s.crypto_box_seal_open(box, publicKey, privateKey);
  } catch (cause) {
    throw new CryptoError(
      'ERR_SEALED_BOX_OPEN',
      'sealed box does not open with this key: sealed for another key, or altered',
      {
        hint: 'Check that the private key belongs to the recipient the data was sealed for.',
        cause,
      },
    );
  }
}

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new InputError('ERR_KEY_LENGTH', `${what} must be ${X25519_KEY_BYTES} raw bytes, got ${key?.length ?? 0}`, {
      hint: 'X25519 keys are 32 raw bytes (not PEM, not hex).',
    });
  }
}

// Points of small order on Curve25519 (and their non-canonical encodings): a box sealed to one of them is
// readable by anyone, so refuse them as recipients.
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
function isLowOrderPoint(key: Uint8Array): boolean {
  const hex = Buffer.from(key).toString('hex');
  // Bit 255 is ignored by X25519, so compare with it cleared too.
  const masked = Buffer.from(key);
  masked[31] = (masked[31] ?? 0) & 0x7f;
  return LOW_ORDER.includes(hex) || LOW_ORDER.includes(masked.toString('hex'));
}
