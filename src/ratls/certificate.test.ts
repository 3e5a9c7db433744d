import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, Extension, GeneralName, SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { AttestationError, InputError } from '../errors.js';
import { vectorPath } from '../testing/vectors.js';
import {
  QUOTE_REPORT_DATA_OFFSET,
  SGX_QUOTE_EXTENSION_OID,
  checkRatlsBinding,
  checkRatlsKeyBinding,
  checkRatlsValidity,
  createRatlsCertificate,
  normalizeSan,
  ratlsReportData,
  readRatlsCertificate,
  verifyRatlsSignature,
} from './index.js';
import { normalizeSubject, parseSubject, subjectToName } from './subject.js';

const DAY = 86_400_000;

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** A quote-shaped blob (bytes are random; only report_data at 368 matters here) bound to `publicKey`. */
function fakeQuote(publicKey: KeyObject, x25519 = randomBytes(32), size = 1200): Uint8Array {
  const quote = randomBytes(size);
  Buffer.from(ratlsReportData(publicKey, x25519)).copy(quote, QUOTE_REPORT_DATA_OFFSET);
  return new Uint8Array(quote);
}

function makeCert(overrides: Partial<Parameters<typeof createRatlsCertificate>[0]> = {}) {
  const keys = keyPair();
  const x25519 = randomBytes(32);
  const quote = fakeQuote(keys.publicKey, x25519);
  const opts = {
    ...keys,
    quote,
    subject: 'CN=app.example.com,O=Example Corp,C=FR',
    san: 'app.example.com',
    notAfter: new Date(Date.now() + 30 * DAY),
    ...overrides,
  };
  return { ...createRatlsCertificate(opts), keys, x25519, quote: opts.quote };
}

/** Parse `der`, let `mutate` change the TBS, and re-sign with `privateKey` so only the mutation is wrong. */
function resign(der: Uint8Array, privateKey: KeyObject, mutate: (cert: Certificate) => void): Uint8Array {
  const cert = AsnConvert.parse(der, Certificate);
  mutate(cert);
  const tbs = Buffer.from(AsnConvert.serialize(cert.tbsCertificate));
  cert.signatureValue = new Uint8Array(sign('sha256', tbs, privateKey)).buffer;
  cert.tbsCertificateRaw = undefined;
  return new Uint8Array(AsnConvert.serialize(cert));
}

function expectRatlsError(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AttestationError, `expected AttestationError, got ${String(error)}`);
    assert.equal(error.stage, 'ratls');
    assert.equal(error.code, code);
    return true;
  });
}

describe('createRatlsCertificate / readRatlsCertificate', () => {
  it('round-trips every field', () => {
    const notBefore = new Date('2030-01-02T03:04:05.678Z');
    const notAfter = new Date('2031-01-02T03:04:05.999Z');
    const c = makeCert({ notBefore, notAfter, subject: 'CN=a\\,b,O=Acme+OU=Lab,C=DE', san: '10.1.2.3' });
    const r = readRatlsCertificate(c.pem);
    assert.equal(r.subject, 'CN=a\\,b,OU=Lab+O=Acme,C=DE');
    assert.equal(r.subject, normalizeSubject('cn=a\\2cb,o=Acme+ou=Lab,c=DE'));
    assert.equal(r.san, '10.1.2.3');
    assert.equal(r.sanType, 'ip');
    assert.equal(r.notBefore.toISOString(), '2030-01-02T03:04:05.000Z');
    assert.equal(r.notAfter.toISOString(), '2031-01-02T03:04:05.000Z');
    assert.equal(r.isCa, true);
    assert.deepEqual(Buffer.from(r.quote), Buffer.from(c.quote));
    assert.deepEqual(Buffer.from(r.x25519PublicKey), c.x25519);
    assert.equal(r.publicKeyPoint.length, 65);
    assert.deepEqual(Buffer.from(r.der), Buffer.from(c.der));
    assert.equal(r.pem, c.pem);
    assert.equal(r.fingerprint, createHash('sha256').update(c.der).digest('hex'));
    assert.match(r.serialNumber, /^[4-7][0-9a-f]{31}$/);
    // DER input and PEM bytes give the same result
    assert.equal(readRatlsCertificate(c.der).fingerprint, r.fingerprint);
    assert.equal(readRatlsCertificate(Buffer.from(c.pem)).fingerprint, r.fingerprint);
    checkRatlsBinding(c.pem, { at: new Date('2030-06-01T00:00:00Z') });
  });

  it('encodes DNS and IPv6 SANs', () => {
    assert.equal(readRatlsCertificate(makeCert({ san: 'localhost' }).der).sanType, 'dns');
    const v6 = readRatlsCertificate(makeCert({ san: '2001:DB8::1' }).der);
    assert.equal(v6.sanType, 'ip');
    assert.equal(v6.san, '2001:db8::1');
    assert.equal(normalizeSan('2001:DB8:0::1'), '2001:db8::1');
    assert.equal(normalizeSan('App.Example.COM'), 'app.example.com');
  });

  it('gives each certificate a fresh serial', () => {
    assert.notEqual(
      readRatlsCertificate(makeCert().der).serialNumber,
      readRatlsCertificate(makeCert().der).serialNumber,
    );
  });

  it('rejects bad inputs with InputError', () => {
    const keys = keyPair();
    const quote = fakeQuote(keys.publicKey);
    const base = { ...keys, quote, subject: 'CN=x', san: 'x', notAfter: new Date(Date.now() + DAY) };
    const bad: [Partial<typeof base>, string][] = [
      [{ san: 'bad name!' }, 'ERR_RATLS_SAN_INVALID'],
      [{ san: '' }, 'ERR_RATLS_SAN_INVALID'],
      [{ subject: 'CN=x, O=y' }, 'ERR_SUBJECT_INVALID'],
      [{ quote: quote.slice(0, 431) }, 'ERR_RATLS_QUOTE_SIZE'],
      [{ notAfter: new Date(Date.now() - DAY) }, 'ERR_RATLS_DATE_INVALID'],
      [{ notAfter: new Date(NaN) }, 'ERR_RATLS_DATE_INVALID'],
      [{ publicKey: keyPair().publicKey }, 'ERR_RATLS_KEY_MISMATCH'],
      [{ ...generateKeyPairSync('ec', { namedCurve: 'P-384' }) }, 'ERR_RATLS_KEY_TYPE'],
    ];
    for (const [override, code] of bad) {
      assert.throws(
        () => createRatlsCertificate({ ...base, ...override }),
        (e: unknown) => e instanceof InputError && e.code === code,
        code,
      );
    }
  });
});

