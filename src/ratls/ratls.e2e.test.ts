// Interoperability of RA-TLS certificates with OpenSSL and Python's `cryptography` (Debian's).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  QUOTE_REPORT_DATA_OFFSET,
  checkRatlsBinding,
  createRatlsCertificate,
  ratlsReportData,
  readRatlsCertificate,
} from './index.js';
import { normalizeSubject, parseSubject, subjectToName } from './subject.js';

const PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(path.join(tmpdir(), 'ratls-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function boundCert(subject: string, san: string) {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const quote = randomBytes(2000);
  const x25519 = randomBytes(32);
  Buffer.from(ratlsReportData(keys.publicKey, x25519)).copy(quote, QUOTE_REPORT_DATA_OFFSET);
  const cert = createRatlsCertificate({ ...keys, quote, subject, san, notAfter: new Date(Date.now() + 86_400_000) });
  return { ...cert, quote, x25519 };
}

const READ_WITH_CRYPTOGRAPHY = `
import json, sys, hashlib
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
c = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
c.public_key().verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName)
bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
q = c.extensions.get_extension_for_oid(x509.ObjectIdentifier('1.2.840.113741.1337.6'))
point = c.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
print(json.dumps({
  'subject': c.subject.rfc4514_string(),
  'subject_der': c.subject.public_bytes().hex(),
  'parsed_input_der': x509.Name.from_rfc4514_string(sys.argv[2]).public_bytes().hex(),
  'self_issued': c.issuer == c.subject,
  'san': [str(v) for v in san.value],
  'san_critical': san.critical,
  'ca': bc.value.ca, 'bc_critical': bc.critical,
  'quote_sha256': hashlib.sha256(q.value.value).hexdigest(), 'quote_critical': q.critical,
  'binding': hashlib.sha256(point).digest() == q.value.value[368:400],
  'serial_positive': c.serial_number > 0,
  'not_after': int(c.not_valid_after.timestamp()) if c.not_valid_after.tzinfo else None,
  'sig_alg': c.signature_algorithm_oid.dotted_string,
}))
`;

describe('RA-TLS interop', () => {
  for (const [subject, san] of [
    ['CN=app.example.com,O=Example Corp,L=Paris,ST=Ile-de-France,C=FR', 'app.example.com'],
    ['CN=Zoë \\+ co\\,ltd,OU=R&D+O=Acme,C=DE', '192.0.2.7'],
  ] as const) {
    it(`Python cryptography reads our certificate (${san})`, () => {
      const c = boundCert(subject, san);
      const file = path.join(dir, `${san}.pem`);
      writeFileSync(file, c.pem);
      const out = JSON.parse(execFileSync(PYTHON, ['-c', READ_WITH_CRYPTOGRAPHY, file, subject], { encoding: 'utf8' }));
      const ours = readRatlsCertificate(c.pem);
      assert.equal(normalizeSubject(out.subject), ours.subject); // Python orders a '+' group its own way
      assert.equal(
        out.subject_der,
        Buffer.from(AsnConvert.serialize(subjectToName(parseSubject(subject)))).toString('hex'),
      );
      assert.equal(out.parsed_input_der, out.subject_der, 'Python parses the RFC 4514 string to the same DER');
      assert.equal(out.self_issued, true);
      assert.deepEqual(out.san.length, 1);
      assert.equal(out.san_critical, false);
      assert.equal(out.ca, true);
      assert.equal(out.bc_critical, true);
      assert.equal(out.quote_critical, false);
      assert.equal(out.quote_sha256, createHash('sha256').update(c.quote).digest('hex'));
      assert.equal(out.binding, true);
      assert.equal(out.serial_positive, true);
      assert.equal(out.sig_alg, '1.2.840.10045.4.3.2');
    });
  }

  it('OpenSSL prints it and accepts it as its own trust anchor', () => {
    const c = boundCert('CN=localhost,O=Test,C=FR', 'localhost');
    const file = path.join(dir, 'openssl.pem');
    writeFileSync(file, c.pem);
    const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Subject: C = FR, O = Test, CN = localhost/);
    assert.match(text, /Issuer: C = FR, O = Test, CN = localhost/);
    assert.match(text, /DNS:localhost/);
    assert.match(text, /1\.2\.840\.113741\.1337\.6:/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    const verified = execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' });
    assert.match(verified, /: OK/);
  });

  it('we read an RA-TLS certificate built by Python cryptography', () => {
    const keyFile = path.join(dir, 'py.pem');
    const script = `
import sys, hashlib, os, datetime, ipaddress
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
k = ec.generate_private_key(ec.SECP256R1())
point = k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
quote = bytearray(os.urandom(1500))
quote[368:400] = hashlib.sha256(point).digest()
name = x509.Name.from_rfc4514_string('CN=py.example,O=Py,C=FR')
now = datetime.datetime.utcnow()
c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
  .serial_number(x509.random_serial_number()).not_valid_before(now)
  .not_valid_after(now + datetime.timedelta(days=1))
  .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('::1'))]), critical=False)
  .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier('1.2.840.113741.1337.6'), bytes(quote)), critical=False)
  .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
  .sign(k, hashes.SHA256()))
open(sys.argv[1], 'wb').write(c.public_bytes(Encoding.PEM))
`;
    execFileSync(PYTHON, ['-c', script, keyFile]);
    const r = checkRatlsBinding(readFileSync(keyFile, 'utf8'));
    assert.equal(r.subject, 'CN=py.example,O=Py,C=FR');
    assert.equal(r.san, '::1');
    assert.equal(r.sanType, 'ip');
    assert.equal(r.quote.length, 1500);
  });
});
