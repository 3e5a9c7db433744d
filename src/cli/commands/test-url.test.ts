// `mse home test --url`: only https://HOST:PORT, checked before anything else is done.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTestUrl } from './test.js';

describe('test --url', () => {
  it('accepts https://HOST:PORT (names, IPv4, IPv6), a trailing slash dropped', () => {
    assert.equal(checkTestUrl('https://localhost:7443'), 'https://localhost:7443');
    assert.equal(checkTestUrl('https://127.0.0.1:443/'), 'https://127.0.0.1:443');
    assert.equal(checkTestUrl('https://[::1]:8443'), 'https://[::1]:8443');
  });

  it('refuses anything else with ERR_OPTION_VALUE (exit 2) and says why', () => {
    const cases: [string, RegExp][] = [
      ['localhost:7443', /scheme must be https|not a URL/],
      ['http://localhost:7443', /scheme must be https/],
      ['https://localhost', /a port is required/],
      ['https://localhost:7443/api', /no path, query or fragment/],
      ['https://localhost:7443?x=1', /no path, query or fragment/],
      ['https://user:pw@localhost:7443', /credentials/],
      ['https://localhost:0', /port must be 1 to 65535/],
      ['https://localhost:70000', /not a URL/],
      ['https://:7443', /not a URL|no host/],
      ['', /not a URL/],
    ];
    for (const [raw, why] of cases) {
      assert.throws(
        () => checkTestUrl(raw),
        (e: Error & { code?: string; exitCode?: number }) =>
          e.code === 'ERR_OPTION_VALUE' && e.exitCode === 2 && why.test(e.message),
        raw,
      );
    }
  });
});
