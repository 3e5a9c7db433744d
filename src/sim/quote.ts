/**
 * The simulated quoting enclave's output: Intel SGX DCAP ECDSA quotes v3, written with the one quote layout
 * (`attestation/quote-layout.ts`) that the verifier parses with. The certification data is type 5, the PEM
 * chain PCK leaf ‖ PCK CA ‖ root, NUL-terminated as Intel's QE emits it.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import {
  ATT_KEY_TYPE_ECDSA_P256,
  CERT_TYPE_PCK_CHAIN,
  encodeQuoteV3,
  encodeSignedRegionV3,
  INTEL_QE_VENDOR_ID,
  REPORT_BODY,
} from '../attestation/quote-layout.js';
import { InputError } from '../errors.js';

/** Attribute flag bits (first byte of attributes). */
export const AttributeFlags = {
  init: 0x01,
  debug: 0x02,
  mode64bit: 0x04,
  provisionKey: 0x10,
  einittokenKey: 0x20,
  kss: 0x80,
} as const;

/** Production enclave attributes: flags INIT|MODE64BIT (DEBUG clear), xfrm 0xE7 (x87, SSE, AVX, AVX-512). */
export const PRODUCTION_ATTRIBUTES = Uint8Array.from([0x05, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]);

/** Fields of an SGX report body (`sgx_report_body_t`). Byte arrays are copied verbatim. */
export interface ReportBodyFields {
  cpuSvn: Uint8Array; // 16
  miscSelect: number; // u32
  isvExtProdId: Uint8Array; // 16
  attributes: Uint8Array; // 16: flags u64 LE ‖ xfrm u64 LE
  mrEnclave: Uint8Array; // 32
  mrSigner: Uint8Array; // 32
  configId: Uint8Array; // 64
  isvProdId: number; // u16
  isvSvn: number; // u16
  configSvn: number; // u16
  isvFamilyId: Uint8Array; // 16
  reportData: Uint8Array; // 64
}

function fail(field: string, message: string): never {
  throw new InputError('ERR_SIM_QUOTE_INPUT', `quote field ${field}: ${message}`, {
    hint: 'This is a bug in the caller of the simulated quoting enclave.',
  });
}

/** Encode a 384-byte report body (reserved bytes zero); throws `ERR_SIM_QUOTE_INPUT` naming the bad field. */
export function encodeReportBody(f: ReportBodyFields): Uint8Array {
  const a = f.attributes;
  if (!(a instanceof Uint8Array) || a.length !== 16) fail('attributes', 'must be 16 bytes');
  const attributes = new DataView(a.buffer, a.byteOffset, 16);
  return REPORT_BODY.encode(
    {
      ...f,
      flags: attributes.getBigUint64(0, true),
      xfrm: attributes.getBigUint64(8, true),
      reserved1: new Uint8Array(12),
      reserved2: new Uint8Array(32),
      reserved3: new Uint8Array(32),
      reserved4: new Uint8Array(42),
    },
    fail,
  );
}

export interface QuoteParts {
  qeSvn: number;
  pceSvn: number;
  /** 20 bytes of header user data (Intel: 16-byte QE id ‖ 4 zero bytes). */
  userData: Uint8Array;
  body: Uint8Array;
  attestationKey: KeyObject;
  /** X‖Y of the attestation public key. */
  attestationPublicKey: Uint8Array;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** PCK leaf ‖ PCK CA ‖ root, PEM. */
  pckChainPem: string;
}

/** Assemble and sign a v3 quote. */
export function assembleQuoteV3(p: QuoteParts): Uint8Array {
  const header = {
    attestationKeyType: ATT_KEY_TYPE_ECDSA_P256,
    teeType: 0,
    qeSvn: p.qeSvn,
    pceSvn: p.pceSvn,
    qeVendorId: new Uint8Array(Buffer.from(INTEL_QE_VENDOR_ID, 'hex')),
    userData: p.userData,
  };
  const signed = encodeSignedRegionV3({ header, body: p.body }, fail);
  const signature = sign('sha256', signed, { key: p.attestationKey, dsaEncoding: 'ieee-p1363' });
  return encodeQuoteV3(
    {
      header,
      body: p.body,
      signature: new Uint8Array(signature),
      attestationKey: p.attestationPublicKey,
      qeReport: p.qeReport,
      qeReportSignature: p.qeReportSignature,
      qeAuthData: p.qeAuthData,
      certificationData: {
        type: CERT_TYPE_PCK_CHAIN,
        data: new Uint8Array(Buffer.concat([Buffer.from(p.pckChainPem, 'utf8'), Buffer.of(0)])),
      },
    },
    fail,
  );
}

/** QE report_data: SHA-256(attestation public key ‖ QE auth data) ‖ 32 zero bytes. */
export function qeReportData(attestationPublicKey: Uint8Array, qeAuthData: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(createHash('sha256').update(attestationPublicKey).update(qeAuthData).digest(), 0);
  return out;
}
