/**
 * Tests only: a stand-in for the sim quoting service that speaks its protocol (HTTP/1.1 over a Unix socket,
 * `POST /quote` `{"report_data": "<128 hex>"}` → `{"quote": "<base64>"}`) and answers with a quote-shaped
 * blob: a v3 ECDSA-P256 header, a report body whose report_data is the one asked for (and fixed
 * MRENCLAVE/MRSIGNER), and an empty signature section. It lets the enclave bootstrap be tested without the
 * simulated platform; it is not a quote anyone should verify.
 */
import http from 'node:http';
import { promises as fs } from 'node:fs';
import {
  ATT_KEY_TYPE_ECDSA_P256,
  HEADER,
  MIN_QUOTE_SIZE,
  QUOTE_REPORT_DATA_OFFSET,
  REPORT_BODY,
} from '../attestation/quote-layout.js';

export interface QuoteStub {
  /** report_data of every quote served, in order. */
  requests: Uint8Array[];
  close(): Promise<void>;
}

export const STUB_MRENCLAVE = Buffer.alloc(32, 0xe1);
export const STUB_MRSIGNER = Buffer.alloc(32, 0x51);

/** A 436-byte quote-shaped blob carrying `reportData`. */
export function stubQuote(reportData: Uint8Array): Uint8Array {
  const body = HEADER.size;
  const quote = Buffer.alloc(MIN_QUOTE_SIZE + 4);
  quote.writeUInt16LE(3, HEADER.offsets.version);
  quote.writeUInt16LE(ATT_KEY_TYPE_ECDSA_P256, HEADER.offsets.attestationKeyType);
  STUB_MRENCLAVE.copy(quote, body + REPORT_BODY.offsets.mrEnclave);
  STUB_MRSIGNER.copy(quote, body + REPORT_BODY.offsets.mrSigner);
  Buffer.from(reportData).copy(quote, QUOTE_REPORT_DATA_OFFSET);
  quote.writeUInt32LE(0, MIN_QUOTE_SIZE); // no signature data
  return new Uint8Array(quote);
}

/** Serve the stub on `socketPath` (removed first if it exists). */
export async function startQuoteStub(socketPath: string): Promise<QuoteStub> {
  await fs.rm(socketPath, { force: true });
  const requests: Uint8Array[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/quote') return reply(404, { error: 'not found' });
      let hex: unknown;
      try {
        hex = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { report_data?: unknown }).report_data;
      } catch {
        return reply(400, { error: 'body is not JSON' });
      }
      if (typeof hex !== 'string' || !/^[0-9a-f]{128}$/.test(hex)) return reply(400, { error: 'bad report_data' });
      const reportData = new Uint8Array(Buffer.from(hex, 'hex'));
      requests.push(reportData);
      reply(200, { quote: Buffer.from(stubQuote(reportData)).toString('base64') });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
