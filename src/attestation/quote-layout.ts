/**
 * The Intel SGX DCAP ECDSA quote layout, versions 3 and 4 (SGX body): one definition that the verifier's
 * parser (`./quote.ts`), the simulated quoting enclave (`sim/quote.ts`), the RA-TLS format
 * (`ratls/format.ts`: where report_data sits) and the enclave bootstrap all use. Pure, and small enough for
 * the bootstrap bundle: no parsing policy here, only the structures, their constants, and the v3 encoder.
 *
 * Layout (all integers little-endian; signatures and keys big-endian raw r‖s and X‖Y):
 *
 *   v3: header(48) ‖ report body(384) ‖ u32 sigDataLen ‖ sig(64) ‖ attKey(64) ‖ QE report(384) ‖
 *       QE report sig(64) ‖ u16 authLen ‖ auth ‖ u16 certType ‖ u32 certLen ‖ cert
 *   v4: header(48) ‖ report body(384) ‖ u32 sigDataLen ‖ sig(64) ‖ attKey(64) ‖ u16 6 ‖ u32 len ‖
 *       [QE report(384) ‖ QE report sig(64) ‖ u16 authLen ‖ auth ‖ u16 certType ‖ u32 certLen ‖ cert]
 *
 * The quote signature (attestation key) covers header ‖ report body; the QE report signature (PCK key)
 * covers the 384 QE report bytes.
 */
import { bytes, layout, u16, u32, u64, type ValuesOf } from './layout.js';

/** Intel's quoting enclave vendor ID (hex; verifiers accept no other). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** Attestation key type 2: ECDSA-256-with-P-256. */
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
/** Certification data type 5: PCK certificate chain (PEM). */
export const CERT_TYPE_PCK_CHAIN = 5;
/** Certification data type 6: QE report certification data (the v4 wrapper). */
export const CERT_TYPE_QE_REPORT = 6;

export const CERT_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'PPID in clear text + CPUSVN + PCESVN + PCEID',
  2: 'PPID encrypted with RSA-2048-OAEP',
  3: 'PPID encrypted with RSA-3072-OAEP',
  4: 'PCK leaf certificate',
  5: 'PCK certificate chain',
  6: 'QE report certification data',
  7: 'platform manifest',
};

export const HEADER = layout('quote header', {
  version: u16,
  attestationKeyType: u16,
  /** v3: reserved (must be 0, SGX). v4: TEE type (0 = SGX, 0x81 = TDX). */
  teeType: u32,
  /** v3: QE SVN; reserved in the v4 header. */
  qeSvn: u16,
  /** v3: PCE SVN; reserved in the v4 header. */
  pceSvn: u16,
  qeVendorId: bytes(16),
  userData: bytes(20),
});

/** The 384-byte SGX report body (`sgx_report_body_t`), of the application enclave or the QE. */
export const REPORT_BODY = layout('report body', {
  cpuSvn: bytes(16),
  miscSelect: u32,
  reserved1: bytes(12),
  isvExtProdId: bytes(16),
  flags: u64,
  xfrm: u64,
  mrEnclave: bytes(32),
  reserved2: bytes(32),
  mrSigner: bytes(32),
  reserved3: bytes(32),
  configId: bytes(64),
  isvProdId: u16,
  isvSvn: u16,
  configSvn: u16,
  reserved4: bytes(42),
  isvFamilyId: bytes(16),
  reportData: bytes(64),
});

/** The fixed head of the signature data: its length, the quote signature, the attestation key. */
export const SIGNATURE_DATA_HEAD = layout('signature data', {
  signatureDataLength: u32,
  signature: bytes(64),
  attestationKey: bytes(64),
});

/** The QE report block that follows (v3), or opens the type-6 certification data (v4). */
export const QE_BLOCK = layout('QE certification block', {
  qeReport: bytes(REPORT_BODY.size),
  qeReportSignature: bytes(64),
  qeAuthDataLength: u16,
});

export const CERT_HEAD = layout('certification data', { type: u16, size: u32 });

/** Offset of the application enclave's report_data in a quote (header + 320 bytes into the report body). */
export const QUOTE_REPORT_DATA_OFFSET = HEADER.size + REPORT_BODY.offsets.reportData;
/** Size of report_data. */
export const REPORT_DATA_SIZE = 64;
/** Shortest quote from which report_data can be read (header + report body). */
export const MIN_QUOTE_SIZE = HEADER.size + REPORT_BODY.size;

/** Report a bad value of `field` (`detail` says why); never returns. */
export type QuoteFieldFail = (field: string, detail: string) => never;

/** Everything of a v3 quote after the header and the report body, as raw parts. */
export interface QuoteV3Parts {
  header: Omit<ValuesOf<typeof HEADER>, 'version'>;
  /** The 384 bytes of the application enclave's report body. */
  body: Uint8Array;
  /** ECDSA r‖s by the attestation key over header ‖ body. */
  signature: Uint8Array;
  /** X‖Y of the attestation public key. */
  attestationKey: Uint8Array;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certificationData: { type: number; data: Uint8Array };
}

/** Encode the signed region of a v3 quote: header (version 3) ‖ report body. */
export function encodeSignedRegionV3(p: Pick<QuoteV3Parts, 'header' | 'body'>, fail: QuoteFieldFail): Uint8Array {
  const header = HEADER.encode({ version: 3, ...p.header }, fail);
  if (p.body.length !== REPORT_BODY.size) fail('body', `must be ${REPORT_BODY.size} bytes, got ${p.body.length}`);
  return new Uint8Array(Buffer.concat([header, p.body]));
}

/** Encode a whole v3 quote from its parts (the signature is the caller's). */
export function encodeQuoteV3(p: QuoteV3Parts, fail: QuoteFieldFail): Uint8Array {
  const signed = encodeSignedRegionV3(p, fail);
  const qe = QE_BLOCK.encode(
    { qeReport: p.qeReport, qeReportSignature: p.qeReportSignature, qeAuthDataLength: p.qeAuthData.length },
    fail,
  );
  const cert = CERT_HEAD.encode({ type: p.certificationData.type, size: p.certificationData.data.length }, fail);
  const restLength = qe.length + p.qeAuthData.length + cert.length + p.certificationData.data.length;
  const head = SIGNATURE_DATA_HEAD.encode(
    {
      signatureDataLength: SIGNATURE_DATA_HEAD.size - 4 + restLength,
      signature: p.signature,
      attestationKey: p.attestationKey,
    },
    fail,
  );
  return new Uint8Array(Buffer.concat([signed, head, qe, p.qeAuthData, cert, p.certificationData.data]));
}
