// Signature checks with the real gpgv, on metadata signed in the test by keys gpg generates.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  clearsign,
  detachSign,
  hasTool,
  makeTestKey,
  signedMessage,
  type TestKey,
  stopTestKeyAgents,
} from '../testing/gramine-fixtures.js';
import {
  checkClearsignedStructure,
  checkGpgvOutcome,
  judgeSignature,
  parseGpgvStatus,
  runGpgv,
  verifyClearsigned,
  verifyDetached,
} from './gpgv.js';
import { keyringOf, readPublicKeys } from './openpgp.js';

/** Every file under `dir` with its size (what gpgv may have left on disk). */
function filesUnder(dir: string): { file: string; size: number }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((file) => ({ file, size: statSync(file).size }));
}

/** The base64 body of the signature block of a clear-signed message. */
function signatureBody(signed: Buffer): Buffer {
  const text = signed.toString('utf8');
  const block = text.slice(text.indexOf('-----BEGIN PGP SIGNATURE-----'));
  const lines = block.split('\n').slice(1);
  const body = lines.slice(
    lines.indexOf('') + 1,
    lines.findIndex((l) => l.startsWith('-----END')),
  );
  return Buffer.from(body.filter((l) => !l.startsWith('=')).join(''), 'base64');
}

/** A clear-signed message whose signature block holds `packets` (base64, no checksum line). */
function withSignaturePackets(signed: Buffer, packets: Buffer): Buffer {
  const text = signed.toString('utf8');
  const head = text.slice(0, text.indexOf('-----BEGIN PGP SIGNATURE-----'));
  const b64 = packets
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return Buffer.from(`${head}-----BEGIN PGP SIGNATURE-----\n\n${b64}\n-----END PGP SIGNATURE-----\n`);
}

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
  it('a good signature stands only if gpgv reported no error and exited 0 (or 2 for extra signatures by unknown keys)', () => {
    const good = ['GOODSIG 925413478CA9DB7B t', `VALIDSIG ${FPR} 2026-11-30 1 0 4 0 22 8 01 ${FPR}`];
    assert.doesNotThrow(() => checkGpgvOutcome(status(good), 0, 'x'));
    const extra = [...good, `ERRSIG 84599BB1919F5447 22 8 01 1 9 ${OTHER}`, 'NO_PUBKEY 84599BB1919F5447'];
    assert.doesNotThrow(() => checkGpgvOutcome(status(extra), 2, 'x'));
    const refused = (lines: string[], code: number | null, message: RegExp) =>
      assert.throws(() => checkGpgvOutcome(status(lines), code, 'x'), {
        code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
        message,
      });
    refused(good, 2, /exit status 2/);
    refused(good, 1, /exit status 1/);
    refused(good, null, /killed/);
    refused([...good, 'ERROR proc_pkt.plaintext 89_BAD_DATA'], 0, /gpgv reported an error .*proc_pkt\.plaintext/);
    refused([...good, 'FAILURE gpg-exit 33554433'], 0, /FAILURE gpg-exit/);
    refused([...good, 'NODATA 4'], 0, /could not read/);
    refused([...good, `ERRSIG 84599BB1919F5447 22 2 01 1 5 ${OTHER}`], 2, /exit status 2/);
  });
});

