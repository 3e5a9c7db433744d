// The one quote layout both ways: real quotes decoded by parseQuote and encoded again are byte-identical,
// and the encoder names a bad field through the caller's fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caseQuote, dcapCases } from '../testing/dcap.js';
import { encodeQuoteV3, HEADER, MIN_QUOTE_SIZE, QUOTE_REPORT_DATA_OFFSET, REPORT_BODY } from './quote-layout.js';
import { parseQuote } from './quote.js';

function failWith(field: string, detail: string): never {
  throw new Error(`${field} | ${detail}`);
}

/** The parts of a parsed v3 quote, as the encoder takes them. */
function partsOf(bytes: Uint8Array): Parameters<typeof encodeQuoteV3>[0] {
  const q = parseQuote(bytes);
  const { version: _version, ...header } = q.header;
  return {
    header,
    body: q.body.raw,
    signature: q.signature,
    attestationKey: q.attestationKey,
    qeReport: q.qeReport.raw,
    qeReportSignature: q.qeReportSignature,
    qeAuthData: q.qeAuthData,
    certificationData: q.certificationData,
  };
}

describe('the quote layout', () => {
  it('places report_data where RA-TLS reads it', () => {
    assert.equal(QUOTE_REPORT_DATA_OFFSET, 368);
    assert.equal(MIN_QUOTE_SIZE, 432);
  });

  it('encodes every real v3 quote it decodes back to the same bytes', () => {
    let n = 0;
    for (const c of dcapCases()) {
      const bytes = caseQuote(c);
      let parts;
      try {
        parts = partsOf(bytes);
      } catch {
        continue; // the negative vectors the parser refuses
      }
      assert.deepEqual(Buffer.from(encodeQuoteV3(parts, failWith)), Buffer.from(bytes), c.id);
      n++;
    }
    assert.ok(n > 0);
  });

  it('names a bad value through the caller', () => {
    const parts = partsOf(caseQuote(dcapCases()[0]!));
    assert.throws(() => encodeQuoteV3({ ...parts, body: new Uint8Array(383) }, failWith), {
      message: 'body | must be 384 bytes, got 383',
    });
    assert.throws(() => encodeQuoteV3({ ...parts, header: { ...parts.header, qeSvn: 65536 } }, failWith), {
      message: 'qeSvn | must be an integer in 0..65535',
    });
    assert.throws(() => encodeQuoteV3({ ...parts, signature: new Uint8Array(63) }, failWith), {
      message: 'signature | must be 64 bytes, got 63',
    });
    assert.throws(() => REPORT_BODY.encode({ ...parseQuote(caseQuote(dcapCases()[0]!)).body, flags: -1n }, failWith), {
      message: 'flags | must be an integer in 0..2^64-1',
    });
    assert.equal(HEADER.encode({ ...parts.header, version: 3 }, failWith).length, 48);
  });
});
