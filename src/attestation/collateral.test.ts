import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestationError, InputError } from '../errors.js';
import { caseCollateral, caseQuote, dcapCase, dcapCases } from '../testing/dcap.js';
import { readVector, readVectorText } from '../testing/vectors.js';
import { quotePckChain } from './appraise.js';
import {
  convergeTcbStatus,
  matchQeTcbLevel,
  matchTcbLevel,
  parseCollateralJson,
  parseEnclaveIdentity,
  parseTcbInfo,
  serializeCollateralJson,
  splitSignedBody,
  TCB_STATUSES,
  type TcbStatus,
} from './collateral.js';
import { parseQuote } from './quote.js';
import { parseCertificate, pemBlocks, verifyP1363WithCert } from './x509.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function errorOf(fn: () => unknown): Error & { code: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AttestationError || error instanceof InputError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

describe('signed bytes are cut out of PCS bodies, never re-serialized', () => {
  const pairs: [string, string, 'tcbInfo' | 'enclaveIdentity', 'tcb_info' | 'qe_identity'][] = [
    [
      'automata-dcap-attestation/collateral-2025-08/sgx_tcbinfov3_00606a000000.json',
      'automata-dcap-attestation/collateral-2025-08.json',
      'tcbInfo',
      'tcb_info',
    ],
    [
      'automata-dcap-attestation/collateral-2025-08/sgx_qeidentity_v4.json',
      'automata-dcap-attestation/collateral-2025-08.json',
      'enclaveIdentity',
      'qe_identity',
    ],
    ['automata-dcap-rs/tcbinfov2.json', 'automata-dcap-rs/collateral.json', 'tcbInfo', 'tcb_info'],
    ['automata-dcap-rs/qeidentityv2.json', 'automata-dcap-rs/collateral.json', 'enclaveIdentity', 'qe_identity'],
    [
      'mobilecoin-attestation/fmspc_00906ED50000_2023_07_12.json',
      'mobilecoin-attestation/collateral_assembled.json',
      'tcbInfo',
      'tcb_info',
    ],
    [
      'mobilecoin-attestation/qe_identity.json',
      'mobilecoin-attestation/collateral_assembled.json',
      'enclaveIdentity',
      'qe_identity',
    ],
    ['oasis-core/tcb_info_v3_fmspc_00606A000000.json', 'oasis-core/collateral_no_crl.json', 'tcbInfo', 'tcb_info'],
    ['oasis-core/qe_identity_v2.json', 'oasis-core/collateral_no_crl.json', 'enclaveIdentity', 'qe_identity'],
  ];
  for (const [body, assembled, member, key] of pairs) {
    it(`${body} → ${key} of ${assembled}`, () => {
      const split = splitSignedBody(readVector('dcap', body), member);
      const a = JSON.parse(readVectorText('dcap', assembled)) as Record<string, string>;
      assert.equal(text(split.signed), a[key]);
      assert.equal(Buffer.from(split.signature).toString('hex'), a[`${key}_signature`]!.toLowerCase());
    });
  }

  it('accepts whole response bodies in collateral JSON', () => {
    const c = dcapCase('automata-quotev3-platform@2025-08');
    const a = JSON.parse(readVectorText('dcap', c.collateral!)) as Record<string, string>;
    a.tcb_info = readVectorText('dcap', 'automata-dcap-attestation/collateral-2025-08/sgx_tcbinfov3_00606a000000.json');
    a.qe_identity = readVectorText('dcap', 'automata-dcap-attestation/collateral-2025-08/sgx_qeidentity_v4.json');
    delete a.tcb_info_signature;
    delete a.qe_identity_signature;
    const parsed = parseCollateralJson(JSON.stringify(a));
    assert.deepEqual(parsed, caseCollateral(c));
  });

  it('rejects bodies without the member, duplicate members or a bad signature', () => {
    assert.equal(errorOf(() => splitSignedBody('{"signature":"00"}', 'tcbInfo')).code, 'ERR_DCAP_TCB_INFO_FORMAT');
    assert.match(
      errorOf(() => splitSignedBody('{"tcbInfo":{},"tcbInfo":{},"signature":""}', 'tcbInfo')).message,
      /twice/,
    );
    assert.match(
      errorOf(() => splitSignedBody(`{"tcbInfo":{},"signature":"${'0'.repeat(126)}"}`, 'tcbInfo')).message,
      /128 hex/,
    );
    assert.equal(
      errorOf(() => splitSignedBody('{"enclaveIdentity":', 'enclaveIdentity')).code,
      'ERR_DCAP_QE_IDENTITY_FORMAT',
    );
    assert.equal(
      errorOf(() => splitSignedBody(new Uint8Array([0x7b, 0xff, 0x7d]), 'tcbInfo')).code,
      'ERR_DCAP_TCB_INFO_FORMAT',
    );
  });
});

