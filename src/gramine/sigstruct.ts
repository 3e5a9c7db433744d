/**
 * SGX SIGSTRUCT (1808 bytes, Intel SDM vol. 3D, "Enclave Signature Structure") as Gramine's signer builds
 * it: build from MRENCLAVE, the manifest's `sgx.*` attributes and a date; sign with an RSA-3072, e = 3 key
 * (RSASSA-PKCS1-v1_5 with SHA-256 over bytes 0..128 and 900..1028); parse strictly; verify.
 *
 * All integers are little-endian; the modulus, signature, Q1 and Q2 are 384-byte little-endian integers.
 * Q1 = ⌊s² / n⌋ and Q2 = ⌊(s² mod n) · s / n⌋ let the CPU check s³ mod n without a division.
 */
import { createPublicKey, constants, sign, verify, type KeyObject } from 'node:crypto';
import { checkSgxSignerKey, mrsignerFromModulus } from '../attestation/mrsigner.js';
import { InputError } from '../errors.js';
import type { EnclaveAttributes } from './manifest.js';

export const SIGSTRUCT_SIZE = 1808;
const RSA_BYTES = 384;

/** Byte offsets of the SIGSTRUCT fields. */
export const SIGSTRUCT_OFFSETS = {
  header: 0,
  vendor: 16,
  date: 20,
  header2: 24,
  swDefined: 40,
  modulus: 128,
  exponent: 512,
  signature: 516,
  miscSelect: 900,
  miscMask: 904,
  cetAttributes: 908,
  cetAttributesMask: 909,
  isvFamilyId: 912,
  attributesFlags: 928,
  attributesXfrm: 936,
  attributesMaskFlags: 944,
  attributesMaskXfrm: 952,
  enclaveHash: 960,
  isvExtProdId: 1008,
  isvProdId: 1024,
  isvSvn: 1026,
  q1: 1040,
  q2: 1424,
} as const;

const HEADER = Buffer.from('06000000e10000000000010000000000', 'hex');
const HEADER2 = Buffer.from('01010000600000006000000001000000', 'hex');
/** Reserved ranges (must be zero). */
const RESERVED: [number, number][] = [
  [44, 128],
  [910, 912],
  [992, 1008],
  [1028, 1040],
];
const MISC_MASK = 0xffffffff;
const FLAGS_MASK = 0xffffffffffffffffn;
/** The bytes RSA-signed: SIGSTRUCT[0:128] ‖ SIGSTRUCT[900:1028]. */
const SIGNED_RANGES: [number, number][] = [
  [0, 128],
  [900, 1028],
];

/** What a SIGSTRUCT says (all fields, decoded). */
export interface Sigstruct {
  bytes: Uint8Array;
  vendor: number;
  /** DATE as stored: BCD 0xYYYYMMDD. */
  dateRaw: number;
  /** `YYYY-MM-DD`, or undefined when `dateRaw` is not valid BCD. */
  date: string | undefined;
  swDefined: number;
  /** Little-endian, as stored. */
  modulus: Uint8Array;
  exponent: number;
  /** Little-endian, as stored. */
  signature: Uint8Array;
  miscSelect: number;
  miscMask: number;
  cetAttributes: number;
  cetAttributesMask: number;
  isvFamilyId: Uint8Array;
  flags: bigint;
  xfrm: bigint;
  flagsMask: bigint;
  xfrmMask: bigint;
  mrenclave: Uint8Array;
  isvExtProdId: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  q1: Uint8Array;
  q2: Uint8Array;
  /** SHA-256 of the modulus field. */
  mrsigner: Uint8Array;
}

/** What goes into a SIGSTRUCT besides the key. */
export interface SigstructInput {
  mrenclave: Uint8Array;
  attributes: Pick<EnclaveAttributes, 'flags' | 'xfrm' | 'xfrmMask' | 'miscSelect' | 'isvProdId' | 'isvSvn'>;
  /** `YYYY-MM-DD` (the signing date Gramine records). */
  date: string;
}

/** One failed check of {@link verifySigstruct}. */
export interface SigstructProblem {
  code: string;
  message: string;
}

export interface SigstructCheck {
  valid: boolean;
  problems: SigstructProblem[];
}

/** `date` as `YYYY-MM-DD` in local time: what `gramine-sgx-sign` records without `--date`. */
export function localSigstructDate(date: Date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** `YYYY-MM-DD` (a real calendar date, years 1..9999) → BCD 0xYYYYMMDD. Throws `ERR_SIGSTRUCT_DATE`. */
export function sigstructDate(date: string): number {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(date);
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  if (!m || y < 1 || d < 1 || d > days) {
    throw new InputError('ERR_SIGSTRUCT_DATE', `'${date}' is not a date in the form YYYY-MM-DD`, {
      hint: 'Give the signing date as YYYY-MM-DD, e.g. 2025-01-15.',
    });
  }
  return parseInt(`${m[1]}${m[2]}${m[3]}`, 16);
}

function bcdDate(raw: number): string | undefined {
  const hex = raw.toString(16).padStart(8, '0');
  if (!/^[0-9]{8}$/.test(hex)) return undefined;
  const text = `${hex.slice(0, 4)}-${hex.slice(4, 6)}-${hex.slice(6, 8)}`;
  try {
    sigstructDate(text);
    return text;
  } catch {
    return undefined;
  }
}

const leToBig = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).reverse().toString('hex') || '0'));

