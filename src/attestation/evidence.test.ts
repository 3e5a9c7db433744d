import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { createRatlsCertificate, readRatlsCertificate } from '../ratls/index.js';
import { readVectorText } from '../testing/vectors.js';
import { toHex } from './bytes.js';
import { parseEvidence, serializeEvidence, type Evidence } from './evidence.js';
import { mrsignerFromPublicKey } from './mrsigner.js';
import { verifyEvidence, type EvidenceVerdict } from '../verify/verify-evidence.js';

const text = readVectorText('mse', 'evidence.json');
const MRENCLAVE = '0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b';
const expected = { mrenclave: new Uint8Array(Buffer.from(MRENCLAVE, 'hex')) };

const notPassed = (v: EvidenceVerdict): string[] =>
  v.checks.filter((c) => c.status !== 'pass' && !c.policy).map((c) => `${c.id}:${c.status}`);

describe('evidence.json (MSE format)', () => {
  it('reads MSE’s real evidence and writes it back byte for byte', () => {
    const e = parseEvidence(text);
    assert.equal(e.inputArgs.subject, 'CN=localhost,O=MyApp Company,C=FR,L=Paris,ST=Ile-de-France');
    assert.equal(e.inputArgs.subjectAlternativeName, 'localhost');
    assert.equal(e.inputArgs.expirationDate, 1714058115);
    assert.equal(e.inputArgs.size, 4096);
    assert.equal(e.inputArgs.application, 'app:app');
    assert.equal(e.tcbInfoEncoding, 'base64-hex');
    assert.ok(Buffer.from(e.tcbInfoBody).toString().startsWith('{"tcbInfo":{"id":"SGX"'));
    assert.ok(Buffer.from(e.qeIdentityBody).toString().startsWith('{"enclaveIdentity":{"id":"QE"'));
    assert.equal(serializeEvidence(e), text);
  });

  it('writes the current encoding and our extra fields, and reads them back', () => {
    const e: Evidence = {
      ...parseEvidence(text),
      tcbInfoEncoding: 'base64',
      platform: 'sim',
      collectedAt: '2023-06-10T00:00:00Z',
      gramineManifest: '[libos]\nentrypoint = "/usr/bin/node"\n',
      gramineArgv: ['/usr/bin/node', '/opt/mse/bootstrap.mjs', '--size', '4096M'],
    };
    const out = serializeEvidence(e);
    const raw = JSON.parse(out) as Record<string, string>;
    assert.ok(Buffer.from(raw.tcb_info!, 'base64').toString().startsWith('{"tcbInfo"'));
    assert.equal(raw.platform, 'sim');
    assert.equal(raw.gramine_manifest, e.gramineManifest);
    assert.deepEqual(parseEvidence(out), e);
  });

  it('names the field in every error', () => {
    const base = JSON.parse(text) as Record<string, unknown>;
    const err = (patch: Record<string, unknown>): string => {
      try {
        parseEvidence(JSON.stringify({ ...base, ...patch }));
      } catch (error) {
        assert.ok(error instanceof InputError);
        return error.message;
      }
      assert.fail('accepted bad evidence');
    };
    assert.match(err({ ratls_certificate: undefined }), /ratls_certificate is missing/);
    assert.match(err({ tcb_info: 'not base64!' }), /tcb_info is not canonical/);
    assert.match(err({ qe_identity: Buffer.from('{"x":1}').toString('base64') }), /qe_identity is not a PCS/);
    assert.match(err({ input_args: { ...(base.input_args as object), size: -1 } }), /input_args.size/);
    assert.match(
      err({ input_args: { ...(base.input_args as object), python_path: '/tmp' } }),
      /input_args\.python_path is not a spawn argument this verifier knows/,
    );
    assert.match(err({ signer_pk: 'abc' }), /signer_pk must be a PEM/);
    assert.match(err({ root_ca_crl: '-----BEGIN X509 CRL-----\nAAAA\n' }), /root_ca_crl/);
    assert.match(err({ platform: 'tdx' }), /platform/);
    assert.match(err({ gramine_manifest: 42 }), /gramine_manifest must be a non-empty string/);
    assert.match(err({ gramine_argv: ['node', 'a\u0000b'] }), /gramine_argv must be/);
    assert.match(err({ gramine_argv: [] }), /gramine_argv must be/);
    assert.throws(() => parseEvidence('[]'), /JSON object/);
  });

  it('ignores one leading UTF-8 byte order mark, and names a second one', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]).toString('utf8');
    assert.equal(bom.charCodeAt(0), 0xfeff);
    assert.deepEqual(parseEvidence(bom), parseEvidence(text));
    assert.throws(() => parseEvidence('\ufeff' + bom), {
      code: 'ERR_EVIDENCE_FORMAT',
      message: /two byte order marks/,
    });
  });
});