describe('checkClearsignedStructure', () => {
  const text = 'Codename: bookworm\n- -- dash-escaped\n';
  const sig = '-----BEGIN PGP SIGNATURE-----\n\niHUEARYIAB0WIQ\n=ABCD\n-----END PGP SIGNATURE-----\n';
  const block = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${text}${sig}`;
  const ok = (s: string) => assert.doesNotThrow(() => checkClearsignedStructure(Buffer.from(s), 'InRelease'));
  const bad = (s: string | Buffer, message: RegExp) =>
    assert.throws(() => checkClearsignedStructure(Buffer.isBuffer(s) ? s : Buffer.from(s), 'InRelease'), {
      code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      message,
    });
  it('accepts one clear-signed block, with blank lines, CRLF and trailing spaces around armor lines', () => {
    ok(block);
    ok(`\n\n${block}\n\n`);
    ok(block.replace(/\n/g, '\r\n'));
    ok(block.replace('-----END PGP SIGNATURE-----', '-----END PGP SIGNATURE-----  '));
    ok(block.replace('Hash: SHA256\n', '')); // RFC 9580 makes the Hash header optional
  });
  it('refuses anything else: binary or armored messages, text around the block, two blocks', () => {
    bad(Buffer.from([0xa3, 0x03, 0x78, 0x9c]), /does not start with "-----BEGIN PGP SIGNED MESSAGE-----"/);
    bad('-----BEGIN PGP MESSAGE-----\n\nowGbwMvMwMEYLVa\n-----END PGP MESSAGE-----\n', /does not start with/);
    bad(`Codename: evil\n\n${block}`, /does not start with .* \(line 1\)/);
    bad(`${block}Codename: evil\n`, /follows the signature block/);
    bad(`${block}${block}`, /follows the signature block/);
    bad(block.replace('- -- dash', '-----BEGIN PGP MESSAGE-----\n'), /without dash-escaping/);
    bad(block.replace('iHUEARYIAB0WIQ', 'not base64!'), /not base64/);
    bad(block.replace('-----END PGP SIGNATURE-----\n', ''), /no "-----END PGP SIGNATURE-----" line/);
    bad(block.slice(0, block.indexOf(sig)), /no "-----BEGIN PGP SIGNATURE-----" line/);
    bad('', /empty/);
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

    it('returns the text gpgv extracted; refuses text around the block instead of ignoring it', async () => {
      const signed = clearsign(key, text);
      const r = await verifyClearsigned(signed, ring(key), new Set([key.fingerprint]), 'InRelease', {
        workDir: work(),
      });
      assert.equal(r.text, text);
      assert.equal(r.primaryFingerprint, key.fingerprint);
      const prefixed = Buffer.concat([Buffer.from('Codename: evil\n\n'), signed, Buffer.from('Codename: evil\n')]);
      await assert.rejects(
        verifyClearsigned(prefixed, ring(key), new Set([key.fingerprint]), 'InRelease', { workDir: work() }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID', message: /not one clear-signed message/ },
      );
    });

    // M1: gpgv decompresses any OpenPGP message it is given; with --output it wrote 64 MiB from 400 bytes.
    it('refuses a signed compression bomb (binary and armored) before gpgv runs: nothing is written', async () => {
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      for (const armor of [false, true]) {
        const bomb = signedMessage(key, zeros, { armor });
        assert.ok(bomb.length < 4096, `${bomb.length} bytes`);
        const dir = work();
        await assert.rejects(
          verifyClearsigned(bomb, ring(key), new Set([key.fingerprint]), 'InRelease', { workDir: dir }),
          { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID', message: /not one clear-signed message/ },
        );
        const big = filesUnder(dir).filter((f) => f.size > 1024 * 1024);
        assert.deepEqual(big, [], 'no expanded output on disk');
      }
    });

    it('refuses a clear-signed block whose signature armor smuggles a compressed signed message (gpgv ERROR, exit 2)', async () => {
      const signed = clearsign(key, text);
      const bomb = signedMessage(key, Buffer.alloc(64 * 1024 * 1024));
      const smuggled = withSignaturePackets(signed, Buffer.concat([signatureBody(signed), bomb]));
      const dir = work();
      await assert.rejects(
        verifyClearsigned(smuggled, ring(key), new Set([key.fingerprint]), 'InRelease', { workDir: dir }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID', message: /gpgv reported an error/ },
      );
      assert.deepEqual(
        filesUnder(dir).filter((f) => f.size > 1024 * 1024),
        [],
      );
    });

    it('bounds what gpgv writes: its output goes through a pipe and it is killed past the limit', async () => {
      const dir = work();
      const bomb = signedMessage(key, Buffer.alloc(64 * 1024 * 1024));
      const input = path.join(dir, 'bomb.gpg');
      writeFileSync(input, bomb);
      const keyring = path.join(dir, 'k.gpg');
      writeFileSync(keyring, ring(key));
      const home = mkdtempSync(path.join(dir, 'home-'));
      const t0 = Date.now();
      const run = await runGpgv(['--status-fd', '3', '--keyring', keyring, '--output', '-', input], {
        home,
        maxOutput: 1024 * 1024,
      });
      assert.equal(run.killed, 'output');
      assert.equal(run.signal, 'SIGKILL');
      assert.ok(run.output.length <= 1024 * 1024, `${run.output.length} bytes kept`);
      assert.ok(Date.now() - t0 < 10_000);
      assert.deepEqual(
        filesUnder(dir).filter((f) => f.size > 1024 * 1024),
        [],
      );
      // Unbounded, the same message gives gpgv's 64 MiB: the bound is what stopped it.
      const whole = await runGpgv(['--status-fd', '3', '--keyring', keyring, '--output', '-', input], {
        home,
        maxOutput: 128 * 1024 * 1024,
      });
      assert.equal(whole.output.length, 64 * 1024 * 1024);
      assert.equal(whole.code, 0);
    });

    it('accepts a good signature beside one by a key not in the keyring (key rotation), as apt does', async () => {
      const a = clearsign(key, text);
      const b = clearsign(other, text);
      const both = withSignaturePackets(a, Buffer.concat([signatureBody(a), signatureBody(b)]));
      for (const [k, trustedFpr] of [
        [key, key.fingerprint],
        [other, other.fingerprint],
      ] as const) {
        const r = await verifyClearsigned(both, ring(k), new Set([trustedFpr]), 'InRelease', { workDir: work() });
        assert.equal(r.primaryFingerprint, trustedFpr);
        assert.equal(r.text, text);
      }
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

    it('refuses a "detached signature" that is a whole signed message', async () => {
      const message = signedMessage(key, Buffer.from(text));
      await assert.rejects(
        verifyDetached(Buffer.from(text), message, ring(key), new Set([key.fingerprint]), 'Release', {
          workDir: work(),
        }),
        { code: 'ERR_SGX_GRAMINE_SIGNATURE_INVALID' },
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
