import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AttestationError } from '../errors.js';
import { createRatlsCertificate } from './certificate.js';
import { readRatlsCertificate, type RatlsCertificate } from './read.js';

/** One DER element (test inputs only). */
function tlv(tag: number, ...content: (Uint8Array | number[] | string)[]): Buffer {
  const body = Buffer.concat(content.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : Buffer.from(c))));
  const n = body.length;
  const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(head), body]);
}
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** Children of the constructed element at the start of `buf` (framing of a certificate we built). */
function kids(buf: Buffer): Buffer[] {
  const header = (p: number): [number, number] => {
    let len = buf[p + 1]!;
    let start = p + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = buf.subarray(start, start + n).reduce((a, b) => a * 256 + b, 0);
      start += n;
    }
    return [start, start + len];
  };
  const out: Buffer[] = [];
  const [from, to] = header(0);
  for (let p = from; p < to;) {
    const end = header(p)[1];
    out.push(buf.subarray(p, end));
    p = end;
  }
  return out;
}

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const base = Buffer.from(
  createRatlsCertificate({
    ...keys,
    quote: new Uint8Array(randomBytes(1200)),
    subject: 'CN=app.example.com,O=Example Corp,C=FR',
    san: 'app.example.com',
    notAfter: new Date(Date.now() + 86_400_000),
  }).der,
);
const [tbsT, algT, sigT] = kids(base) as [Buffer, Buffer, Buffer];
/** version, serial, signature, issuer, validity, subject, spki, extensions */
const TBS = kids(tbsT);
const [SAN, QUOTE, BC] = kids(kids(TBS[7]!)[0]!) as [Buffer, Buffer, Buffer];

/** The base certificate with TBS fields replaced (`null` removes one); the signature is left stale. */
function variant(fields: Record<number, Buffer | null>, alg = algT): Buffer {
  const tbs = TBS.map((t, i) => (i in fields ? fields[i] : t)).filter((t): t is Buffer => t !== null);
  return tlv(0x30, tlv(0x30, ...tbs), alg, sigT);
}
const withName = (name: Buffer): Buffer => variant({ 3: name, 5: name });
const nameOf = (tag: number, value: string | number[]): Buffer =>
  tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, hex('550403')), tlv(tag, value))));
const withExtensions = (...exts: Buffer[]): Buffer => variant({ 7: tlv(0xa3, tlv(0x30, ...exts)) });
const extension = (oidHex: string, value: Buffer, critical = false): Buffer =>
  tlv(0x30, tlv(0x06, hex(oidHex)), ...(critical ? [tlv(0x01, [0xff])] : []), tlv(0x04, value));
const validity = (notBefore: Buffer): Buffer => variant({ 4: tlv(0x30, notBefore, tlv(0x17, '310101000000Z')) });

function read(der: Buffer): RatlsCertificate | string {
  try {
    return readRatlsCertificate(der);
  } catch (error) {
    assert.ok(error instanceof AttestationError, String(error));
    assert.equal(error.stage, 'ratls');
    return error.code;
  }
}
function ok(der: Buffer): RatlsCertificate {
  const r = read(der);
  assert.ok(typeof r !== 'string', `expected a certificate, got ${String(r)}`);
  return r;
}

