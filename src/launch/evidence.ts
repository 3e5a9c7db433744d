/**
 * `evidence.json`: what the operator hands the code provider so that it can verify an enclave offline.
 *
 * MSE's fields (kept byte-compatible, 4-space JSON):
 *   input_args          {subject, subject_alternative_name, expiration_date, size, app_id, application}
 *   ratls_certificate   PEM RA-TLS certificate (carries the quote)
 *   root_ca_crl         PEM Intel SGX Root CA CRL
 *   pck_platform_crl    PEM PCK CA CRL (Platform or Processor, whatever the name says)
 *   tcb_info            standard base64 of the PCS TCB info body `{"tcbInfo":…,"signature":…}`; MSE before
 *                       2023-06-20 wrote base64 of the *hex* of that body — both are read
 *   qe_identity         standard base64 of the QE identity body
 *   tcb_cert            PEM TCB signing certificate
 *   signer_pk           PEM SubjectPublicKeyInfo of the operator's RSA-3072 enclave signing key
 * Ours (optional, ignored by MSE):
 *   platform            "sgx" | "sim"
 *   collected_at        ISO 8601 time the operator gathered the collateral
 *   pck_crl_issuer_chain, tcb_info_issuer_chain, qe_identity_issuer_chain   PEM issuer chains as served
 *   gramine_manifest    sgx: the enclave's final Gramine manifest (`.manifest.sgx` text, as measured)
 *   gramine_argv        sgx: the argv its trusted args file holds (one string per argument)
 * The last two only help a provider find why a MRENCLAVE differs: `verify` trusts them only once the
 * manifest, measured with the package's Gramine PAL, gives the quoted MRENCLAVE (docs/verification.md).
 *
 * Parsing is strict and only throws {@link InputError} (`ERR_EVIDENCE_FORMAT`, `ERR_EVIDENCE_FIELD`)
 * naming the field; `input_args` may hold MSE's six fields and nothing else (an argument this verifier does
 * not know could change what runs unnoticed). Nothing here verifies anything: see `verify/verify-evidence.ts`.
 */
import { parseJsonFile, readJson, type JsonObject } from '../base/json-fields.js';
import { AttestationError, InputError } from '../errors.js';
import { bytesEqual, toHex } from '../attestation/bytes.js';
import { derFail } from '../attestation/der.js';
import { decodeCrlText, decodeUtf8, splitSignedBody, type Collateral } from '../attestation/collateral.js';
import { pemBlocks, toPem } from '../attestation/x509.js';
import { decodeEvidenceInputArgs, encodeEvidenceInputArgs, type RecordedInputArgs } from './args.js';

/**
 * The deployment UUID as reports show it: its first 8 characters and an ellipsis. The UUID is the
 * credential of the configuration request until the enclave is configured (`run`): evidence.json holds it
 * (mode 0600), and no report, log line or JSON output repeats it (docs/verification.md).
 */
export function maskAppId(appId: string): string {
  return appId.length > 8 ? `${appId.slice(0, 8)}…` : '…';
}

/** An enclave argv with the value of `--id` (the deployment UUID) masked by {@link maskAppId}. */
export function maskArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) => (i > 0 && argv[i - 1] === '--id' ? maskAppId(a) : a));
}

export interface Evidence {
  /** The spawn arguments, as MSE records them (rules and forms: `./args.ts`). */
  inputArgs: RecordedInputArgs;
  ratlsCertificate: string;
  /** DER. */
  rootCaCrl: Uint8Array;
  /** DER of the PCK CA CRL (MSE's `pck_platform_crl`). */
  pckCrl: Uint8Array;
  /** The PCS TCB info response body, exact bytes. */
  tcbInfoBody: Uint8Array;
  /** The PCS QE identity response body, exact bytes. */
  qeIdentityBody: Uint8Array;
  /** PEM of the TCB signing certificate. */
  tcbCert: string;
  /** PEM SubjectPublicKeyInfo of the enclave signer's RSA key. */
  signerPk: string;
  platform?: 'sgx' | 'sim';
  collectedAt?: string;
  pckCrlIssuerChain?: string;
  tcbInfoIssuerChain?: string;
  qeIdentityIssuerChain?: string;
  /** sgx: the enclave's final Gramine manifest text (untrusted until it measures to the quoted MRENCLAVE). */
  gramineManifest?: string;
  /** sgx: the argv of the enclave's args file (untrusted until it hashes to that manifest's args entry). */
  gramineArgv?: string[];
  /** How `tcb_info` was encoded in the file (serialization keeps it). Default `base64`. */
  tcbInfoEncoding?: 'base64' | 'base64-hex';
}

function bad(field: string, detail: string): never {
  throw new InputError('ERR_EVIDENCE_FIELD', `evidence field ${field} ${detail}`, {
    hint: 'The evidence file is damaged or was not written by `mse home evidence`.',
  });
}

