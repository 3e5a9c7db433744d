/**
 * The simulated SGX platform: a software stand-in for an Intel SGX machine with DCAP attestation, for
 * hosts without SGX. Its identity — a simulation root CA (never Intel's), a PCK Platform CA, a PCK leaf
 * certificate carrying Intel's SGX extension, a TCB signing certificate, and a quoting enclave (QE) with an
 * ECDSA attestation key whose QE report is signed by the PCK key — is created once, on first use, in the
 * operator's state directory, and reused afterwards. Collateral (CRLs, TCB Info, QE Identity) is derived
 * from it and regenerated when stale.
 *
 * Everything it issues says SIMULATION. A verifier accepts its quotes only when its root is explicitly
 * trusted; see docs/simulation.md for the trust model.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, StateError } from '../errors.js';
import { readUserText, readUserTextIfExists, writeFileAtomic } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import {
  makeCrl,
  qeIdentityJson,
  signQeIdentity,
  signTcbInfo,
  tcbInfoJson,
  type SignedJson,
  type TcbStatus,
} from './collateral.js';
import { PRODUCTION_ATTRIBUTES, assembleQuoteV3, encodeReportBody, qeReportData } from './quote.js';
import { SGX_EXTENSION_OID, SgxType, encodeSgxExtension } from './sgx-extension.js';
import { publishExclusive } from '../fs/publish.js';
import { simStateDir } from './state.js';
import { buildCertificate, dn, keyIdentifier, rawP256PublicKey, toPem, type DnSpec } from './x509.js';

/** Subject names: every one says SIMULATION and keeps the substrings Intel's QVL looks for. */
export const SIM_NAMES = {
  root: 'mse-home SIMULATION SGX Root CA — not Intel',
  pckCa: 'mse-home SIMULATION SGX PCK Platform CA',
  pck: 'mse-home SIMULATION SGX PCK Certificate',
  tcbSigning: 'mse-home SIMULATION SGX TCB Signing',
  organization: 'mse-home simulated SGX platform (SIMULATION, not Intel)',
} as const;

/** CRL distribution points written in the certificates (`.invalid`: never resolvable). */
export const SIM_CRL_URLS = {
  root: 'https://sim.mse-home.invalid/sgx/certification/v4/rootcacrl',
  pck: 'https://sim.mse-home.invalid/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
} as const;

const IDENTITY_FORMAT = 'mse-home-sim-platform-v1';
const COLLATERAL_FORMAT = 'mse-home-sim-collateral-v1';
const IDENTITY_FILE = 'identity.json';
const COLLATERAL_FILE = 'collateral.json';
const ROOT_PEM_FILE = 'root-ca.pem';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
/** Issue times are backdated so that a verifier whose clock is a little behind still accepts them. */
export const CLOCK_SKEW_MARGIN_MS = HOUR;
/** Validity of TCB Info, QE Identity and the PCK CRL (Intel: 30 days) and of the root CRL (Intel: ~1 year). */
export const COLLATERAL_VALIDITY_MS = 30 * DAY;
export const ROOT_CRL_VALIDITY_MS = YEAR;
/** Stored collateral older than this is regenerated, so fresh evidence always has ~29 days ahead. */
export const COLLATERAL_MAX_AGE_MS = DAY;

/** The simulated platform's fixed TCB: realistic values (those of a 2024 Platform-CA part). */
const DEFAULT_PARAMS = {
  /** "SIM" — an FMSPC no Intel part uses. */
  fmspc: '53494d000000',
  pceId: '0000',
  tcbComponents: [14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
  sgxType: SgxType.scalable,
  qeIsvProdId: 1,
  qeIsvSvn: 8,
  /** INIT | MODE64BIT | PROVISIONKEY, xfrm 0xE7: what Intel's QE reports. */
  qeAttributes: '1500000000000000e700000000000000',
};

/** Key/certificate pair of one CA or end entity. */
export interface SimCertifiedKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  der: Uint8Array;
  pem: string;
  /** Subject key identifier. */
  keyId: Uint8Array;
  dn: DnSpec;
}

/** The simulated quoting enclave. */
export interface SimQe {
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  attributes: Uint8Array;
  miscSelect: number;
  /** 16-byte QE id placed in the quote header's user data. */
  qeId: Uint8Array;
  /** Intel's QE uses the 32 bytes 0x00..0x1F. */
  authData: Uint8Array;
  attestationKey: KeyObject;
  /** X‖Y. */
  attestationPublicKey: Uint8Array;
  /** The 384-byte QE report and its PCK signature (r‖s). */
  report: Uint8Array;
  reportSignature: Uint8Array;
}

