import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { vectorPath } from '../testing/vectors.js';
import { loadOrCreateSignerKey, loadSignerKey, mrsignerFromPublicKey } from './signer.js';

test('MRSIGNER from MSE evidence signer_pk equals the MRSIGNER in its real SGX quote', () => {
  const evidence = JSON.parse(readFileSync(vectorPath('mse', 'evidence.json'), 'utf8')) as {
    signer_pk: string;
    ratls_certificate: string;
  };
  const der = Buffer.from(evidence.ratls_certificate.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const ext = AsnConvert.parse(der, Certificate).tbsCertificate.extensions?.find(
    (e) => e.extnID === '1.2.840.113741.1337.6',
  );
  assert.ok(ext, 'RA-TLS quote extension');
  const quote = Buffer.from(ext.extnValue.buffer);
  const expected = quote.subarray(176, 208).toString('hex');
  assert.equal(Buffer.from(mrsignerFromPublicKey(evidence.signer_pk)).toString('hex'), expected);
});

test('loadOrCreateSignerKey generates RSA-3072 e=3 (PKCS#1 PEM, 0600) once, then reloads it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-signer-'));
  const file = path.join(dir, 'gramine', 'enclave-key.pem');
  const [a, b] = await Promise.all([loadOrCreateSignerKey(file), loadOrCreateSignerKey(file)]);
  assert.equal(a.publicKeyPem, b.publicKeyPem, 'concurrent first uses agree');
  assert.equal([a.created, b.created].filter(Boolean).length, 1);
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.dirname(file))).mode & 0o777, 0o700);
  const pem = await fs.readFile(file, 'utf8');
  assert.match(pem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  const d = a.privateKey.asymmetricKeyDetails;
  assert.equal(d?.modulusLength, 3072);
  assert.equal(d?.publicExponent, 3n);
  const again = await loadOrCreateSignerKey(file);
  assert.equal(again.created, false);
  assert.deepEqual(again.mrSigner, a.mrSigner);
  assert.deepEqual(mrsignerFromPublicKey(again.publicKeyPem), a.mrSigner);
  assert.deepEqual(mrsignerFromPublicKey(pem), a.mrSigner, 'private PEM accepted too');
  assert.deepEqual((await fs.readdir(path.dirname(file))).sort(), ['enclave-key.pem']);
  assert.deepEqual((await loadSignerKey(file)).mrSigner, a.mrSigner);
  await fs.rm(dir, { recursive: true });
});

test('loadSignerKey never creates a key (evidence must use the key the enclave was signed with)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-signer-'));
  const file = path.join(dir, 'absent', 'enclave-key.pem');
  await assert.rejects(loadSignerKey(file), { code: 'ERR_FILE_NOT_FOUND' });
  assert.deepEqual(await fs.readdir(dir), []);
  await fs.rm(dir, { recursive: true });
});

test('a signer key of the wrong kind is refused, never replaced', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-signer-'));
  const wrong = path.join(dir, 'rsa2048.pem');
  const k = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const pem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await fs.writeFile(wrong, pem);
  await assert.rejects(loadOrCreateSignerKey(wrong), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'ERR_SIGNER_KEY_SIZE');
    assert.match((e as Error).message, /RSA-2048 with e=65537.*RSA-3072 with e=3/);
    return true;
  });
  assert.equal(await fs.readFile(wrong, 'utf8'), pem);
  const ec = path.join(dir, 'ec.pem');
  await fs.writeFile(
    ec,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  await assert.rejects(loadOrCreateSignerKey(ec), { code: 'ERR_SIGNER_KEY_TYPE' });
  const junk = path.join(dir, 'junk.pem');
  await fs.writeFile(junk, 'not a key');
  await assert.rejects(
    loadOrCreateSignerKey(junk),
    (e: unknown) => (e as { code?: string }).code === 'ERR_SIGNER_KEY_PARSE',
  );
  const encrypted = path.join(dir, 'enc.pem');
  await fs.writeFile(
    encrypted,
    k.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }),
  );
  await assert.rejects(loadOrCreateSignerKey(encrypted), /passphrase-protected/);
  assert.throws(() => mrsignerFromPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), {
    code: 'ERR_SIGNER_KEY_TYPE',
    message: /the signer key is ec; SGX enclave signing needs RSA-3072 with e=3/,
  });
  assert.throws(
    () => mrsignerFromPublicKey('garbage'),
    (e: unknown) => (e as { code?: string }).code === 'ERR_SIGNER_KEY_PARSE',
  );
  await fs.rm(dir, { recursive: true });
});

test('a signer key file with a public exponent other than 3 is refused (MRSIGNER would not tell)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-signer-'));
  const file = path.join(dir, 'e5.pem');
  const k = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 5 });
  const pem = k.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  await fs.writeFile(file, pem);
  for (const load of [loadSignerKey, loadOrCreateSignerKey]) {
    await assert.rejects(load(file), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'ERR_SIGNER_KEY_EXPONENT');
      assert.match(
        (e as Error).message,
        /signer key .*e5\.pem is RSA-3072 with e=5; SGX enclave signing needs RSA-3072 with e=3/,
      );
      return true;
    });
  }
  assert.equal(await fs.readFile(file, 'utf8'), pem, 'never replaced');
  assert.throws(() => mrsignerFromPublicKey(k.publicKey), { code: 'ERR_SIGNER_KEY_EXPONENT' });
  await fs.rm(dir, { recursive: true });
});
