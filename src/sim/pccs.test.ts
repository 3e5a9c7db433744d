import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateSimPlatform, type SimPlatform } from './platform.js';
import { startSimPccs, type SimPccs } from './pccs.js';

let dir: string;
let platform: SimPlatform;
let pccs: SimPccs;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-pccs-'));
  platform = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  pccs = await startSimPccs(platform);
});
after(async () => {
  await pccs.close();
  await fs.rm(dir, { recursive: true });
});

const chainOf = (header: string | null): X509Certificate[] => {
  assert.ok(header, 'issuer chain header present');
  assert.doesNotMatch(header, /[\s+/=]/, 'header is URL-encoded');
  const pem = decodeURIComponent(header);
  return pem
    .split(/(?<=-----END CERTIFICATE-----\n)/)
    .filter(Boolean)
    .map((c) => new X509Certificate(c));
};

test('listens on loopback with the v4 base path', () => {
  assert.match(pccs.url, /^http:\/\/127\.0\.0\.1:\d+\/sgx\/certification\/v4\/$/);
});

test('tcb?fmspc= serves the signed TCB Info with TCB-Info-Issuer-Chain', async () => {
  const fmspc = Buffer.from(platform.tcb.fmspc).toString('hex').toUpperCase();
  const res = await fetch(`${pccs.url}tcb?fmspc=${fmspc}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.match(res.headers.get('request-id') ?? '', /^[0-9a-f]{32}$/);
  const body = await res.text();
  const c = await platform.collateral();
  assert.equal(body, c.tcbInfo.body);
  const chain = chainOf(res.headers.get('tcb-info-issuer-chain'));
  assert.equal(chain.length, 2);
  assert.equal(chain[0]?.fingerprint256, new X509Certificate(platform.tcbSigning.pem).fingerprint256);
  assert.equal(chain[1]?.fingerprint256, new X509Certificate(platform.root.pem).fingerprint256);
  const early = await fetch(`${pccs.url}tcb?fmspc=${fmspc.toLowerCase()}&update=early`);
  assert.equal(early.status, 200);
  await early.arrayBuffer();
});

test('qe/identity serves the signed QE Identity with SGX-Enclave-Identity-Issuer-Chain', async () => {
  const res = await fetch(`${pccs.url}qe/identity`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), (await platform.collateral()).qeIdentity.body);
  assert.equal(chainOf(res.headers.get('sgx-enclave-identity-issuer-chain')).length, 2);
});

test('pckcrl?ca=platform: DER with encoding=der, PEM by default, with SGX-PCK-CRL-Issuer-Chain', async () => {
  const c = await platform.collateral();
  const der = await fetch(`${pccs.url}pckcrl?ca=platform&encoding=der`);
  assert.equal(der.status, 200);
  assert.equal(der.headers.get('content-type'), 'application/pkix-crl');
  assert.deepEqual(Buffer.from(await der.arrayBuffer()), Buffer.from(c.pckCrlDer));
  const chain = chainOf(der.headers.get('sgx-pck-crl-issuer-chain'));
  assert.equal(chain[0]?.fingerprint256, new X509Certificate(platform.pckCa.pem).fingerprint256);
  const pem = await fetch(`${pccs.url}pckcrl?ca=platform`);
  assert.equal(await pem.text(), c.pckCrlPem);
});

test('rootcacrl: hex-encoded DER, as Intel PCCS serves it', async () => {
  const res = await fetch(`${pccs.url}rootcacrl`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /^[0-9a-f]+$/);
  assert.deepEqual(Buffer.from(text, 'hex'), Buffer.from((await platform.collateral()).rootCaCrlDer));
});

test('errors: 404 unknown FMSPC/CA/path, 400 bad parameters, 405 other methods', async () => {
  const cases: [string, number, RegExp, RequestInit?][] = [
    ['tcb?fmspc=00606A000000', 404, /no TCB info for FMSPC/],
    ['tcb?fmspc=00606A', 400, /12 hex/],
    ['tcb?fmspc=zz606A000000', 400, /12 hex/],
    ['tcb', 400, /12 hex/],
    ['tcb?fmspc=53494d000000&update=late', 400, /early or standard/],
    ['tcb?fmspc=53494d000000&update=early&tcbEvaluationDataNumber=17', 400, /cannot be combined/],
    ['tcb?fmspc=53494d000000&tcbEvaluationDataNumber=3', 404, /tcbEvaluationDataNumber 3/],
    ['tcb?fmspc=53494d000000&fmspc=53494d000000', 400, /twice/],
    ['tcb?fmspc=53494d000000&x=1', 400, /unknown parameter "x"/],
    ['pckcrl?ca=processor', 404, /Processor CA/],
    ['pckcrl?ca=other', 400, /processor or platform/],
    ['pckcrl?ca=platform&encoding=base64', 400, /pem or der/],
    ['qe/identity?update=sometimes', 400, /early or standard/],
    ['rootcacrl?x=1', 400, /unknown parameter/],
    ['pckcert', 404, /unknown endpoint/],
    ['../../v3/tcb', 404, /unknown/],
    ['tcb?fmspc=53494d000000', 405, /not allowed/, { method: 'POST', body: '{}' }],
  ];
  for (const [suffix, status, message, init] of cases) {
    const res = await fetch(`${pccs.url}${suffix}`, init);
    assert.equal(res.status, status, suffix);
    assert.ok(res.headers.get('error-code'), suffix);
    assert.match(res.headers.get('error-message') ?? '', message, suffix);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, message, suffix);
  }
  const weird = await fetch(`${pccs.url}tcb?fmspc=1&%E2%9C%93=1`);
  assert.equal(weird.status, 400);
  assert.match(weird.headers.get('error-message') ?? '', /^[\x20-\x7e]+$/);
  const wrongBase = await fetch(pccs.url.replace('/v4/', '/v3/') + 'qe/identity');
  assert.equal(wrongBase.status, 404);
});
