/**
 * Intel SGX DCAP ECDSA quote v3 writer (the simulated quoting enclave's output format).
 *
 *   header (48) ‖ ISV report body (384) ‖ u32 signature_data_len ‖ signature data:
 *   quote signature r‖s (64, attestation key over bytes [0,432)) ‖ attestation public key X‖Y (64) ‖
 *   QE report body (384) ‖ QE report signature r‖s (64, PCK key over the 384 QE report bytes) ‖
 *   u16 QE auth data size ‖ QE auth data ‖ u16 certification data type (5) ‖ u32 size ‖ PEM chain
 *   (PCK leaf ‖ PCK CA ‖ root, NUL-terminated as Intel's QE emits it).
 *
 * All integers little-endian; signatures and keys big-endian raw values.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';

export const QUOTE_VERSION_3 = 3;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
export const CERT_TYPE_PCK_CHAIN = 5;
/** Intel's QE vendor ID (verifiers accept no other). */
export const INTEL_QE_VENDOR_ID = Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex');

export const HEADER_SIZE = 48;
export const REPORT_BODY_SIZE = 384;
/** Offset of report_data inside a report body; in a quote the ISV report data is at 48 + 320 = 368. */
export const REPORT_DATA_OFFSET = 320;

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

/** Declarative layout: [field, offset, size] within the 384-byte body; everything else is reserved zero. */
const BODY_LAYOUT = [
  ['cpuSvn', 0, 16],
  ['miscSelect', 16, 4],
  ['isvExtProdId', 32, 16],
  ['attributes', 48, 16],
  ['mrEnclave', 64, 32],
  ['mrSigner', 128, 32],
  ['configId', 192, 64],
  ['isvProdId', 256, 2],
  ['isvSvn', 258, 2],
  ['configSvn', 260, 2],
  ['isvFamilyId', 304, 16],
  ['reportData', 320, 64],
] as const satisfies readonly (readonly [keyof ReportBodyFields, number, number])[];

function fail(field: string, message: string): never {
  throw new InputError('ERR_SIM_QUOTE_INPUT', `quote field ${field}: ${message}`, {
    hint: 'This is a bug in the caller of the simulated quoting enclave.',
  });
}

/** Encode a 384-byte report body; throws `ERR_SIM_QUOTE_INPUT` naming the bad field. */
export function encodeReportBody(f: ReportBodyFields): Uint8Array {
  const out = Buffer.alloc(REPORT_BODY_SIZE);
  for (const [name, offset, size] of BODY_LAYOUT) {
    const value = f[name];
    if (typeof value === 'number') {
      const max = size === 4 ? 0xffffffff : 0xffff;
      if (!Number.isInteger(value) || value < 0 || value > max) fail(name, `must be an integer in 0..${max}`);
      if (size === 4) out.writeUInt32LE(value, offset);
      else out.writeUInt16LE(value, offset);
    } else {
      if (!(value instanceof Uint8Array)) fail(name, 'must be a byte array');
      if (value.length !== size) fail(name, `must be ${size} bytes, got ${value.length}`);
      out.set(value, offset);
    }
  }
  return new Uint8Array(out);
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
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt16LE(QUOTE_VERSION_3, 0);
  header.writeUInt16LE(ATT_KEY_TYPE_ECDSA_P256, 2);
  header.writeUInt32LE(0, 4);
  header.writeUInt16LE(p.qeSvn, 8);
  header.writeUInt16LE(p.pceSvn, 10);
  INTEL_QE_VENDOR_ID.copy(header, 12);
  if (p.userData.length !== 20) fail('userData', 'must be 20 bytes');
  header.set(p.userData, 28);
  if (p.body.length !== REPORT_BODY_SIZE) fail('body', 'must be 384 bytes');
  const signed = Buffer.concat([header, p.body]);
  const quoteSig = sign('sha256', signed, { key: p.attestationKey, dsaEncoding: 'ieee-p1363' });

  const certData = Buffer.concat([Buffer.from(p.pckChainPem, 'utf8'), Buffer.of(0)]);
  const authSize = Buffer.alloc(2);
  authSize.writeUInt16LE(p.qeAuthData.length);
  const certHeader = Buffer.alloc(6);
  certHeader.writeUInt16LE(CERT_TYPE_PCK_CHAIN, 0);
  certHeader.writeUInt32LE(certData.length, 2);
  const sigData = Buffer.concat([
    quoteSig,
    p.attestationPublicKey,
    p.qeReport,
    p.qeReportSignature,
    authSize,
    p.qeAuthData,
    certHeader,
    certData,
  ]);
  const sigLen = Buffer.alloc(4);
  sigLen.writeUInt32LE(sigData.length);
  return new Uint8Array(Buffer.concat([signed, sigLen, sigData]));
}

/** QE report_data: SHA-256(attestation public key ‖ QE auth data) ‖ 32 zero bytes. */
export function qeReportData(attestationPublicKey: Uint8Array, qeAuthData: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(createHash('sha256').update(attestationPublicKey).update(qeAuthData).digest(), 0);
  return out;
}