describe('checkRatlsBinding', () => {
  it('rejects a quote bound to another key', () => {
    const keys = keyPair();
    const c = createRatlsCertificate({
      ...keys,
      quote: fakeQuote(keyPair().publicKey),
      subject: 'CN=x',
      san: 'x',
      notAfter: new Date(Date.now() + DAY),
    });
    const r = readRatlsCertificate(c.der);
    verifyRatlsSignature(r); // the certificate itself is fine
    expectRatlsError(() => checkRatlsKeyBinding(r), 'ERR_RATLS_KEY_BINDING');
    expectRatlsError(() => checkRatlsBinding(c.pem), 'ERR_RATLS_KEY_BINDING');
  });

  it('rejects a byte changed after signing', () => {
    const c = makeCert();
    const der = Buffer.from(c.der);
    // a quote byte outside report_data: the structure stays valid, the signature does not
    const at = der.indexOf(Buffer.from(c.quote).subarray(1000, 1032));
    assert.ok(at > 0);
    der[at] = der[at]! ^ 0x01;
    const r = readRatlsCertificate(der);
    expectRatlsError(() => verifyRatlsSignature(r), 'ERR_RATLS_SIGNATURE');
    expectRatlsError(() => checkRatlsBinding(der), 'ERR_RATLS_SIGNATURE');
  });

  it('rejects a certificate signed by another key', () => {
    const c = makeCert();
    const der = resign(c.der, keyPair().privateKey, () => undefined);
    expectRatlsError(() => checkRatlsBinding(der), 'ERR_RATLS_SIGNATURE');
  });

  it('checks the validity period at the given time, bounds inclusive', () => {
    const notBefore = new Date('2024-01-01T00:00:00Z');
    const notAfter = new Date('2024-02-01T00:00:00Z');
    const r = readRatlsCertificate(makeCert({ notBefore, notAfter }).der);
    expectRatlsError(() => checkRatlsBinding(r), 'ERR_RATLS_EXPIRED'); // now
    expectRatlsError(() => checkRatlsValidity(r, new Date('2024-02-01T00:00:01Z')), 'ERR_RATLS_EXPIRED');
    expectRatlsError(() => checkRatlsValidity(r, new Date('2023-12-31T23:59:59Z')), 'ERR_RATLS_NOT_YET_VALID');
    checkRatlsValidity(r, notBefore);
    checkRatlsValidity(r, notAfter);
    assert.equal(checkRatlsBinding(r, { at: new Date('2024-01-15T00:00:00Z') }), r);
  });
});

