// Signature checks with the real gpgv, on metadata signed in the test by keys gpg generates.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  clearsign,
  detachSign,
  hasTool,
  makeTestKey,
  type TestKey,
  stopTestKeyAgents,
} from '../testing/gramine-fixtures.js';
import { judgeSignature, parseGpgvStatus, verifyClearsigned, verifyDetached } from './gpgv.js';
import { keyringOf, readPublicKeys } from './openpgp.js';

const FPR = 'DB41A78718DE9B2E2165B5AA925413478CA9DB7B';
const OTHER = 'EA3C2D624681AC968521587A5EE1171912234070';

describe('judgeSignature (gpgv status lines)', () => {
  const status = (lines: string[]) => parseGpgvStatus(lines.map((l) => `[GNUPG:] ${l}`).join('\n'));
  it('accepts a good, valid signature whose primary key is trusted', () => {
    const s = status([
      'NEWSIG',
      'GOODSIG 925413478CA9DB7B test',
      `VALIDSIG ${FPR} 2026-11-30 1796076351 0 4 0 22 8 01 ${FPR}`,
    ]);
    const r = judgeSignature(s, new Set([FPR]), 'InRelease');
    assert.equal(r.primaryFingerprint, FPR);
    assert.equal(r.signedAt.getTime(), 1796076351000);
  });
  it('refuses a valid signature by a key that is not trusted, a bad one, an expired key, SHA-1, no signature', () => {
    const good = ['GOODSIG 925413478CA9DB7B t', `VALIDSIG ${FPR} 2026-11-30 1 0 4 0 22 8 01 ${FPR}`];
    assert.throws(() => judgeSignature(status(good), new Set([OTHER]), 'x'), { code: 'ERR_SGX_GRAMINE_KEY_UNTRUSTED' });
    assert.throws(() => judgeSignature(status(['BADSIG 925413478CA9DB7B t']), new Set([FPR]), 'x'), {
      code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      message: /BAD signature/,
    });
    assert.throws(() => judgeSignature(status([...good, 'EXPKEYSIG 925413478CA9DB7B t']), new Set([FPR]), 'x'), {
      code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      message: /expired key/,
    });
    assert.throws(() => judgeSignature(status([`ERRSIG 925413478CA9DB7B 22 2 01 1 5 ${FPR}`]), new Set([FPR]), 'x'), {
      code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      message: /SHA-1/,
    });
    assert.throws(
      () =>
        judgeSignature(
          status([`ERRSIG 925413478CA9DB7B 22 8 01 1 9 ${FPR}`, 'NO_PUBKEY 925413478CA9DB7B']),
          new Set([OTHER]),
          'x',
        ),
      {
        code: 'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
        message: /signed by key DB41 A787 18DE 9B2E 2165 B5AA 9254 1347 8CA9 DB7B,/,
      },
    );
    assert.throws(() => judgeSignature(status(['NODATA 1']), new Set([FPR]), 'x'), {
      code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      message: /no OpenPGP signature/,
    });
  });
});

describe(
  'verifyClearsigned / verifyDetached with gpgv',
  { skip: (!hasTool('gpg') || !hasTool('gpgv')) && 'gpg/gpgv missing' },
  () => {
    let dir: string;
    let key: TestKey;
    let other: TestKey;
    let n = 0;
    const work = (): string => mkdtempSync(path.join(dir, `w${n++}-`));
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'mse-gpgv-test-'));
      key = makeTestKey(dir);
      other = makeTestKey(dir, { uid: 'another key <o@invalid>' });
    });
    after(() => {
      stopTestKeyAgents();
      rmSync(dir, { recursive: true, force: true });
    });
    const text = 'Codename: bookworm\nSHA256:\n ' + 'a'.repeat(64) + ' 1 main/binary-amd64/Packages\n';
    const ring = (k: TestKey) => keyringOf(readPublicKeys(k.binary, 'k'));

    it('returns the signed text only: text around the signature is not trusted', async () => {
      const signed = clearsign(key, text);
      const r = await verifyClearsigned(signed, ring(key), new Set([key.fingerprint]), 'InRelease', {
        workDir: work(),
      });
      assert.equal(r.text, text);
      assert.equal(r.primaryFingerprint, key.fingerprint);
      const prefixed = Buffer.concat([Buffer.from('Codename: evil\n\n'), signed, Buffer.from('Codename: evil\n')]);
      const p = await verifyClearsigned(prefixed, ring(key), new Set([key.fingerprint]), 'InRelease', {
        workDir: work(),
      });
      assert.equal(p.text, text);
    });

    it('refuses altered text, a signer outside the keyring, and a SHA-1 signature', async () => {
      const signed = clearsign(key, text);
      const altered = Buffer.from(signed.toString('utf8').replace('bookworm', 'bookwork'));
      await assert.rejects(
        verifyClearsigned(altered, ring(key), new Set([key.fingerprint]), 'InRelease', { workDir: work() }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID', message: /BAD signature/ },
      );
      await assert.rejects(
        verifyClearsigned(signed, ring(other), new Set([other.fingerprint]), 'InRelease', { workDir: work() }),
        (e: Error & { code?: string }) =>
          e.code === 'ERR_SGX_GRAMINE_KEY_UNTRUSTED' && e.message.includes(key.fingerprint.slice(-4)),
      );
      await assert.rejects(
        verifyClearsigned(clearsign(key, text, 'SHA1'), ring(key), new Set([key.fingerprint]), 'InRelease', {
          workDir: work(),
        }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID', message: /SHA-1/ },
      );
    });

    it('checks a detached Release.gpg', async () => {
      const sig = detachSign(key, text);
      const r = await verifyDetached(Buffer.from(text), sig, ring(key), new Set([key.fingerprint]), 'Release', {
        workDir: work(),
      });
      assert.equal(r.primaryFingerprint, key.fingerprint);
      await assert.rejects(
        verifyDetached(Buffer.from(text + ' '), sig, ring(key), new Set([key.fingerprint]), 'Release', {
          workDir: work(),
        }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID' },
      );
    });

    it('reports a missing gpgv as such', async () => {
      await assert.rejects(
        verifyClearsigned(clearsign(key, text), ring(key), new Set([key.fingerprint]), 'InRelease', {
          workDir: work(),
          gpgv: '/nonexistent/gpgv',
        }),
        { code: 'ERR_SGX_GPGV_MISSING' },
      );
    });
  },
);
