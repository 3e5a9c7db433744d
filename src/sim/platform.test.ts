import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPublicKey, verify } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { StateError } from '../errors.js';
import { loadOrCreateSimPlatform, SIM_NAMES, COLLATERAL_MAX_AGE_MS } from './platform.js';
import { SGX_EXTENSION_OID } from './sgx-extension.js';
import { INTEL_QE_VENDOR_ID } from '../attestation/quote-layout.js';
import { simStateDir } from './state.js';
import { vectorPath } from '../testing/vectors.js';

const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-'));
const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

test('state dir: MSE_HOME_STATE_DIR, then absolute XDG_STATE_HOME, then ~/.local/state', () => {
  assert.equal(simStateDir({ MSE_HOME_STATE_DIR: '/x/y' }), '/x/y/sim');
  assert.equal(simStateDir({ XDG_STATE_HOME: '/xdg' }), '/xdg/mse-home/sim');
  assert.equal(simStateDir({ XDG_STATE_HOME: 'relative' }), path.join(os.homedir(), '.local/state/mse-home/sim'));
  assert.equal(simStateDir({}), path.join(os.homedir(), '.local/state/mse-home/sim'));
});

test('first use creates a private identity; later uses load the same one', async () => {
  const base = await tmp();
  const dir = path.join(base, 'state', 'sim');
  const a = await loadOrCreateSimPlatform({ dir });
  assert.equal(await mode(dir), 0o700);
  assert.equal(await mode(path.join(dir, 'identity.json')), 0o600);
  assert.equal(await fs.readFile(path.join(dir, 'root-ca.pem'), 'utf8'), a.root.pem);
  const b = await loadOrCreateSimPlatform({ env: { MSE_HOME_STATE_DIR: path.join(base, 'state') } });
  assert.equal(b.rootFingerprint, a.rootFingerprint);
  assert.deepEqual(b.qe.attestationPublicKey, a.qe.attestationPublicKey);
  assert.equal(b.pckChainPem, a.pckChainPem);
  // No temporary files are left behind.
  assert.deepEqual((await fs.readdir(dir)).sort(), ['identity.json', 'root-ca.pem']);
  await fs.rm(base, { recursive: true });
});

