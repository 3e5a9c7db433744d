// The bounded HTTP exchange against a real local server: the deadline is overall (a server that trickles a
// byte every 50 ms, which an idle timeout would wait for forever, is cut at the deadline), the body cap
// stops reading, and a normal answer is read in full.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { boundedRequest, HttpLimitError } from './http.js';

let server: http.Server;
let port = 0;
const timers = new Set<NodeJS.Timeout>();

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/trickle') {
      res.writeHead(200);
      const t = setInterval(() => res.write('x'), 50);
      timers.add(t);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (req.url === '/big') {
      res.end(Buffer.alloc(4096, 0x61));
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.writeHead(201, { 'x-echo': '1' }).end(`got ${body}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  for (const t of timers) clearInterval(t);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const get = (path: string, deadlineMs: number, maxBytes: number, method = 'GET', body?: string) =>
  boundedRequest(
    http.request,
    { host: '127.0.0.1', port, path, method, agent: false },
    {
      deadlineMs,
      maxBytes,
      ...(body !== undefined ? { body } : {}),
    },
  );

describe('boundedRequest (base/http.ts)', () => {
  it('reads a whole answer and sends the body', async () => {
    const a = await get('/echo', 5000, 1024, 'POST', 'hello');
    assert.equal(a.status, 201);
    assert.equal(a.headers['x-echo'], '1');
    assert.equal(a.body.toString(), 'got hello');
  });

  it('ends at the overall deadline, even while bytes keep arriving', async () => {
    const t0 = performance.now();
    await assert.rejects(get('/trickle', 300, 1 << 20), (e: unknown) => {
      assert.ok(e instanceof HttpLimitError);
      assert.equal(e.kind, 'deadline');
      assert.equal(e.message, 'no answer within 300 ms');
      return true;
    });
    assert.ok(performance.now() - t0 < 3000);
  });

  it('stops reading past the body cap', async () => {
    await assert.rejects(get('/big', 5000, 1024), (e: unknown) => {
      assert.ok(e instanceof HttpLimitError);
      assert.equal(e.kind, 'too-large');
      return true;
    });
  });
});
