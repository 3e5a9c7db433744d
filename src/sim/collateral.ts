/**
 * Collateral of the simulated platform in Intel's formats: TCB Info v3 and QE Identity v2 JSON bodies
 * (`{"tcbInfo":{…},"signature":"<hex r‖s>"}`, signature = ECDSA P-256/SHA-256 by the TCB signing key over
 * the exact bytes of the inner object as it appears in the body), and X.509 v2 CRLs (root CA CRL, PCK
 * Platform CA CRL). Pure: everything is a function of the platform's keys, parameters and a time.
 */
import { sign, type KeyObject } from 'node:crypto';
import { buildCrl, toPem, type DnSpec } from './x509.js';

/** TCB statuses Intel publishes. */
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked';

/** Intel's current TCB evaluation data number (2025); the sim publishes the same. */
export const SIM_TCB_EVALUATION_DATA_NUMBER = 17;

/** Advisory ID attached to the sim's lower (OutOfDate) levels; clearly not an Intel advisory. */
export const SIM_ADVISORY_ID = 'SIM-SA-00001';

/** Intel labels the first four SGX TCB components in TCB Info v3; the sim mirrors that shape. */
const COMPONENT_LABELS: readonly ({ category: string; type?: string } | undefined)[] = [
  { category: 'BIOS', type: 'Early Microcode Update' },
  { category: 'OS/VMM', type: 'SGX Late Microcode Update' },
  { category: 'OS/VMM', type: 'TXT SINIT' },
  { category: 'BIOS' },
];

/** ISO-8601 without milliseconds, as Intel writes `issueDate`/`nextUpdate`/`tcbDate`. */
export function intelDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function hexUpper(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').toUpperCase();
}

function signRaw(text: string, key: KeyObject): string {
  return sign('sha256', Buffer.from(text, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }).toString('hex');
}

export interface TcbInfoParams {
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbComponents: readonly number[];
  pceSvn: number;
  tcbDate: Date;
  issueDate: Date;
  nextUpdate: Date;
  /** Status of the level matching the platform's PCK TCB. Default UpToDate. */
  platformTcbStatus?: TcbStatus;
  /** advisoryIDs of that level; omitted when empty (Intel omits the key on clean levels). */
  advisoryIds?: readonly string[];
}

/** The compact `tcbInfo` JSON text, in Intel's key order. */
export function tcbInfoJson(p: TcbInfoParams): string {
  const components = (svns: readonly number[]) => svns.map((svn, i) => ({ svn, ...(COMPONENT_LABELS[i] ?? {}) }));
  const level = (svns: readonly number[], pcesvn: number, status: TcbStatus, advisories: readonly string[]) => ({
    tcb: { sgxtcbcomponents: components(svns), pcesvn },
    tcbDate: intelDate(p.tcbDate),
    tcbStatus: status,
    ...(advisories.length ? { advisoryIDs: [...advisories] } : {}),
  });
  const levels = [level(p.tcbComponents, p.pceSvn, p.platformTcbStatus ?? 'UpToDate', p.advisoryIds ?? [])];
  // A lower, OutOfDate level so that verifiers really walk the (descending) level list.
  if (p.pceSvn > 0) levels.push(level(p.tcbComponents, p.pceSvn - 1, 'OutOfDate', [SIM_ADVISORY_ID]));
  return JSON.stringify({
    id: 'SGX',
    version: 3,
    issueDate: intelDate(p.issueDate),
    nextUpdate: intelDate(p.nextUpdate),
    fmspc: Buffer.from(p.fmspc).toString('hex'),
    pceId: Buffer.from(p.pceId).toString('hex').toUpperCase(),
    tcbType: 0,
    tcbEvaluationDataNumber: SIM_TCB_EVALUATION_DATA_NUMBER,
    tcbLevels: levels,
  });
}

export interface QeIdentityParams {
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  /** 16 bytes: the QE's attributes (flags ‖ xfrm); the identity publishes them under Intel's mask. */
  attributes: Uint8Array;
  miscSelect: number;
  tcbDate: Date;
  issueDate: Date;
  nextUpdate: Date;
  /** Status of the level matching the QE's ISVSVN. Default UpToDate. */
  qeTcbStatus?: TcbStatus;
}

/** Intel's QE identity masks: DEBUG (0x02) ignored in flags, xfrm ignored entirely. */
export const QE_ATTRIBUTES_MASK = Buffer.from('FBFFFFFFFFFFFFFF0000000000000000', 'hex');
export const QE_MISCSELECT_MASK = 0xffffffff;

/** The compact `enclaveIdentity` JSON text, in Intel's key order. */
export function qeIdentityJson(p: QeIdentityParams): string {
  const masked = Uint8Array.from(p.attributes, (b, i) => b & (QE_ATTRIBUTES_MASK[i] as number));
  const misc = Buffer.alloc(4);
  misc.writeUInt32BE(p.miscSelect >>> 0);
  const levels: object[] = [
    { tcb: { isvsvn: p.isvSvn }, tcbDate: intelDate(p.tcbDate), tcbStatus: p.qeTcbStatus ?? 'UpToDate' },
  ];
  if (p.isvSvn > 0) {
    levels.push({
      tcb: { isvsvn: p.isvSvn - 1 },
      tcbDate: intelDate(p.tcbDate),
      tcbStatus: 'OutOfDate',
      advisoryIDs: [SIM_ADVISORY_ID],
    });
  }
  return JSON.stringify({
    id: 'QE',
    version: 2,
    issueDate: intelDate(p.issueDate),
    nextUpdate: intelDate(p.nextUpdate),
    tcbEvaluationDataNumber: SIM_TCB_EVALUATION_DATA_NUMBER,
    miscselect: misc.toString('hex').toUpperCase(),
    miscselectMask: QE_MISCSELECT_MASK.toString(16).toUpperCase().padStart(8, '0'),
    attributes: hexUpper(masked),
    attributesMask: hexUpper(QE_ATTRIBUTES_MASK),
    mrsigner: hexUpper(p.mrSigner),
    isvprodid: p.isvProdId,
    tcbLevels: levels,
  });
}

/** A signed PCS body plus the pieces verifiers consume. */
export interface SignedJson {
  /** The whole response body, e.g. `{"tcbInfo":{…},"signature":"…"}`. */
  body: string;
  /** The exact signed text: the inner object as it appears in `body`. */
  signed: string;
  /** 128 lowercase hex: r‖s. */
  signatureHex: string;
}

export function signTcbInfo(json: string, key: KeyObject): SignedJson {
  const signatureHex = signRaw(json, key);
  return { body: `{"tcbInfo":${json},"signature":"${signatureHex}"}`, signed: json, signatureHex };
}

export function signQeIdentity(json: string, key: KeyObject): SignedJson {
  const signatureHex = signRaw(json, key);
  return { body: `{"enclaveIdentity":${json},"signature":"${signatureHex}"}`, signed: json, signatureHex };
}

export interface CrlIssuer {
  dn: DnSpec;
  key: KeyObject;
  keyId: Uint8Array;
}

export function makeCrl(
  issuer: CrlIssuer,
  thisUpdate: Date,
  nextUpdate: Date,
  revoked: readonly Uint8Array[],
): { der: Uint8Array; pem: string } {
  const der = buildCrl({
    issuer: issuer.dn,
    issuerKey: issuer.key,
    authorityKeyId: issuer.keyId,
    thisUpdate,
    nextUpdate,
    // Monotonic without state: the issue time in seconds.
    crlNumber: Math.floor(thisUpdate.getTime() / 1000),
    revoked,
  });
  return { der, pem: toPem(der, 'X509 CRL') };
}