describe('verifyEvidence on MSE’s real evidence (as testvectors/mse/README.md describes)', () => {
  const e = parseEvidence(text);

  it('fails on time at every instant under strict semantics, naming the item', () => {
    for (let day = Date.UTC(2023, 4, 1); day <= Date.UTC(2023, 7, 1); day += 86400e3) {
      const v = verifyEvidence({ evidence: e, expected, at: new Date(day) });
      assert.equal(v.valid, false);
      const timeFailures = v.failures.filter((f) => /EXPIRED|NOT_YET_VALID/.test(f.code));
      assert.ok(timeFailures.length > 0, new Date(day).toISOString());
      assert.ok(timeFailures.every((f) => /CRL|QE identity|TCB info|certificate/.test(f.message)));
    }
  });

  it('passes every DCAP check with Intel time semantics at 2023-06-10, and reports the subject and expiration mismatch', () => {
    const v = verifyEvidence({
      evidence: e,
      expected,
      at: new Date('2023-06-10T00:00:00Z'),
      policy: { ignoreIssueDates: true },
    });
    assert.deepEqual(notPassed(v), [
      'ratls.subject:fail',
      'ratls.expiration:fail',
      'identity.input-args.size:warn',
      'identity.input-args.app_id:warn',
      'identity.input-args.application:warn',
    ]);
    assert.equal(v.valid, false);
    assert.equal(v.mrenclave, MRENCLAVE);
    assert.equal(v.debug, false);
    assert.equal(v.quoteVersion, 3);
    assert.equal(v.fmspc, '30606A000000');
    assert.equal(v.pckCaType, 'platform');
    assert.equal(v.trustAnchor?.kind, 'intel');
    assert.equal(v.signerKeyMrsigner, v.mrsigner);
    assert.ok(v.mrsigner!.startsWith('c1c161d0dd996e8a'));
    const subject = v.checks.find((c) => c.id === 'ratls.subject')!;
    assert.equal(subject.code, 'ERR_RATLS_SUBJECT_MISMATCH');
    assert.match(subject.message!, /Cosmian Tech/);
    assert.equal(v.checks.find((c) => c.id === 'ratls.key-binding')!.status, 'pass');
    const expiration = v.checks.find((c) => c.id === 'ratls.expiration')!;
    assert.equal(expiration.code, 'ERR_RATLS_EXPIRATION_MISMATCH');
    assert.match(
      expiration.message!,
      /2024-04-26T09:38:33.000Z \(1714124313\) differs from input_args.expiration_date 1714058115/,
    );
  });

  it('detects a signer key that does not match MRSIGNER, and a wrong expected MRENCLAVE (policy)', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    const other = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const v = verifyEvidence({
      evidence: { ...e, signerPk: other },
      expected: { mrenclave: new Uint8Array(32) },
      at: new Date('2023-06-10T00:00:00Z'),
      policy: { ignoreIssueDates: true },
    });
    const codes = v.failures.map((f) => f.code);
    assert.ok(codes.includes('ERR_IDENTITY_SIGNER_KEY_MISMATCH'));
    assert.ok(codes.includes('ERR_POLICY_MRENCLAVE_MISMATCH'));
    assert.equal(v.failures.find((f) => f.code === 'ERR_POLICY_MRENCLAVE_MISMATCH')!.policy, true);
  });

  it('refuses a signer_pk with the right modulus but an exponent other than 3 (MRSIGNER covers the modulus only)', () => {
    const n = createPublicKey(e.signerPk).export({ format: 'jwk' }).n!;
    const withExponent = (x: number): string =>
      createPublicKey({ key: { kty: 'RSA', n, e: Buffer.from([x]).toString('base64url') }, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
    const at = new Date('2023-06-10T00:00:00Z');
    const policy = { ignoreIssueDates: true };
    const ok = verifyEvidence({ evidence: { ...e, signerPk: withExponent(3) }, expected, at, policy });
    assert.equal(ok.checks.find((c) => c.id === 'identity.signer-key')!.status, 'pass');
    for (const x of [0, 1, 5, 11, 65]) {
      const v = verifyEvidence({ evidence: { ...e, signerPk: withExponent(x) }, expected, at, policy });
      const ch = v.checks.find((c) => c.id === 'identity.signer-key')!;
      assert.equal(ch.status, 'fail', `e=${x}`);
      assert.equal(ch.code, 'ERR_SIGNER_KEY_EXPONENT');
      assert.match(
        ch.message!,
        new RegExp(`signer_pk is RSA-3072 with e=${x}; SGX enclave signing needs RSA-3072 with e=3`),
      );
      assert.equal(v.valid, false);
      assert.equal(v.signerKeyMrsigner, null);
    }
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 });
    const small = verifyEvidence({
      evidence: { ...e, signerPk: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      expected,
      at,
      policy,
    });
    assert.equal(small.checks.find((c) => c.id === 'identity.signer-key')!.code, 'ERR_SIGNER_KEY_SIZE');
  });

  it('compares the SAN as a host name: case-insensitively', () => {
    // what `spawn --san App.Example.COM` makes: the enclave keeps the spelling in its dNSName
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const quote = readRatlsCertificate(e.ratlsCertificate).quote;
    const san = 'App.Example.COM';
    const { pem } = createRatlsCertificate({
      privateKey,
      publicKey,
      quote,
      subject: e.inputArgs.subject,
      san,
      notAfter: new Date('2030-01-01T00:00:00Z'),
    });
    const check = (evidenceSan: string): string | undefined =>
      verifyEvidence({
        evidence: { ...e, ratlsCertificate: pem, inputArgs: { ...e.inputArgs, subjectAlternativeName: evidenceSan } },
        at: new Date(),
      }).checks.find((c) => c.id === 'ratls.san')?.status;
    assert.equal(check(san), 'pass');
    assert.equal(check('app.example.com'), 'pass');
    assert.equal(check('other.example.com'), 'fail');
  });

  it('reports an unreadable certificate without throwing', () => {
    const v = verifyEvidence({
      evidence: { ...e, ratlsCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      at: new Date(),
    });
    assert.equal(v.valid, false);
    assert.equal(v.checks[0]!.status, 'fail');
    assert.equal(v.certificate, null);
  });
});

describe('random mutations of evidence.json', () => {
  it('only ever produce typed errors or verdicts (seeded, bounded)', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const bytes = Buffer.from(text);
    for (let n = 0; n < 60; n++) {
      const b = Buffer.from(bytes);
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
      try {
        const v = verifyEvidence({
          evidence: parseEvidence(cut.toString('latin1')),
          at: new Date('2023-06-10T00:00:00Z'),
        });
        assert.ok(!v.failures.some((f) => f.code === 'ERR_VERIFIER_INTERNAL'), JSON.stringify(v.failures));
      } catch (error) {
        assert.ok(error instanceof InputError, `untyped error: ${String(error)}`);
      }
    }
  });
});

describe('MRSIGNER from the signer key', () => {
  it('is SHA-256 of the little-endian modulus (MSE’s evidence)', () => {
    const e = parseEvidence(text);
    assert.ok(toHex(mrsignerFromPublicKey(e.signerPk)).startsWith('c1c161d0dd996e8a'));
    assert.throws(() => mrsignerFromPublicKey('nope'), { code: 'ERR_SIGNER_KEY_PARSE' });
  });
});
