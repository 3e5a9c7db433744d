import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, verify } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, Certificate, Version } from '@peculiar/asn1-x509';
import { vectorPath } from '../testing/vectors.js';
import { collateralToJson, loadOrCreateSimPlatform, type SimPlatform } from './platform.js';

let dir: string;
let p: SimPlatform;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-coll-'));
  p = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
});
after(() => fs.rm(dir, { recursive: true }));

const intelDir = vectorPath('dcap', 'automata-dcap-attestation', 'collateral-2025-08');
const intelTcbBody = () => readFileSync(path.join(intelDir, 'sgx_tcbinfov3_00606a000000.json'), 'utf8');
const intelQeBody = () => readFileSync(path.join(intelDir, 'sgx_qeidentity_v4.json'), 'utf8');

/** Key order of an object (recursively for the named children). */
const keys = (o: unknown): string[] => Object.keys(o as object);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

test('TCB Info body has the exact framing, key order and types of Intel PCS v4', () => {
  const c = p.buildCollateral();
  const frame = /^\{"tcbInfo":(\{.*\}),"signature":"([0-9a-f]{128})"\}$/;
  assert.match(intelTcbBody(), frame);
  const m = frame.exec(c.tcbInfo.body);
  assert.ok(m);
  assert.equal(m[1], c.tcbInfo.signed);
  assert.equal(m[2], c.tcbInfo.signatureHex);
  const ours = JSON.parse(c.tcbInfo.signed);
  const intel = JSON.parse(intelTcbBody()).tcbInfo;
  assert.deepEqual(keys(ours), keys(intel));
  for (const k of keys(intel)) assert.equal(typeof ours[k], typeof intel[k], k);
  assert.equal(ours.id, 'SGX');
  assert.equal(ours.version, 3);
  assert.match(ours.issueDate, ISO);
  assert.match(ours.nextUpdate, ISO);
  assert.equal(ours.fmspc, Buffer.from(p.tcb.fmspc).toString('hex'));
  assert.equal(ours.tcbEvaluationDataNumber, intel.tcbEvaluationDataNumber);
  assert.deepEqual(keys(ours.tcbLevels[1]), keys(intel.tcbLevels[0]));
  assert.deepEqual(keys(ours.tcbLevels[0].tcb), keys(intel.tcbLevels[0].tcb));
  // Components: the same labelled shape as Intel's (category/type on the first four).
  assert.deepEqual(
    ours.tcbLevels[0].tcb.sgxtcbcomponents.map((x: object) => keys(x)),
    intel.tcbLevels[0].tcb.sgxtcbcomponents.map((x: object) => keys(x)),
  );
  // The first level is the platform's own TCB, UpToDate, without advisories (Intel omits the key then).
  const top = ours.tcbLevels[0];
  assert.deepEqual(
    top.tcb.sgxtcbcomponents.map((x: { svn: number }) => x.svn),
    p.tcb.tcbComponents,
  );
  assert.equal(top.tcb.pcesvn, p.tcb.pceSvn);
  assert.equal(top.tcbStatus, 'UpToDate');
  assert.ok(!('advisoryIDs' in top));
  assert.equal(ours.tcbLevels[1].tcbStatus, 'OutOfDate');
});

test('QE Identity body has the exact framing, key order and types of Intel PCS v4', () => {
  const c = p.buildCollateral();
  const frame = /^\{"enclaveIdentity":(\{.*\}),"signature":"([0-9a-f]{128})"\}$/;
  assert.match(intelQeBody(), frame);
  const m = frame.exec(c.qeIdentity.body);
  assert.ok(m);
  assert.equal(m[1], c.qeIdentity.signed);
  const ours = JSON.parse(c.qeIdentity.signed);
  const intel = JSON.parse(intelQeBody()).enclaveIdentity;
  assert.deepEqual(keys(ours), keys(intel));
  for (const k of keys(intel)) assert.equal(typeof ours[k], typeof intel[k], k);
  assert.deepEqual(keys(ours.tcbLevels[0]), keys(intel.tcbLevels[0]));
  assert.deepEqual(keys(ours.tcbLevels[1]), keys(intel.tcbLevels[1]));
  for (const k of ['miscselectMask', 'attributes', 'attributesMask']) assert.equal(ours[k], intel[k], k);
  assert.equal(ours.mrsigner, Buffer.from(p.qe.mrSigner).toString('hex').toUpperCase());
  assert.notEqual(ours.mrsigner, intel.mrsigner, 'not Intel QE signer');
  assert.equal(ours.isvprodid, p.qe.isvProdId);
  assert.equal(ours.tcbLevels[0].tcb.isvsvn, p.qe.isvSvn);
  assert.equal(ours.tcbLevels[0].tcbStatus, 'UpToDate');
  // The QE report in quotes matches the identity under its masks.
  const attrs = Buffer.from(p.qe.report.subarray(48, 64));
  const mask = Buffer.from(ours.attributesMask, 'hex');
  assert.equal(
    Buffer.from(attrs.map((b, i) => b & (mask[i] as number)))
      .toString('hex')
      .toUpperCase(),
    ours.attributes,
  );
});

test('TCB Info and QE Identity signatures verify over the exact signed bytes with the TCB signing key', () => {
  const c = p.buildCollateral();
  const key = new X509Certificate(p.tcbSigning.pem).publicKey;
  for (const item of [c.tcbInfo, c.qeIdentity]) {
    const sig = Buffer.from(item.signatureHex, 'hex');
    assert.ok(verify('sha256', Buffer.from(item.signed), { key, dsaEncoding: 'ieee-p1363' }, sig));
    // One changed byte breaks it.
    const tampered = item.signed.replace('"version":', '"version" :');
    assert.ok(!verify('sha256', Buffer.from(tampered), { key, dsaEncoding: 'ieee-p1363' }, sig));
  }
});