describe('readRatlsCertificate is strict', () => {
  it('rejects two SAN entries', () => {
    const c = makeCert();
    const der = resign(c.der, c.keys.privateKey, (cert) => {
      const ext = cert.tbsCertificate.extensions!.find((e) => e.extnID === id_ce_subjectAltName)!;
      const names = new SubjectAlternativeName([
        new GeneralName({ dNSName: 'app.example.com' }),
        new GeneralName({ dNSName: 'evil.example.com' }),
      ]);
      ext.extnValue = new OctetString(AsnConvert.serialize(names));
    });
    expectRatlsError(() => readRatlsCertificate(der), 'ERR_RATLS_SAN');
  });

  it('rejects a missing or duplicated quote extension, and a missing SAN', () => {
    const c = makeCert();
    const noQuote = resign(c.der, c.keys.privateKey, (cert) => {
      const exts = cert.tbsCertificate.extensions!;
      exts.splice(
        exts.findIndex((e) => e.extnID === SGX_QUOTE_EXTENSION_OID),
        1,
      );
    });
    expectRatlsError(() => readRatlsCertificate(noQuote), 'ERR_RATLS_NO_QUOTE');
    const twoQuotes = resign(c.der, c.keys.privateKey, (cert) => {
      const exts = cert.tbsCertificate.extensions!;
      exts.push(
        new Extension({ extnID: SGX_QUOTE_EXTENSION_OID, critical: false, extnValue: new OctetString(c.quote) }),
      );
    });
    expectRatlsError(() => readRatlsCertificate(twoQuotes), 'ERR_RATLS_DUPLICATE_EXTENSION');
    const noSan = resign(c.der, c.keys.privateKey, (cert) => {
      const exts = cert.tbsCertificate.extensions!;
      exts.splice(
        exts.findIndex((e) => e.extnID === id_ce_subjectAltName),
        1,
      );
    });
    expectRatlsError(() => readRatlsCertificate(noSan), 'ERR_RATLS_SAN');
  });

  it('rejects a short quote, an unknown critical extension and a different issuer', () => {
    const c = makeCert();
    const shortQuote = resign(c.der, c.keys.privateKey, (cert) => {
      const ext = cert.tbsCertificate.extensions!.find((e) => e.extnID === SGX_QUOTE_EXTENSION_OID)!;
      ext.extnValue = new OctetString(c.quote.slice(0, 400));
    });
    expectRatlsError(() => readRatlsCertificate(shortQuote), 'ERR_RATLS_QUOTE_SIZE');
    const critical = resign(c.der, c.keys.privateKey, (cert) => {
      cert.tbsCertificate.extensions!.push(
        new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: true, extnValue: new OctetString(new Uint8Array(2)) }),
      );
    });
    expectRatlsError(() => readRatlsCertificate(critical), 'ERR_RATLS_CRITICAL_EXTENSION');
    const otherIssuer = resign(c.der, c.keys.privateKey, (cert) => {
      cert.tbsCertificate.issuer = subjectToName(parseSubject('CN=other'));
    });
    expectRatlsError(() => readRatlsCertificate(otherIssuer), 'ERR_RATLS_NOT_SELF_ISSUED');
  });

  it('rejects framing problems', () => {
    const c = makeCert();
    expectRatlsError(() => readRatlsCertificate(Buffer.concat([c.der, Buffer.of(0)])), 'ERR_RATLS_DER');
    expectRatlsError(() => readRatlsCertificate(c.der.slice(0, c.der.length - 1)), 'ERR_RATLS_DER');
    expectRatlsError(() => readRatlsCertificate(c.pem + makeCert().pem), 'ERR_RATLS_PEM');
    expectRatlsError(() => readRatlsCertificate('hello'), 'ERR_RATLS_PEM');
    expectRatlsError(() => readRatlsCertificate(c.pem.replace('-----END', 'garbage\n-----END')), 'ERR_RATLS_PEM');
    expectRatlsError(() => readRatlsCertificate(new Uint8Array(0)), 'ERR_RATLS_PEM');
    // BER long-form length where DER needs the short form: same content, not canonical
    const ber = Buffer.from(c.der);
    assert.equal(ber[1], 0x82);
    const nonMinimal = Buffer.concat([Buffer.of(0x30, 0x83, 0x00), ber.subarray(2)]);
    expectRatlsError(() => readRatlsCertificate(nonMinimal), 'ERR_RATLS_DER');
  });

  it('only ever throws AttestationError on damaged input', () => {
    const c = makeCert();
    for (let cut = 1; cut < c.der.length; cut += 97) {
      assert.throws(() => readRatlsCertificate(c.der.slice(0, cut)), AttestationError);
    }
    const der = Buffer.from(c.der);
    for (let k = 0; k < 60; k++) {
      const copy = Buffer.from(der);
      const at = (k * 7919) % Math.min(copy.length, 400); // the header, names, key and extension framing
      copy[at] = copy[at]! ^ (1 << (k % 8));
      try {
        checkRatlsBinding(copy);
      } catch (error) {
        assert.ok(error instanceof AttestationError, `byte ${at}: ${String(error)}`);
      }
    }
  });
});

describe('MSE compatibility', () => {
  it('reads the RA-TLS certificate of a real MSE evidence.json (SGX hardware)', () => {
    const evidence = JSON.parse(readFileSync(vectorPath('mse', 'evidence.json'), 'utf8')) as {
      ratls_certificate: string;
    };
    const r = readRatlsCertificate(evidence.ratls_certificate);
    assert.equal(r.san, 'localhost');
    assert.equal(r.sanType, 'dns');
    assert.equal(r.subject, 'CN=localhost,O=Cosmian Tech,L=Paris,ST=Ile-de-France,C=FR');
    assert.equal(r.quote.length, 4734);
    assert.equal(r.isCa, false); // lib 2.0/2.1 wrote CA=FALSE
    assert.equal(r.x25519PublicKey.length, 32);
    checkRatlsBinding(r, { at: new Date('2023-06-10T00:00:00Z') });
    expectRatlsError(() => checkRatlsBinding(r, { at: new Date('2024-05-01T00:00:00Z') }), 'ERR_RATLS_EXPIRED');
  });
});
