import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateX25519KeyPair } from '../crypto/sealedbox.js';
import { createRatlsCertificate } from '../ratls/certificate.js';
import {
  planConfigure,
  planRequest,
  REPLIES,
  runConfigurationServer,
  WAITING_BODY,
  type ConfigurationOutcome,
} from './config-server.js';
import { MAX_CONFIG_BODY } from './configuration.js';
import { createLogger } from './log.js';
import { enclavePaths } from './paths.js';

describe('configuration server', () => {
  let root: string;
  let certPem: string;
  let keyPem: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'config-server-'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    certPem = createRatlsCertificate({
      privateKey,
      publicKey,
      quote: new Uint8Array(432), // the server only serves the certificate; its quote is not read here
      subject: 'CN=localhost',
      san: 'localhost',
      notAfter: new Date(Date.now() + 3600_000),
    }).pem;
    keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** One request with any method, body and headers; the answer's status, headers and body. */
  function request(
    port: number,
    method: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: '/',
          ca: certPem,
          checkServerIdentity: () => undefined,
          headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A configuration server on a free port for a fresh UUID, writing under `dir`, once it listens. */
  async function startServer(dir: string): Promise<{
    id: string;
    paths: ReturnType<typeof enclavePaths>;
    port: number;
    served: Promise<ConfigurationOutcome>;
  }> {
    const id = randomUUID();
    const paths = enclavePaths(path.join(root, dir));
    mkdirSync(paths.keyDir, { recursive: true }); // the enclave's identity exists before it serves
    let listening!: (port: number) => void;
    const ready = new Promise<number>((r) => (listening = r));
    const served = runConfigurationServer({
      host: '127.0.0.1',
      port: 0,
      certPem,
      keyPem,
      context: { expectedUuid: id, x25519: await generateX25519KeyPair(), archive: { plain: [], encrypted: [] } },
      paths,
      log: createLogger({ write: () => undefined }),
      timeoutMs: 20_000,
      onListening: (p) => listening(p),
    });
    return { id, paths, port: await ready, served };
  }

  it('answers every kind of request as documented until one valid configuration arrives', async () => {
    const { id, paths, port, served } = await startServer('answers');

    const get = await request(port, 'GET');
    assert.equal(get.status, 200);
    assert.equal(get.headers['mse-status'], 'Waiting');
    assert.equal(get.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(get.body, WAITING_BODY);
    const head = await request(port, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(WAITING_BODY)));
    assert.equal(head.body, '');

    const put = await request(port, 'PUT', '{}');
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, HEAD, POST');
    assert.equal(put.headers['mse-status'], 'Waiting');
    assert.deepEqual(JSON.parse(put.body), { error: 'method PUT is not allowed', code: 'ERR_CONFIG_METHOD' });

    const declaredLarge = await request(port, 'POST', 'x', { 'content-length': String(MAX_CONFIG_BODY + 1) }).catch(
      (error: NodeJS.ErrnoException) => ({ status: -1, headers: {}, body: error.code ?? '' }),
    );
    // The server answers before the body and closes; the client may see the answer or the reset.
    if (declaredLarge.status !== -1) assert.equal(declaredLarge.status, 413);
    const large = await request(port, 'POST', 'x'.repeat(MAX_CONFIG_BODY + 1));
    assert.equal(large.status, 413);
    assert.deepEqual(JSON.parse(large.body), {
      error: `request body is larger than ${MAX_CONFIG_BODY} bytes`,
      code: 'ERR_CONFIG_TOO_LARGE',
    });

    const refused = await request(port, 'POST', JSON.stringify({ uuid: randomUUID() }));
    assert.ok(refused.status >= 400 && refused.status < 500, refused.body);
    assert.equal(refused.headers['mse-status'], 'Waiting');
    assert.match(JSON.parse(refused.body).code, /^ERR_/);

    const ok = await request(port, 'POST', JSON.stringify({ uuid: id, app_secrets: { k: 2 } }));
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { status: 'configured' });
    assert.equal(ok.headers.connection, 'close');
    assert.deepEqual(await served, { appSecrets: true, sealedSecrets: false, codeKeySource: undefined, files: 0 });
    assert.equal(readFileSync(paths.secretsFile, 'utf8'), '{"k":2}');
    // The port is released once it resolves.
    await assert.rejects(request(port, 'GET'), { code: 'ECONNREFUSED' });
  });

  it('gives up with ERR_CONFIG_TIMEOUT, and reports a port it cannot listen on as ERR_CONFIG_LISTEN', async () => {
    const base = {
      host: '127.0.0.1',
      certPem,
      keyPem,
      context: {
        expectedUuid: randomUUID(),
        x25519: await generateX25519KeyPair(),
        archive: { plain: [], encrypted: [] },
      },
      paths: enclavePaths(path.join(root, 'timeout')),
      log: createLogger({ write: () => undefined }),
    };
    let port = 0;
    const first = runConfigurationServer({ ...base, port: 0, timeoutMs: 1_500, onListening: (p) => (port = p) });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(runConfigurationServer({ ...base, port }), { code: 'ERR_CONFIG_LISTEN' });
    await assert.rejects(first, {
      code: 'ERR_CONFIG_TIMEOUT',
      message: 'no valid configuration received within 1.5 s',
    });
  });

  it('is not blocked by a client that never finishes its request body', async () => {
    const { id, paths, port, served } = await startServer('slow');

    // An unauthenticated peer starts a POST and stalls in the middle of its body.
    const stalled = tls.connect({ host: '127.0.0.1', port, ca: certPem, checkServerIdentity: () => undefined });
    await new Promise<void>((r, j) => stalled.once('secureConnect', r).once('error', j));
    stalled.on('error', () => undefined); // the server closes it when it shuts down
    stalled.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"uuid"');
    await new Promise((r) => setTimeout(r, 200));

    // The operator's real configuration request still goes through.
    const answer = await request(port, 'POST', JSON.stringify({ uuid: id, app_secrets: { k: 1 } }), {
      'content-type': 'application/json',
    });
    assert.equal(answer.status, 200, answer.body);
    const outcome = await served;
    assert.equal(outcome.appSecrets, true);
    assert.equal(readFileSync(paths.secretsFile, 'utf8'), '{"k":1}');
    stalled.destroy();
  });
});

describe('configuration server plan', () => {
  it('answers at once everything but a POST while waiting, and refuses every request once configured', () => {
    assert.deepEqual(planRequest('GET', false), { kind: 'waiting', head: false });
    assert.deepEqual(planRequest('HEAD', false), { kind: 'waiting', head: true });
    assert.equal(planRequest('POST', false), 'read-body');
    assert.deepEqual(planRequest('DELETE', false), REPLIES.methodNotAllowed('DELETE'));
    for (const method of ['GET', 'HEAD', 'POST', 'DELETE', undefined])
      assert.equal(planRequest(method, true), REPLIES.alreadyConfigured);
  });

  it('configures one POST at a time, and none once configured', () => {
    assert.equal(planConfigure({ configured: false, busy: false }), 'configure');
    assert.equal(planConfigure({ configured: false, busy: true }), REPLIES.busy);
    assert.equal(planConfigure({ configured: true, busy: true }), REPLIES.alreadyConfigured);
    assert.equal(planConfigure({ configured: true, busy: false }), REPLIES.alreadyConfigured);
  });
});