describe('collateral JSON', () => {
  it('round-trips every vector collateral', () => {
    const seen = new Set<string>();
    for (const c of dcapCases()) {
      if (!c.collateral || seen.has(c.collateral) || c.collateral.startsWith('oasis')) continue;
      seen.add(c.collateral);
      const col = caseCollateral(c);
      assert.deepEqual(parseCollateralJson(serializeCollateralJson(col)), col);
    }
    assert.ok(seen.size >= 5);
  });

  it('refuses collateral without CRLs, naming the missing CRL (oasis-2022-no-crl, strict)', () => {
    const e = errorOf(() => caseCollateral(dcapCase('oasis-2022-no-crl')));
    assert.equal(e.code, 'ERR_COLLATERAL_MISSING_FIELD');
    assert.match(e.message, /root_ca_crl/);
  });

  it('accepts PEM CRLs and rejects malformed fields with their name', () => {
    const a = JSON.parse(readVectorText('dcap', 'phala-dcap-qvl/sgx_quote_collateral.json')) as Record<string, unknown>;
    const der = Buffer.from(a.pck_crl as string, 'hex');
    const pem = `-----BEGIN X509 CRL-----\n${der
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END X509 CRL-----\n`;
    assert.deepEqual(parseCollateralJson(JSON.stringify({ ...a, pck_crl: pem })).pck_crl, new Uint8Array(der));
    assert.match(errorOf(() => parseCollateralJson(JSON.stringify({ ...a, pck_crl: 'zz' }))).message, /pck_crl/);
    assert.match(
      errorOf(() => parseCollateralJson(JSON.stringify({ ...a, tcb_info_signature: 5 }))).message,
      /tcb_info_signature/,
    );
    assert.equal(errorOf(() => parseCollateralJson('[]')).code, 'ERR_COLLATERAL_FORMAT');
    assert.equal(errorOf(() => parseCollateralJson('{')).code, 'ERR_COLLATERAL_FORMAT');
  });

  it('ignores one leading UTF-8 byte order mark of the file, and moves no signed byte', () => {
    const json = readVectorText('dcap', 'phala-dcap-qvl/sgx_quote_collateral.json');
    const plain = parseCollateralJson(json);
    // As read from a file whose first bytes are EF BB BF.
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]).toString('utf8');
    assert.equal(bom.charCodeAt(0), 0xfeff);
    assert.deepEqual(parseCollateralJson(bom), plain);
    const two = errorOf(() => parseCollateralJson('\ufeff' + bom));
    assert.equal(two.code, 'ERR_COLLATERAL_FORMAT');
    assert.match(two.message, /two byte order marks/);
    // A BOM inside a signed value is not the file's: it stays, and the signature no longer verifies.
    const o = JSON.parse(json) as Record<string, string>;
    const inner = parseCollateralJson(JSON.stringify({ ...o, tcb_info: '\ufeff' + o.tcb_info }));
    assert.deepEqual(inner.tcb_info.subarray(0, 3), new Uint8Array([0xef, 0xbb, 0xbf]));
    const ctx = { stage: 'collateral', code: 'ERR_DCAP_COLLATERAL_FORMAT', what: 'TCB signing certificate' };
    const signer = parseCertificate(pemBlocks(inner.tcb_info_issuer_chain, 'CERTIFICATE', ctx)[0]!, ctx);
    assert.equal(verifyP1363WithCert(plain.tcb_info, plain.tcb_info_signature, signer), true);
    assert.equal(verifyP1363WithCert(inner.tcb_info, inner.tcb_info_signature, signer), false);
  });
});

