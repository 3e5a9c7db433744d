/**
 * Intel's SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1): the platform's FMSPC, PCE ID,
 * the TCB the certificate was issued for (16 component SVNs, PCESVN, CPUSVN) and the SGX type. The TCB
 * here, not the raw CPUSVN in the quote, is what TCB-level matching uses (see docs/verification.md).
 *
 * The extension is a SEQUENCE of SEQUENCE { OID, value }; entries are looked up by OID, never by position,
 * and each required entry must appear exactly once.
 */
import {
  TAG,
  boolean,
  derFail,
  octetString,
  oid,
  readRoot,
  sequence,
  smallInt,
  type DerContext,
  type Tlv,
} from './der.js';
import { immutable } from './frozen.js';
import { findExtension, OID, type Certificate } from './x509.js';

const SGX = OID.sgxExtension;

export const SGX_TYPE_NAMES = ['Standard', 'Scalable', 'ScalableWithIntegrity'] as const;

export interface PckTcb {
  /** SGX TCB component SVNs comp01..comp16. */
  components: number[];
  pceSvn: number;
  /** The CPUSVN the certificate was issued for (16 bytes). */
  cpuSvn: Uint8Array;
}

export interface PckExtension {
  ppid: Uint8Array;
  tcb: PckTcb;
  /** 2 bytes. */
  pceId: Uint8Array;
  /** 6 bytes. */
  fmspc: Uint8Array;
  /** 0 Standard, 1 Scalable, 2 ScalableWithIntegrity. */
  sgxType: number;
  /** Platform-CA certificates only. */
  platformInstanceId?: Uint8Array;
  /** Platform-CA certificates only. */
  configuration?: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean };
}

const CTX: DerContext = { stage: 'pck-chain', code: 'ERR_DCAP_PCK_EXTENSION', what: 'PCK certificate SGX extension' };

/** Parse the SGX extension of a PCK leaf certificate. Throws ERR_DCAP_PCK_EXTENSION. */
export function parsePckExtension(cert: Certificate): PckExtension {
  const ext = findExtension(cert, SGX);
  if (!ext) derFail(CTX, `extension ${SGX} is missing`);
  return parsePckExtensionValue(ext.value);
}

/**
 * Parse the DER value of the SGX extension (the content of its extnValue OCTET STRING). The result is
 * deeply immutable (frozen.ts): the appraisal shares it per certificate.
 */
export function parsePckExtensionValue(der: Uint8Array): PckExtension {
  const entries = byOid(readRoot(der, CTX, TAG.SEQUENCE), 'SGX extension');
  const take = (suffix: string): Tlv | undefined => entries.get(`${SGX}.${suffix}`);
  const required = (suffix: string): Tlv =>
    take(suffix) ?? derFail(CTX, `entry ${SGX}.${suffix} (${ENTRY_NAMES[suffix]}) is missing`);
  const ppid = octetString(required('1'), CTX, 'PPID', 16);
  const tcbT = required('2');
  const tcbEntries = byOid(tcbT, 'TCB');
  const components: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const t = tcbEntries.get(`${SGX}.2.${i}`);
    if (!t) derFail(CTX, `TCB entry ${SGX}.2.${i} (SGX TCB comp${String(i).padStart(2, '0')} SVN) is missing`);
    const svn = smallInt(t, CTX, `TCB comp${String(i).padStart(2, '0')} SVN`);
    if (svn > 255) derFail(CTX, `TCB comp${String(i).padStart(2, '0')} SVN ${svn} is out of range 0..255`);
    components.push(svn);
  }
  const pceT = tcbEntries.get(`${SGX}.2.17`);
  if (!pceT) derFail(CTX, `TCB entry ${SGX}.2.17 (PCESVN) is missing`);
  const pceSvn = smallInt(pceT, CTX, 'PCESVN');
  if (pceSvn > 0xffff) derFail(CTX, `PCESVN ${pceSvn} is out of range 0..65535`);
  const cpuT = tcbEntries.get(`${SGX}.2.18`);
  if (!cpuT) derFail(CTX, `TCB entry ${SGX}.2.18 (CPUSVN) is missing`);
  const cpuSvn = octetString(cpuT, CTX, 'CPUSVN', 16);
  const pceId = octetString(required('3'), CTX, 'PCE-ID', 2);
  const fmspc = octetString(required('4'), CTX, 'FMSPC', 6);
  const sgxType = smallInt(required('5'), CTX, 'SGX Type', TAG.ENUMERATED);
  if (sgxType > 2) derFail(CTX, `SGX Type ${sgxType} is unknown (expected 0, 1 or 2)`);
  const out: PckExtension = { ppid, tcb: { components, pceSvn, cpuSvn }, pceId, fmspc, sgxType };
  const pi = take('6');
  if (pi) out.platformInstanceId = octetString(pi, CTX, 'PlatformInstanceID', 16);
  const cfg = take('7');
  if (cfg) {
    const c = byOid(cfg, 'Configuration');
    const flag = (n: number, name: string): boolean | undefined => {
      const t = c.get(`${SGX}.7.${n}`);
      return t ? boolean(t, CTX, name) : undefined;
    };
    out.configuration = {};
    const dp = flag(1, 'dynamicPlatform');
    const ck = flag(2, 'cachedKeys');
    const smt = flag(3, 'SMTEnabled');
    if (dp !== undefined) out.configuration.dynamicPlatform = dp;
    if (ck !== undefined) out.configuration.cachedKeys = ck;
    if (smt !== undefined) out.configuration.smtEnabled = smt;
  }
  return immutable(out);
}

const ENTRY_NAMES: Record<string, string> = {
  '1': 'PPID',
  '2': 'TCB',
  '3': 'PCE-ID',
  '4': 'FMSPC',
  '5': 'SGX Type',
  '6': 'PlatformInstanceID',
  '7': 'Configuration',
};

/** Map OID → value element of a SEQUENCE OF SEQUENCE { OID, value }, rejecting duplicates. */
function byOid(t: Tlv, name: string): Map<string, Tlv> {
  const map = new Map<string, Tlv>();
  const list = sequence(t, CTX, name);
  list.forEach((entry, n) => {
    const [idT, valueT] = sequence(entry, CTX, `${name} entry ${n}`, 2, 2);
    const id = oid(idT, CTX, `${name} entry ${n} id`);
    if (map.has(id)) derFail(CTX, `${name} entry ${id} appears twice`);
    map.set(id, valueT);
  });
  return map;
}
