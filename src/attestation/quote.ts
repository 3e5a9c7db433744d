/**
 * Intel SGX DCAP ECDSA quotes, versions 3 and 4 (SGX body), parsed strictly. The layout is
 * `./quote-layout.ts` (shared with the simulated quoting enclave and the RA-TLS format).
 *
 * Every length is checked against what remains, and the declared signature-data length must account for
 * every byte to the end of the quote: trailing bytes are rejected (Intel's QVL tolerates them; nothing
 * legitimate produces them, and they would be unsigned data riding along).
 */
import { AttestationError } from '../errors.js';
import { toHex } from './bytes.js';
import {
  ATT_KEY_TYPE_ECDSA_P256,
  CERT_HEAD,
  CERT_TYPE_NAMES,
  CERT_TYPE_PCK_CHAIN,
  CERT_TYPE_QE_REPORT,
  HEADER,
  QE_BLOCK,
  REPORT_BODY,
  SIGNATURE_DATA_HEAD as SIG_HEAD,
} from './quote-layout.js';

export {
  ATT_KEY_TYPE_ECDSA_P256,
  CERT_TYPE_PCK_CHAIN,
  CERT_TYPE_QE_REPORT,
  HEADER,
  INTEL_QE_VENDOR_ID,
  REPORT_BODY,
} from './quote-layout.js';

/** The 384-byte SGX report body (application enclave or QE). */
export interface ReportBody {
  cpuSvn: Uint8Array;
  miscSelect: number;
  reserved1: Uint8Array;
  isvExtProdId: Uint8Array;
  /** Attribute flags (u64). Bit 1 (0x2) = DEBUG. */
  flags: bigint;
  xfrm: bigint;
  /** The 16 attribute bytes as they appear in the report (flags ‖ xfrm, little-endian). */
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  reserved2: Uint8Array;
  mrSigner: Uint8Array;
  reserved3: Uint8Array;
  configId: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn: number;
  reserved4: Uint8Array;
  isvFamilyId: Uint8Array;
  reportData: Uint8Array;
  /** DEBUG attribute set: enclave memory is readable by the host. */
  debug: boolean;
  /** The 384 raw bytes. */
  raw: Uint8Array;
}

