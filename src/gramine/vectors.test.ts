// Gramine's own vectors (test-fixtures/testvectors/gramine): every expected value there was computed by
// Gramine v1.9's signer. Level A: MRENCLAVE from the final manifest and libpal; level B: SIGSTRUCT bytes;
// level C: the final manifest from the input manifest and files, then A and B.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  assertBoundaries,
  ConfinedTestSource,
  expectedAreas,
  gramineCases,
  type Boundary,
} from '../testing/gramine.js';
import {
  computeMrenclave,
  finalizeManifest,
  gramineSign,
  parseSigstruct,
  signSigstruct,
  sigstructSigningData,
  verifySigstruct,
} from './index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

for (const c of gramineCases()) {
  describe(`Gramine vector ${c.name}`, () => {
    it('level A: MRENCLAVE from the final manifest and libpal, with Gramine’s running digests at every area', () => {
      const boundaries: Boundary[] = [];
      const m = computeMrenclave(c.finalManifest, c.libpal, {
        onBoundary: (label, bytesHashed, sha256) => boundaries.push({ label, bytesHashed, sha256 }),
      });
      assert.deepEqual(m.areas, expectedAreas(c), 'memory layout');
      assertBoundaries(c, boundaries);
      assert.equal(hex(m.mrenclave), c.mrenclave);
      assert.equal(m.bytesHashed, boundaries[boundaries.length - 1]!.bytesHashed);
    });

    it('level B: SIGSTRUCT bytes, signed data and every field equal Gramine’s', () => {
      const { attributes } = computeMrenclave(c.finalManifest, c.libpal);
      const sig = signSigstruct(
        { mrenclave: Buffer.from(c.mrenclave, 'hex'), attributes, date: c.date },
        createPrivateKey(c.keyPem),
      );
      assert.equal(hex(sig), hex(c.sigstruct));
      assert.equal(hex(sigstructSigningData(sig)), hex(c.signingData));
      const parsed = parseSigstruct(c.sigstruct);
      assert.deepEqual(verifySigstruct(parsed), { valid: true, problems: [] });
      assert.equal(hex(parsed.mrsigner), c.mrsigner);
      const f = c.fields;
      assert.equal(hex(parsed.mrenclave), f.enclave_hash);
      assert.equal(hex(parsed.modulus), f.modulus);
      assert.equal(hex(parsed.signature), f.signature);
      assert.equal(hex(parsed.q1), f.q1);
      assert.equal(hex(parsed.q2), f.q2);
      assert.equal(parsed.exponent, f.exponent);
      assert.equal(parsed.vendor, f.vendor);
      assert.equal(parsed.swDefined, f.swdefined);
      assert.equal(parsed.miscSelect, f.misc_select);
      assert.equal(parsed.miscMask, f.misc_mask);
      assert.equal(parsed.flags, BigInt(f.attribute_flags!));
      assert.equal(parsed.xfrm, BigInt(f.attribute_xfrms!));
      assert.equal(parsed.flagsMask, BigInt(f.attribute_flags_mask!));
      assert.equal(parsed.xfrmMask, BigInt(f.attribute_xfrm_mask!));
      assert.equal(parsed.isvProdId, f.isv_prod_id);
      assert.equal(parsed.isvSvn, f.isv_svn);
      const [y, m, d] = c.date.split('-').map(Number);
      assert.deepEqual([y, m, d], [f.date_year, f.date_month, f.date_day]);
      assert.equal(parsed.date, c.date);
    });

    it('level C: the final manifest from the input manifest and files (reading only the vector folder), then A and B', async () => {
      const source = new ConfinedTestSource(path.join(c.dir, 'input'));
      const r = await gramineSign(c.manifest, source, c.libpal, { key: createPrivateKey(c.keyPem), date: c.date });
      assert.equal(r.manifest.text, Buffer.from(c.finalManifest).toString('utf8'));
      assert.deepEqual(Buffer.from(r.manifest.bytes), Buffer.from(c.finalManifest));
      assert.equal(hex(r.measurement.mrenclave), c.mrenclave);
      assert.equal(hex(r.sigstruct!), hex(c.sigstruct));
      assert.equal(hex(r.mrsigner!), c.mrsigner);
      assert.ok(source.touched.length > 0, 'the input files were read through the source');
    });

    it('finalizing the final manifest again changes nothing and reads no file (what an auditor re-signs)', async () => {
      const source = new ConfinedTestSource(path.join(c.dir, 'expected'));
      const again = await finalizeManifest(c.finalManifest, source);
      assert.deepEqual(Buffer.from(again.bytes), Buffer.from(c.finalManifest));
      assert.equal(
        again.trustedFiles.every((t) => !t.hashed),
        true,
      );
      assert.equal(again.entrypoint.hashed, false);
    });
  });
}