describe('TCB info and QE identity', () => {
  it('parses v3 and v2 TCB info to the same component model', () => {
    const v3 = parseTcbInfo(caseCollateral(dcapCase('automata-quotev3-platform@2025-08')).tcb_info);
    const v2 = parseTcbInfo(caseCollateral(dcapCase('dcaprs-tcbinfo-v2@2025-02')).tcb_info);
    assert.equal(v3.version, 3);
    assert.equal(v3.id, 'SGX');
    assert.equal(v2.version, 2);
    assert.equal(v2.id, undefined);
    assert.equal(v2.levels[0]!.components.length, 16);
    assert.deepEqual(v2.levels[0]!.advisoryIds, []);
    assert.equal(Buffer.from(v3.fmspc).toString('hex'), '00606a000000');
  });

  it('names the failing field in malformed documents', () => {
    const base = JSON.parse(text(caseCollateral(dcapCase('phala-sgx-v3-processor')).tcb_info)) as Record<
      string,
      unknown
    >;
    const bad = (patch: (o: Record<string, unknown>) => void): string => {
      const o = structuredClone(base);
      patch(o);
      return errorOf(() => parseTcbInfo(Buffer.from(JSON.stringify(o)))).message;
    };
    const levels = (o: Record<string, unknown>) => o.tcbLevels as Record<string, Record<string, unknown[]>>[];
    assert.match(
      bad((o) => (levels(o)[1]!.tcbStatus = 'Great' as never)),
      /tcbLevels\[1\]\.tcbStatus/,
    );
    assert.match(
      bad((o) => levels(o)[0]!.tcb!.sgxtcbcomponents!.pop()),
      /has 15 entries/,
    );
    assert.match(
      bad((o) => (o.nextUpdate = '2025-13-01T00:00:00Z')),
      /nextUpdate/,
    );
    assert.match(
      bad((o) => (o.version = 4)),
      /only versions 2 and 3/,
    );
    assert.match(
      bad((o) => (o.fmspc = 'xyz')),
      /fmspc/,
    );
    const qe = JSON.parse(text(caseCollateral(dcapCase('phala-sgx-v3-processor')).qe_identity)) as Record<
      string,
      unknown
    >;
    qe.version = 1;
    assert.match(errorOf(() => parseEnclaveIdentity(Buffer.from(JSON.stringify(qe)))).message, /only version 2/);
  });

  it('converges platform and QE status as Intel QVL does', () => {
    const expectOutOfDate: Record<TcbStatus, TcbStatus> = {
      UpToDate: 'OutOfDate',
      SWHardeningNeeded: 'OutOfDate',
      ConfigurationNeeded: 'OutOfDateConfigurationNeeded',
      ConfigurationAndSWHardeningNeeded: 'OutOfDateConfigurationNeeded',
      OutOfDate: 'OutOfDate',
      OutOfDateConfigurationNeeded: 'OutOfDateConfigurationNeeded',
      Revoked: 'Revoked',
    };
    for (const s of TCB_STATUSES) {
      assert.equal(convergeTcbStatus(s, 'UpToDate'), s);
      assert.equal(convergeTcbStatus(s, 'Revoked'), 'Revoked');
      assert.equal(convergeTcbStatus(s, 'OutOfDate'), expectOutOfDate[s]);
    }
  });

  it('matches QE levels by ISVSVN (mobilecoin QE ISVSVN 7 → level 6, OutOfDate)', () => {
    const id = parseEnclaveIdentity(caseCollateral(dcapCase('mobilecoin-sgx-debug-qe-outofdate')).qe_identity);
    const lv = matchQeTcbLevel(id, 7)!;
    assert.equal(lv.isvSvn, 6);
    assert.equal(lv.status, 'OutOfDate');
    assert.deepEqual(lv.advisoryIds, ['INTEL-SA-00615']);
    assert.equal(matchQeTcbLevel(id, 0), undefined);
  });
});

describe('teekit partial vectors: pretty-printed TCB info', () => {
  const signer = parseCertificate(
    pemBlocks(caseCollateral(dcapCase('phala-sgx-v3-processor')).tcb_info_issuer_chain, 'CERTIFICATE', {
      stage: 't',
      code: 'E',
      what: 'chain',
    })[0]!,
    { stage: 't', code: 'E', what: 'TCB signing certificate' },
  );
  for (const c of dcapCases().filter((x) => x.tcb_info_only)) {
    it(`${c.id}: exact bytes verify only if compact, level ${String(c.expect.platform_tcb_status_from_tcb_info_only)}`, () => {
      const body = readVectorText('dcap', c.tcb_info_only!);
      const { signed, signature } = splitSignedBody(body, 'tcbInfo');
      const compact = Buffer.from(JSON.stringify((JSON.parse(body) as { tcbInfo: unknown }).tcbInfo));
      // Two of the three files are pretty-printed (their raw bytes must fail); one is served compact.
      assert.equal(verifyP1363WithCert(signed, signature, signer), compact.equals(signed));
      assert.equal(verifyP1363WithCert(compact, signature, signer), true);
      const info = parseTcbInfo(compact);
      const chain = quotePckChain(parseQuote(caseQuote(c)));
      assert.deepEqual(Buffer.from(info.fmspc), Buffer.from(chain.extension.fmspc));
      const level = matchTcbLevel(info, chain.extension.tcb)!;
      assert.equal(level.status, c.expect.platform_tcb_status_from_tcb_info_only);
      assert.deepEqual([...level.advisoryIds].sort(), [...(c.expect.platform_advisory_ids as string[])].sort());
    });
  }
});
