/**
 * Talking to a deployment's enclave over TLS. Two trust modes, chosen by the caller and never mixed up:
 * - `pinned`: the server must present exactly the RA-TLS certificate given (byte for byte). Used by
 *   `run` (secrets), `status` and `test`.
 * - `unverified`: only for fetching the certificate the enclave presents, which `evidence` then checks
 *   itself (RA-TLS binding, quote) before anyone trusts it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { boundedRequest, HttpLimitError, type BoundedAnswer } from '../base/http.js';
import { isMseError, NetworkError, StateError, type MseError } from '../errors.js';

export interface EnclaveEndpoint {
  /** Address to connect to. */
  address: string;
  port: number;
  /** The certificate's SAN, sent as SNI when it is a DNS name. */
  san: string;
}

/** An enclave's answer, read in full. */
export type HttpAnswer = BoundedAnswer;

function pinnedOptions(endpoint: EnclaveEndpoint, pinnedPem: string): https.RequestOptions {
  const pinned = new X509Certificate(pinnedPem);
  return {
    host: endpoint.address,
    port: endpoint.port,
    ...(isIP(endpoint.san) ? {} : { servername: endpoint.san }),
    ca: pinnedPem,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) =>
      cert.raw.equals(pinned.raw)
        ? undefined
        : new Error('the enclave presented a certificate other than the pinned RA-TLS certificate'),
    agent: false,
  };
}

/** Largest answer read from an enclave. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * One HTTPS request to the enclave, pinned to `pinnedPem`, answered in full within `timeoutMs` (an overall
 * deadline: `base/http.ts`) and 1 MiB.
 */
export function pinnedRequest(
  endpoint: EnclaveEndpoint,
  pinnedPem: string,
  request: {
    method: 'GET' | 'POST';
    path: string;
    body?: Buffer | string;
    headers?: Record<string, string>;
    timeoutMs: number;
  },
): Promise<HttpAnswer> {
  return boundedRequest(
    https.request,
    { ...pinnedOptions(endpoint, pinnedPem), method: request.method, path: request.path, headers: request.headers },
    {
      deadlineMs: request.timeoutMs,
      maxBytes: MAX_ANSWER_BYTES,
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
  ).catch(async (error: Error) => {
    const e =
      error instanceof HttpLimitError && error.kind === 'too-large' ? new Error('answer larger than 1 MiB') : error;
    throw await explainFailure(endpoint, pinnedPem, e);
  });
}

/** `sha256:<hex>` of a certificate's DER. */
export function certificateFingerprint(der: Uint8Array): string {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/**
 * The error for a failed pinned request. A TLS verification failure is told apart: the enclave presents
 * another certificate than the pinned one (both fingerprints named), or the pinned certificate itself is
 * refused (expired, wrong name); anything else is "unreachable".
 */
async function explainFailure(endpoint: EnclaveEndpoint, pinnedPem: string, e: Error): Promise<MseError> {
  const where = `${endpoint.address}:${endpoint.port}`;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SELF_SIGNED|SIGNATURE|ALTNAME/.test(code) || /pinned RA-TLS certificate/.test(e.message)) {
    const presented = await fetchPresentedCertificate(endpoint, 3_000).catch(() => undefined);
    const pinned = new X509Certificate(pinnedPem).raw;
    if (presented && !presented.equals(pinned)) {
      return new StateError(
        'ERR_CERTIFICATE_MISMATCH',
        `the enclave at ${where} presents certificate ${certificateFingerprint(presented)}, ` +
          `not the pinned ${certificateFingerprint(pinned)}`,
        {
          hint: "The pinned ratls.pem is not this enclave's certificate: nothing was sent. See docs/user-guide.md.",
          cause: e,
        },
      );
    }
    if (presented) {
      return new NetworkError(
        'ERR_CERTIFICATE_REFUSED',
        `the enclave at ${where} presents the pinned certificate, but TLS refuses it: ${e.message}`,
        { hint: 'An expired certificate, or a SAN other than the address used; nothing was sent.', cause: e },
      );
    }
  }
  return new NetworkError('ERR_ENCLAVE_UNREACHABLE', `cannot reach the enclave at ${where}: ${e.message}`, {
    hint: "Check 'mse home status NAME' and 'mse home logs NAME'.",
    cause: e,
  });
}

/** The certificate the enclave presents, fetched WITHOUT verification: the caller must check it. */
export function fetchPresentedCertificate(endpoint: EnclaveEndpoint, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: endpoint.address,
      port: endpoint.port,
      ...(isIP(endpoint.san) ? {} : { servername: endpoint.san }),
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      if (!cert?.raw) reject(new NetworkError('ERR_ENCLAVE_NO_CERT', 'the enclave presented no certificate'));
      else resolve(cert.raw);
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', (e) =>
      reject(
        new NetworkError(
          'ERR_ENCLAVE_UNREACHABLE',
          `cannot reach the enclave at ${endpoint.address}:${endpoint.port}: ${(e as Error).message}`,
          { cause: e },
        ),
      ),
    );
  });
}

/** What a health probe saw. */
export type ProbeResult =
  { kind: 'answer'; status: number; waiting: boolean } | { kind: 'unreachable'; reason: string; error?: MseError };

/** GET `path` pinned to the certificate; never throws. */
export async function probe(
  endpoint: EnclaveEndpoint,
  pinnedPem: string,
  path: string,
  timeoutMs = 5_000,
): Promise<ProbeResult> {
  try {
    const a = await pinnedRequest(endpoint, pinnedPem, { method: 'GET', path, timeoutMs });
    return { kind: 'answer', status: a.status, waiting: a.headers['mse-status'] !== undefined };
  } catch (e) {
    return { kind: 'unreachable', reason: (e as Error).message, ...(isMseError(e) ? { error: e } : {}) };
  }
}