/** The platform's TCB as certified in the PCK certificate. */
export interface SimTcb {
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbComponents: readonly number[];
  pceSvn: number;
  /** Raw CPUSVN (equal to the component SVNs, as in Intel's PCK certificates). */
  cpuSvn: Uint8Array;
  sgxType: number;
  ppid: Uint8Array;
  platformInstanceId: Uint8Array;
}

/** What `signQuote` takes: the enclave's identity and its report data. */
export interface SimQuoteInput {
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  /** 64 bytes. */
  reportData: Uint8Array;
  /** 16 bytes (flags u64 LE ‖ xfrm u64 LE). Default: production (INIT|MODE64BIT, DEBUG clear, xfrm 0xE7). */
  attributes?: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  /** Default: the platform's CPUSVN. */
  cpuSvn?: Uint8Array;
  miscSelect?: number;
  configSvn?: number;
  configId?: Uint8Array;
  isvExtProdId?: Uint8Array;
  isvFamilyId?: Uint8Array;
}

/** Options to derive collateral that differs from the healthy default (for tests and demos). */
export interface SimCollateralOptions {
  /** Time of issue (before backdating). Default now. */
  now?: Date;
  /** Status of the TCB Info level matching the platform. Default UpToDate. */
  platformTcbStatus?: TcbStatus;
  /** advisoryIDs of that level. */
  advisoryIds?: readonly string[];
  /** Status of the QE Identity level matching the QE. Default UpToDate. */
  qeTcbStatus?: TcbStatus;
  /** Put these certificates on the CRLs: the PCK leaf (PCK CRL), the PCK CA and TCB signing cert (root CRL). */
  revoke?: { pck?: boolean; pckCa?: boolean; tcbSigning?: boolean };
  /** Validity of TCB Info, QE Identity and PCK CRL. Default 30 days. */
  validityMs?: number;
}

/** Collateral in Intel's formats, as a PCCS serves it. */
export interface SimCollateral {
  /** thisUpdate / issueDate of every item (backdated by {@link CLOCK_SKEW_MARGIN_MS}). */
  issuedAt: Date;
  /** Earliest nextUpdate among the items. */
  nextUpdate: Date;
  rootCaCrlDer: Uint8Array;
  rootCaCrlPem: string;
  pckCrlDer: Uint8Array;
  pckCrlPem: string;
  tcbInfo: SignedJson;
  qeIdentity: SignedJson;
  /** PCK Platform CA ‖ root, PEM. */
  pckCrlIssuerChainPem: string;
  /** TCB signing ‖ root, PEM (also the QE Identity issuer chain). */
  tcbInfoIssuerChainPem: string;
  qeIdentityIssuerChainPem: string;
}

/**
 * Collateral in the JSON shape of Intel's `sgx_ql_qve_collateral_t` as used by the test vectors
 * (`testvectors/dcap/*collateral*.json`): PEM chains, hex DER CRLs, exact signed JSON text, hex signatures.
 */
export interface QveCollateralJson {
  pck_crl_issuer_chain: string;
  root_ca_crl: string;
  pck_crl: string;
  tcb_info_issuer_chain: string;
  tcb_info: string;
  tcb_info_signature: string;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
}

export function collateralToJson(c: SimCollateral): QveCollateralJson {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    pck_crl_issuer_chain: c.pckCrlIssuerChainPem,
    root_ca_crl: hex(c.rootCaCrlDer),
    pck_crl: hex(c.pckCrlDer),
    tcb_info_issuer_chain: c.tcbInfoIssuerChainPem,
    tcb_info: c.tcbInfo.signed,
    tcb_info_signature: c.tcbInfo.signatureHex,
    qe_identity_issuer_chain: c.qeIdentityIssuerChainPem,
    qe_identity: c.qeIdentity.signed,
    qe_identity_signature: c.qeIdentity.signatureHex,
  };
}

// ---------------------------------------------------------------------------------------------------------
// On-disk identity record

