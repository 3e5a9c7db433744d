/**
 * A simulated PCCS: an HTTP server on loopback serving the simulated platform's collateral on Intel's
 * `/sgx/certification/v4/` endpoints with Intel's headers, so that `evidence` collects collateral from a
 * PCCS the same way on the sim and sgx platforms.
 *
 *   GET rootcacrl                          → hex of the DER root CA CRL (as Intel's PCCS serves it)
 *   GET pckcrl?ca=platform[&encoding=der|pem] → the PCK Platform CA CRL (PEM by default, like PCS)
 *                                             + SGX-PCK-CRL-Issuer-Chain
 *   GET tcb?fmspc=<12 hex>[&update=early|standard | &tcbEvaluationDataNumber=N]
 *                                          → TCB Info v3 JSON + TCB-Info-Issuer-Chain
 *   GET qe/identity[?update=… | ?tcbEvaluationDataNumber=N]
 *                                          → QE Identity v2 JSON + SGX-Enclave-Identity-Issuer-Chain
 * Issuer chains are URL-encoded PEM (issuer, then root). Errors: 400 bad or unknown parameters, 404 unknown
 * FMSPC / CA / path, 405 other methods; each with `Request-ID`, `Error-Code`, `Error-Message` headers.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { NetworkError } from '../errors.js';
import { SIM_TCB_EVALUATION_DATA_NUMBER } from './collateral.js';
import type { SimPlatform } from './platform.js';

export const PCCS_BASE_PATH = '/sgx/certification/v4/';

export interface SimPccsOptions {
  /** Loopback only by default; anything else is the caller's explicit choice. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

export interface SimPccs {
  /** Base URL ending in `/sgx/certification/v4/`, ready for a PCCS client (`pccs_url`). */
  url: string;
  port: number;
  close(): Promise<void>;
}

class PccsFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const encodeChain = (pem: string): string => encodeURIComponent(pem);

function checkParams(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (!allowed.includes(key))
      throw new PccsFailure(400, 'InvalidParameter', `unknown parameter ${JSON.stringify(key.slice(0, 50))}`);
    if (seen.has(key)) throw new PccsFailure(400, 'InvalidParameter', `parameter ${key} given twice`);
    seen.add(key);
  }
}

/** `update` and `tcbEvaluationDataNumber` as Intel defines them (mutually exclusive). */
function checkUpdateParams(query: URLSearchParams): void {
  const update = query.get('update');
  const evalNum = query.get('tcbEvaluationDataNumber');
  if (update !== null && evalNum !== null) {
    throw new PccsFailure(400, 'InvalidParameter', 'update and tcbEvaluationDataNumber cannot be combined');
  }
  if (update !== null && update !== 'early' && update !== 'standard') {
    throw new PccsFailure(400, 'InvalidParameter', 'update must be early or standard');
  }
  if (evalNum !== null) {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(evalNum))
      throw new PccsFailure(400, 'InvalidParameter', 'tcbEvaluationDataNumber must be a number');
    if (Number(evalNum) !== SIM_TCB_EVALUATION_DATA_NUMBER) {
      throw new PccsFailure(404, 'NotFound', `no collateral for tcbEvaluationDataNumber ${evalNum}`);
    }
  }
}

/**
 * Start the simulated PCCS for `platform`. Resolves once listening; `close()` stops it. Collateral is
 * fetched from `platform.collateral()` per request, so a long-running server keeps serving fresh items.
 */
