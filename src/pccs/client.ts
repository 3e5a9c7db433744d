/**
 * A client for Intel's Provisioning Certification Caching Service (PCCS) and the PCS itself: the
 * collateral endpoints of the v4 API (`pckcrl`, `tcb`, `qe/identity`, and the PCCS's `rootcacrl`), with
 * the v3 header names as fallbacks. Bodies are kept as exact bytes (signatures cover them); issuer chains
 * come from URL-encoded PEM headers. Every failure is a {@link NetworkError} with a code per HTTP status.
 */
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { boundedRequest, HttpLimitError } from '../base/http.js';
import { NetworkError } from '../errors.js';
import { decodeUtf8, splitSignedBody, type Collateral } from '../attestation/collateral.js';
import { fromHexStrict, toHex } from '../attestation/bytes.js';
import { quotePckChain } from '../attestation/appraise.js';
import type { Quote } from '../attestation/quote.js';
import { toPem } from '../attestation/x509.js';
import { pccsBaseUrl } from './config.js';

export interface PccsClientOptions {
  /** PCCS base URL (origin, or …/sgx/certification/v4/). */
  url: string;
  /** Per-request timeout in ms (default 30 000, as MSE). */
  timeoutMs?: number;
  /** Verify the server's TLS certificate (default true). */
  secureCert?: boolean;
  /** Largest response body accepted (default 8 MiB). */
  maxBodyBytes?: number;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

/** Intel's Root CA CRL distribution point (used when talking to Intel's PCS, which has no rootcacrl). */
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

export class PccsClient {
  readonly base: URL;
  private readonly timeoutMs: number;
  private readonly secureCert: boolean;
  private readonly maxBody: number;

  constructor(options: PccsClientOptions) {
    this.base = pccsBaseUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.secureCert = options.secureCert ?? true;
    this.maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  }

  /** GET `path` (relative to the base) and return the response, or throw a per-status NetworkError. */
  async get(path: string, what: string, absolute?: string): Promise<Response> {
    const url = absolute ? new URL(absolute) : new URL(path, this.base);
    const res = await this.request(url, what);
    if (res.status !== 200) throw statusError(res, url, what);
    return res;
  }

  /** One GET within the overall deadline and the body cap (`base/http.ts`). */
  private async request(url: URL, what: string): Promise<Response> {
    const mod = url.protocol === 'https:' ? https : http;
    try {
      const a = await boundedRequest(
        mod.request,
        {
          ...urlToHttpOptions(url),
          method: 'GET',
          headers: { accept: '*/*', 'user-agent': 'mse-home' },
          ...(url.protocol === 'https:' ? { rejectUnauthorized: this.secureCert } : {}),
        },
        { deadlineMs: this.timeoutMs, maxBytes: this.maxBody },
      );
      return { status: a.status, headers: a.headers, body: new Uint8Array(a.body) };
    } catch (error) {
      if (error instanceof HttpLimitError && error.kind === 'deadline') {
        throw new NetworkError(
          'ERR_PCCS_TIMEOUT',
          `PCCS did not answer the ${what} request within ${this.timeoutMs} ms (${url.href})`,
          { hint: 'Check that the PCCS is running and reachable, or raise the timeout.' },
        );
      }
      if (error instanceof HttpLimitError) {
        throw new NetworkError('ERR_PCCS_RESPONSE_TOO_LARGE', `PCCS ${what} response exceeds ${this.maxBody} bytes`, {
          hint: 'Check that the URL points at a PCCS.',
        });
      }
      throw transportError(error, url, what, this.timeoutMs);
    }
  }

  /** The Root CA CRL (DER). PCCS API 3.0 serves it as hex text, 3.1/v4 as DER; both are accepted. */
  async getRootCaCrl(): Promise<Uint8Array> {
    const intel = this.base.hostname === 'api.trustedservices.intel.com';
    const res = await this.get('rootcacrl', 'root CA CRL', intel ? INTEL_ROOT_CA_CRL_URL : undefined);
    return crlBody(res.body, 'root CA CRL');
  }