interface IdentityRecord {
  format: typeof IDENTITY_FORMAT;
  notice: string;
  createdAt: string;
  keys: { root: string; pckCa: string; pck: string; tcbSigning: string; attestation: string };
  certs: { root: string; pckCa: string; pck: string; tcbSigning: string };
  platform: {
    fmspc: string;
    pceId: string;
    tcbComponents: number[];
    pceSvn: number;
    cpuSvn: string;
    sgxType: number;
    ppid: string;
    platformInstanceId: string;
  };
  qe: {
    mrEnclave: string;
    mrSigner: string;
    isvProdId: number;
    isvSvn: number;
    attributes: string;
    miscSelect: number;
    qeId: string;
    authData: string;
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pkcs8 = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const newP256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const secondsFloor = (t: number): Date => new Date(Math.floor(t / 1000) * 1000);

/** Generate a fresh identity (all keys random). Pure apart from randomness. */
function generateIdentity(now: Date): IdentityRecord {
  const created = secondsFloor(now.getTime());
  const notBefore = new Date(created.getTime() - CLOCK_SKEW_MARGIN_MS);
  const org = SIM_NAMES.organization;
  const rootDn = dn(SIM_NAMES.root, org);
  const pckCaDn = dn(SIM_NAMES.pckCa, org);

  const root = newP256();
  const rootId = keyIdentifier(root.publicKey);
  const rootDer = buildCertificate({
    serial: rootId,
    subject: rootDn,
    issuer: rootDn,
    notBefore,
    notAfter: new Date('2049-12-31T23:59:59Z'),
    subjectPublicKey: root.publicKey,
    authorityKeyId: rootId,
    crlDistributionPoint: SIM_CRL_URLS.root,
    ca: { pathLen: 1 },
    issuerKey: root.privateKey,
  });

  const pckCa = newP256();
  const pckCaId = keyIdentifier(pckCa.publicKey);
  const pckCaDer = buildCertificate({
    serial: pckCaId,
    subject: pckCaDn,
    issuer: rootDn,
    notBefore,
    notAfter: new Date(created.getTime() + 15 * YEAR),
    subjectPublicKey: pckCa.publicKey,
    authorityKeyId: rootId,
    crlDistributionPoint: SIM_CRL_URLS.root,
    ca: { pathLen: 0 },
    issuerKey: root.privateKey,
  });

  const tcbSigning = newP256();
  const tcbDer = buildCertificate({
    serial: keyIdentifier(tcbSigning.publicKey),
    subject: dn(SIM_NAMES.tcbSigning, org),
    issuer: rootDn,
    notBefore,
    notAfter: new Date(created.getTime() + 7 * YEAR),
    subjectPublicKey: tcbSigning.publicKey,
    authorityKeyId: rootId,
    crlDistributionPoint: SIM_CRL_URLS.root,
    issuerKey: root.privateKey,
  });

  const p = DEFAULT_PARAMS;
  const platform = {
    fmspc: p.fmspc,
    pceId: p.pceId,
    tcbComponents: [...p.tcbComponents],
    pceSvn: p.pceSvn,
    cpuSvn: hex(Uint8Array.from(p.tcbComponents)),
    sgxType: p.sgxType,
    ppid: hex(randomBytes(16)),
    platformInstanceId: hex(randomBytes(16)),
  };
  const pck = newP256();
  const pckDer = buildCertificate({
    serial: randomBytes(20),
    subject: dn(SIM_NAMES.pck, org),
    issuer: pckCaDn,
    notBefore,
    notAfter: new Date(created.getTime() + 7 * YEAR),
    subjectPublicKey: pck.publicKey,
    authorityKeyId: pckCaId,
    crlDistributionPoint: SIM_CRL_URLS.pck,
    extraExtensions: [{ oid: SGX_EXTENSION_OID, value: encodeSgxExtension(sgxValues(tcbFromRecord(platform))) }],
    issuerKey: pckCa.privateKey,
  });

  const attestation = newP256();
  return {
    format: IDENTITY_FORMAT,
    notice: 'SIMULATED SGX platform of mse-home: not Intel, proves nothing about hardware. Private keys inside.',
    createdAt: created.toISOString(),
    keys: {
      root: pkcs8(root.privateKey),
      pckCa: pkcs8(pckCa.privateKey),
      pck: pkcs8(pck.privateKey),
      tcbSigning: pkcs8(tcbSigning.privateKey),
      attestation: pkcs8(attestation.privateKey),
    },
    certs: {
      root: toPem(rootDer, 'CERTIFICATE'),
      pckCa: toPem(pckCaDer, 'CERTIFICATE'),
      pck: toPem(pckDer, 'CERTIFICATE'),
      tcbSigning: toPem(tcbDer, 'CERTIFICATE'),
    },
    platform,
    qe: {
      // Fixed, recognisable measurements of the simulated QE (not Intel's QE MRSIGNER).
      mrEnclave: createHash('sha256').update('mse-home SIMULATION quoting enclave MRENCLAVE').digest('hex'),
      mrSigner: createHash('sha256').update('mse-home SIMULATION quoting enclave MRSIGNER').digest('hex'),
      isvProdId: p.qeIsvProdId,
      isvSvn: p.qeIsvSvn,
      attributes: p.qeAttributes,
      miscSelect: 0,
      qeId: hex(randomBytes(16)),
      authData: hex(Uint8Array.from({ length: 32 }, (_, i) => i)),
    },
  };
}

function tcbFromRecord(p: IdentityRecord['platform']): SimTcb {
  return {
    fmspc: Buffer.from(p.fmspc, 'hex'),
    pceId: Buffer.from(p.pceId, 'hex'),
    tcbComponents: p.tcbComponents,
    pceSvn: p.pceSvn,
    cpuSvn: Buffer.from(p.cpuSvn, 'hex'),
    sgxType: p.sgxType,
    ppid: Buffer.from(p.ppid, 'hex'),
    platformInstanceId: Buffer.from(p.platformInstanceId, 'hex'),
  };
}

function sgxValues(t: SimTcb) {
  return {
    ...t,
    configuration: { dynamicPlatform: true, cachedKeys: false, smtEnabled: false },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Validation of a stored identity (it is our own file, but it may be damaged or hand-edited)

function corrupt(file: string, detail: string, cause?: unknown): StateError {
  return new StateError('ERR_SIM_STATE_CORRUPT', `simulated platform identity ${file} is invalid: ${detail}`, {
    hint: `Delete ${path.dirname(file)} to create a new simulated platform (evidence made with the old one will no longer verify against the new root).`,
    cause,
  });
}

function checkHex(file: string, field: string, value: unknown, bytes: number): string {
  if (typeof value !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value)) {
    throw corrupt(file, `${field} must be ${bytes * 2} lowercase hex characters`);
  }
  return value;
}

function checkInt(file: string, field: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw corrupt(file, `${field} must be an integer in 0..${max}`);
  }
  return value;
}

function checkString(file: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw corrupt(file, `${field} is missing`);
  return value;
}

function obj(file: string, field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw corrupt(file, `${field} must be an object`);
  return value as Record<string, unknown>;
}

function parseIdentity(file: string, text: string): IdentityRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, 'not valid JSON', error);
  }
  const r = obj(file, 'the file', raw);
  if (r['format'] !== IDENTITY_FORMAT) throw corrupt(file, `format is not ${IDENTITY_FORMAT}`);
  const keys = obj(file, 'keys', r['keys']);
  const certs = obj(file, 'certs', r['certs']);
  const p = obj(file, 'platform', r['platform']);
  const q = obj(file, 'qe', r['qe']);
  const comps = p['tcbComponents'];
  if (!Array.isArray(comps) || comps.length !== 16) throw corrupt(file, 'platform.tcbComponents must list 16 SVNs');
  comps.forEach((c, i) => checkInt(file, `platform.tcbComponents[${i}]`, c, 255));
  const createdAt = checkString(file, 'createdAt', r['createdAt']);
  if (Number.isNaN(Date.parse(createdAt))) throw corrupt(file, 'createdAt is not a date');
  return {
    format: IDENTITY_FORMAT,
    notice: typeof r['notice'] === 'string' ? r['notice'] : '',
    createdAt,
    keys: {
      root: checkString(file, 'keys.root', keys['root']),
      pckCa: checkString(file, 'keys.pckCa', keys['pckCa']),
      pck: checkString(file, 'keys.pck', keys['pck']),
      tcbSigning: checkString(file, 'keys.tcbSigning', keys['tcbSigning']),
      attestation: checkString(file, 'keys.attestation', keys['attestation']),
    },
    certs: {
      root: checkString(file, 'certs.root', certs['root']),
      pckCa: checkString(file, 'certs.pckCa', certs['pckCa']),
      pck: checkString(file, 'certs.pck', certs['pck']),
      tcbSigning: checkString(file, 'certs.tcbSigning', certs['tcbSigning']),
    },
    platform: {
      fmspc: checkHex(file, 'platform.fmspc', p['fmspc'], 6),
      pceId: checkHex(file, 'platform.pceId', p['pceId'], 2),
      tcbComponents: comps as number[],
      pceSvn: checkInt(file, 'platform.pceSvn', p['pceSvn'], 0xffff),
      cpuSvn: checkHex(file, 'platform.cpuSvn', p['cpuSvn'], 16),
      sgxType: checkInt(file, 'platform.sgxType', p['sgxType'], 2),
      ppid: checkHex(file, 'platform.ppid', p['ppid'], 16),
      platformInstanceId: checkHex(file, 'platform.platformInstanceId', p['platformInstanceId'], 16),
    },
    qe: {
      mrEnclave: checkHex(file, 'qe.mrEnclave', q['mrEnclave'], 32),
      mrSigner: checkHex(file, 'qe.mrSigner', q['mrSigner'], 32),
      isvProdId: checkInt(file, 'qe.isvProdId', q['isvProdId'], 0xffff),
      isvSvn: checkInt(file, 'qe.isvSvn', q['isvSvn'], 0xffff),
      attributes: checkHex(file, 'qe.attributes', q['attributes'], 16),
      miscSelect: checkInt(file, 'qe.miscSelect', q['miscSelect'], 0xffffffff),
      qeId: checkHex(file, 'qe.qeId', q['qeId'], 16),
      authData: (() => {
        const v = q['authData'];
        if (typeof v !== 'string' || !/^([0-9a-f]{2}){0,1024}$/.test(v)) throw corrupt(file, 'qe.authData must be hex');
        return v;
      })(),
    },
  };
}

