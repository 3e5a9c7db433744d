// OpenPGP key files: fingerprints computed here equal gpg's own, for keys gpg generates in the test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gpgShowKeys, hasTool, makeTestKey, type TestKey, stopTestKeyAgents } from '../testing/gramine-fixtures.js';
import { dearmor, formatFingerprint, keyringOf, normalizeFingerprint, readPublicKeys } from './openpgp.js';

const noGpg = !hasTool('gpg') && 'gpg is not installed';

describe('normalizeFingerprint / formatFingerprint', () => {
  it('accepts the forms people paste and refuses short key IDs', () => {
    const fpr = 'EA3C2D624681AC968521587A5EE1171912234070';
    assert.equal(normalizeFingerprint('EA3C 2D62 4681 AC96 8521  587A 5EE1 1719 1223 4070'), fpr);
    assert.equal(normalizeFingerprint('0xea3c2d624681ac968521587a5ee1171912234070'), fpr);
    assert.equal(normalizeFingerprint('5EE1171912234070'), undefined);
    assert.equal(normalizeFingerprint(`${fpr}00`), undefined);
    assert.equal(normalizeFingerprint('G'.repeat(40)), undefined);
    assert.equal(formatFingerprint(fpr), 'EA3C 2D62 4681 AC96 8521 587A 5EE1 1719 1223 4070');
  });
});

describe('readPublicKeys on keys made by gpg', { skip: noGpg }, () => {
  let dir: string;
  let a: TestKey;
  let b: TestKey;
  let rsa: TestKey;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mse-openpgp-test-'));
    a = makeTestKey(dir, { uid: 'key A <a@invalid>', subkey: true });
    b = makeTestKey(dir, { uid: 'key B <b@invalid>' });
    rsa = makeTestKey(dir, { uid: 'key RSA <r@invalid>', algo: 'rsa2048' });
  });
  after(() => {
    stopTestKeyAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  it('computes the primary and subkey fingerprints gpg shows, from binary and armored exports', () => {
    for (const key of [a, b, rsa]) {
      const file = path.join(dir, 'k.gpg');
      writeFileSync(file, key.binary);
      const shown = gpgShowKeys(key.home, file);
      for (const data of [key.binary, Buffer.from(key.armored)]) {
        const [info, ...rest] = readPublicKeys(data, 'key file');
        assert.equal(rest.length, 0);
        assert.equal(info!.fingerprint, key.fingerprint);
        assert.deepEqual([info!.fingerprint], shown.primaries);
        assert.deepEqual(
          info!.subkeys.map((s) => s.fingerprint),
          shown.subkeys,
        );
        assert.equal(info!.keyId, key.fingerprint.slice(24));
      }
    }
    const [info] = readPublicKeys(a.binary, 'key A');
    assert.equal(info!.algorithm, 'eddsa');
    assert.deepEqual(info!.userIds, ['key A <a@invalid>']);
    assert.equal(info!.subkeys.length, 1);
    assert.equal(readPublicKeys(rsa.binary, 'rsa')[0]!.algorithm, 'rsa');
  });

  it('splits a keyring of several keys and writes back exactly the kept ones (gpg reads the result)', () => {
    const both = Buffer.concat([a.binary, b.binary]);
    const keys = readPublicKeys(both, 'keyring');
    assert.deepEqual(
      keys.map((k) => k.fingerprint),
      [a.fingerprint, b.fingerprint],
    );
    const kept = keyringOf(keys.filter((k) => k.fingerprint === b.fingerprint));
    assert.ok(Buffer.from(kept).equals(b.binary), 'the kept key is byte-identical to its export');
    const file = path.join(dir, 'kept.gpg');
    writeFileSync(file, kept);
    assert.deepEqual(gpgShowKeys(b.home, file).primaries, [b.fingerprint]);
    // Two armored blocks in one file are both read.
    const armoredTwo = a.armored + '\n' + b.armored;
    assert.equal(readPublicKeys(Buffer.from(armoredTwo), 'two blocks').length, 2);
  });

  it('refuses secret keys, damaged armor, truncated packets, keyboxes and empty input', () => {
    const secret = execFileSync('gpg', ['--batch', '--homedir', a.home, '--export-secret-keys', a.fingerprint]);
    assert.throws(() => readPublicKeys(secret, 'secret'), { code: 'ERR_PGP_KEY_INVALID', message: /secret key/ });
    const damaged = a.armored.replace(
      /\n([A-Za-z0-9+/]{10})/,
      (_, s: string) => `\n${s.slice(0, 9)}${s[9] === 'A' ? 'B' : 'A'}`,
    );
    assert.throws(() => readPublicKeys(Buffer.from(damaged), 'damaged'), {
      code: 'ERR_PGP_KEY_INVALID',
      message: /checksum does not match/,
    });
    assert.throws(() => readPublicKeys(a.binary.subarray(0, a.binary.length - 5), 'cut'), {
      code: 'ERR_PGP_KEY_INVALID',
      message: /truncated/,
    });
    const keybox = Buffer.alloc(32);
    keybox.write('KBXf', 8, 'latin1');
    assert.throws(() => readPublicKeys(keybox, 'pubring.kbx'), { code: 'ERR_PGP_KEY_INVALID', message: /keybox/ });
    assert.throws(() => readPublicKeys(Buffer.from('hello'), 'text'), { code: 'ERR_PGP_KEY_INVALID' });
    assert.throws(() => readPublicKeys(new Uint8Array(0), 'empty'), {
      code: 'ERR_PGP_KEY_INVALID',
      message: /no public key/,
    });
    assert.throws(() => dearmor('-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n', 'sig'), {
      code: 'ERR_PGP_KEY_INVALID',
      message: /not a public key/,
    });
  });
});