  /** The PCK CRL of the Processor or Platform CA, with its issuer chain (PEM). */
  async getPckCrl(ca: 'processor' | 'platform'): Promise<{ crl: Uint8Array; issuerChain: string }> {
    const res = await this.get(`pckcrl?ca=${ca}&encoding=der`, `PCK ${ca} CRL`);
    return {
      crl: crlBody(res.body, `PCK ${ca} CRL`),
      issuerChain: chainHeader(res, ['SGX-PCK-CRL-Issuer-Chain'], 'pckcrl'),
    };
  }

  /** The TCB info body for an FMSPC (exact bytes) and its issuer chain. */
  async getTcbInfo(fmspc: string): Promise<{ body: Uint8Array; issuerChain: string }> {
    if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) {
      throw new NetworkError('ERR_PCCS_REQUEST', `FMSPC '${fmspc}' is not 12 hex characters`);
    }
    const res = await this.get(`tcb?fmspc=${fmspc.toLowerCase()}`, `TCB info (FMSPC ${fmspc.toUpperCase()})`);
    return {
      body: res.body,
      issuerChain: chainHeader(res, ['TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'], 'tcb'),
    };
  }

  /** The QE identity body (exact bytes) and its issuer chain. */
  async getQeIdentity(): Promise<{ body: Uint8Array; issuerChain: string }> {
    const res = await this.get('qe/identity', 'QE identity');
    return { body: res.body, issuerChain: chainHeader(res, ['SGX-Enclave-Identity-Issuer-Chain'], 'qe/identity') };
  }

  /** All the collateral for a platform (FMSPC, PCK CA type), fetched in parallel. */
  async getCollateral(fmspc: string, ca: 'processor' | 'platform'): Promise<Collateral> {
    const [rootCrl, pck, tcb, qe] = await Promise.all([
      this.getRootCaCrl(),
      this.getPckCrl(ca),
      this.getTcbInfo(fmspc),
      this.getQeIdentity(),
    ]);
    const t = signed(tcb.body, 'tcbInfo', this.base);
    const q = signed(qe.body, 'enclaveIdentity', this.base);
    return {
      pck_crl_issuer_chain: pck.issuerChain,
      root_ca_crl: rootCrl,
      pck_crl: pck.crl,
      tcb_info_issuer_chain: tcb.issuerChain,
      tcb_info: t.signed,
      tcb_info_signature: t.signature,
      qe_identity_issuer_chain: qe.issuerChain,
      qe_identity: q.signed,
      qe_identity_signature: q.signature,
    };
  }

  /** The collateral for a quote: FMSPC and CA type from its PCK certificate chain. */
  async getCollateralForQuote(quote: Quote): Promise<Collateral> {
    const chain = quotePckChain(quote);
    const ca = chain.caType;
    if (!ca) {
      throw new NetworkError(
        'ERR_PCCS_REQUEST',
        `cannot tell the PCK CA type from "${chain.intermediate.subject.commonName ?? ''}" (expected Processor or Platform)`,
      );
    }
    return this.getCollateral(toHex(chain.extension.fmspc), ca);
  }
}

function signed(body: Uint8Array, member: 'tcbInfo' | 'enclaveIdentity', base: URL) {
  try {
    return splitSignedBody(body, member);
  } catch (error) {
    throw new NetworkError(
      'ERR_PCCS_RESPONSE',
      `PCCS ${base.host} returned a malformed ${member} body: ${(error as Error).message}`,
      {
        hint: 'Check that the URL points at a PCCS or Intel PCS.',
      },
    );
  }
}

/** A CRL body as DER, whether served as DER, PEM or hex text. */
function crlBody(body: Uint8Array, what: string): Uint8Array {
  if (body[0] === 0x30) return body;
  const text = (decodeUtf8(body) ?? '').trim();
  const pem = /^-----BEGIN X509 CRL-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END X509 CRL-----$/.exec(text)?.[1];
  if (pem !== undefined) return new Uint8Array(Buffer.from(pem.replace(/\s/g, ''), 'base64'));
  const hex = fromHexStrict(text);
  if (hex && hex[0] === 0x30) return hex;
  throw new NetworkError('ERR_PCCS_RESPONSE', `PCCS ${what} body is neither DER, PEM nor hex-encoded DER`, {
    hint: 'Check that the URL points at a PCCS.',
  });
}