test('concurrent first uses (separate processes) agree on one identity', async () => {
  const dir = path.join(await tmp(), 'sim');
  const moduleUrl = new URL('./platform.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(moduleUrl)}); const p = await m.loadOrCreateSimPlatform({ dir: ${JSON.stringify(dir)} }); process.stdout.write(p.rootFingerprint);`;
  const run = () => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  const [x, y, z] = await Promise.all([run(), run(), loadOrCreateSimPlatform({ dir })]);
  assert.equal(x.stdout, z.rootFingerprint);
  assert.equal(y.stdout, z.rootFingerprint);
  const text = await fs.readFile(path.join(dir, 'identity.json'), 'utf8');
  assert.equal(JSON.parse(text).format, 'mse-home-sim-platform-v1');
  assert.deepEqual((await fs.readdir(dir)).sort(), ['identity.json', 'root-ca.pem']);
  await fs.rm(path.dirname(dir), { recursive: true });
});

test('a damaged identity is a StateError naming the file, never silently replaced', async () => {
  const dir = path.join(await tmp(), 'sim');
  await loadOrCreateSimPlatform({ dir });
  const file = path.join(dir, 'identity.json');
  const record = JSON.parse(await fs.readFile(file, 'utf8'));
  record.platform.fmspc = 'zz';
  await fs.writeFile(file, JSON.stringify(record));
  await assert.rejects(loadOrCreateSimPlatform({ dir }), (e: unknown) => {
    assert.ok(e instanceof StateError);
    assert.equal(e.code, 'ERR_SIM_STATE_CORRUPT');
    assert.match(e.message, /platform\.fmspc/);
    assert.ok(e.message.includes(file));
    return true;
  });
  record.platform.fmspc = '53494d000000';
  record.certs.pck = record.certs.pckCa; // a certificate that does not match its key
  await fs.writeFile(file, JSON.stringify(record));
  await assert.rejects(loadOrCreateSimPlatform({ dir }), /PCK certificate does not match its private key/);
  await fs.writeFile(file, '{not json');
  await assert.rejects(loadOrCreateSimPlatform({ dir }), /not valid JSON/);
  await fs.rm(path.dirname(dir), { recursive: true });
});

test('certificates: SIMULATION names, Intel-like profile, chain and SGX extension', async () => {
  const dir = path.join(await tmp(), 'sim');
  const p = await loadOrCreateSimPlatform({ dir });
  const root = new X509Certificate(p.root.pem);
  const ca = new X509Certificate(p.pckCa.pem);
  const leaf = new X509Certificate(p.pck.pem);
  const tcb = new X509Certificate(p.tcbSigning.pem);
  for (const c of [root, ca, leaf, tcb]) assert.match(c.subject, /SIMULATION/);
  // Substrings Intel's QVL requires of each role.
  assert.match(root.subject, /SGX Root CA/);
  assert.match(ca.subject, /CN=.*CA/);
  assert.match(leaf.subject, /SGX PCK Certificate/);
  assert.match(tcb.subject, /SGX TCB Signing/);
  assert.ok(root.subject.includes(SIM_NAMES.root));
  assert.ok(root.verify(root.publicKey) && ca.verify(root.publicKey) && tcb.verify(root.publicKey));
  assert.ok(leaf.verify(ca.publicKey));
  assert.ok(!leaf.verify(root.publicKey));
  assert.ok(root.ca && ca.ca && !leaf.ca && !tcb.ca);
  assert.ok(leaf.checkIssued(ca) && ca.checkIssued(root) && tcb.checkIssued(root));
  assert.equal(p.rootFingerprint, createHash('sha256').update(root.raw).digest('hex'));
  // CA serials equal their key identifiers, as Intel's do.
  const parsed = AsnConvert.parse(ca.raw, Certificate);
  const ski = parsed.tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.14');
  assert.ok(ski);
  assert.equal(
    ca.serialNumber.toLowerCase().replace(/^00/, ''),
    Buffer.from(ski.extnValue.buffer).subarray(2).toString('hex'),
  );
  // The leaf carries the SGX extension with the platform's FMSPC.
  const leafExt = AsnConvert.parse(leaf.raw, Certificate).tbsCertificate.extensions?.find(
    (e) => e.extnID === SGX_EXTENSION_OID,
  );
  assert.ok(leafExt && !leafExt.critical);
  assert.ok(Buffer.from(leafExt.extnValue.buffer).includes(Buffer.from(p.tcb.fmspc)));
  // The quote's chain is leaf, CA, root.
  assert.equal(p.pckChainPem, p.pck.pem + p.pckCa.pem + p.root.pem);
  await fs.rm(path.dirname(dir), { recursive: true });
});

/** Independent reader of the v3 layout (offsets from Intel's sgx_quote_3.h, see dcap-verification.md §1). */
function readQuote(q: Buffer) {
  const authSize = q.readUInt16LE(1012);
  const certOff = 1014 + authSize;
  return {
    version: q.readUInt16LE(0),
    attKeyType: q.readUInt16LE(2),
    reserved: q.readUInt32LE(4),
    qeSvn: q.readUInt16LE(8),
    pceSvn: q.readUInt16LE(10),
    vendorId: q.subarray(12, 28),
    signedRegion: q.subarray(0, 432),
    cpuSvn: q.subarray(48, 64),
    attributes: q.subarray(96, 112),
    mrEnclave: q.subarray(112, 144),
    mrSigner: q.subarray(176, 208),
    isvProdId: q.readUInt16LE(304),
    isvSvn: q.readUInt16LE(306),
    reportData: q.subarray(368, 432),
    sigDataLen: q.readUInt32LE(432),
    signature: q.subarray(436, 500),
    attKey: q.subarray(500, 564),
    qeReport: q.subarray(564, 948),
    qeReportData: q.subarray(884, 948),
    qeReportSig: q.subarray(948, 1012),
    authData: q.subarray(1014, 1014 + authSize),
    certType: q.readUInt16LE(certOff),
    certSize: q.readUInt32LE(certOff + 2),
    certData: q.subarray(certOff + 6),
  };
}

const rawP256 = (xy: Buffer) =>
  createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: xy.subarray(0, 32).toString('base64url'),
      y: xy.subarray(32).toString('base64url'),
    },
    format: 'jwk',
  });

