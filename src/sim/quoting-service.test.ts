import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateSimPlatform, type SimPlatform } from './platform.js';
import { QUOTE_REQUEST_MAX_BYTES, startQuotingService, type QuotingService } from './quoting-service.js';

let dir: string;
let platform: SimPlatform;
let service: QuotingService;
let socketPath: string;
const mrEnclave = createHash('sha256').update('deployment measurement').digest();
const mrSigner = createHash('sha256').update('operator signer').digest();
const issued: string[] = [];

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-qs-'));
  platform = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  socketPath = path.join(dir, 'quote.sock');
  service = await startQuotingService({
    socketPath,
    platform,
    mrEnclave,
    mrSigner: mrSigner.toString('hex'),
    isvProdId: 1,
    isvSvn: 10,
    onQuote: (rd) => issued.push(rd),
  });
});
after(async () => {
  await service.close();
  await fs.rm(dir, { recursive: true });
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown>;
}

function request(
  method: string,
  urlPath: string,
  body?: string | Buffer,
  headers: http.OutgoingHttpHeaders = {},
  via = socketPath,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: via, method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          json: JSON.parse(text) as Record<string, unknown>,
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const post = (body: string | Buffer, headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' }) =>
  request('POST', '/quote', body, headers);

test('socket file is a world-connectable socket', async () => {
  const st = await fs.lstat(socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o666);
});

test('POST /quote returns a quote for the fixed identity and the chosen report data', async () => {
  const reportData = createHash('sha512').update('enclave key').digest();
  const r = await post(JSON.stringify({ report_data: reportData.toString('hex') }));
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(r.json), ['quote']);
  const b64 = r.json['quote'] as string;
  assert.match(b64, /^[A-Za-z0-9+/]+={0,2}$/, 'standard base64');
  const quote = Buffer.from(b64, 'base64');
  assert.equal(quote.readUInt16LE(0), 3);
  assert.deepEqual(quote.subarray(112, 144), mrEnclave);
  assert.deepEqual(quote.subarray(176, 208), mrSigner);
  assert.equal(quote.readUInt16LE(304), 1);
  assert.equal(quote.readUInt16LE(306), 10);
  assert.deepEqual(quote.subarray(368, 432), reportData);
  assert.equal(quote[96], 0x05, 'DEBUG clear');
  assert.ok(issued.includes(reportData.toString('hex')));
});

test('bad requests get 4xx JSON errors and the service keeps serving', async () => {
  const cases: [string, Promise<Reply>, number, RegExp][] = [
    ['non-hex', post(JSON.stringify({ report_data: 'zz'.repeat(64) })), 400, /lowercase hex/],
    ['uppercase hex', post(JSON.stringify({ report_data: 'AB'.repeat(64) })), 400, /lowercase hex/],
    ['too short', post(JSON.stringify({ report_data: 'ab'.repeat(32) })), 400, /128 hex characters/],
    ['too long', post(JSON.stringify({ report_data: 'ab'.repeat(65) })), 400, /128 hex characters/],
    ['not a string', post(JSON.stringify({ report_data: 5 })), 400, /must be a string/],
    ['missing field', post(JSON.stringify({})), 400, /missing field/],
    [
      'extra field',
      post(JSON.stringify({ report_data: 'ab'.repeat(64), mrenclave: 'x' })),
      400,
      /unexpected field "mrenclave"/,
    ],
    ['not an object', post('[1,2]'), 400, /JSON object/],
    ['not JSON', post('report_data=1'), 400, /not valid JSON/],
    ['wrong content type', post('{}', { 'Content-Type': 'text/plain' }), 415, /application\/json/],
    ['wrong method', request('GET', '/quote'), 405, /use POST/],
    ['wrong path', request('POST', '/quotes', '{}'), 404, /POST \/quote/],
  ];
  for (const [name, pending, status, message] of cases) {
    const r = await pending;
    assert.equal(r.status, status, name);
    assert.match(String(r.json['error']), message, name);
    assert.match(String(r.json['code']), /^ERR_QUOTE_/, name);
  }
  const wrongMethod = await request('PUT', '/quote', '{}');
  assert.equal(wrongMethod.headers['allow'], 'POST');
  const ok = await post(JSON.stringify({ report_data: '00'.repeat(64) }));
  assert.equal(ok.status, 200);
});

test('oversized bodies are refused with 413 (declared and chunked)', async () => {
  const big = JSON.stringify({ report_data: 'ab'.repeat(64), pad: 'x'.repeat(QUOTE_REQUEST_MAX_BYTES) });
  const declared = await post(big);
  assert.equal(declared.status, 413);
  assert.match(String(declared.json['error']), /exceeds/);
  const chunked = await post(big, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  assert.equal(chunked.status, 413);
  // A huge declared length is refused without reading it.
  const huge = await new Promise<string>((resolve, reject) => {
    const s = net.connect(socketPath, () => {
      s.write(
        'POST /quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{',
      );
    });
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('close', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(huge, /^HTTP\/1\.1 413/);
});

test('a second service on a live socket is refused; close() removes the socket; a stale one is replaced', async () => {
  await assert.rejects(
    startQuotingService({ socketPath, platform, mrEnclave, mrSigner, isvProdId: 0, isvSvn: 0 }),
    (e: unknown) => (e as { code?: string }).code === 'ERR_SIM_SOCKET_IN_USE',
  );
  const other = path.join(dir, 'other.sock');
  // A stale socket file left by a crashed process (SIGKILL: nobody unlinks it).
  const crash = `require('net').createServer().listen(${JSON.stringify(other)}, () => process.kill(process.pid, 'SIGKILL'))`;
  await promisify(execFile)(process.execPath, ['-e', crash]).catch(() => undefined);
  assert.ok((await fs.lstat(other)).isSocket(), 'the crashed listener left its socket file');
  const svc = await startQuotingService({ socketPath: other, platform, mrEnclave, mrSigner, isvProdId: 0, isvSvn: 0 });
  const viaOther = await request('POST', '/quote', JSON.stringify({ report_data: '11'.repeat(64) }), {}, other);
  assert.equal(viaOther.status, 200);
  await svc.close();
  await svc.close();
  await assert.rejects(fs.lstat(other), /ENOENT/);
  // A regular file in the way is not deleted.
  const file = path.join(dir, 'not-a-socket');
  await fs.writeFile(file, 'keep me');
  await assert.rejects(
    startQuotingService({ socketPath: file, platform, mrEnclave, mrSigner, isvProdId: 0, isvSvn: 0 }),
    (e: unknown) => (e as { code?: string }).code === 'ERR_SIM_SOCKET_PATH',
  );
  assert.equal(await fs.readFile(file, 'utf8'), 'keep me');
});

test('options are validated', async () => {
  const base = { socketPath: path.join(dir, 'x.sock'), platform, mrSigner, isvProdId: 0, isvSvn: 0 };
  await assert.rejects(startQuotingService({ ...base, mrEnclave: 'abcd' }), /mrEnclave must be 64 hex/);
  await assert.rejects(startQuotingService({ ...base, mrEnclave, isvSvn: 1 << 16 }), /isvSvn/);
  await assert.rejects(fs.lstat(base.socketPath), /ENOENT/);
});

test("the enclave bootstrap's quote provider gets a full quote from the real service", async () => {
  const { SimQuoteProvider } = await import('../enclave/quote.js');
  const reportData = createHash('sha512').update('bootstrap key binding').digest();
  const quote = Buffer.from(await new SimQuoteProvider(socketPath, 1000).getQuote(reportData));
  assert.ok(quote.length > 1100, 'a complete quote, with signature data and PCK chain');
  assert.deepEqual(quote.subarray(368, 432), reportData);
  assert.deepEqual(quote.subarray(112, 144), mrEnclave);
});
