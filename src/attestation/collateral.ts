/**
 * DCAP verification collateral: the {@link Collateral} type (same keys as Intel's
 * `sgx_ql_qve_collateral_t` and the test vectors' JSON), its JSON file form, extraction of the exact
 * signed bytes from PCS response bodies, and strict parsers for TCB Info (v2 and v3) and QE Identity (v2).
 *
 * TCB Info and QE Identity are parsed only after their signature has been verified over the raw bytes
 * (see appraise.ts); the parsers here validate every field they use and ignore fields they do not.
 */
import { AttestationError, InputError } from '../errors.js';
import { fromHexStrict, toHex } from './bytes.js';
import { immutable } from './frozen.js';
import { parseJsonFile, readJson, type JsonObject, type JsonValue } from '../base/json-fields.js';
import { topLevelSpans } from './json-span.js';

/**
 * Verification collateral for one quote. PEM chains are issuer-first (intermediate or signing cert, then
 * root); CRLs are DER; `tcb_info` / `qe_identity` are the exact signed bytes (the JSON value of the
 * `tcbInfo` / `enclaveIdentity` member as served), with 64-byte r‖s signatures.
 */
export interface Collateral {
  pck_crl_issuer_chain: string;
  root_ca_crl: Uint8Array;
  pck_crl: Uint8Array;
  tcb_info_issuer_chain: string;
  tcb_info: Uint8Array;
  tcb_info_signature: Uint8Array;
  qe_identity_issuer_chain: string;
  qe_identity: Uint8Array;
  qe_identity_signature: Uint8Array;
}

/** Collateral holding nothing: for appraisals that stop at the quote or chain before reading any. */
export const EMPTY_COLLATERAL: Readonly<Collateral> = Object.freeze({
  pck_crl_issuer_chain: '',
  root_ca_crl: new Uint8Array(),
  pck_crl: new Uint8Array(),
  tcb_info_issuer_chain: '',
  tcb_info: new Uint8Array(),
  tcb_info_signature: new Uint8Array(),
  qe_identity_issuer_chain: '',
  qe_identity: new Uint8Array(),
  qe_identity_signature: new Uint8Array(),
});

export const COLLATERAL_KEYS = [
  'pck_crl_issuer_chain',
  'root_ca_crl',
  'pck_crl',
  'tcb_info_issuer_chain',
  'tcb_info',
  'tcb_info_signature',
  'qe_identity_issuer_chain',
  'qe_identity',
  'qe_identity_signature',
] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function inputFail(code: string, message: string, hint?: string): never {
  throw new InputError(code, message, {
    hint: hint ?? 'Collateral JSON uses the keys of sgx_ql_qve_collateral_t (see docs/verification.md).',
  });
}

/** Decode UTF-8 strictly; undefined when invalid. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A CRL given as hex of DER (the vectors' format, PCCS API 3.0), PEM, or raw bytes. Returns DER bytes.
 */
export function decodeCrlText(value: string, field: string): Uint8Array {
  const t = value.trim();
  if (t.startsWith('-----BEGIN X509 CRL-----')) {
    const m = /^-----BEGIN X509 CRL-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END X509 CRL-----$/.exec(t);
    const b64 = m?.[1]?.replace(/\r?\n/g, '') ?? '';
    const der = Buffer.from(b64, 'base64');
    if (!m || b64.length === 0 || der.toString('base64') !== b64) {
      inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${field} is not a single canonical PEM CRL`);
    }
    return new Uint8Array(der);
  }
  const bytes = fromHexStrict(t);
  if (!bytes || bytes.length === 0) {
    inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${field} is neither hex-encoded DER nor a PEM CRL`);
  }
  return bytes;
}

