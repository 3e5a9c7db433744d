import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetworkError } from '../errors.js';
import { appraise } from '../attestation/appraise.js';
import { parseQuote } from '../attestation/quote.js';
import { caseCollateral, caseQuote, caseTime, dcapCase } from '../testing/dcap.js';
import { readVector, readVectorText } from '../testing/vectors.js';
import { PccsClient } from './client.js';
import { pccsHandler, serve } from '../testing/pccs-server.js';
import { parseQcnlConfig, pccsBaseUrl, pccsTarget, stripJsonComments } from './config.js';

const c = dcapCase('automata-quotev3-platform@2025-08');
const expectedCollateral = caseCollateral(c);
const dir = 'automata-dcap-attestation/collateral-2025-08';

async function networkCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof NetworkError, String(error));
    return error.code;
  }
  assert.fail('expected a NetworkError');
}

describe('PCCS client against a loopback PCCS serving real collateral', () => {
  let srv: { url: string; close: () => Promise<void> };
  before(async () => {
    srv = await serve(pccsHandler());
  });
  after(async () => srv.close());

  it('fetches the collateral for a quote, byte-identical to the vector, and it appraises', async () => {
    const quote = parseQuote(caseQuote(c));
    const collateral = await new PccsClient({ url: srv.url }).getCollateralForQuote(quote);
    assert.deepEqual(collateral, expectedCollateral);
    const v = appraise({
      quote,
      collateral,
      at: caseTime(c),
      policy: { acceptedTcbStatuses: ['SWHardeningNeeded'], allowedAdvisoryIds: ['INTEL-SA-00615'] },
    });
    assert.equal(v.accepted, true, JSON.stringify(v.failures));
  });

  it('maps HTTP statuses to specific errors, with Intel’s error headers in the message', async () => {
    const client = new PccsClient({ url: `${srv.url}/sgx/certification/v4/` });
    try {
      await client.getTcbInfo('00A067110000');
      assert.fail('expected 404');
    } catch (error) {
      assert.equal((error as NetworkError).code, 'ERR_PCCS_NOT_FOUND');
      assert.match((error as Error).message, /404 .*tcb\?fmspc=00a067110000.*Request-ID abc123/);
    }
    assert.equal(await networkCode(client.getPckCrl('processor')), 'ERR_PCCS_BAD_REQUEST');
    assert.equal(await networkCode(client.getTcbInfo('xyz')), 'ERR_PCCS_REQUEST');
  });
});

describe('PCCS client edge cases', () => {
  it('falls back to the v3 TCB info issuer chain header', async () => {
    const srv = await serve(pccsHandler({ v3Headers: true }));
    try {
      const t = await new PccsClient({ url: srv.url }).getTcbInfo('00606a000000');
      assert.equal(t.issuerChain, expectedCollateral.tcb_info_issuer_chain);
    } finally {
      await srv.close();
    }
  });

  it('reports 500/503, missing headers, oversized bodies and timeouts distinctly', async () => {
    let mode = '';
    const srv = await serve((req, res) => {
      if (mode === '500') return void res.writeHead(500).end();
      if (mode === '503') return void res.writeHead(503).end();
      if (mode === 'noheader') return void res.writeHead(200).end(readVector('dcap', dir, 'sgx_qeidentity_v4.json'));
      if (mode === 'big') return void res.writeHead(200).end(Buffer.alloc(4096));
      if (mode === 'garbage') return void res.writeHead(200).end('hello');
      // 'hang': never answer
    });
    try {
      const client = new PccsClient({ url: srv.url, timeoutMs: 300, maxBodyBytes: 1024 });
      mode = '500';
      assert.equal(await networkCode(client.getQeIdentity()), 'ERR_PCCS_SERVER_ERROR');
      mode = '503';
      assert.equal(await networkCode(client.getQeIdentity()), 'ERR_PCCS_UNAVAILABLE');
      mode = 'noheader';
      assert.equal(await networkCode(new PccsClient({ url: srv.url }).getQeIdentity()), 'ERR_PCCS_RESPONSE');
      mode = 'big';
      assert.equal(await networkCode(client.getRootCaCrl()), 'ERR_PCCS_RESPONSE_TOO_LARGE');
      mode = 'garbage';
      assert.equal(await networkCode(client.getRootCaCrl()), 'ERR_PCCS_RESPONSE');
      mode = 'hang';
      assert.equal(await networkCode(client.getRootCaCrl()), 'ERR_PCCS_TIMEOUT');
    } finally {
      await srv.close();
    }
  });

  it('reports an unreachable PCCS', async () => {
    const srv = await serve(() => undefined);
    const url = srv.url;
    await srv.close();
    assert.equal(await networkCode(new PccsClient({ url, timeoutMs: 2000 }).getRootCaCrl()), 'ERR_PCCS_UNREACHABLE');
  });
});