function pem(o: JsonObject, field: string, label: string): string {
  const v = o.string(field, { nonEmpty: true });
  if (!v.trimStart().startsWith(`-----BEGIN ${label}-----`)) o.get(field).reject(`must be a PEM ${label}`);
  return v;
}

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function base64(o: JsonObject, field: string): Uint8Array {
  const v = o.string(field, { nonEmpty: true }).replace(/\s+/g, '');
  const b = Buffer.from(v, 'base64');
  if (!B64_RE.test(v) || v.length % 4 !== 0 || b.toString('base64') !== v) {
    o.get(field).reject('is not canonical standard base64');
  }
  return new Uint8Array(b);
}

/** A signed PCS body given as base64 of the JSON, or (old MSE) base64 of the hex of the JSON. */
function signedBody(o: JsonObject, field: string): { body: Uint8Array; hex: boolean } {
  const raw = base64(o, field);
  const text = decodeUtf8(raw);
  if (text === undefined) bad(field, 'does not decode to UTF-8 text');
  const trimmed = text.trim(); // MSE's hex form ends with a newline
  if (/^(?:[0-9a-fA-F]{2})+$/.test(trimmed)) {
    const body = new Uint8Array(Buffer.from(trimmed, 'hex'));
    return { body, hex: true };
  }
  return { body: raw, hex: false };
}

