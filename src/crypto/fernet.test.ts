import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isMseError } from '../errors.js';
import { vectorPath } from '../testing/vectors.js';
import { runPython } from '../testing/python.js';
import { fernetDecrypt, fernetEncrypt, generateFernetKey, parseFernetKey } from './fernet.js';

interface Vector {
  token: string;
  now: string;
  secret: string;
  src?: string;
  iv?: number[];
  ttl_sec?: number;
  desc?: string;
}
const load = (name: string): Vector[] => JSON.parse(readFileSync(vectorPath('fernet', name), 'utf8')) as Vector[];
const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

describe('Fernet specification vectors', () => {
  it('generate.json: encrypting gives exactly the token', () => {
    const vectors = load('generate.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const token = fernetEncrypt(Buffer.from(v.src!), parseFernetKey(v.secret), {
        now: seconds(v.now),
        iv: Uint8Array.from(v.iv!),
      });
      assert.equal(token, v.token);
    }
  });

  it('verify.json: tokens decrypt to the source, with and without TTL', () => {
    const vectors = load('verify.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const key = parseFernetKey(v.secret);
      assert.equal(fernetDecrypt(v.token, key, { ttlSeconds: v.ttl_sec!, now: seconds(v.now) }).toString(), v.src);
      assert.equal(fernetDecrypt(v.token, key).toString(), v.src);
    }
  });

  it('invalid.json: every token is rejected with a typed error under its TTL and clock', () => {
    const vectors = load('invalid.json');
    assert.equal(vectors.length, 8);
    for (const v of vectors) {
      assert.throws(
        () => fernetDecrypt(v.token, parseFernetKey(v.secret), { ttlSeconds: v.ttl_sec!, now: seconds(v.now) }),
        (e: unknown) => isMseError(e) && e.code.startsWith('ERR_FERNET'),
        v.desc,
      );
    }
  });

  it('invalid.json: without a TTL only the time-based cases pass, every other case is still rejected', () => {
    for (const v of load('invalid.json')) {
      const timeOnly = /TTL|clock skew/.test(v.desc!);
      const attempt = (): Buffer => fernetDecrypt(v.token, parseFernetKey(v.secret));
      if (timeOnly) assert.doesNotThrow(attempt, v.desc);
      else assert.throws(attempt, (e: unknown) => isMseError(e), v.desc);
    }
  });
});

describe('Fernet keys', () => {
  it('accepts a trailing newline, rejects wrong lengths and alphabets', () => {
    const k = generateFernetKey();
    assert.equal(k.length, 44);
    parseFernetKey(k + '\n');
    assert.throws(() => parseFernetKey(k.slice(0, 40)), { code: 'ERR_FERNET_KEY' });
    assert.throws(() => parseFernetKey(Buffer.alloc(32).toString('base64').replace(/A/, '+')), {
      code: 'ERR_FERNET_KEY',
    });
    assert.throws(() => parseFernetKey(Buffer.alloc(16).toString('base64url')), { code: 'ERR_FERNET_KEY' });
  });

  it('truncated and bit-flipped tokens fail with specific codes', () => {
    const key = parseFernetKey(generateFernetKey());
    const token = fernetEncrypt(Buffer.from('a secret result'), key);
    const raw = Buffer.from(token, 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const t = Buffer.from(raw);
      t[i]! ^= 0x01;
      assert.throws(
        () => fernetDecrypt(t.toString('base64url'), key),
        (e: unknown) => isMseError(e),
        `flip at ${i}`,
      );
    }
    assert.throws(() => fernetDecrypt(raw.subarray(0, 60).toString('base64url'), key), {
      code: 'ERR_FERNET_TOKEN_TRUNCATED',
    });
    assert.throws(() => fernetDecrypt(token, parseFernetKey(generateFernetKey())), { code: 'ERR_FERNET_MAC' });
  });
});

describe('Fernet interop with Python cryptography', () => {
  it('Python decrypts ours and we decrypt Python’s', () => {
    const key = generateFernetKey();
    const ours = fernetEncrypt(Buffer.from('from node ✓'), parseFernetKey(key));
    const out = runPython<{ plain: string; token: string }>(
      `import json,sys
from cryptography.fernet import Fernet
d=json.load(sys.stdin); f=Fernet(d['key'].encode())
print(json.dumps({'plain': f.decrypt(d['token'].encode()).decode(), 'token': f.encrypt('from python ✓'.encode()).decode()}))`,
      { key, token: ours },
    );
    assert.equal(out.plain, 'from node ✓');
    assert.equal(fernetDecrypt(out.token, parseFernetKey(key)).toString(), 'from python ✓');
  });
});