function fieldBytes(obj: Record<string, unknown>, key: string, kind: 'text' | 'hex' | 'crl'): Uint8Array | string {
  const v = obj[key];
  if (v === undefined || v === null) {
    inputFail(
      'ERR_COLLATERAL_MISSING_FIELD',
      `collateral field ${key} is missing`,
      key.endsWith('crl')
        ? 'CRLs are required: a verifier that cannot check revocation must refuse. Fetch complete collateral from a PCCS.'
        : undefined,
    );
  }
  if (Array.isArray(v)) {
    if (!v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
      inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${key} is an array but not of bytes`);
    }
    const b = new Uint8Array(v as number[]);
    return kind === 'text' ? (decodeUtf8(b) ?? inputFail('ERR_COLLATERAL_FORMAT', `${key} is not UTF-8`)) : b;
  }
  if (typeof v !== 'string') inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${key} must be a string`);
  if (kind === 'text') return v;
  if (kind === 'crl') return decodeCrlText(v, key);
  const b = fromHexStrict(v);
  if (!b) inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${key} is not hex`);
  return b;
}

/**
 * Parse collateral JSON: the vectors' / `@phala/dcap-qvl` layout (hex CRLs and signatures, signed JSON as
 * strings), also accepting PEM CRLs, byte arrays, and `tcb_info` / `qe_identity` given as whole PCS
 * response bodies (`{"tcbInfo":…,"signature":…}`) without a separate signature field. One leading byte
 * order mark is ignored. Throws InputError `ERR_COLLATERAL_FORMAT` / `ERR_COLLATERAL_MISSING_FIELD`.
 */
export function parseCollateralJson(text: string): Collateral {
  const obj = parseJsonFile(text, (reason) =>
    inputFail('ERR_COLLATERAL_FORMAT', `collateral is not valid JSON: ${reason}`),
  );
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    inputFail('ERR_COLLATERAL_FORMAT', 'collateral must be a JSON object');
  }
  const o = obj as Record<string, unknown>;
  const signed = (key: 'tcb_info' | 'qe_identity', member: 'tcbInfo' | 'enclaveIdentity') => {
    const body = fieldBytes(o, key, 'text') as string;
    if (o[`${key}_signature`] === undefined) {
      try {
        return splitSignedBody(body, member);
      } catch (error) {
        if (error instanceof AttestationError) {
          inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${key}: ${error.message}`);
        }
        throw error;
      }
    }
    const sig = fieldBytes(o, `${key}_signature`, 'hex') as Uint8Array;
    return { signed: new Uint8Array(Buffer.from(body, 'utf8')), signature: sig };
  };
  // CRLs first: their absence is the most common incompleteness and deserves the specific hint.
  const root_ca_crl = fieldBytes(o, 'root_ca_crl', 'crl') as Uint8Array;
  const pck_crl = fieldBytes(o, 'pck_crl', 'crl') as Uint8Array;
  const tcb = signed('tcb_info', 'tcbInfo');
  const qe = signed('qe_identity', 'enclaveIdentity');
  return {
    pck_crl_issuer_chain: fieldBytes(o, 'pck_crl_issuer_chain', 'text') as string,
    root_ca_crl,
    pck_crl,
    tcb_info_issuer_chain: fieldBytes(o, 'tcb_info_issuer_chain', 'text') as string,
    tcb_info: tcb.signed,
    tcb_info_signature: tcb.signature,
    qe_identity_issuer_chain: fieldBytes(o, 'qe_identity_issuer_chain', 'text') as string,
    qe_identity: qe.signed,
    qe_identity_signature: qe.signature,
  };
}