/** Parse `evidence.json` text (one leading byte order mark is ignored). Throws InputError naming the field. */
export function parseEvidence(text: string): Evidence {
  const raw = parseJsonFile(text, (reason) => {
    throw new InputError('ERR_EVIDENCE_FORMAT', `evidence is not valid JSON: ${reason}`, {
      hint: 'Pass the evidence.json written by `mse home evidence`.',
    });
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError('ERR_EVIDENCE_FORMAT', 'evidence must be a JSON object');
  }
  const o = readJson(raw, bad).object();
  const inputArgs = decodeEvidenceInputArgs(o.get('input_args'));
  const crl = (field: string): Uint8Array => {
    try {
      return decodeCrlText(o.string(field, { nonEmpty: true }), field);
    } catch (error) {
      if (error instanceof InputError && error.code !== 'ERR_EVIDENCE_FIELD')
        bad(field, 'is not a PEM (or hex DER) CRL');
      throw error;
    }
  };
  const tcb = signedBody(o, 'tcb_info');
  const qe = signedBody(o, 'qe_identity');
  for (const [field, body, member] of [
    ['tcb_info', tcb.body, 'tcbInfo'],
    ['qe_identity', qe.body, 'enclaveIdentity'],
  ] as const) {
    try {
      splitSignedBody(body, member);
    } catch (error) {
      bad(field, `is not a PCS ${member} body: ${(error as Error).message}`);
    }
  }
  const e: Evidence = {
    inputArgs,
    ratlsCertificate: pem(o, 'ratls_certificate', 'CERTIFICATE'),
    rootCaCrl: crl('root_ca_crl'),
    pckCrl: crl('pck_platform_crl'),
    tcbInfoBody: tcb.body,
    qeIdentityBody: qe.body,
    tcbCert: pem(o, 'tcb_cert', 'CERTIFICATE'),
    signerPk: pem(o, 'signer_pk', 'PUBLIC KEY'),
    tcbInfoEncoding: tcb.hex ? 'base64-hex' : 'base64',
  };
  const platform = o.optional('platform', (v) => v.oneOf(['sgx', 'sim'] as const));
  if (platform) e.platform = platform;
  const collectedAt = o.optional('collected_at', (v) => v.string({ nonEmpty: true }));
  if (collectedAt !== undefined) {
    if (Number.isNaN(Date.parse(collectedAt))) bad('collected_at', 'must be an ISO 8601 time');
    e.collectedAt = collectedAt;
  }
  for (const [field, key] of [
    ['pck_crl_issuer_chain', 'pckCrlIssuerChain'],
    ['tcb_info_issuer_chain', 'tcbInfoIssuerChain'],
    ['qe_identity_issuer_chain', 'qeIdentityIssuerChain'],
  ] as const) {
    if (o.has(field)) e[key] = pem(o, field, 'CERTIFICATE');
  }
  const manifest = o.optional('gramine_manifest', (v) => v.string({ nonEmpty: true }));
  if (manifest !== undefined) e.gramineManifest = manifest;
  const argv = o.optional('gramine_argv', (v) => {
    const items = Array.isArray(v.value) ? (v.value as unknown[]) : [];
    if (items.length === 0 || items.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      v.reject('must be a non-empty array of strings without NUL characters');
    }
    return items as string[];
  });
  if (argv) e.gramineArgv = argv;
  return e;
}

/** Serialize evidence as MSE does (4-space JSON, MSE's fields first, ours after). */
export function serializeEvidence(e: Evidence): string {
  const tcbInfo =
    e.tcbInfoEncoding === 'base64-hex'
      ? Buffer.from(toHex(e.tcbInfoBody) + '\n', 'ascii').toString('base64')
      : Buffer.from(e.tcbInfoBody).toString('base64');
  const out: Record<string, unknown> = {
    input_args: encodeEvidenceInputArgs(e.inputArgs),
    ratls_certificate: e.ratlsCertificate,
    root_ca_crl: toPem(e.rootCaCrl, 'X509 CRL'),
    pck_platform_crl: toPem(e.pckCrl, 'X509 CRL'),
    tcb_info: tcbInfo,
    qe_identity: Buffer.from(e.qeIdentityBody).toString('base64'),
    tcb_cert: e.tcbCert,
    signer_pk: e.signerPk,
  };
  if (e.platform) out.platform = e.platform;
  if (e.collectedAt) out.collected_at = e.collectedAt;
  if (e.pckCrlIssuerChain) out.pck_crl_issuer_chain = e.pckCrlIssuerChain;
  if (e.tcbInfoIssuerChain) out.tcb_info_issuer_chain = e.tcbInfoIssuerChain;
  if (e.qeIdentityIssuerChain) out.qe_identity_issuer_chain = e.qeIdentityIssuerChain;
  if (e.gramineManifest) out.gramine_manifest = e.gramineManifest;
  if (e.gramineArgv) out.gramine_argv = e.gramineArgv;
  return JSON.stringify(out, null, 4);
}

/**
 * Check that `tcb_cert` is the signing certificate of every issuer chain the evidence also carries
 * (`tcb_info_issuer_chain`, `qe_identity_issuer_chain`: their first certificate, DER-equal). The chains
 * are what the appraisal uses when present (see {@link evidenceCollateral}); without this check a
 * replaced `tcb_cert` would be silently ignored. Throws `AttestationError` (stage `collateral`,
 * `ERR_EVIDENCE_TCB_CERT_MISMATCH`) naming the chain. Returns the names of the chains compared.
 */
export function checkTcbCertAgreement(e: Evidence): string[] {
  const ctx = { stage: 'collateral', code: 'ERR_EVIDENCE_TCB_CERT_MISMATCH', what: 'tcb_cert' };
  const chains = [
    ['tcb_info_issuer_chain', e.tcbInfoIssuerChain],
    ['qe_identity_issuer_chain', e.qeIdentityIssuerChain],
  ].filter((c): c is [string, string] => c[1] !== undefined);
  if (chains.length === 0) return [];
  const own = pemBlocks(e.tcbCert.trim(), 'CERTIFICATE', ctx);
  if (own.length !== 1) derFail(ctx, `holds ${own.length} certificates, expected exactly one`);
  for (const [field, chain] of chains) {
    const leaf = pemBlocks(chain.trim(), 'CERTIFICATE', { ...ctx, what: field })[0];
    if (!leaf || !bytesEqual(leaf, own[0]!)) {
      throw new AttestationError(
        'collateral',
        'ERR_EVIDENCE_TCB_CERT_MISMATCH',
        `tcb_cert is not the signing certificate of ${field} (its first certificate)`,
        {
          hint: 'The evidence was edited: tcb_cert and the issuer chains must name the same TCB signing certificate. Collect it again with `mse home evidence`.',
        },
      );
    }
  }
  return chains.map((c) => c[0]);
}

/**
 * The DCAP collateral inside evidence, for the quote whose PCK chain is `pckChain` (leaf, CA, root DER).
 * The issuer chains are ours when present (as the PCCS served them; {@link checkTcbCertAgreement} makes
 * `tcb_cert` agree with them). MSE's evidence carries none: they are rebuilt from the quote's own PCK CA
 * and root and `tcb_cert`; appraisal then requires that root to be a trusted one anyway.
 */
export function evidenceCollateral(e: Evidence, pckChain: { intermediate: Uint8Array; root: Uint8Array }): Collateral {
  const rootPem = toPem(pckChain.root);
  const tcb = splitSignedBody(e.tcbInfoBody, 'tcbInfo');
  const qe = splitSignedBody(e.qeIdentityBody, 'enclaveIdentity');
  const signingChain = e.tcbCert.trim() + '\n' + rootPem;
  return {
    pck_crl_issuer_chain: e.pckCrlIssuerChain ?? toPem(pckChain.intermediate) + rootPem,
    root_ca_crl: e.rootCaCrl,
    pck_crl: e.pckCrl,
    tcb_info_issuer_chain: e.tcbInfoIssuerChain ?? signingChain,
    tcb_info: tcb.signed,
    tcb_info_signature: tcb.signature,
    qe_identity_issuer_chain: e.qeIdentityIssuerChain ?? e.tcbInfoIssuerChain ?? signingChain,
    qe_identity: qe.signed,
    qe_identity_signature: qe.signature,
  };
}
