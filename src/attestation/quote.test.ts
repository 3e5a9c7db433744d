import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestationError } from '../errors.js';
import { caseQuote, dcapCase, dcapCases } from '../testing/dcap.js';
import { readVector } from '../testing/vectors.js';
import { toHex } from './bytes.js';
import { quotePckChain } from './appraise.js';
import { HEADER, REPORT_BODY, parseQuote, parseReportBody } from './quote.js';

const phala = caseQuote(dcapCase('phala-sgx-v3-processor'));

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AttestationError, `expected AttestationError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected an error');
}

/** Re-wrap a v3 quote as v4 (type-6 certification data). The signature no longer verifies; layout does. */
function toV4(v3: Uint8Array): Uint8Array {
  const q = parseQuote(v3);
  const inner = v3.subarray(q.offsets.qeReport, q.offsets.end);
  const head = Buffer.from(v3.subarray(0, q.offsets.signature + 128));
  head.writeUInt16LE(4, 0);
  const wrapper = Buffer.alloc(6);
  wrapper.writeUInt16LE(6, 0);
  wrapper.writeUInt32LE(inner.length, 2);
  const out = Buffer.concat([head, wrapper, inner]);
  out.writeUInt32LE(out.length - (q.offsets.signatureData + 4), q.offsets.signatureData);
  return new Uint8Array(out);
}

describe('parseQuote on real quotes', () => {
  it('decodes the fixed layout sizes Intel defines', () => {
    assert.equal(HEADER.size, 48);
    assert.equal(REPORT_BODY.size, 384);
    assert.equal(REPORT_BODY.offsets.reportData, 320);
    assert.equal(REPORT_BODY.offsets.mrEnclave, 64);
    assert.equal(REPORT_BODY.offsets.mrSigner, 128);
    assert.equal(REPORT_BODY.offsets.isvProdId, 256);
  });

  for (const c of dcapCases()) {
    const e = c.expect;
    if (e.result === 'error' && (c.id === 'neg-truncated' || c.id === 'neg-bad-version')) continue;
    it(`${c.id}: fields match the vector`, () => {
      const q = parseQuote(caseQuote(c));
      assert.equal(q.version, 3);
      assert.equal(q.header.attestationKeyType, 2);
      if (typeof e.mrenclave === 'string') assert.equal(toHex(q.body.mrEnclave), e.mrenclave);
      if (typeof e.mrsigner === 'string') assert.equal(toHex(q.body.mrSigner), e.mrsigner);
      if (typeof e.debug === 'boolean' && !c.id.startsWith('neg-')) assert.equal(q.body.debug, e.debug);
      if (typeof e.report_data === 'string') assert.equal(toHex(q.body.reportData), e.report_data);
      if (typeof e.qe_isvsvn === 'number') assert.equal(q.qeReport.isvSvn, e.qe_isvsvn);
      if (q.pckChainPem !== null) {
        const chain = quotePckChain(q);
        if (typeof e.fmspc === 'string') assert.equal(toHex(chain.extension.fmspc).toUpperCase(), e.fmspc);
        if (typeof e.pceid === 'string') assert.equal(toHex(chain.extension.pceId), e.pceid);
        if (typeof e.pck_pcesvn === 'number') assert.equal(chain.extension.tcb.pceSvn, e.pck_pcesvn);
        if (Array.isArray(e.pck_cpusvn_components))
          assert.deepEqual(chain.extension.tcb.components, e.pck_cpusvn_components);
        if (typeof e.pck_issuer_cn === 'string') assert.equal(chain.intermediate.subject.commonName, e.pck_issuer_cn);
      }
    });
  }

  it('reads the Intel QVL sample with certification data type 1 (no PCK chain)', () => {
    const c = dcapCase('neg-intel-qvl-sample-cert-type-1');
    const p = c.expect.parse as Record<string, number>;
    const q = parseQuote(caseQuote(c));
    assert.equal(q.version, p.version);
    assert.equal(q.header.qeSvn, p.qe_svn);
    assert.equal(q.header.pceSvn, p.pce_svn);
    assert.equal(q.certificationData.type, p.cert_data_type);
    assert.equal(q.certificationData.data.length, p.cert_data_len);
    assert.equal(q.qeAuthData.length, p.qe_auth_data_len);
    assert.equal(q.pckChainPem, null);
  });

  it('strips the trailing NULs of the PEM chain and keeps chains without them', () => {
    const q = parseQuote(phala);
    assert.ok(q.certificationData.data.at(-1) === 0);
    assert.ok(q.pckChainPem!.endsWith('-----END CERTIFICATE-----\n'));
    const mc = parseQuote(caseQuote(dcapCase('mobilecoin-sgx-debug-qe-outofdate')));
    assert.notEqual(mc.certificationData.data.at(-1), 0);
    assert.ok(mc.pckChainPem!.includes('-----END CERTIFICATE-----'));
  });

  it('does not alias the caller’s buffer', () => {
    const copy = new Uint8Array(phala);
    const q = parseQuote(copy);
    const before = toHex(q.body.mrEnclave);
    copy.fill(0);
    assert.equal(toHex(q.body.mrEnclave), before);
  });

  it('decodes the debug attribute from the flags', () => {
    const q = parseQuote(caseQuote(dcapCase('debug-enclave-processor')));
    assert.equal(q.body.flags & 0xffn, 0x07n);
    assert.equal(q.body.debug, true);
    assert.equal(parseReportBody(q.body.raw).debug, true);
  });
});

describe('parseQuote strictness', () => {
  it('rejects versions other than 3 and 4, naming the field', () => {
    const b = new Uint8Array(phala);
    for (const v of [0, 1, 2, 5, 0xffff]) {
      b[0] = v & 0xff;
      b[1] = v >> 8;
      assert.equal(
        code(() => parseQuote(b)),
        'ERR_QUOTE_VERSION_UNSUPPORTED',
      );
    }
    assert.match(
      String(
        (() => {
          try {
            parseQuote(readVector('dcap', 'derived-negative/bad_version.bin'));
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      ),
      /version is 2/,
    );
  });

  it('rejects attestation key types other than ECDSA P-256', () => {
    const b = new Uint8Array(phala);
    b[2] = 3;
    assert.equal(
      code(() => parseQuote(b)),
      'ERR_QUOTE_KEY_TYPE_UNSUPPORTED',
    );
  });

  it('rejects a non-zero TEE type word in v3 and TDX in v4', () => {
    const b = new Uint8Array(phala);
    b[4] = 0x81;
    assert.equal(
      code(() => parseQuote(b)),
      'ERR_QUOTE_TEE_TYPE_UNSUPPORTED',
    );
    const v4 = toV4(phala);
    v4[4] = 0x81;
    assert.match(
      String(
        (() => {
          try {
            parseQuote(v4);
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      ),
      /TDX/,
    );
  });

  it('names the field that does not fit in a short quote', () => {
    for (const [len, field] of [
      [3, 'quote header field attestationKeyType'],
      [10, 'quote header field pceSvn'],
      [47, 'quote header field userData'],
      [100, 'report body field flags'],
      [120, 'report body field mrEnclave'],
      [433, 'signature data field signatureDataLength'],
      [500, 'signature data field attestationKey'],
    ] as const) {
      try {
        parseQuote(phala.subarray(0, len));
        assert.fail('accepted a truncated quote');
      } catch (error) {
        assert.equal((error as AttestationError).code, 'ERR_QUOTE_TRUNCATED');
        assert.ok((error as Error).message.includes(field), `${len}: ${(error as Error).message}`);
      }
    }
  });

  it('rejects every truncation of a real quote with a typed error', () => {
    for (let len = 0; len < phala.length; len++) {
      const c = code(() => parseQuote(phala.subarray(0, len)));
      assert.match(c, /^ERR_QUOTE_(TRUNCATED|LENGTH)$/, `length ${len}: ${c}`);
    }
  });

  it('rejects trailing bytes after the declared signature data', () => {
    const b = new Uint8Array(phala.length + 1);
    b.set(phala);
    assert.equal(
      code(() => parseQuote(b)),
      'ERR_QUOTE_TRAILING_BYTES',
    );
  });

  it('rejects inconsistent inner lengths', () => {
    const q = parseQuote(phala);
    const auth = Buffer.from(phala);
    auth.writeUInt16LE(q.qeAuthData.length + 1, q.offsets.qeAuthData - 2);
    assert.match(
      code(() => parseQuote(auth)),
      /^ERR_QUOTE_(LENGTH|CERT_DATA_TYPE_UNSUPPORTED)$/,
    );
    const cert = Buffer.from(phala);
    cert.writeUInt32LE(q.certificationData.data.length - 1, q.offsets.certificationData + 2);
    assert.equal(
      code(() => parseQuote(cert)),
      'ERR_QUOTE_LENGTH',
    );
    const huge = Buffer.from(phala);
    huge.writeUInt16LE(0xffff, q.offsets.qeAuthData - 2);
    assert.equal(
      code(() => parseQuote(huge)),
      'ERR_QUOTE_LENGTH',
    );
  });

  it('rejects unknown certification data types, with the type named', () => {
    const q = parseQuote(phala);
    for (const t of [0, 6, 7, 99]) {
      const b = Buffer.from(phala);
      b.writeUInt16LE(t, q.offsets.certificationData);
      assert.equal(
        code(() => parseQuote(b)),
        'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
      );
    }
  });

  it('rejects non-PEM bytes inside a type-5 chain', () => {
    const q = parseQuote(phala);
    const b = Buffer.from(phala);
    b[q.offsets.certificationData + 6 + 100] = 0x01;
    assert.equal(
      code(() => parseQuote(b)),
      'ERR_QUOTE_PCK_CHAIN_ENCODING',
    );
  });
});

describe('parseQuote v4 (SGX body)', () => {
  it('unwraps the type-6 QE report certification data', () => {
    const v3 = parseQuote(phala);
    const v4 = parseQuote(toV4(phala));
    assert.equal(v4.version, 4);
    assert.deepEqual(toHex(v4.body.mrEnclave), toHex(v3.body.mrEnclave));
    assert.deepEqual(toHex(v4.qeReport.raw), toHex(v3.qeReport.raw));
    assert.deepEqual(toHex(v4.qeAuthData), toHex(v3.qeAuthData));
    assert.equal(v4.certificationData.type, 5);
    assert.equal(v4.pckChainPem, v3.pckChainPem);
  });

  it('requires the outer type 6 and an exact outer size', () => {
    const v4 = Buffer.from(toV4(phala));
    const at = 48 + 384 + 4 + 128;
    const t = Buffer.from(v4);
    t.writeUInt16LE(5, at);
    assert.equal(
      code(() => parseQuote(t)),
      'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
    );
    const s = Buffer.from(v4);
    s.writeUInt32LE(v4.readUInt32LE(at + 2) - 1, at + 2);
    assert.equal(
      code(() => parseQuote(s)),
      'ERR_QUOTE_LENGTH',
    );
  });
});