function crlInfo(der: Uint8Array) {
  const crl = AsnConvert.parse(der, CertificateList);
  return {
    crl,
    extOids: (crl.tbsCertList.crlExtensions ?? []).map((e) => e.extnID),
    entryExtOids: (crl.tbsCertList.revokedCertificates ?? []).map((r) =>
      (r.crlEntryExtensions ?? []).map((e) => e.extnID),
    ),
    serials: (crl.tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex')),
  };
}

/** The DER of the first element (tbsCertList) of the CRL's outer SEQUENCE. */
function tbsOf(der: Buffer): Buffer {
  const outerLenBytes = (der[1] as number) & 0x80 ? ((der[1] as number) & 0x7f) + 2 : 2;
  const start = outerLenBytes;
  const l = der[start + 1] as number;
  const [len, hdr] = l & 0x80 ? [der.readUIntBE(start + 2, l & 0x7f), 2 + (l & 0x7f)] : [l, 2];
  return der.subarray(start, start + hdr + len);
}

test('CRLs: X.509 v2, Intel extension profile, issuer = CA subject, signed by the CA', () => {
  const c = p.buildCollateral();
  const intelPck = crlInfo(readFileSync(path.join(intelDir, 'platform_crl.der')));
  const intelRoot = crlInfo(readFileSync(path.join(intelDir, 'intel_root_ca_crl.der')));
  const pck = crlInfo(c.pckCrlDer);
  const root = crlInfo(c.rootCaCrlDer);
  assert.equal(pck.crl.tbsCertList.version, Version.v2);
  assert.deepEqual(pck.extOids, intelPck.extOids);
  assert.deepEqual(root.extOids, intelRoot.extOids);
  assert.deepEqual(pck.entryExtOids[0], intelPck.entryExtOids[0]);
  const subjectDer = (pem: string) =>
    Buffer.from(
      AsnConvert.serialize(AsnConvert.parse(new X509Certificate(pem).raw, Certificate).tbsCertificate.subject),
    );
  assert.deepEqual(Buffer.from(AsnConvert.serialize(pck.crl.tbsCertList.issuer)), subjectDer(p.pckCa.pem));
  assert.deepEqual(Buffer.from(AsnConvert.serialize(root.crl.tbsCertList.issuer)), subjectDer(p.root.pem));
  for (const [der, pem] of [
    [c.pckCrlDer, p.pckCa.pem],
    [c.rootCaCrlDer, p.root.pem],
  ] as const) {
    const crl = AsnConvert.parse(der, CertificateList);
    const ok = verify(
      'sha256',
      tbsOf(Buffer.from(der)),
      new X509Certificate(pem).publicKey,
      Buffer.from(crl.signature),
    );
    assert.ok(ok, 'CRL signature verifies with the issuing CA key');
  }
  // Healthy collateral revokes none of ours (but the PCK CRL is not empty).
  const leafSerial = new X509Certificate(p.pck.pem).serialNumber.toLowerCase();
  assert.equal(pck.serials.length, 1);
  assert.ok(!pck.serials.some((s) => s.replace(/^00/, '') === leafSerial.replace(/^00/, '')));
  assert.equal(root.serials.length, 0);
  // Windows: backdated issue, 30 days for the PCK CRL, a year for the root CRL.
  const t = pck.crl.tbsCertList;
  assert.equal(t.thisUpdate.getTime().getTime(), c.issuedAt.getTime());
  assert.equal(t.nextUpdate?.getTime().getTime(), c.nextUpdate.getTime());
});

test('revocation variants put our own certificates on the CRLs', () => {
  const c = p.buildCollateral({ revoke: { pck: true, pckCa: true, tcbSigning: true } });
  const norm = (s: string) => s.toLowerCase().replace(/^00/, '');
  const serial = (pem: string) => norm(new X509Certificate(pem).serialNumber);
  const pck = crlInfo(c.pckCrlDer).serials.map(norm);
  const root = crlInfo(c.rootCaCrlDer).serials.map(norm);
  assert.ok(pck.includes(serial(p.pck.pem)));
  assert.ok(root.includes(serial(p.pckCa.pem)));
  assert.ok(root.includes(serial(p.tcbSigning.pem)));
});

test('status variants and collateralToJson (the test-vector collateral shape)', () => {
  const c = p.buildCollateral({
    platformTcbStatus: 'SWHardeningNeeded',
    advisoryIds: ['SIM-SA-00615'],
    qeTcbStatus: 'OutOfDate',
  });
  const ti = JSON.parse(c.tcbInfo.signed);
  assert.equal(ti.tcbLevels[0].tcbStatus, 'SWHardeningNeeded');
  assert.deepEqual(ti.tcbLevels[0].advisoryIDs, ['SIM-SA-00615']);
  assert.equal(JSON.parse(c.qeIdentity.signed).tcbLevels[0].tcbStatus, 'OutOfDate');
  const json = collateralToJson(c);
  const vector = JSON.parse(
    readFileSync(vectorPath('dcap', 'automata-dcap-attestation', 'collateral-2025-08.json'), 'utf8'),
  );
  assert.deepEqual(Object.keys(json).sort(), Object.keys(vector).sort());
  assert.equal(json.tcb_info, c.tcbInfo.signed);
  assert.match(json.root_ca_crl, /^30[0-9a-f]+$/);
  assert.equal(json.pck_crl_issuer_chain, p.pckCa.pem + p.root.pem);
  assert.equal(json.tcb_info_issuer_chain, p.tcbSigning.pem + p.root.pem);
});