function certifiedKey(file: string, which: string, keyPem: string, certPem: string): SimCertifiedKey {
  let privateKey: KeyObject;
  let cert: X509Certificate;
  try {
    privateKey = createPrivateKey(keyPem);
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw corrupt(file, `the ${which} key or certificate does not parse`, error);
  }
  const publicKey = createPublicKey(privateKey);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw corrupt(file, `the ${which} key is not an ECDSA P-256 key`);
  }
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(publicKey).equals(spki(cert.publicKey))) {
    throw corrupt(file, `the ${which} certificate does not match its private key`);
  }
  const der = new Uint8Array(cert.raw);
  return { privateKey, publicKey, der, pem: toPem(der, 'CERTIFICATE'), keyId: keyIdentifier(publicKey), dn: [] };
}

// ---------------------------------------------------------------------------------------------------------

/** A loaded simulated platform. Construct with {@link loadOrCreateSimPlatform}. */
export class SimPlatform {
  /** State directory (0700) holding `identity.json` (0600), `collateral.json` and `root-ca.pem`. */
  readonly dir: string;
  readonly createdAt: Date;
  readonly root: SimCertifiedKey;
  readonly pckCa: SimCertifiedKey;
  readonly pck: SimCertifiedKey;
  readonly tcbSigning: SimCertifiedKey;
  readonly tcb: SimTcb;
  readonly qe: SimQe;
  /** PCK leaf ‖ PCK Platform CA ‖ root, PEM: the quote's certification data (type 5). */
  readonly pckChainPem: string;
  /** SHA-256 of the root certificate's DER, lowercase hex: what a provider pins out of band. */
  readonly rootFingerprint: string;
  #collateral: SimCollateral | undefined;