describe('QCNL configuration', () => {
  it('reads the real sgx_default_qcnl.conf (JSON with // comments)', () => {
    const cfg = parseQcnlConfig(readVectorText('mse', 'sgx_default_qcnl.conf'));
    assert.equal(cfg.pccsUrl, 'https://example.cosmian.com/sgx/certification/v4/');
    assert.equal(cfg.useSecureCert, true);
    assert.equal(cfg.collateralService, undefined);
  });

  it('keeps // inside strings, strips block comments, reads the legacy format', () => {
    assert.deepEqual(JSON.parse(stripJsonComments('{"a":"http://x//y", /* c */ "b":1 // d\n}')), {
      a: 'http://x//y',
      b: 1,
    });
    const legacy = parseQcnlConfig('PCCS_URL=https://pccs:8081/sgx/certification/v3/\nUSE_SECURE_CERT=FALSE\n');
    assert.deepEqual(legacy, { pccsUrl: 'https://pccs:8081/sgx/certification/v3/', useSecureCert: false });
    assert.throws(() => parseQcnlConfig('{"pccs_url": 5}'), /pccs_url/);
  });

  it('normalises PCCS URLs', () => {
    assert.equal(pccsBaseUrl('https://pccs:8081').href, 'https://pccs:8081/sgx/certification/v4/');
    assert.equal(pccsBaseUrl('https://pccs/sgx/certification/v3').href, 'https://pccs/sgx/certification/v3/');
    assert.throws(() => pccsBaseUrl('ftp://x'), /http or https/);
    assert.throws(() => pccsBaseUrl('not a url'), /not a valid URL/);
  });

  it('picks the PCCS: --pccs (TLS verified), else the QCNL file with its use_secure_cert', () => {
    const insecure = parseQcnlConfig('{"pccs_url": "https://b:8081", "use_secure_cert": false}');
    const split = parseQcnlConfig('{"pccs_url": "https://b:8081", "collateral_service": "https://c:8081"}');
    for (const use of ['pck', 'collateral'] as const) {
      // the flag wins and is always verified, whatever the file says
      assert.deepEqual(pccsTarget('https://a:8081', insecure, use), {
        url: 'https://a:8081',
        from: '--pccs',
        secureCert: true,
      });
      // the file's setting is honoured, as the quote provider honours it
      assert.deepEqual(pccsTarget(undefined, insecure, use), {
        url: 'https://b:8081',
        from: 'pccs_url',
        secureCert: false,
      });
      assert.equal(pccsTarget(undefined, undefined, use), undefined);
      assert.equal(pccsTarget(undefined, parseQcnlConfig('{}'), use), undefined);
    }
    // verification collateral comes from collateral_service when the file names one; PCK certificates never do
    assert.deepEqual(pccsTarget(undefined, split, 'collateral'), {
      url: 'https://c:8081',
      from: 'collateral_service',
      secureCert: true,
    });
    assert.deepEqual(pccsTarget(undefined, split, 'pck'), {
      url: 'https://b:8081',
      from: 'pccs_url',
      secureCert: true,
    });
    // the legacy KEY=VALUE format too
    const legacy = parseQcnlConfig('PCCS_URL=https://d:8081/sgx/certification/v3/\nUSE_SECURE_CERT=FALSE\n');
    assert.deepEqual(pccsTarget(undefined, legacy, 'collateral'), {
      url: 'https://d:8081/sgx/certification/v3/',
      from: 'pccs_url',
      secureCert: false,
    });
  });
});
