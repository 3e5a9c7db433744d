import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { StateError } from '../errors.js';
import { stubQuote } from '../testing/quote-stub.js';
import { parseBootstrapArgs } from './args.js';
import { createLogger } from './log.js';
import { enclavePaths } from './paths.js';
import type { QuoteProvider } from './quote.js';
import { createEnclaveState, loadEnclaveState, loadOrCreateEnclaveState } from './state.js';

const work = mkdtempSync(path.join(tmpdir(), 'state-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const log = createLogger({ write: () => undefined });
const args = (san = 'app.example.com') =>
  parseBootstrapArgs([
    ...['--size', '1024M', '--subject', 'CN=app,O=Acme', '--san', san, '--id', randomUUID()],
    ...['--application', 'app:app', '--expiration', String(Math.floor(Date.now() / 1000) + 3600)],
  ]);

/** A provider counting its quotes; `honest: false` answers for other report_data. */
function provider(honest = true): QuoteProvider & { calls: number } {
  return {
    platform: 'sim',
    calls: 0,
    async getQuote(reportData: Uint8Array) {
      this.calls++;
      return stubQuote(honest ? reportData : randomBytes(64));
    },
  };
}

function stateCode(code: string) {
  return (e: unknown) => e instanceof StateError && e.code === code;
}

describe('enclave state', () => {
  it('is created once and reused without a new quote', async () => {
    const paths = enclavePaths(path.join(work, 'a'));
    const p = provider();
    const created = await loadOrCreateEnclaveState(paths, args(), async () => p, log);
    assert.equal(created.created, true);
    assert.equal(p.calls, 1);
    // the SAN compares case-insensitively (DNS), as written in the certificate
    const reused = await loadOrCreateEnclaveState(paths, args('App.Example.COM'), async () => p, log);
    assert.equal(reused.created, false);
    assert.equal(p.calls, 1);
    assert.equal(reused.cert.fingerprint, created.cert.fingerprint);
    assert.deepEqual(reused.x25519, created.x25519);
  });

  it('writes nothing when the quote does not carry the keys', async () => {
    const paths = enclavePaths(path.join(work, 'b'));
    await assert.rejects(createEnclaveState(paths, args(), provider(false), log), /report_data/);
    assert.equal(existsSync(paths.keyDir), false);
  });

  it('refuses inconsistent or foreign state', async () => {
    const good = enclavePaths(path.join(work, 'c'));
    await createEnclaveState(good, args(), provider(), log);
    const copy = (name: string) => {
      const paths = enclavePaths(path.join(work, name));
      cpSync(good.root, paths.root, { recursive: true });
      return paths;
    };
    const wrongPub = copy('c1');
    writeFileSync(wrongPub.enclavePub, randomBytes(32));
    await assert.rejects(loadEnclaveState(wrongPub, args()), stateCode('ERR_ENCLAVE_STATE_CORRUPT'));
    const otherKey = copy('c2');
    await createEnclaveState(enclavePaths(path.join(work, 'd')), args(), provider(), log);
    cpSync(enclavePaths(path.join(work, 'd')).ratlsKey, otherKey.ratlsKey);
    await assert.rejects(loadEnclaveState(otherKey, args()), stateCode('ERR_ENCLAVE_STATE_CORRUPT'));
    const missing = copy('c3');
    rmSync(missing.enclaveKey);
    await assert.rejects(loadEnclaveState(missing, args()), stateCode('ERR_ENCLAVE_STATE_MISSING'));
    await assert.rejects(
      loadEnclaveState(copy('c4'), args('other.example.com')),
      stateCode('ERR_ENCLAVE_STATE_MISMATCH'),
    );
  });
});