function bigToLe(n: bigint, size: number): Buffer {
  const hex = n.toString(16).padStart(size * 2, '0');
  if (hex.length > size * 2) throw new RangeError('integer too large');
  return Buffer.from(hex, 'hex').reverse();
}

/** SIGSTRUCT[0:128] ‖ SIGSTRUCT[900:1028]: the 256 bytes RSA-signed. */
export function sigstructSigningData(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat(SIGNED_RANGES.map(([a, b]) => bytes.subarray(a, b))));
}

/** The SIGSTRUCT with every field set except modulus, exponent, signature, Q1 and Q2 (zero). */
export function unsignedSigstruct(input: SigstructInput): Uint8Array {
  if (input.mrenclave.length !== 32) throw new RangeError('MRENCLAVE must be 32 bytes');
  const b = Buffer.alloc(SIGSTRUCT_SIZE);
  const o = SIGSTRUCT_OFFSETS;
  const a = input.attributes;
  HEADER.copy(b, o.header);
  b.writeUInt32LE(sigstructDate(input.date), o.date);
  HEADER2.copy(b, o.header2);
  b.writeUInt32LE(a.miscSelect, o.miscSelect);
  b.writeUInt32LE(MISC_MASK, o.miscMask);
  b.writeBigUInt64LE(a.flags, o.attributesFlags);
  b.writeBigUInt64LE(a.xfrm, o.attributesXfrm);
  b.writeBigUInt64LE(FLAGS_MASK, o.attributesMaskFlags);
  b.writeBigUInt64LE(a.xfrmMask, o.attributesMaskXfrm);
  b.set(input.mrenclave, o.enclaveHash);
  b.writeUInt16LE(a.isvProdId, o.isvProdId);
  b.writeUInt16LE(a.isvSvn, o.isvSvn);
  return new Uint8Array(b);
}

function quotients(s: bigint, n: bigint): { q1: bigint; q2: bigint } {
  const s2 = s * s;
  return { q1: s2 / n, q2: ((s2 % n) * s) / n };
}

/**
 * Build and sign a SIGSTRUCT as `gramine-sgx-sign` does: the result is byte-identical to Gramine's for
 * the same inputs (PKCS#1 v1.5 signatures are deterministic). `key` must be an RSA-3072 private key with
 * e = 3 (`ERR_SIGNER_KEY_NOT_PRIVATE`, `ERR_SIGNER_KEY_TYPE`, `_SIZE`, `_EXPONENT` otherwise).
 */
export function signSigstruct(input: SigstructInput, key: KeyObject): Uint8Array {
  if (key.type !== 'private') {
    throw new InputError('ERR_SIGNER_KEY_NOT_PRIVATE', 'the enclave signing key must be a private key', {
      hint: 'Pass the PEM private key (BEGIN RSA PRIVATE KEY).',
    });
  }
  checkSgxSignerKey(key, 'the enclave signing key');
  const b = Buffer.from(unsignedSigstruct(input));
  const sigBE = sign('sha256', sigstructSigningData(b), { key, padding: constants.RSA_PKCS1_PADDING });
  const n = BigInt('0x' + Buffer.from(key.export({ format: 'jwk' }).n ?? '', 'base64url').toString('hex'));
  const s = BigInt('0x' + sigBE.toString('hex'));
  const { q1, q2 } = quotients(s, n);
  const o = SIGSTRUCT_OFFSETS;
  bigToLe(n, RSA_BYTES).copy(b, o.modulus);
  b.writeUInt32LE(3, o.exponent);
  bigToLe(s, RSA_BYTES).copy(b, o.signature);
  bigToLe(q1, RSA_BYTES).copy(b, o.q1);
  bigToLe(q2, RSA_BYTES).copy(b, o.q2);
  return new Uint8Array(b);
}

/**
 * Decode a SIGSTRUCT. Strict on structure only: exactly 1808 bytes (`ERR_SIGSTRUCT_SIZE`) and the two
 * fixed headers (`ERR_SIGSTRUCT_HEADER`). Whether it is correctly signed is {@link verifySigstruct}'s job.
 */