/** Serialize collateral to the JSON file form read by {@link parseCollateralJson} (hex CRLs/signatures). */
export function serializeCollateralJson(c: Collateral): string {
  const text = (b: Uint8Array, k: string): string =>
    decodeUtf8(b) ?? inputFail('ERR_COLLATERAL_FORMAT', `collateral field ${k} is not UTF-8`);
  return (
    JSON.stringify(
      {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain,
        root_ca_crl: toHex(c.root_ca_crl),
        pck_crl: toHex(c.pck_crl),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain,
        tcb_info: text(c.tcb_info, 'tcb_info'),
        tcb_info_signature: toHex(c.tcb_info_signature),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain,
        qe_identity: text(c.qe_identity, 'qe_identity'),
        qe_identity_signature: toHex(c.qe_identity_signature),
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * Cut the signed member (`tcbInfo` or `enclaveIdentity`) out of a PCS response body byte for byte, and
 * decode its `signature` (128 hex). Throws AttestationError ERR_DCAP_TCB_INFO_FORMAT /
 * ERR_DCAP_QE_IDENTITY_FORMAT.
 */
export function splitSignedBody(
  body: string | Uint8Array,
  member: 'tcbInfo' | 'enclaveIdentity',
): { signed: Uint8Array; signature: Uint8Array } {
  const [stage, code, what] =
    member === 'tcbInfo'
      ? ['tcb-info', 'ERR_DCAP_TCB_INFO_FORMAT', 'TCB info body']
      : ['qe-identity', 'ERR_DCAP_QE_IDENTITY_FORMAT', 'QE identity body'];
  const text = typeof body === 'string' ? body : decodeUtf8(body);
  if (text === undefined) throw new AttestationError(stage, code, `${what} is not UTF-8`);
  const spans = topLevelSpans(text, stage, code, what);
  const span = spans.get(member);
  const sigSpan = spans.get('signature');
  if (!span) throw new AttestationError(stage, code, `${what} has no "${member}" member`);
  if (!sigSpan) throw new AttestationError(stage, code, `${what} has no "signature" member`);
  const sigText = JSON.parse(text.slice(sigSpan.start, sigSpan.end)) as unknown;
  const signature = typeof sigText === 'string' ? fromHexStrict(sigText) : undefined;
  if (!signature || signature.length !== 64) {
    throw new AttestationError(stage, code, `${what} "signature" is not 128 hex characters`);
  }
  if (text[span.start] !== '{') throw new AttestationError(stage, code, `${what} "${member}" is not an object`);
  return { signed: new Uint8Array(Buffer.from(text.slice(span.start, span.end), 'utf8')), signature };
}

// ---------------------------------------------------------------------------------------------------
// TCB Info and QE Identity

export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export const QE_TCB_STATUSES = ['UpToDate', 'OutOfDate', 'Revoked'] as const;
export type QeTcbStatus = (typeof QE_TCB_STATUSES)[number];

export interface TcbLevel {
  /** SGX TCB component SVNs comp01..comp16. */
  components: number[];
  pceSvn: number;
  tcbDate: string;
  status: TcbStatus;
  advisoryIds: string[];
}

export interface TcbInfo {
  version: 2 | 3;
  /** v3: "SGX" or "TDX"; absent in v2. */
  id: string | undefined;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tcbEvaluationDataNumber: number;
  levels: TcbLevel[];
}

export interface QeTcbLevel {
  isvSvn: number;
  tcbDate: string;
  status: QeTcbStatus;
  advisoryIds: string[];
}

export interface EnclaveIdentity {
  id: string;
  version: 2;
  issueDate: Date;
  nextUpdate: Date;
  tcbEvaluationDataNumber: number;
  miscselect: Uint8Array;
  miscselectMask: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrsigner: Uint8Array;
  isvProdId: number;
  levels: QeTcbLevel[];
}

/** The signed PCS document as a JSON object read through `base/json-fields.ts`, failing with `code`. */
function pcsDocument(signed: Uint8Array, member: string, stage: string, code: string, what: string): JsonObject {
  const fail = (path: string, detail: string): never => {
    throw new AttestationError(stage, code, `${what} field ${path} ${detail}`, {
      hint: 'The document does not follow Intel’s PCS format; fetch it again from the PCCS.',
    });
  };
  const text = decodeUtf8(signed) ?? fail('(document)', 'is not UTF-8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('(document)', 'is not valid JSON');
  }
  readJson(raw, fail, member).object(); // named in the error; its fields are named from it
  return readJson(raw, fail).object();
}

/** An ISO 8601 UTC time (`2025-01-31T12:00:00Z`, optional milliseconds) that is a real date. */
function pcsDate(v: JsonValue): Date {
  const s = v.string();
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?Z$/.exec(s);
  if (!m) v.reject(`must be an ISO 8601 UTC time like 2025-01-31T12:00:00Z, got '${s.slice(0, 40)}'`);
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, se, m[7] ? Number(m[7].padEnd(3, '0')) : 0);
  const date = new Date(ms);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    v.reject(`is not a real date: '${s}'`);
  }
  return date;
}

/** `advisoryIDs`: absent, or an array of strings. */
function pcsAdvisories(v: JsonValue): string[] {
  return v.missing ? [] : v.array().map((a) => a.string());
}

/**
 * Parse verified TCB Info bytes (v2 or v3). Throws AttestationError ERR_DCAP_TCB_INFO_FORMAT. The result is
 * deeply immutable (frozen.ts): the appraisal memoises it by content.
 */
export function parseTcbInfo(signed: Uint8Array): TcbInfo {
  const o = pcsDocument(signed, 'tcbInfo', 'tcb-info', 'ERR_DCAP_TCB_INFO_FORMAT', 'TCB info');
  const version = o.integer('version');
  if (version !== 2 && version !== 3) o.get('version').reject(`is ${version}; only versions 2 and 3 are supported`);
  let id: string | undefined;
  if (version === 3) {
    id = o.string('id');
    if (id !== 'SGX' && id !== 'TDX') o.get('id').reject(`is '${id}', expected SGX or TDX`);
  }
  const levels = o
    .get('tcbLevels')
    .array()
    .map((lv): TcbLevel => {
      const l = lv.object();
      const tcb = l.object('tcb');
      let components: number[];
      if (version === 3) {
        const comps = tcb.get('sgxtcbcomponents');
        const list = comps.array();
        if (list.length !== 16) comps.reject(`has ${list.length} entries, expected 16`);
        components = list.map((c) => c.object().integer('svn', { max: 255 }));
      } else {
        components = [];
        for (let k = 1; k <= 16; k++) {
          components.push(tcb.integer(`sgxtcbcomp${String(k).padStart(2, '0')}svn`, { max: 255 }));
        }
      }
      const status = l.string('tcbStatus');
      if (!(TCB_STATUSES as readonly string[]).includes(status))
        l.get('tcbStatus').reject(`'${status}' is not recognized`);
      return {
        components,
        pceSvn: tcb.integer('pcesvn', { max: 0xffff }),
        tcbDate: pcsDate(l.get('tcbDate')).toISOString(),
        status: status as TcbStatus,
        advisoryIds: pcsAdvisories(l.get('advisoryIDs')),
      };
    });
  if (levels.length === 0) o.get('tcbLevels').reject('is empty');
  return immutable({
    version: version as 2 | 3,
    id,
    issueDate: pcsDate(o.get('issueDate')),
    nextUpdate: pcsDate(o.get('nextUpdate')),
    fmspc: o.get('fmspc').hex(6),
    pceId: o.get('pceId').hex(2),
    tcbType: o.integer('tcbType'),
    tcbEvaluationDataNumber: o.integer('tcbEvaluationDataNumber'),
    levels,
  });
}

/**
 * Parse verified QE Identity bytes (v2). Throws AttestationError ERR_DCAP_QE_IDENTITY_FORMAT. Deeply
 * immutable, like {@link parseTcbInfo}'s result.
 */
export function parseEnclaveIdentity(signed: Uint8Array): EnclaveIdentity {
  const o = pcsDocument(signed, 'enclaveIdentity', 'qe-identity', 'ERR_DCAP_QE_IDENTITY_FORMAT', 'QE identity');
  const version = o.integer('version');
  if (version !== 2) o.get('version').reject(`is ${version}; only version 2 is supported`);
  const levels = o
    .get('tcbLevels')
    .array()
    .map((lv): QeTcbLevel => {
      const l = lv.object();
      const status = l.string('tcbStatus');
      if (!(QE_TCB_STATUSES as readonly string[]).includes(status)) {
        l.get('tcbStatus').reject(`'${status}' is not recognized`);
      }
      return {
        isvSvn: l.object('tcb').integer('isvsvn', { max: 0xffff }),
        tcbDate: pcsDate(l.get('tcbDate')).toISOString(),
        status: status as QeTcbStatus,
        advisoryIds: pcsAdvisories(l.get('advisoryIDs')),
      };
    });
  if (levels.length === 0) o.get('tcbLevels').reject('is empty');
  return immutable({
    id: o.string('id'),
    version: 2,
    issueDate: pcsDate(o.get('issueDate')),
    nextUpdate: pcsDate(o.get('nextUpdate')),
    tcbEvaluationDataNumber: o.integer('tcbEvaluationDataNumber'),
    miscselect: o.get('miscselect').hex(4),
    miscselectMask: o.get('miscselectMask').hex(4),
    attributes: o.get('attributes').hex(16),
    attributesMask: o.get('attributesMask').hex(16),
    mrsigner: o.get('mrsigner').hex(32),
    isvProdId: o.integer('isvprodid', { max: 0xffff }),
    levels,
  });
}

// ---------------------------------------------------------------------------------------------------
// TCB level matching (pure)

/** Compare two levels for Intel's descending order: components lexicographically, then PCESVN. */
function compareLevelsDesc(a: TcbLevel, b: TcbLevel): number {
  // both hold the 16 SVNs the parser checked
  for (const [i, svn] of b.components.entries()) {
    const other = a.components[i];
    const d = other === undefined ? 0 : svn - other;
    if (d) return d;
  }
  return b.pceSvn - a.pceSvn;
}

/**
 * The platform TCB level for a PCK TCB: levels sorted in Intel's descending order (Intel already serves
 * them so; sorting is defensive), first one whose every component SVN and PCESVN are ≤ the PCK's.
 * Undefined when none matches (TCB not supported).
 */
export function matchTcbLevel(info: TcbInfo, pck: { components: number[]; pceSvn: number }): TcbLevel | undefined {
  const sorted = [...info.levels].sort(compareLevelsDesc);
  // a component the PCK lacks matches no level
  const within = (svn: number, i: number): boolean => {
    const own = pck.components[i];
    return own !== undefined && svn <= own;
  };
  return sorted.find((l) => l.pceSvn <= pck.pceSvn && l.components.every(within));
}

/** The QE TCB level: first level (by descending ISVSVN) with isvsvn ≤ the QE's ISVSVN. */
export function matchQeTcbLevel(identity: EnclaveIdentity, qeIsvSvn: number): QeTcbLevel | undefined {
  return [...identity.levels].sort((a, b) => b.isvSvn - a.isvSvn).find((l) => l.isvSvn <= qeIsvSvn);
}

/** Fold the QE TCB status into the platform status as Intel's QVL does (convergeTcbStatusWithQeTcbStatus). */
export function convergeTcbStatus(platform: TcbStatus, qe: QeTcbStatus): TcbStatus {
  if (qe === 'Revoked') return 'Revoked';
  if (qe === 'OutOfDate') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  return platform;
}

/** Bytes of a UTF-8 string (for building collateral from text). */
export function utf8Bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