  /** @internal use {@link loadOrCreateSimPlatform} */
  constructor(dir: string, file: string, record: IdentityRecord) {
    this.dir = dir;
    this.createdAt = new Date(record.createdAt);
    const org = SIM_NAMES.organization;
    this.root = { ...certifiedKey(file, 'root CA', record.keys.root, record.certs.root), dn: dn(SIM_NAMES.root, org) };
    this.pckCa = {
      ...certifiedKey(file, 'PCK CA', record.keys.pckCa, record.certs.pckCa),
      dn: dn(SIM_NAMES.pckCa, org),
    };
    this.pck = { ...certifiedKey(file, 'PCK', record.keys.pck, record.certs.pck), dn: dn(SIM_NAMES.pck, org) };
    this.tcbSigning = {
      ...certifiedKey(file, 'TCB signing', record.keys.tcbSigning, record.certs.tcbSigning),
      dn: dn(SIM_NAMES.tcbSigning, org),
    };
    this.tcb = tcbFromRecord(record.platform);
    this.pckChainPem = this.pck.pem + this.pckCa.pem + this.root.pem;
    this.rootFingerprint = createHash('sha256').update(this.root.der).digest('hex');

    let attestationKey: KeyObject;
    try {
      attestationKey = createPrivateKey(record.keys.attestation);
    } catch (error) {
      throw corrupt(file, 'the attestation key does not parse', error);
    }
    if (attestationKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw corrupt(file, 'the attestation key is not an ECDSA P-256 key');
    }
    const q = record.qe;
    const attestationPublicKey = rawP256PublicKey(attestationKey);
    const authData = Buffer.from(q.authData, 'hex');
    const qeFields = {
      mrEnclave: Buffer.from(q.mrEnclave, 'hex'),
      mrSigner: Buffer.from(q.mrSigner, 'hex'),
      isvProdId: q.isvProdId,
      isvSvn: q.isvSvn,
      attributes: Buffer.from(q.attributes, 'hex'),
      miscSelect: q.miscSelect,
    };
    // The QE report certifies the attestation key (report_data binds it); the PCK key signs the report.
    const report = encodeReportBody({
      ...qeFields,
      cpuSvn: this.tcb.cpuSvn,
      isvExtProdId: new Uint8Array(16),
      configId: new Uint8Array(64),
      configSvn: 0,
      isvFamilyId: new Uint8Array(16),
      reportData: qeReportData(attestationPublicKey, authData),
    });
    const reportSignature = sign('sha256', report, { key: this.pck.privateKey, dsaEncoding: 'ieee-p1363' });
    this.qe = {
      ...qeFields,
      qeId: Buffer.from(q.qeId, 'hex'),
      authData,
      attestationKey,
      attestationPublicKey,
      report,
      reportSignature: new Uint8Array(reportSignature),
    };
  }

