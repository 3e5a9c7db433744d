/**
 * Talking to a deployment's enclave over TLS. Two trust modes, chosen by the caller and never mixed up:
 * - `pinned`: the server must present exactly the RA-TLS certificate given (byte for byte). Used by
 *   `run` (secrets), `status` and `test`.
 * - `unverified`: only for fetching the certificate the enclave presents, which `evidence` then checks
 *   itself (RA-TLS binding, quote) before anyone trusts it.
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { NetworkError } from '../errors.js';

export interface EnclaveEndpoint {
  /** Address to connect to. */
  address: string;
  port: number;
  /** The certificate's SAN, sent as SNI when it is a DNS name. */
  san: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

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

/** One HTTPS request to the enclave, pinned to `pinnedPem`. */
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
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        ...pinnedOptions(endpoint, pinnedPem),
        method: request.method,
        path: request.path,
        headers: request.headers,
        timeout: request.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 1024 * 1024) req.destroy(new Error('answer larger than 1 MiB'));
          else chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    req.on('error', (e) =>
      reject(
        new NetworkError(
          'ERR_ENCLAVE_UNREACHABLE',
          `cannot reach the enclave at ${endpoint.address}:${endpoint.port}: ${e.message}`,
          {
            hint: "Check 'mse home status NAME' and 'mse home logs NAME'.",
            cause: e,
          },
        ),
      ),
    );
    req.end(request.body);
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
          `cannot reach the enclave at ${endpoint.address}:${endpoint.port}: ${e.message}`,
          { cause: e },
        ),
      ),
    );
  });
}

/** What a health probe saw. */
export type ProbeResult =
  { kind: 'answer'; status: number; waiting: boolean } | { kind: 'unreachable'; reason: string };

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
    return { kind: 'unreachable', reason: (e as Error).message };
  }
}
