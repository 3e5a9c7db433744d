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
import { runConfigurationServer, type ConfigurationOutcome } from './config-server.js';
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

  function post(port: number, body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          ca: certPem,
          checkServerIdentity: () => undefined,
          headers: { 'content-type': 'application/json' },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('is not blocked by a client that never finishes its request body', async () => {
    const id = randomUUID();
    const paths = enclavePaths(path.join(root, 'slow'));
    mkdirSync(paths.keyDir, { recursive: true }); // the enclave's identity exists before it serves
    let port = 0;
    let listening!: () => void;
    const ready = new Promise<void>((r) => (listening = r));
    const served: Promise<ConfigurationOutcome> = runConfigurationServer({
      host: '127.0.0.1',
      port: 0,
      certPem,
      keyPem,
      context: { expectedUuid: id, x25519: await generateX25519KeyPair(), archive: { plain: [], encrypted: [] } },
      paths,
      log: createLogger({ write: () => undefined }),
      timeoutMs: 20_000,
      onListening: (p) => {
        port = p;
        listening();
      },
    });
    await ready;

    // An unauthenticated peer starts a POST and stalls in the middle of its body.
    const stalled = tls.connect({ host: '127.0.0.1', port, ca: certPem, checkServerIdentity: () => undefined });
    await new Promise<void>((r, j) => stalled.once('secureConnect', r).once('error', j));
    stalled.on('error', () => undefined); // the server closes it when it shuts down
    stalled.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"uuid"');
    await new Promise((r) => setTimeout(r, 200));

    // The operator's real configuration request still goes through.
    const answer = await post(port, JSON.stringify({ uuid: id, app_secrets: { k: 1 } }));
    assert.equal(answer.status, 200, answer.body);
    const outcome = await served;
    assert.equal(outcome.appSecrets, true);
    assert.equal(readFileSync(paths.secretsFile, 'utf8'), '{"k":1}');
    stalled.destroy();
  });
});