  /**
   * Produce an Intel DCAP ECDSA quote v3 for an enclave with the given identity and report data, signed by
   * the simulated QE. Throws `ERR_SIM_QUOTE_INPUT` naming a malformed field.
   */
  signQuote(input: SimQuoteInput): Uint8Array {
    const body = encodeReportBody({
      cpuSvn: input.cpuSvn ?? this.tcb.cpuSvn,
      miscSelect: input.miscSelect ?? 0,
      isvExtProdId: input.isvExtProdId ?? new Uint8Array(16),
      attributes: input.attributes ?? PRODUCTION_ATTRIBUTES,
      mrEnclave: input.mrEnclave,
      mrSigner: input.mrSigner,
      configId: input.configId ?? new Uint8Array(64),
      isvProdId: input.isvProdId,
      isvSvn: input.isvSvn,
      configSvn: input.configSvn ?? 0,
      isvFamilyId: input.isvFamilyId ?? new Uint8Array(16),
      reportData: input.reportData,
    });
    return assembleQuoteV3({
      qeSvn: this.qe.isvSvn,
      pceSvn: this.tcb.pceSvn,
      userData: Buffer.concat([this.qe.qeId, Buffer.alloc(4)]),
      body,
      attestationKey: this.qe.attestationKey,
      attestationPublicKey: this.qe.attestationPublicKey,
      qeReport: this.qe.report,
      qeReportSignature: this.qe.reportSignature,
      qeAuthData: this.qe.authData,
      pckChainPem: this.pckChainPem,
    });
  }

