// Sealed boxes, secretboxes and AES-GCM against the real peers: PyNaCl (libsodium) and Python cryptography.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isMseError } from '../errors.js';
import { runPython } from '../testing/python.js';
import { aesGcmDecrypt, aesGcmEncrypt } from './aesgcm.js';
import { generateX25519KeyPair, openSealedBox, sealBox, x25519PublicKey } from './sealedbox.js';
import { secretboxOpen, secretboxSeal } from './secretbox.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('sealed box (crypto_box_seal)', () => {
  it('PyNaCl opens ours; we open PyNaCl’s', async () => {
    const kp = await generateX25519KeyPair();
    assert.deepEqual(await x25519PublicKey(kp.privateKey), kp.publicKey);
    const ours = await sealBox(Buffer.from('{"result_sk":"x"}'), kp.publicKey);
    const out = runPython<{ plain: string; box: string }>(
      `import json,sys
from nacl.public import PrivateKey, PublicKey, SealedBox
d=json.load(sys.stdin); sk=PrivateKey(bytes.fromhex(d['sk']))
assert bytes(sk.public_key).hex()==d['pk']
plain=SealedBox(sk).decrypt(bytes.fromhex(d['box'])).decode()
box=SealedBox(PublicKey(bytes.fromhex(d['pk']))).encrypt(b'from pynacl').hex()
print(json.dumps({'plain':plain,'box':box}))`,
      { sk: hex(kp.privateKey), pk: hex(kp.publicKey), box: hex(ours) },
    );
    assert.equal(out.plain, '{"result_sk":"x"}');
    assert.equal(
      Buffer.from(await openSealedBox(Buffer.from(out.box, 'hex'), kp.publicKey, kp.privateKey)).toString(),
      'from pynacl',
    );
  });

  it('rejects another key, tampering, truncation, bad key sizes and low-order keys', async () => {
    const a = await generateX25519KeyPair();
    const b = await generateX25519KeyPair();
    const box = await sealBox(Buffer.from('secret'), a.publicKey);
    await assert.rejects(openSealedBox(box, b.publicKey, b.privateKey), { code: 'ERR_SEALED_BOX_OPEN' });
    for (let i = 0; i < box.length; i++) {
      const t = Buffer.from(box);
      t[i]! ^= 0x80;
      await assert.rejects(openSealedBox(t, a.publicKey, a.privateKey), (e: unknown) => isMseError(e), `flip ${i}`);
    }
    await assert.rejects(openSealedBox(box.subarray(0, 47), a.publicKey, a.privateKey), {
      code: 'ERR_SEALED_BOX_TRUNCATED',
    });
    await assert.rejects(sealBox(Buffer.from('x'), Buffer.alloc(31)), { code: 'ERR_KEY_LENGTH' });
    await assert.rejects(sealBox(Buffer.from('x'), Buffer.alloc(32)), { code: 'ERR_KEY_WEAK' });
  });
});

describe('secretbox (XSalsa20-Poly1305, package --encrypt)', () => {
  it('PyNaCl SecretBox opens ours; we open PyNaCl’s', async () => {
    const key = randomBytes(32);
    const ours = await secretboxSeal(Buffer.from('print("hi")'), key);
    const out = runPython<{ plain: string; box: string }>(
      `import json,sys
from nacl.secret import SecretBox
d=json.load(sys.stdin); sb=SecretBox(bytes.fromhex(d['key']))
print(json.dumps({'plain': sb.decrypt(bytes.fromhex(d['box'])).decode(), 'box': bytes(sb.encrypt(b'from pynacl')).hex()}))`,
      { key: hex(key), box: hex(ours) },
    );
    assert.equal(out.plain, 'print("hi")');
    assert.equal(Buffer.from(await secretboxOpen(Buffer.from(out.box, 'hex'), key)).toString(), 'from pynacl');
    await assert.rejects(secretboxOpen(ours, randomBytes(32)), { code: 'ERR_SECRETBOX_OPEN' });
    await assert.rejects(secretboxOpen(ours.subarray(0, 39), key), { code: 'ERR_SECRETBOX_TRUNCATED' });
  });
});

describe('AES-GCM (scaffold /result/secrets)', () => {
  for (const bits of [128, 192, 256]) {
    it(`AES-${bits}: Python AESGCM opens ours; we open Python’s`, () => {
      const key = randomBytes(bits / 8);
      const ours = aesGcmEncrypt(Buffer.from('message'), key);
      const out = runPython<{ plain: string; data: string }>(
        `import json,sys,os
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
d=json.load(sys.stdin); k=AESGCM(bytes.fromhex(d['key'])); data=bytes.fromhex(d['data'])
plain=k.decrypt(data[:12], data[12:], None).decode()
n=os.urandom(12)
print(json.dumps({'plain':plain,'data':(n+k.encrypt(n,b'from python',None)).hex()}))`,
        { key: hex(key), data: hex(ours) },
      );
      assert.equal(out.plain, 'message');
      assert.equal(aesGcmDecrypt(Buffer.from(out.data, 'hex'), key).toString(), 'from python');
    });
  }

  it('rejects wrong key, tampering, truncation and bad key lengths', () => {
    const key = randomBytes(32);
    const data = aesGcmEncrypt(Buffer.from('message'), key);
    assert.throws(() => aesGcmDecrypt(data, randomBytes(32)), { code: 'ERR_AES_GCM_AUTH' });
    const t = Buffer.from(data);
    t[20]! ^= 1;
    assert.throws(() => aesGcmDecrypt(t, key), { code: 'ERR_AES_GCM_AUTH' });
    assert.throws(() => aesGcmDecrypt(data.subarray(0, 27), key), { code: 'ERR_AES_GCM_TRUNCATED' });
    assert.throws(() => aesGcmDecrypt(data, randomBytes(20)), { code: 'ERR_KEY_LENGTH' });
  });
});
