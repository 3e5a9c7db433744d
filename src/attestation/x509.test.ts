import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestationError } from '../errors.js';
import { caseCollateral, caseQuote, dcapCase } from '../testing/dcap.js';
import { readVector } from '../testing/vectors.js';
import { toHex } from './bytes.js';
import { oid, readRoot, smallInt, time, boolean, integerBytes, type DerContext } from './der.js';
import { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from './intel-root.js';
import { parsePckExtension, parsePckExtensionValue } from './pck.js';
import { parseQuote } from './quote.js';
import { OID, findExtension, parseCertificate, parseCrl, pemBlocks, verifySignedBy } from './x509.js';

const ctx: DerContext = { stage: 'test', code: 'ERR_TEST_DER', what: 'test input' };

/** Minimal DER encoder for building test inputs. */
function tlv(tag: number, ...content: (Uint8Array | number[])[]): Uint8Array {
  const body = Buffer.concat(content.map((c) => Buffer.from(c)));
  const len = body.length;
  const head = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
  return new Uint8Array(Buffer.concat([Buffer.from(head), body]));
}
const h = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

function derCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AttestationError, String(error));
    return error.message;
  }
  assert.fail('expected a DER error');
}

describe('strict DER reader', () => {
  it('rejects BER-only encodings', () => {
    assert.match(
      derCode(() => readRoot(h('3080 0000'), ctx)),
      /indefinite/,
    );
    assert.match(
      derCode(() => readRoot(h('30 81 03 020101'), ctx)),
      /short form/,
    );
    assert.match(
      derCode(() => readRoot(h('30 82 0003 020101'), ctx)),
      /minimally/,
    );
    assert.match(
      derCode(() => readRoot(h('3003 020101 00'), ctx)),
      /trailing/,
    );
    assert.match(
      derCode(() => readRoot(h('3005 020101'), ctx)),
      /overruns/,
    );
    assert.match(
      derCode(() => readRoot(h('1f01 00'), ctx)),
      /high tag/,
    );
  });

  it('checks INTEGER, BOOLEAN, OID and time encodings', () => {
    assert.match(
      derCode(() => integerBytes(readRoot(h('0202 0001'), ctx), ctx, 'n')),
      /minimally/,
    );
    assert.match(
      derCode(() => integerBytes(readRoot(h('0202 ff80'), ctx), ctx, 'n')),
      /minimally/,
    );
    assert.equal(smallInt(readRoot(h('0202 00ff'), ctx), ctx, 'n'), 255);
    assert.match(
      derCode(() => smallInt(readRoot(h('0201 80'), ctx), ctx, 'n')),
      /negative/,
    );
    assert.match(
      derCode(() => boolean(readRoot(h('0101 01'), ctx), ctx, 'b')),
      /BOOLEAN/,
    );
    assert.equal(boolean(readRoot(h('0101 ff'), ctx), ctx, 'b'), true);
    assert.equal(oid(readRoot(h('0608 2a8648ce3d040302'), ctx), ctx, 'o'), OID.ecdsaWithSha256);
    assert.match(
      derCode(() => oid(readRoot(h('0603 2a8001'), ctx), ctx, 'o')),
      /minimally/,
    );
    assert.match(
      derCode(() => oid(readRoot(h('0602 2a86'), ctx), ctx, 'o')),
      /inside an arc/,
    );
    const utc = tlv(0x17, [...Buffer.from('491231235959Z')]);
    assert.equal(time(readRoot(utc, ctx), ctx, 't').toISOString(), '2049-12-31T23:59:59.000Z');
    const gen = tlv(0x18, [...Buffer.from('20500101000000Z')]);
    assert.equal(time(readRoot(gen, ctx), ctx, 't').toISOString(), '2050-01-01T00:00:00.000Z');
    assert.match(
      derCode(() => time(readRoot(tlv(0x17, [...Buffer.from('250230000000Z')]), ctx), ctx, 't')),
      /real date/,
    );
    assert.match(
      derCode(() => time(readRoot(tlv(0x17, [...Buffer.from('2502010000Z')]), ctx), ctx, 't')),
      /UTCTime/,
    );
  });
});