  /**
   * Derive collateral issued at `options.now` (default now). Pure and not persisted: use it for variants
   * (an outdated TCB, a revoked PCK) in tests; {@link collateral} serves the healthy, persisted one.
   */
  buildCollateral(options: SimCollateralOptions = {}): SimCollateral {
    const now = options.now ?? new Date();
    const issuedAt = secondsFloor(now.getTime() - CLOCK_SKEW_MARGIN_MS);
    const validity = options.validityMs ?? COLLATERAL_VALIDITY_MS;
    if (!(validity > 0)) throw new InputError('ERR_SIM_COLLATERAL_OPTIONS', 'collateral validity must be positive');
    const nextUpdate = new Date(issuedAt.getTime() + validity);
    const rootNext = new Date(issuedAt.getTime() + Math.max(ROOT_CRL_VALIDITY_MS, validity));
    const tcbDate = new Date(
      Date.UTC(this.createdAt.getUTCFullYear(), this.createdAt.getUTCMonth(), this.createdAt.getUTCDate()),
    );
    const serialOf = (k: SimCertifiedKey) => Buffer.from(new X509Certificate(k.pem).serialNumber, 'hex');
    // A foreign serial is always listed, so verifiers really search non-empty CRLs.
    const decoy = createHash('sha256')
      .update(`mse-home SIMULATION revoked decoy ${this.rootFingerprint}`)
      .digest()
      .subarray(0, 20);
    const revokedByRoot: Uint8Array[] = [];
    if (options.revoke?.pckCa) revokedByRoot.push(serialOf(this.pckCa));
    if (options.revoke?.tcbSigning) revokedByRoot.push(serialOf(this.tcbSigning));
    const revokedByPckCa: Uint8Array[] = [decoy];
    if (options.revoke?.pck) revokedByPckCa.push(serialOf(this.pck));

    const rootCrl = makeCrl(
      { dn: this.root.dn, key: this.root.privateKey, keyId: this.root.keyId },
      issuedAt,
      rootNext,
      revokedByRoot,
    );
    const pckCrl = makeCrl(
      { dn: this.pckCa.dn, key: this.pckCa.privateKey, keyId: this.pckCa.keyId },
      issuedAt,
      nextUpdate,
      revokedByPckCa,
    );
    const tcbInfo = signTcbInfo(
      tcbInfoJson({
        fmspc: this.tcb.fmspc,
        pceId: this.tcb.pceId,
        tcbComponents: this.tcb.tcbComponents,
        pceSvn: this.tcb.pceSvn,
        tcbDate,
        issueDate: issuedAt,
        nextUpdate,
        platformTcbStatus: options.platformTcbStatus,
        advisoryIds: options.advisoryIds,
      }),
      this.tcbSigning.privateKey,
    );
    const qeIdentity = signQeIdentity(
      qeIdentityJson({
        mrSigner: this.qe.mrSigner,
        isvProdId: this.qe.isvProdId,
        isvSvn: this.qe.isvSvn,
        attributes: this.qe.attributes,
        miscSelect: this.qe.miscSelect,
        tcbDate,
        issueDate: issuedAt,
        nextUpdate,
        qeTcbStatus: options.qeTcbStatus,
      }),
      this.tcbSigning.privateKey,
    );
    const tcbChain = this.tcbSigning.pem + this.root.pem;
    return {
      issuedAt,
      nextUpdate,
      rootCaCrlDer: rootCrl.der,
      rootCaCrlPem: rootCrl.pem,
      pckCrlDer: pckCrl.der,
      pckCrlPem: pckCrl.pem,
      tcbInfo,
      qeIdentity,
      pckCrlIssuerChainPem: this.pckCa.pem + this.root.pem,
      tcbInfoIssuerChainPem: tcbChain,
      qeIdentityIssuerChainPem: tcbChain,
    };
  }

