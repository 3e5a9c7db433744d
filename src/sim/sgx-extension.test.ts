import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { vectorPath } from '../testing/vectors.js';
import { SGX_EXTENSION_OID, SgxType, encodeSgxExtension } from './sgx-extension.js';
import { integer, oid, positiveIntegerBytes } from './der.js';

/** The PCK leaf certificate inside a real quote (certification data type 5, leaf first). */
function pckLeafOf(quoteFile: string): Buffer {
  const q = readFileSync(quoteFile);
  const authSize = q.readUInt16LE(1012);
  const off = 1014 + authSize;
  assert.equal(q.readUInt16LE(off), 5);
  const pem = q.subarray(off + 6, off + 6 + q.readUInt32LE(off + 2)).toString('utf8');
  return Buffer.from(new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25)).raw);
}

function sgxExtensionOf(der: Buffer): Buffer {
  const ext = AsnConvert.parse(der, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === SGX_EXTENSION_OID);
  assert.ok(ext, 'the certificate has an SGX extension');
  return Buffer.from(ext.extnValue.buffer);
}

test('encodeSgxExtension reproduces a real Intel Platform-CA PCK extension byte for byte', () => {
  // quotev3's PCK leaf: values documented in testvectors/dcap/automata-dcap-attestation/README.md; the PPID and
  // PlatformInstanceID are per-part random values, read here from the certificate's own bytes.
  const intel = sgxExtensionOf(pckLeafOf(vectorPath('dcap', 'automata-dcap-attestation', 'quotev3.bin')));
  const ppidAt = intel.indexOf(Buffer.from('04' + '10', 'hex'), intel.indexOf(oid(`${SGX_EXTENSION_OID}.1`)));
  const ppid = intel.subarray(ppidAt + 2, ppidAt + 18);
  const piidOid = Buffer.from(oid(`${SGX_EXTENSION_OID}.6`));
  const piidAt = intel.indexOf(piidOid) + piidOid.length;
  const platformInstanceId = intel.subarray(piidAt + 2, piidAt + 18);
  const comps = [14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const ours = encodeSgxExtension({
    ppid,
    tcbComponents: comps,
    pceSvn: 13,
    cpuSvn: Uint8Array.from(comps),
    pceId: Buffer.from('0000', 'hex'),
    fmspc: Buffer.from('00606A000000', 'hex'),
    sgxType: SgxType.scalable,
    platformInstanceId,
    configuration: { dynamicPlatform: true, cachedKeys: false, smtEnabled: false },
  });
  assert.equal(Buffer.from(ours).toString('hex'), intel.toString('hex'));
});

test('Processor-CA form (no PlatformInstanceID / Configuration) matches a real Processor leaf', () => {
  const intel = sgxExtensionOf(pckLeafOf(vectorPath('dcap', 'phala-dcap-qvl', 'sgx_quote.bin')));
  const ppidAt = intel.indexOf(Buffer.from(oid(`${SGX_EXTENSION_OID}.1`))) + 12;
  const ppid = intel.subarray(ppidAt + 2, ppidAt + 18);
  const comps = [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const ours = encodeSgxExtension({
    ppid,
    tcbComponents: comps,
    pceSvn: 13,
    cpuSvn: Uint8Array.from(comps),
    pceId: Buffer.from('0000', 'hex'),
    fmspc: Buffer.from('00A067110000', 'hex'),
    sgxType: SgxType.standard,
  });
  assert.equal(Buffer.from(ours).toString('hex'), intel.toString('hex'));
});

test('DER primitives are canonical', () => {
  assert.equal(Buffer.from(integer(255)).toString('hex'), '020200ff');
  assert.equal(Buffer.from(integer(0)).toString('hex'), '020100');
  assert.equal(Buffer.from(integer(127)).toString('hex'), '02017f');
  assert.equal(Buffer.from(positiveIntegerBytes(Uint8Array.of(0, 0, 0x7f))).toString('hex'), '7f');
  assert.equal(Buffer.from(positiveIntegerBytes(Uint8Array.of(0x80, 1))).toString('hex'), '008001');
  assert.equal(Buffer.from(oid('1.2.840.113741.1.13.1.1')).toString('hex'), '060a2a864886f84d010d0101');
  assert.throws(() => encodeSgxExtension({ ppid: new Uint8Array(15) } as never));
});