export async function startSimPccs(platform: SimPlatform, options: SimPccsOptions = {}): Promise<SimPccs> {
  const host = options.host ?? '127.0.0.1';
  const fmspcHex = Buffer.from(platform.tcb.fmspc).toString('hex');

  // Every failure is answered inside the handler (its catch), so nothing is left to reject.
  const server = http.createServer((req, res) => {
    void (async () => {
      const requestId = randomBytes(16).toString('hex');
      const reply = (status: number, body: string | Uint8Array, headers: Record<string, string>) => {
        res.writeHead(status, { 'Request-ID': requestId, 'Content-Length': Buffer.byteLength(body), ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.setHeader('Allow', 'GET, HEAD');
          throw new PccsFailure(405, 'MethodNotAllowed', `method ${req.method ?? '?'} not allowed`);
        }
        const url = new URL(req.url ?? '/', 'http://pccs.invalid');
        if (!url.pathname.startsWith(PCCS_BASE_PATH)) throw new PccsFailure(404, 'NotFound', 'unknown path');
        const endpoint = url.pathname.slice(PCCS_BASE_PATH.length);
        const q = url.searchParams;
        const c = await platform.collateral();
        switch (endpoint) {
          case 'rootcacrl': {
            checkParams(q, []);
            return reply(200, Buffer.from(c.rootCaCrlDer).toString('hex'), { 'Content-Type': 'text/plain' });
          }
          case 'pckcrl': {
            checkParams(q, ['ca', 'encoding']);
            const ca = q.get('ca');
            if (ca !== 'processor' && ca !== 'platform')
              throw new PccsFailure(400, 'InvalidParameter', 'ca must be processor or platform');
            if (ca !== 'platform')
              throw new PccsFailure(404, 'NotFound', 'the simulated platform has no PCK Processor CA');
            const encoding = q.get('encoding') ?? 'pem';
            if (encoding !== 'pem' && encoding !== 'der')
              throw new PccsFailure(400, 'InvalidParameter', 'encoding must be pem or der');
            const headers = { 'SGX-PCK-CRL-Issuer-Chain': encodeChain(c.pckCrlIssuerChainPem) };
            return encoding === 'der'
              ? reply(200, c.pckCrlDer, { ...headers, 'Content-Type': 'application/pkix-crl' })
              : reply(200, c.pckCrlPem, { ...headers, 'Content-Type': 'application/x-pem-file' });
          }
          case 'tcb': {
            checkParams(q, ['fmspc', 'update', 'tcbEvaluationDataNumber']);
            const fmspc = q.get('fmspc');
            if (fmspc === null || !/^[0-9a-fA-F]{12}$/.test(fmspc))
              throw new PccsFailure(400, 'InvalidParameter', 'fmspc must be 12 hex characters');
            checkUpdateParams(q);
            if (fmspc.toLowerCase() !== fmspcHex)
              throw new PccsFailure(404, 'NotFound', `no TCB info for FMSPC ${fmspc}`);
            return reply(200, c.tcbInfo.body, {
              'Content-Type': 'application/json',
              'TCB-Info-Issuer-Chain': encodeChain(c.tcbInfoIssuerChainPem),
            });
          }
          case 'qe/identity': {
            checkParams(q, ['update', 'tcbEvaluationDataNumber']);
            checkUpdateParams(q);
            return reply(200, c.qeIdentity.body, {
              'Content-Type': 'application/json',
              'SGX-Enclave-Identity-Issuer-Chain': encodeChain(c.qeIdentityIssuerChainPem),
            });
          }
          default:
            throw new PccsFailure(404, 'NotFound', `unknown endpoint ${endpoint.slice(0, 100)}`);
        }
      } catch (error) {
        const f =
          error instanceof PccsFailure ? error : new PccsFailure(500, 'InternalError', 'simulated PCCS failure');
        reply(f.status, JSON.stringify({ error: f.message, code: f.code }), {
          'Content-Type': 'application/json',
          'Error-Code': f.code,
          // Messages may quote the request; keep the header value printable ASCII.
          'Error-Message': f.message.replace(/[^\x20-\x7e]/g, '?'),
        });
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;

  // Prepare the collateral before answering anything, so the first request is not the slow one.
  await platform.collateral();
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new NetworkError(
          'ERR_SIM_PCCS_LISTEN',
          `cannot start the simulated PCCS on ${host}:${options.port ?? 0}: ${error.message}`,
          {
            hint: error.code === 'EADDRINUSE' ? 'Choose another port.' : 'Check the host address.',
            cause: error,
          },
        ),
      );
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}${PCCS_BASE_PATH}`,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