  /**
   * The platform's current, healthy collateral: read from `collateral.json` when it was issued by this
   * identity less than {@link COLLATERAL_MAX_AGE_MS} ago, else regenerated and stored (atomically).
   */
  async collateral(now: Date = new Date()): Promise<SimCollateral> {
    if (this.#collateral && isFresh(this.#collateral, now)) return this.#collateral;
    const file = path.join(this.dir, COLLATERAL_FILE);
    const stored = await readStoredCollateral(file, this);
    if (stored && isFresh(stored, now)) return (this.#collateral = stored);
    const fresh = this.buildCollateral({ now });
    const record = {
      format: COLLATERAL_FORMAT,
      rootFingerprint: this.rootFingerprint,
      issuedAt: fresh.issuedAt.toISOString(),
      nextUpdate: fresh.nextUpdate.toISOString(),
      rootCaCrl: hex(fresh.rootCaCrlDer),
      pckCrl: hex(fresh.pckCrlDer),
      tcbInfo: fresh.tcbInfo.body,
      qeIdentity: fresh.qeIdentity.body,
    };
    await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    return (this.#collateral = fresh);
  }
}

function isFresh(c: SimCollateral, now: Date): boolean {
  const t = now.getTime();
  return (
    c.issuedAt.getTime() <= t &&
    t - c.issuedAt.getTime() < COLLATERAL_MAX_AGE_MS + CLOCK_SKEW_MARGIN_MS &&
    t < c.nextUpdate.getTime()
  );
}

/** Split a stored PCS body back into its parts; the signed text is cut out, never re-serialized. */
function splitBody(body: string, member: 'tcbInfo' | 'enclaveIdentity'): SignedJson | undefined {
  const prefix = `{"${member}":`;
  const m = /,"signature":"([0-9a-f]{128})"}$/.exec(body);
  if (!body.startsWith(prefix) || !m) return undefined;
  return { body, signed: body.slice(prefix.length, m.index), signatureHex: m[1] as string };
}

/** Stored collateral is derived data: anything unexpected means "regenerate", never an error. */
async function readStoredCollateral(file: string, p: SimPlatform): Promise<SimCollateral | undefined> {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(await readUserText(file, 'stored collateral', INPUT_LIMITS.state)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (r['format'] !== COLLATERAL_FORMAT || r['rootFingerprint'] !== p.rootFingerprint) return undefined;
  const { issuedAt, nextUpdate, rootCaCrl, pckCrl, tcbInfo, qeIdentity } = r;
  if (typeof issuedAt !== 'string' || typeof nextUpdate !== 'string') return undefined;
  if (typeof rootCaCrl !== 'string' || typeof pckCrl !== 'string') return undefined;
  if (typeof tcbInfo !== 'string' || typeof qeIdentity !== 'string') return undefined;
  const ti = splitBody(tcbInfo, 'tcbInfo');
  const qi = splitBody(qeIdentity, 'enclaveIdentity');
  const issued = new Date(issuedAt);
  const next = new Date(nextUpdate);
  if (!ti || !qi || Number.isNaN(issued.getTime()) || Number.isNaN(next.getTime())) return undefined;
  if (!/^([0-9a-f]{2})+$/.test(rootCaCrl) || !/^([0-9a-f]{2})+$/.test(pckCrl)) return undefined;
  const rootDer = Buffer.from(rootCaCrl, 'hex');
  const pckDer = Buffer.from(pckCrl, 'hex');
  const tcbChain = p.tcbSigning.pem + p.root.pem;
  return {
    issuedAt: issued,
    nextUpdate: next,
    rootCaCrlDer: rootDer,
    rootCaCrlPem: toPem(rootDer, 'X509 CRL'),
    pckCrlDer: pckDer,
    pckCrlPem: toPem(pckDer, 'X509 CRL'),
    tcbInfo: ti,
    qeIdentity: qi,
    pckCrlIssuerChainPem: p.pckCa.pem + p.root.pem,
    tcbInfoIssuerChainPem: tcbChain,
    qeIdentityIssuerChainPem: tcbChain,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Loading and first-use creation

export interface LoadSimPlatformOptions {
  /** State directory; default {@link simStateDir}(env). */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** Creation time of a new identity (tests). Default now. */
  now?: Date;
}

/** Make `dir` (and missing parents) exist as a private directory. */
async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    if ((st.mode & 0o777) !== 0o700 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
      await fs.chmod(dir, 0o700);
    }
  } catch (error) {
    throw new StateError('ERR_SIM_STATE_DIR', `cannot use ${dir} as the simulated platform's state directory`, {
      hint: 'Check that the path is a writable directory, or set MSE_HOME_STATE_DIR to another location.',
      cause: error,
    });
  }
}

/**
 * Load the simulated platform from its state directory, creating it on first use. Safe against concurrent
 * first uses (every caller ends up with the same identity) and idempotent. Throws `ERR_SIM_STATE_DIR` if the
 * directory is unusable and `ERR_SIM_STATE_CORRUPT` if a stored identity is damaged.
 */
export async function loadOrCreateSimPlatform(options: LoadSimPlatformOptions = {}): Promise<SimPlatform> {
  const dir = path.resolve(options.dir ?? simStateDir(options.env ?? process.env));
  await ensurePrivateDir(dir);
  const file = path.join(dir, IDENTITY_FILE);
  const read = (): Promise<string | undefined> => readUserTextIfExists(file, 'sim identity', INPUT_LIMITS.state);
  let text: string | undefined;
  try {
    text = await read();
    if (text === undefined) {
      const record = generateIdentity(options.now ?? new Date());
      await publishExclusive(file, `${JSON.stringify(record, null, 2)}\n`, 0o600);
      text = await readUserText(file, 'sim identity', INPUT_LIMITS.state);
    }
  } catch (error) {
    throw unreadable(file, error);
  }
  const platform = new SimPlatform(dir, file, parseIdentity(file, text));
  // Keep the private file private even if someone loosened it.
  const st = await fs.stat(file);
  if ((st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
    await fs.chmod(file, 0o600);
  }
  await exportRootPem(dir, platform.root.pem);
  return platform;
}

function unreadable(file: string, cause: unknown): StateError {
  return new StateError('ERR_SIM_STATE_IO', `cannot read or create the simulated platform identity ${file}`, {
    hint: 'Check the permissions of the state directory (set MSE_HOME_STATE_DIR to use another one).',
    cause,
  });
}

/** `root-ca.pem`: the public simulation root, for pinning (`verify --allow-simulation`) and inspection. */
async function exportRootPem(dir: string, pem: string): Promise<void> {
  const file = path.join(dir, ROOT_PEM_FILE);
  const current = await readUserText(file, 'root certificate', INPUT_LIMITS.state).catch(() => undefined);
  if (current !== pem) await writeFileAtomic(file, pem, { mode: 0o644 });
}
