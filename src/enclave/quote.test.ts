import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AttestationError, NetworkError } from '../errors.js';
import { startQuoteStub, stubQuote } from '../testing/quote-stub.js';
import { GramineQuoteProvider, SimQuoteProvider } from './quote.js';

const work = mkdtempSync(path.join(tmpdir(), 'quote-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A Unix-socket server answering every request with `status` and `body`. */
async function answering(name: string, status: number, body: string): Promise<{ socket: string; close: () => void }> {
  const socket = path.join(work, name);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return { socket, close: () => server.close() };
}

describe('SimQuoteProvider', () => {
  it('gets a quote for its report_data over the Unix socket', async () => {
    const socket = path.join(work, 'ok.sock');
    const stub = await startQuoteStub(socket);
    try {
      const reportData = randomBytes(64);
      const quote = await new SimQuoteProvider(socket).getQuote(reportData);
      assert.deepEqual(Buffer.from(quote.subarray(368, 432)), reportData);
      assert.deepEqual(Buffer.from(stub.requests[0]!), reportData);
    } finally {
      await stub.close();
    }
  });

  it('reports refusals, bad answers and a quote for other report_data', async () => {
    const reportData = randomBytes(64);
    const cases: [string, number, string, string][] = [
      ['refused.sock', 403, '{"error":"report_data refused"}', 'ERR_QUOTE_REFUSED'],
      ['garbage.sock', 200, 'not json', 'ERR_QUOTE_SERVICE_ANSWER'],
      ['nob64.sock', 200, '{"quote":"***"}', 'ERR_QUOTE_SERVICE_ANSWER'],
      ['short.sock', 200, JSON.stringify({ quote: Buffer.alloc(100).toString('base64') }), 'ERR_QUOTE_SIZE'],
      [
        'other.sock',
        200,
        JSON.stringify({ quote: Buffer.from(stubQuote(randomBytes(64))).toString('base64') }),
        'ERR_QUOTE_REPORT_DATA',
      ],
    ];
    for (const [name, status, body, code] of cases) {
      const server = await answering(name, status, body);
      try {
        await assert.rejects(
          new SimQuoteProvider(server.socket).getQuote(reportData),
          (e: unknown) => e instanceof AttestationError && e.code === code,
          name,
        );
      } finally {
        server.close();
      }
    }
    await assert.rejects(
      new SimQuoteProvider(path.join(work, 'absent.sock'), 300).getQuote(reportData),
      (e: unknown) => e instanceof NetworkError && e.code === 'ERR_QUOTE_SERVICE',
    );
  });
});

describe('GramineQuoteProvider', () => {
  // Gramine's /dev/attestation is a pseudo-filesystem; plain files model the write-then-read interface.
  it('writes user_report_data and reads the quote', async () => {
    const dir = path.join(work, 'attestation');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'attestation_type'), 'dcap\n');
    const reportData = randomBytes(64);
    writeFileSync(path.join(dir, 'quote'), stubQuote(reportData));
    const quote = await new GramineQuoteProvider(dir).getQuote(reportData);
    assert.deepEqual(readFileSync(path.join(dir, 'user_report_data')), reportData);
    assert.equal(quote.length, 436);
    // a quote that does not carry the report_data written is refused
    await assert.rejects(
      new GramineQuoteProvider(dir).getQuote(randomBytes(64)),
      (e: unknown) => (e as AttestationError).code === 'ERR_QUOTE_REPORT_DATA',
    );
    writeFileSync(path.join(dir, 'attestation_type'), 'none\n');
    await assert.rejects(new GramineQuoteProvider(dir).getQuote(reportData), /attestation type is "none"/);
    await assert.rejects(
      new GramineQuoteProvider(path.join(work, 'nowhere')).getQuote(reportData),
      /not running inside Gramine-SGX/,
    );
  });
});