test('signQuote: exact v3 layout, signatures and bindings an independent reader verifies', async () => {
  const dir = path.join(await tmp(), 'sim');
  const p = await loadOrCreateSimPlatform({ dir });
  const mrEnclave = createHash('sha256').update('enclave').digest();
  const mrSigner = createHash('sha256').update('signer').digest();
  const reportData = Buffer.concat([createHash('sha256').update('tls key').digest(), Buffer.alloc(32, 7)]);
  const quote = Buffer.from(p.signQuote({ mrEnclave, mrSigner, reportData, isvProdId: 3, isvSvn: 9 }));
  const q = readQuote(quote);
  assert.equal(q.version, 3);
  assert.equal(q.attKeyType, 2);
  assert.equal(q.reserved, 0);
  assert.equal(q.qeSvn, p.qe.isvSvn);
  assert.equal(q.pceSvn, p.tcb.pceSvn);
  assert.equal(q.vendorId.toString('hex'), INTEL_QE_VENDOR_ID);
  // The header's vendor id is byte-identical to a real Intel quote's.
  const real = await fs.readFile(vectorPath('dcap', 'automata-dcap-attestation', 'quotev3.bin'));
  assert.deepEqual(q.vendorId, real.subarray(12, 28));
  assert.deepEqual(q.mrEnclave, mrEnclave);
  assert.deepEqual(q.mrSigner, mrSigner);
  assert.deepEqual(q.reportData, reportData);
  assert.equal(q.isvProdId, 3);
  assert.equal(q.isvSvn, 9);
  assert.deepEqual(q.cpuSvn, Buffer.from(p.tcb.cpuSvn));
  assert.equal(q.attributes[0], 0x05, 'production attributes: INIT|MODE64BIT, DEBUG clear');
  assert.equal(q.sigDataLen, quote.length - 436);
  // Quote signature: attestation key over header ‖ body.
  assert.ok(verify('sha256', q.signedRegion, { key: rawP256(q.attKey), dsaEncoding: 'ieee-p1363' }, q.signature));
  // QE report: signed by the PCK leaf key; report_data binds the attestation key and auth data.
  const leaf = new X509Certificate(p.pck.pem);
  assert.ok(verify('sha256', q.qeReport, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, q.qeReportSig));
  assert.deepEqual(q.qeReportData.subarray(0, 32), createHash('sha256').update(q.attKey).update(q.authData).digest());
  assert.deepEqual(q.qeReportData.subarray(32), Buffer.alloc(32));
  assert.deepEqual(q.authData, Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
  assert.deepEqual(q.qeReport.subarray(128, 160), Buffer.from(p.qe.mrSigner));
  // Certification data: type 5, PEM chain leaf ‖ CA ‖ root, NUL-terminated like Intel's QE.
  assert.equal(q.certType, 5);
  assert.equal(q.certSize, q.certData.length);
  assert.equal(q.certData.at(-1), 0);
  assert.equal(q.certData.subarray(0, -1).toString('utf8'), p.pckChainPem);
  // A DEBUG enclave only when asked for.
  const debugAttrs = Buffer.from('0700000000000000e700000000000000', 'hex');
  const dq = readQuote(
    Buffer.from(p.signQuote({ mrEnclave, mrSigner, reportData, isvProdId: 0, isvSvn: 0, attributes: debugAttrs })),
  );
  assert.deepEqual(dq.attributes, debugAttrs);
  await fs.rm(path.dirname(dir), { recursive: true });
});

test('signQuote rejects malformed fields with ERR_SIM_QUOTE_INPUT naming the field', async () => {
  const dir = path.join(await tmp(), 'sim');
  const p = await loadOrCreateSimPlatform({ dir });
  const ok = {
    mrEnclave: new Uint8Array(32),
    mrSigner: new Uint8Array(32),
    reportData: new Uint8Array(64),
    isvProdId: 0,
    isvSvn: 0,
  };
  assert.throws(() => p.signQuote({ ...ok, reportData: new Uint8Array(63) }), /reportData: must be 64 bytes/);
  assert.throws(() => p.signQuote({ ...ok, mrEnclave: new Uint8Array(33) }), /mrEnclave/);
  assert.throws(() => p.signQuote({ ...ok, isvSvn: 70000 }), /isvSvn/);
  assert.throws(() => p.signQuote({ ...ok, isvProdId: -1 }), /isvProdId/);
  assert.throws(
    () => p.signQuote({ ...ok, attributes: new Uint8Array(8) }),
    (e: unknown) => {
      return (e as { code?: string }).code === 'ERR_SIM_QUOTE_INPUT';
    },
  );
  await fs.rm(path.dirname(dir), { recursive: true });
});

test('collateral is persisted, reused while fresh and regenerated when stale', async () => {
  const dir = path.join(await tmp(), 'sim');
  const p = await loadOrCreateSimPlatform({ dir });
  const t0 = new Date();
  const c1 = await p.collateral(t0);
  assert.ok(c1.issuedAt <= t0 && c1.nextUpdate > t0);
  const file = path.join(dir, 'collateral.json');
  assert.ok((await fs.stat(file)).isFile());
  // Another process (a fresh load) serves the very same bytes.
  const again = await loadOrCreateSimPlatform({ dir });
  const c2 = await again.collateral(new Date(t0.getTime() + 60_000));
  assert.equal(c2.tcbInfo.body, c1.tcbInfo.body);
  assert.deepEqual(Buffer.from(c2.pckCrlDer), Buffer.from(c1.pckCrlDer));
  // A day later it is reissued.
  const later = new Date(t0.getTime() + COLLATERAL_MAX_AGE_MS + 60_000);
  const c3 = await again.collateral(later);
  assert.notEqual(c3.tcbInfo.body, c1.tcbInfo.body);
  assert.ok(c3.issuedAt > c1.issuedAt);
  // Damaged stored collateral is regenerated, not an error (it is derived data).
  await fs.writeFile(file, 'garbage');
  const c4 = await (await loadOrCreateSimPlatform({ dir })).collateral(later);
  assert.ok(c4.tcbInfo.body.startsWith('{"tcbInfo":'));
  await fs.rm(path.dirname(dir), { recursive: true });
});