function chainHeader(res: Response, names: string[], endpoint: string): string {
  for (const n of names) {
    const v = res.headers[n.toLowerCase()];
    if (typeof v === 'string' && v.length) {
      let pem: string;
      try {
        pem = decodeURIComponent(v);
      } catch {
        throw new NetworkError('ERR_PCCS_RESPONSE', `PCCS ${endpoint} header ${n} is not URL-encoded PEM`);
      }
      const count = (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
      if (count !== 2) {
        throw new NetworkError(
          'ERR_PCCS_RESPONSE',
          `PCCS ${endpoint} header ${n} holds ${count} certificates, expected 2`,
        );
      }
      return pem;
    }
  }
  throw new NetworkError('ERR_PCCS_RESPONSE', `PCCS ${endpoint} response has no ${names.join(' or ')} header`, {
    hint: 'The server is not a PCCS/PCS, or a proxy dropped the header.',
  });
}

function statusError(res: Response, url: URL, what: string): NetworkError {
  const h = (n: string): string | undefined => {
    const v = res.headers[n];
    return typeof v === 'string' ? v : undefined;
  };
  const detail = [h('error-code'), h('error-message')].filter(Boolean).join(': ');
  const rid = h('request-id');
  const suffix = `${detail ? ` (${detail})` : ''}${rid ? ` [Request-ID ${rid}]` : ''}`;
  const base = `PCCS answered ${res.status} to the ${what} request ${url.pathname}${url.search}${suffix}`;
  const table: Record<number, [string, string]> = {
    400: ['ERR_PCCS_BAD_REQUEST', 'The request parameters were rejected; check the quote’s FMSPC/CA type.'],
    401: ['ERR_PCCS_UNAUTHORIZED', 'The PCCS requires credentials this client does not send.'],
    403: ['ERR_PCCS_UNAUTHORIZED', 'The PCCS refused access.'],
    404: [
      'ERR_PCCS_NOT_FOUND',
      'The PCCS does not have this collateral (not cached, or unknown FMSPC); check its CachingFillMode and upstream PCS access.',
    ],
    410: ['ERR_PCCS_GONE', 'The requested collateral version is no longer served.'],
    429: ['ERR_PCCS_RATE_LIMITED', 'Too many requests; retry later.'],
    500: ['ERR_PCCS_SERVER_ERROR', 'The PCCS failed internally; see its logs.'],
    502: ['ERR_PCCS_UNAVAILABLE', 'The PCCS could not reach Intel’s PCS; check its network and API key.'],
    503: ['ERR_PCCS_UNAVAILABLE', 'The PCCS or Intel’s PCS is unavailable; retry later.'],
    504: ['ERR_PCCS_UNAVAILABLE', 'The PCCS timed out talking to Intel’s PCS; retry later.'],
  };
  const [code, hint] = table[res.status] ?? ['ERR_PCCS_HTTP_STATUS', 'Check the PCCS URL and the server’s logs.'];
  return new NetworkError(code, base, { hint });
}

function transportError(error: unknown, url: URL, what: string, timeoutMs: number): NetworkError {
  if (error instanceof NetworkError) return error;
  const e = error as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new NetworkError('ERR_PCCS_TLS', `TLS certificate of ${url.host} is not trusted (${code})`, {
      hint: 'Install the PCCS CA, or set "use_secure_cert": false in the QCNL configuration for a self-signed PCCS.',
      cause: error,
    });
  }
  if (code === 'ETIMEDOUT') {
    return new NetworkError('ERR_PCCS_TIMEOUT', `PCCS at ${url.host} timed out after ${timeoutMs} ms (${what})`, {
      cause: error,
    });
  }
  return new NetworkError(
    'ERR_PCCS_UNREACHABLE',
    `cannot reach the PCCS at ${url.host} for the ${what}: ${e.message ?? String(error)}`,
    {
      hint: 'Check the PCCS URL (--pccs or pccs_url in /etc/sgx_default_qcnl.conf) and that the service is running.',
      cause: error,
    },
  );
}

/** PEM of a chain from DER certificates (issuer first). */
export function chainPem(ders: Uint8Array[]): string {
  return ders.map((d) => toPem(d)).join('');
}