describe('certificates and CRLs from real collateral', () => {
  it('pins the Intel root by its published SHA-256 and it self-verifies', () => {
    const root = parseCertificate(INTEL_SGX_ROOT_CA_DER, ctx);
    assert.equal(root.sha256, INTEL_SGX_ROOT_CA_SHA256);
    assert.equal(root.subject.text, 'CN=Intel SGX Root CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US');
    assert.equal(root.notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
    assert.equal(root.isCa, true);
    assert.equal(root.serialHex, '22650cd65a9d3489f383b49552bf501b392706ac');
    assert.equal(
      toHex(root.publicKeyPoint!),
      '040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394',
    );
    assert.equal(verifySignedBy(root, root), true);
  });

  it('parses the collateral CRLs with their windows and revoked serials', () => {
    const c = caseCollateral(dcapCase('automata-quotev3-platform@2025-08'));
    const pck = parseCrl(c.pck_crl, ctx);
    assert.equal(pck.issuer.commonName, 'Intel SGX PCK Platform CA');
    assert.equal(pck.thisUpdate.toISOString(), '2025-08-15T05:41:26.000Z');
    assert.equal(pck.nextUpdate.toISOString(), '2025-09-14T05:41:26.000Z');
    assert.equal(pck.revokedSerials.size, 44);
    const root = parseCrl(c.root_ca_crl, ctx);
    assert.equal(root.issuer.commonName, 'Intel SGX Root CA');
    assert.equal(verifySignedBy(root, parseCertificate(INTEL_SGX_ROOT_CA_DER, ctx)), true);
  });

  it('rejects a certificate whose outer algorithm differs from the inner one', () => {
    const der = new Uint8Array(INTEL_SGX_ROOT_CA_DER);
    // The outer AlgorithmIdentifier follows the TBS; its last OID byte (…04 03 02) is changed to 03.
    const tbsLen = (der[6]! << 8) | der[7]!;
    const at = 4 + 4 + tbsLen + 2 + 2 + 7;
    assert.equal(der[at], 0x02);
    der[at] = 0x03;
    assert.match(
      derCode(() => parseCertificate(der, ctx)),
      /ecdsa-with-SHA256|differ/,
    );
  });
});

describe('PEM', () => {
  const chain = parseQuote(caseQuote(dcapCase('phala-sgx-v3-processor'))).pckChainPem!;

  it('splits a chain into DER blocks', () => {
    assert.equal(pemBlocks(chain, 'CERTIFICATE', ctx).length, 3);
  });

  it('rejects junk between blocks, broken base64 and non-canonical padding bits', () => {
    assert.match(
      derCode(() => pemBlocks(chain + ' ', 'CERTIFICATE', ctx)),
      /expected/,
    );
    assert.match(
      derCode(() => pemBlocks(chain.replace('\n', '\n!'), 'CERTIFICATE', ctx)),
      /base64/,
    );
    const lines = chain.split('\n');
    const last = lines.findIndex((l) => l.endsWith('='));
    const l = lines[last]!;
    const i = l.indexOf('=') - 1;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const flipped = alphabet[alphabet.indexOf(l[i]!) ^ 1]!;
    lines[last] = l.slice(0, i) + flipped + l.slice(i + 1);
    assert.match(
      derCode(() => pemBlocks(lines.join('\n'), 'CERTIFICATE', ctx)),
      /canonical|DER|not valid/,
    );
  });
});

describe('PCK SGX extension', () => {
  it('reads the Processor-CA leaf of the phala quote', () => {
    const pem = parseQuote(caseQuote(dcapCase('phala-sgx-v3-processor'))).pckChainPem!;
    const leaf = parseCertificate(pemBlocks(pem, 'CERTIFICATE', ctx)[0]!, ctx);
    const e = parsePckExtension(leaf);
    assert.equal(toHex(e.fmspc), '00a067110000');
    assert.equal(toHex(e.pceId), '0000');
    assert.deepEqual(e.tcb.components, [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(e.tcb.pceSvn, 13);
    assert.equal(toHex(e.tcb.cpuSvn), '0b0b0202ff0100000000000000000000');
    assert.equal(e.sgxType, 0);
    assert.equal(e.ppid.length, 16);
    assert.equal(e.platformInstanceId, undefined);
  });

  it('reads the Platform-CA extras (instance ID, configuration)', () => {
    const pem = parseQuote(caseQuote(dcapCase('automata-quotev3-platform@2025-08'))).pckChainPem!;
    const e = parsePckExtension(parseCertificate(pemBlocks(pem, 'CERTIFICATE', ctx)[0]!, ctx));
    assert.equal(e.sgxType, 1);
    assert.equal(e.platformInstanceId!.length, 16);
    assert.deepEqual(e.configuration, { dynamicPlatform: true, cachedKeys: false, smtEnabled: false });
  });

  it('requires every entry, once', () => {
    const pem = parseQuote(caseQuote(dcapCase('phala-sgx-v3-processor'))).pckChainPem!;
    const leaf = parseCertificate(pemBlocks(pem, 'CERTIFICATE', ctx)[0]!, ctx);
    const value = findExtension(leaf, OID.sgxExtension)!.value;
    // Rename the FMSPC entry's OID (…13.1.4) to an unknown one (…13.1.9): FMSPC is then missing.
    const hex = toHex(value);
    const fmspcOid = '060a2a864886f84d010d0104';
    assert.ok(hex.includes(fmspcOid));
    const renamed = h(hex.replace(fmspcOid, '060a2a864886f84d010d0109'));
    assert.match(
      derCode(() => parsePckExtensionValue(renamed)),
      /FMSPC\) is missing/,
    );
    // Duplicate the PCE-ID entry's OID over the FMSPC one: a duplicate.
    const dup = h(hex.replace(fmspcOid, '060a2a864886f84d010d0103'));
    assert.match(
      derCode(() => parsePckExtensionValue(dup)),
      /twice/,
    );
    assert.match(
      derCode(() => parsePckExtensionValue(value.subarray(0, value.length - 1))),
      /overruns|truncated/,
    );
  });

  it('rejects a certificate without the extension', () => {
    const root = parseCertificate(INTEL_SGX_ROOT_CA_DER, ctx);
    assert.match(
      derCode(() => parsePckExtension(root)),
      /missing/,
    );
  });

  it('parses the Intel test root used by the wrong-root vector', () => {
    const pem = Buffer.from(readVector('dcap', 'intel-qvl-sample/trustedRootCaCert.pem')).toString();
    const [der] = pemBlocks(pem, 'CERTIFICATE', ctx);
    const c = parseCertificate(der!, ctx);
    assert.equal(c.subject.commonName, 'Intel SGX Root CA');
    assert.notEqual(c.sha256, INTEL_SGX_ROOT_CA_SHA256);
  });
});
