// SIGSTRUCT beyond the vectors: tampering with each field, keys SGX refuses, dates, and an interop check
// with a real peer (Python's `cryptography` verifies the RSA signature of a SIGSTRUCT we sign).
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { gramineCases } from '../testing/gramine.js';
import { runPython } from '../testing/python.js';
import { readFinalManifest } from './manifest.js';
import {
  parseSigstruct,
  SIGSTRUCT_OFFSETS as O,
  signSigstruct,
  sigstructDate,
  sigstructSigningData,
  verifySigstruct,
  type SigstructInput,
} from './sigstruct.js';

const c4 = gramineCases().find((c) => c.name.startsWith('case04'))!;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function codes(bytes: Uint8Array): string[] {
  return verifySigstruct(parseSigstruct(bytes)).problems.map((p) => p.code);
}

function flipped(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const b = Buffer.from(bytes);
  b[at]! ^= mask;
  return b;
}

describe('verifySigstruct', () => {
  it('accepts Gramine’s SIGSTRUCTs', () => {
    for (const c of gramineCases()) assert.deepEqual(codes(c.sigstruct), [], c.name);
  });

  it('a changed byte in any signed field breaks the signature; in the modulus, signature, Q1 or Q2 it is caught too', () => {
    const signedFields = [
      O.vendor,
      O.date,
      O.swDefined,
      O.miscSelect,
      O.miscMask,
      O.attributesFlags,
      O.attributesXfrm,
      O.attributesMaskFlags,
      O.attributesMaskXfrm,
      O.enclaveHash,
      O.enclaveHash + 31,
      O.isvProdId,
      O.isvSvn,
      O.isvFamilyId,
      O.isvExtProdId,
      O.cetAttributes,
    ];
    for (const at of signedFields)
      assert.ok(codes(flipped(c4.sigstruct, at)).includes('ERR_SIGSTRUCT_SIGNATURE'), `offset ${at}`);
    assert.deepEqual(codes(flipped(c4.sigstruct, O.modulus + 100)), ['ERR_SIGSTRUCT_SIGNATURE', 'ERR_SIGSTRUCT_Q1Q2']);
    assert.deepEqual(codes(flipped(c4.sigstruct, O.modulus)), ['ERR_SIGSTRUCT_MODULUS'], 'an even modulus');
    assert.deepEqual(
      codes(flipped(c4.sigstruct, O.modulus + 383, 0x80)),
      ['ERR_SIGSTRUCT_MODULUS'],
      'a 3071-bit modulus',
    );
    assert.deepEqual(codes(flipped(c4.sigstruct, O.signature + 7)), ['ERR_SIGSTRUCT_SIGNATURE', 'ERR_SIGSTRUCT_Q1Q2']);
    assert.deepEqual(codes(flipped(c4.sigstruct, O.q1 + 5)), ['ERR_SIGSTRUCT_Q1Q2']);
    assert.deepEqual(codes(flipped(c4.sigstruct, O.q2 + 383)), ['ERR_SIGSTRUCT_Q1Q2']);
    assert.deepEqual(codes(flipped(c4.sigstruct, O.exponent, 0x02)), ['ERR_SIGSTRUCT_EXPONENT'], 'e = 1');
    assert.deepEqual(
      codes(flipped(c4.sigstruct, 1030)),
      ['ERR_SIGSTRUCT_RESERVED'],
      'reserved, outside the signed ranges',
    );
    assert.deepEqual(codes(flipped(c4.sigstruct, 100)), ['ERR_SIGSTRUCT_SIGNATURE', 'ERR_SIGSTRUCT_RESERVED']);
    const big = Buffer.from(c4.sigstruct);
    big.fill(0xff, O.signature, O.signature + 384);
    assert.deepEqual(codes(big), ['ERR_SIGSTRUCT_SIGNATURE']);
  });

  it('parsing is strict on size and the fixed headers', () => {
    assert.throws(() => parseSigstruct(c4.sigstruct.subarray(0, 1807)), { code: 'ERR_SIGSTRUCT_SIZE' });
    assert.throws(() => parseSigstruct(Buffer.concat([c4.sigstruct, Buffer.alloc(1)])), { code: 'ERR_SIGSTRUCT_SIZE' });
    assert.throws(() => parseSigstruct(flipped(c4.sigstruct, 4)), {
      code: 'ERR_SIGSTRUCT_HEADER',
      message: /HEADER at offset 0/,
    });
    assert.throws(() => parseSigstruct(flipped(c4.sigstruct, O.header2 + 15)), {
      code: 'ERR_SIGSTRUCT_HEADER',
      message: /HEADER2 at offset 24/,
    });
  });
});