export interface Header {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface CertificationData {
  type: number;
  data: Uint8Array;
}

/** A parsed quote. Byte fields are views into `bytes` (a private copy of the input). */
export interface Quote {
  bytes: Uint8Array;
  version: 3 | 4;
  header: Header;
  /** The application enclave's report. */
  body: ReportBody;
  /** Bytes covered by the quote signature: header ‖ body. */
  signedRegion: Uint8Array;
  /** ECDSA r‖s by the attestation key over {@link signedRegion}. */
  signature: Uint8Array;
  /** Attestation public key X‖Y. */
  attestationKey: Uint8Array;
  /** The quoting enclave's report, signed by the PCK key. */
  qeReport: ReportBody;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** The certification data that identifies the PCK (for v4: the one nested in the type-6 wrapper). */
  certificationData: CertificationData;
  /** Type 5 only: the PEM chain (leaf, intermediate CA, root) with trailing NULs removed; else null. */
  pckChainPem: string | null;
  /** Offsets of the main regions, for tooling and tests. */
  offsets: {
    body: number;
    signatureData: number;
    signature: number;
    attestationKey: number;
    qeReport: number;
    qeReportSignature: number;
    qeAuthData: number;
    certificationData: number;
    end: number;
  };
}

function fail(code: string, message: string, hint?: string): never {
  throw new AttestationError('quote', code, message, {
    hint: hint ?? 'The quote is malformed or not an SGX DCAP ECDSA quote; obtain it again from the enclave.',
  });
}

function decodeReport(b: Uint8Array, offset: number): ReportBody {
  const r = REPORT_BODY.decode(b, offset);
  return {
    ...r,
    attributes: b.subarray(offset + REPORT_BODY.offsets.flags, offset + REPORT_BODY.offsets.flags + 16),
    debug: (r.flags & 2n) !== 0n,
    raw: b.subarray(offset, offset + REPORT_BODY.size),
  };
}

/** Decode a standalone 384-byte report body. */
export function parseReportBody(raw: Uint8Array): ReportBody {
  if (raw.length !== REPORT_BODY.size) fail('ERR_QUOTE_LENGTH', `report body is ${raw.length} bytes, expected 384`);
  return decodeReport(new Uint8Array(raw), 0);
}

/**
 * Parse a DCAP quote (v3, or v4 with an SGX body). Throws {@link AttestationError} (stage `quote`) with a
 * specific code naming the failing field: `ERR_QUOTE_TRUNCATED`, `ERR_QUOTE_VERSION_UNSUPPORTED`,
 * `ERR_QUOTE_KEY_TYPE_UNSUPPORTED`, `ERR_QUOTE_TEE_TYPE_UNSUPPORTED`, `ERR_QUOTE_LENGTH`,
 * `ERR_QUOTE_TRAILING_BYTES`, `ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED`, `ERR_QUOTE_PCK_CHAIN_ENCODING`.
 */
export function parseQuote(input: Uint8Array): Quote {
  const b = new Uint8Array(input); // private copy: views below must not change under us
  const h = HEADER.decode(b, 0);
  checkHeader(h);
  const body = decodeReport(b, HEADER.size);
  const sigAt = HEADER.size + REPORT_BODY.size;
  const sh = SIG_HEAD.decode(b, sigAt);
  const sigDataStart = sigAt + 4;
  const remaining = b.length - sigDataStart;
  if (sh.signatureDataLength > remaining) {
    fail(
      'ERR_QUOTE_LENGTH',
      `quote field signatureDataLength declares ${sh.signatureDataLength} bytes but only ${remaining} follow`,
    );
  }
  if (sh.signatureDataLength < remaining) {
    fail(
      'ERR_QUOTE_TRAILING_BYTES',
      `quote has ${remaining - sh.signatureDataLength} bytes after the ${sh.signatureDataLength} declared by signatureDataLength`,
    );
  }
  const end = b.length;
  let pos = sigDataStart + 128;
  let qeBlockAt = pos;
  if (h.version === 4) {
    const outer = CERT_HEAD.decode(b, pos);
    if (outer.type !== CERT_TYPE_QE_REPORT) {
      fail(
        'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
        `v4 quote field certificationData.type is ${outer.type} (${CERT_TYPE_NAMES[outer.type] ?? 'unknown'}); expected 6 (QE report certification data)`,
      );
    }
    pos += CERT_HEAD.size;
    if (outer.size !== end - pos) {
      fail(
        'ERR_QUOTE_LENGTH',
        `v4 quote field certificationData.size is ${outer.size} but ${end - pos} bytes remain in the signature data`,
      );
    }
    qeBlockAt = pos;
  }
  const qe = QE_BLOCK.decode(b, qeBlockAt);
  const authAt = qeBlockAt + QE_BLOCK.size;
  if (qe.qeAuthDataLength > end - authAt) {
    fail(
      'ERR_QUOTE_LENGTH',
      `quote field qeAuthDataLength declares ${qe.qeAuthDataLength} bytes but only ${end - authAt} remain`,
    );
  }
  const qeAuthData = b.subarray(authAt, authAt + qe.qeAuthDataLength);
  const certAt = authAt + qe.qeAuthDataLength;
  const cert = CERT_HEAD.decode(b, certAt);
  const certDataAt = certAt + CERT_HEAD.size;
  if (cert.type < 1 || cert.type > 5) {
    fail(
      'ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED',
      `quote field certificationData.type is ${cert.type} (${CERT_TYPE_NAMES[cert.type] ?? 'unknown'}); expected 1..5`,
    );
  }
  if (cert.size !== end - certDataAt) {
    fail(
      'ERR_QUOTE_LENGTH',
      `quote field certificationData.size is ${cert.size} but ${end - certDataAt} bytes remain` +
        (cert.size > end - certDataAt ? '' : ' (unaccounted bytes inside the signature data)'),
    );
  }
  const certData = b.subarray(certDataAt, end);
  const pckChainPem = cert.type === CERT_TYPE_PCK_CHAIN ? pckChainPemOf(certData, certDataAt) : null;
  return {
    bytes: b,
    version: h.version,
    header: h,
    body,
    signedRegion: b.subarray(0, sigAt),
    signature: sh.signature,
    attestationKey: sh.attestationKey,
    qeReport: decodeReport(b, qeBlockAt),
    qeReportSignature: qe.qeReportSignature,
    qeAuthData,
    certificationData: { type: cert.type, data: certData },
    pckChainPem,
    offsets: {
      body: HEADER.size,
      signatureData: sigAt,
      signature: sigDataStart,
      attestationKey: sigDataStart + 64,
      qeReport: qeBlockAt,
      qeReportSignature: qeBlockAt + REPORT_BODY.size,
      qeAuthData: authAt,
      certificationData: certAt,
      end,
    },
  };
}

/** The header fields this verifier supports: version 3 or 4, ECDSA P-256 attestation key, an SGX TEE. */
function checkHeader<H extends { version: number; attestationKeyType: number; teeType: number }>(
  h: H,
): asserts h is H & { version: 3 | 4 } {
  if (h.version !== 3 && h.version !== 4) {
    fail(
      'ERR_QUOTE_VERSION_UNSUPPORTED',
      `quote header field version is ${h.version}; only SGX DCAP quote versions 3 and 4 are supported`,
      h.version === 5
        ? 'Quote v5 is produced for TDX 1.5; this verifier handles SGX quotes only.'
        : 'This does not look like an SGX DCAP ECDSA quote (EPID quotes are version 1 or 2).',
    );
  }
  if (h.attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    fail(
      'ERR_QUOTE_KEY_TYPE_UNSUPPORTED',
      `quote header field attestationKeyType is ${h.attestationKeyType}; only 2 (ECDSA-256-with-P-256) is supported`,
    );
  }
  if (h.teeType !== 0) {
    fail(
      'ERR_QUOTE_TEE_TYPE_UNSUPPORTED',
      h.version === 3
        ? `quote header field att_key_data_0 is 0x${h.teeType.toString(16)}; it must be 0 in a v3 (SGX) quote`
        : `quote header field teeType is 0x${h.teeType.toString(16)}; only 0 (SGX) is supported` +
            (h.teeType === 0x81 ? ' (0x81 is TDX)' : ''),
    );
  }
}

/** The PEM text of certification data type 5 (trailing NULs dropped), refused at its first non-PEM byte. */
function pckChainPemOf(certData: Uint8Array, certDataAt: number): string {
  let n = certData.length;
  while (n > 0 && certData[n - 1] === 0) n--;
  for (const [i, c] of certData.subarray(0, n).entries()) {
    if (c > 0x7e || (c < 0x20 && c !== 0x0a && c !== 0x0d)) {
      fail(
        'ERR_QUOTE_PCK_CHAIN_ENCODING',
        `quote PCK certificate chain has a non-PEM byte 0x${c.toString(16).padStart(2, '0')} at offset ${certDataAt + i}`,
      );
    }
  }
  return Buffer.from(certData.buffer, certData.byteOffset, n).toString('latin1');
}

/** Human name of a certification data type. */
export function certificationDataTypeName(type: number): string {
  return CERT_TYPE_NAMES[type] ?? 'unknown';
}

/** A JSON-friendly summary of a report body (hex for bytes). */
export function reportBodyToJson(r: ReportBody): Record<string, string | number | boolean> {
  return {
    cpuSvn: toHex(r.cpuSvn),
    miscSelect: r.miscSelect,
    isvExtProdId: toHex(r.isvExtProdId),
    attributes: toHex(r.attributes),
    flags: `0x${r.flags.toString(16).padStart(16, '0')}`,
    xfrm: `0x${r.xfrm.toString(16).padStart(16, '0')}`,
    debug: r.debug,
    mrEnclave: toHex(r.mrEnclave),
    mrSigner: toHex(r.mrSigner),
    configId: toHex(r.configId),
    isvProdId: r.isvProdId,
    isvSvn: r.isvSvn,
    configSvn: r.configSvn,
    isvFamilyId: toHex(r.isvFamilyId),
    reportData: toHex(r.reportData),
  };
}