describe('readRatlsCertificate: behaviour pinned when it moved off the ASN.1 library', () => {
  it('reads GeneralizedTime with canonical millisecond fractions only', () => {
    assert.equal(ok(validity(tlv(0x18, '20300101000000.5Z'))).notBefore.toISOString(), '2030-01-01T00:00:00.500Z');
    assert.equal(ok(validity(tlv(0x18, '20300101000000.05Z'))).notBefore.toISOString(), '2030-01-01T00:00:00.050Z');
    assert.equal(ok(validity(tlv(0x18, '19490101000000Z'))).notBefore.toISOString(), '1949-01-01T00:00:00.000Z');
    for (const t of ['20300101000000.500Z', '20300101000000.1234Z', '20300101000000.Z', '20230229000000Z']) {
      assert.equal(read(validity(tlv(0x18, t))), 'ERR_RATLS_DER', t);
    }
    assert.equal(read(validity(tlv(0x17, '300101000000.5Z'))), 'ERR_RATLS_DER');
  });

  it('checks the version, serial and algorithms with their own codes, after the structure', () => {
    assert.equal(read(variant({ 0: null })), 'ERR_RATLS_VERSION'); // v1: no version field
    assert.equal(read(variant({ 0: tlv(0xa0, tlv(0x02, [1])) })), 'ERR_RATLS_VERSION');
    assert.equal(read(variant({ 0: tlv(0xa0, tlv(0x02, [0])) })), 'ERR_RATLS_DER'); // DEFAULT written out
    assert.equal(read(variant({ 0: tlv(0xa0, tlv(0x02, [0, 2])) })), 'ERR_RATLS_DER');
    assert.equal(read(variant({ 0: null, 3: nameOf(0x0c, 'x') })), 'ERR_RATLS_VERSION'); // before the issuer check
    assert.equal(ok(variant({ 1: tlv(0x02, [0, 1]) })).serialNumber, '0001'); // as encoded
    for (const serial of [[], [0], [0x81]]) assert.equal(read(variant({ 1: tlv(0x02, serial) })), 'ERR_RATLS_SERIAL');
    const nullParams = tlv(0x30, tlv(0x06, hex('2a8648ce3d040302')), tlv(0x05));
    ok(variant({ 2: nullParams }, nullParams));
    assert.equal(read(variant({ 2: tlv(0x30, tlv(0x06, hex('2a8648ce3d040303'))) })), 'ERR_RATLS_SIGNATURE_ALGORITHM');
    assert.equal(read(variant({ 7: tlv(0xa3, tlv(0x30)) })), 'ERR_RATLS_NO_QUOTE');
    assert.equal(read(variant({ 7: Buffer.concat([tlv(0x81, [0, 1]), TBS[7]!]) })), 'ERR_RATLS_DER'); // unique id
  });

  it('decodes subject values as before and formats them in RFC 4514', () => {
    assert.equal(ok(withName(nameOf(0x13, 'a@b'))).subject, 'CN=a@b');
    assert.equal(ok(withName(nameOf(0x1e, [0, 0x61, 0, 0xe9]))).subject, 'CN=aé'); // BMPString
    assert.equal(ok(withName(nameOf(0x12, '123'))).subject, 'CN=#1203313233'); // NumericString
    assert.equal(ok(withName(nameOf(0x0c, 'a,b+c'))).subject, 'CN=a\\,b\\+c');
    const twoAttributes = tlv(
      0x30,
      tlv(
        0x31,
        tlv(0x30, tlv(0x06, hex('550403')), tlv(0x0c, 'b')),
        tlv(0x30, tlv(0x06, hex('55040a')), tlv(0x0c, 'a')),
      ),
    );
    assert.equal(ok(withName(twoAttributes)).subject, 'CN=b+O=a'); // encoded order, as read
    assert.equal(read(withName(nameOf(0x0c, [0xff, 0xfe]))), 'ERR_RATLS_DER'); // invalid UTF-8
    assert.equal(read(withName(nameOf(0x1e, [0, 0x61, 0]))), 'ERR_RATLS_DER'); // odd BMPString
    assert.equal(read(withName(tlv(0x30))), 'ERR_RATLS_SUBJECT');
    // An issuer with an odd value is a different issuer, not a malformed certificate.
    assert.equal(read(variant({ 3: nameOf(0x0d, [1]) })), 'ERR_RATLS_NOT_SELF_ISSUED');
  });

  it('reads the SAN and BasicConstraints as before', () => {
    const san = (...names: Buffer[]): Buffer => extension('551d11', tlv(0x30, ...names));
    const v4mapped = ok(withExtensions(san(tlv(0x87, hex('00000000000000000000ffff0a010203'))), QUOTE, BC));
    assert.deepEqual([v4mapped.san, v4mapped.sanType], ['::ffff:a01:203', 'ip']);
    assert.equal(
      ok(withExtensions(san(tlv(0x87, hex('20010db8000000010000000000000001'))), QUOTE)).san,
      '2001:db8:0:1::1',
    );
    assert.equal(ok(withExtensions(san(tlv(0x82, 'App.Example.COM')), QUOTE)).san, 'App.Example.COM');
    assert.equal(read(withExtensions(san(tlv(0x87, [10, 0, 0, 1, 255, 255, 255, 0])), QUOTE)), 'ERR_RATLS_SAN');
    assert.equal(read(withExtensions(san(tlv(0x86, 'https://x')), QUOTE)), 'ERR_RATLS_SAN');
    const bc = (...fields: Buffer[]): Buffer => extension('551d13', tlv(0x30, ...fields), true);
    assert.equal(ok(withExtensions(SAN, QUOTE, bc(tlv(0x01, [0x00])))).isCa, false); // explicit FALSE, MSE lib style
    assert.equal(ok(withExtensions(SAN, QUOTE, bc(tlv(0x02, [3])))).isCa, false);
    assert.equal(ok(withExtensions(SAN, QUOTE, bc(tlv(0x01, [0xff]), tlv(0x02, [0])))).isCa, true);
    assert.equal(ok(withExtensions(SAN, QUOTE)).isCa, false);
  });

  it('now rejects BER in the SAN and BasicConstraints payloads, and constructed name values', () => {
    // The ASN.1 library parsed these payloads leniently; DER certificates never contain them.
    const sanValue = (value: Buffer): Buffer => withExtensions(extension('551d11', value), QUOTE, BC);
    assert.equal(read(sanValue(Buffer.concat([tlv(0x30, tlv(0x82, 'x')), Buffer.of(0)]))), 'ERR_RATLS_SAN');
    assert.equal(read(sanValue(Buffer.concat([Buffer.of(0x30, 0x81, 3), tlv(0x82, 'x')]))), 'ERR_RATLS_SAN');
    const bcValue = (value: Buffer): Buffer => withExtensions(SAN, QUOTE, extension('551d13', value, true));
    assert.equal(read(bcValue(Buffer.concat([tlv(0x30, tlv(0x01, [0xff])), Buffer.of(5, 0)]))), 'ERR_RATLS_DER');
    assert.equal(read(bcValue(tlv(0x30, tlv(0x01, [0x01])))), 'ERR_RATLS_DER');
    assert.equal(read(withName(tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, hex('550403')), tlv(0x30)))))), 'ERR_RATLS_DER');
    // The reserved tag 0 is never an element.
    const spki = kids(TBS[6]!);
    const badCurve = tlv(
      0x30,
      tlv(0x30, tlv(0x06, hex('2a8648ce3d0201')), tlv(0x00, hex('2a8648ce3d030107'))),
      spki[1]!,
    );
    assert.equal(read(variant({ 6: badCurve })), 'ERR_RATLS_DER');
  });

  it('loads no ASN.1 library on the reading paths', () => {
    const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const modules = [
      'ratls/read.js',
      'ratls/dn.js',
      'ratls/format.js',
      'verify/verify-evidence.js',
      'cli/quote-input.js',
      'cli/commands/seal.js',
      'cli/commands/verify.js',
      'deploy/enclave-client.js',
    ].map((m) => path.join(dist, m));
    const script = [
      "import { createRequire } from 'node:module';",
      ...modules.map((m) => `await import(${JSON.stringify(new URL(`file://${m}`).href)});`),
      'const cache = Object.keys(createRequire(import.meta.url).cache);',
      'console.log(JSON.stringify(cache.filter((k) => /@peculiar|asn1js/.test(k))));',
    ].join('\n');
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    );
    assert.deepEqual(loaded, []);
  });
});