describe('signSigstruct', () => {
  const input: SigstructInput = {
    mrenclave: Buffer.from(c4.mrenclave, 'hex'),
    attributes: readFinalManifest(c4.finalManifest).attributes,
    date: c4.date,
  };

  it('refuses keys SGX would refuse: exponent ≠ 3 (its own code), another size, another type, a public key', () => {
    const e65537 = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    assert.throws(() => signSigstruct(input, e65537), { code: 'ERR_SIGNER_KEY_EXPONENT', message: /e=65537/ });
    const small = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey;
    assert.throws(() => signSigstruct(input, small), { code: 'ERR_SIGNER_KEY_SIZE', message: /RSA-2048 with e=3/ });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.throws(() => signSigstruct(input, ec), { code: 'ERR_SIGNER_KEY_TYPE' });
    assert.throws(() => signSigstruct(input, createPublicKey(createPrivateKey(c4.keyPem))), {
      code: 'ERR_SIGNER_KEY_NOT_PRIVATE',
    });
  });

  it('dates are real YYYY-MM-DD calendar dates, stored as BCD', () => {
    assert.equal(sigstructDate('2025-01-15'), 0x20250115);
    assert.equal(sigstructDate('2024-02-29'), 0x20240229);
    assert.equal(sigstructDate('2000-02-29'), 0x20000229);
    for (const d of [
      '2023-02-29',
      '1900-02-29',
      '2025-13-01',
      '2025-00-10',
      '2025-04-31',
      '25-01-01',
      '0000-01-01',
      '2025-1-1',
      ' 2025-01-01',
    ]) {
      assert.throws(() => sigstructDate(d), { code: 'ERR_SIGSTRUCT_DATE' }, d);
    }
    assert.equal(
      parseSigstruct(signSigstruct({ ...input, date: '9999-12-31' }, createPrivateKey(c4.keyPem))).date,
      '9999-12-31',
    );
  });

  it('interop: Python’s cryptography verifies the RSA signature, Q1/Q2 and MRSIGNER of a SIGSTRUCT signed with a fresh key', () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).privateKey;
    const sig = signSigstruct(input, key);
    assert.deepEqual(verifySigstruct(parseSigstruct(sig)), { valid: true, problems: [] });
    const out = runPython<{ ok: boolean; mrsigner: string; signed: string }>(
      `import hashlib, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
b = bytes.fromhex(json.load(sys.stdin))
le = lambda x: int.from_bytes(x, 'little')
n, e, s = le(b[128:512]), le(b[512:516]), le(b[516:900])
q1, q2 = le(b[1040:1424]), le(b[1424:1808])
assert e == 3 and q1 == s * s // n and q2 == (s * s % n) * s // n
signed = b[0:128] + b[900:1028]
rsa.RSAPublicNumbers(e, n).public_key().verify(s.to_bytes(384, 'big'), signed, padding.PKCS1v15(), hashes.SHA256())
print(json.dumps({'ok': True, 'mrsigner': hashlib.sha256(b[128:512]).hexdigest(), 'signed': signed.hex()}))`,
      hex(sig),
    );
    assert.equal(out.ok, true);
    assert.equal(out.mrsigner, hex(parseSigstruct(sig).mrsigner));
    assert.equal(out.signed, hex(sigstructSigningData(sig)));
    const jwkN = Buffer.from(key.export({ format: 'jwk' }).n!, 'base64url');
    assert.equal(out.mrsigner, createHash('sha256').update(jwkN.reverse()).digest('hex'));
  });
});