export function parseSigstruct(bytes: Uint8Array, what = 'SIGSTRUCT'): Sigstruct {
  if (bytes.length !== SIGSTRUCT_SIZE) {
    throw new InputError('ERR_SIGSTRUCT_SIZE', `${what} is ${bytes.length} bytes; a SIGSTRUCT is exactly 1808`, {
      hint: 'Pass the .sig file written by gramine-sgx-sign or mse home measure --sigfile.',
    });
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = SIGSTRUCT_OFFSETS;
  for (const [name, at, expected] of [
    ['HEADER', o.header, HEADER],
    ['HEADER2', o.header2, HEADER2],
  ] as const) {
    if (!b.subarray(at, at + 16).equals(expected)) {
      throw new InputError(
        'ERR_SIGSTRUCT_HEADER',
        `${what}: ${name} at offset ${at} is ${b.subarray(at, at + 16).toString('hex')}, expected ${expected.toString('hex')}`,
        { hint: 'This is not an SGX SIGSTRUCT (or it is corrupted).' },
      );
    }
  }
  const copy = (at: number, len: number): Uint8Array => new Uint8Array(b.subarray(at, at + len));
  const dateRaw = b.readUInt32LE(o.date);
  const modulus = copy(o.modulus, RSA_BYTES);
  return {
    bytes: new Uint8Array(b),
    vendor: b.readUInt32LE(o.vendor),
    dateRaw,
    date: bcdDate(dateRaw),
    swDefined: b.readUInt32LE(o.swDefined),
    modulus,
    exponent: b.readUInt32LE(o.exponent),
    signature: copy(o.signature, RSA_BYTES),
    miscSelect: b.readUInt32LE(o.miscSelect),
    miscMask: b.readUInt32LE(o.miscMask),
    cetAttributes: b[o.cetAttributes]!,
    cetAttributesMask: b[o.cetAttributesMask]!,
    isvFamilyId: copy(o.isvFamilyId, 16),
    flags: b.readBigUInt64LE(o.attributesFlags),
    xfrm: b.readBigUInt64LE(o.attributesXfrm),
    flagsMask: b.readBigUInt64LE(o.attributesMaskFlags),
    xfrmMask: b.readBigUInt64LE(o.attributesMaskXfrm),
    mrenclave: copy(o.enclaveHash, 32),
    isvExtProdId: copy(o.isvExtProdId, 16),
    isvProdId: b.readUInt16LE(o.isvProdId),
    isvSvn: b.readUInt16LE(o.isvSvn),
    q1: copy(o.q1, RSA_BYTES),
    q2: copy(o.q2, RSA_BYTES),
    mrsigner: mrsignerFromModulus(modulus),
  };
}

/**
 * Check a parsed SIGSTRUCT as EINIT would: public exponent 3 (`ERR_SIGSTRUCT_EXPONENT`), a 3072-bit odd
 * modulus (`ERR_SIGSTRUCT_MODULUS`), a valid RSASSA-PKCS1-v1_5 SHA-256 signature over the signed ranges
 * (`ERR_SIGSTRUCT_SIGNATURE`), Q1 and Q2 consistent with it (`ERR_SIGSTRUCT_Q1Q2`), reserved bytes zero
 * (`ERR_SIGSTRUCT_RESERVED`). Returns every problem found, not just the first.
 */
export function verifySigstruct(sig: Sigstruct): SigstructCheck {
  const problems: SigstructProblem[] = [];
  const add = (code: string, message: string): void => void problems.push({ code, message });
  const n = leToBig(sig.modulus);
  const s = leToBig(sig.signature);
  if (sig.exponent !== 3) add('ERR_SIGSTRUCT_EXPONENT', `the public exponent is ${sig.exponent}; SGX requires 3`);
  if (n >> 3071n !== 1n || n % 2n === 0n) add('ERR_SIGSTRUCT_MODULUS', 'the modulus is not an odd 3072-bit integer');
  else if (s >= n) add('ERR_SIGSTRUCT_SIGNATURE', 'the signature is not smaller than the modulus');
  else {
    if (sig.exponent === 3) {
      const key = createPublicKey({
        key: { kty: 'RSA', n: bigToLe(n, RSA_BYTES).reverse().toString('base64url'), e: 'Aw' },
        format: 'jwk',
      });
      const ok = verify(
        'sha256',
        sigstructSigningData(sig.bytes),
        { key, padding: constants.RSA_PKCS1_PADDING },
        bigToLe(s, RSA_BYTES).reverse(),
      );
      if (!ok) add('ERR_SIGSTRUCT_SIGNATURE', 'the RSA signature does not match the signed fields');
    }
    const { q1, q2 } = quotients(s, n);
    if (leToBig(sig.q1) !== q1 || leToBig(sig.q2) !== q2) {
      add('ERR_SIGSTRUCT_Q1Q2', 'Q1/Q2 are not ⌊s²/n⌋ and ⌊(s² mod n)·s/n⌋ for this signature');
    }
  }
  for (const [a, b] of RESERVED) {
    if (sig.bytes.subarray(a, b).some((x) => x !== 0))
      add('ERR_SIGSTRUCT_RESERVED', `reserved bytes ${a}..${b - 1} are not zero`);
  }
  return { valid: problems.length === 0, problems };
}
