/**
 * The simulated quoting service: HTTP/1.1 over a Unix socket, serving ONE deployment. `spawn` starts it
 * with the MRENCLAVE it computed for that deployment (see measurement.ts) and bind-mounts the socket's
 * directory into the container at `/var/run/mse-sim/`; the enclave bootstrap asks for quotes there.
 * The enclave chooses only its report data; the identity it is quoted with is fixed here.
 *
 * Protocol (contracts.md):
 *   POST /quote   Content-Type: application/json   {"report_data": "<128 lowercase hex>"}
 *   → 200 {"quote": "<standard base64 of a DCAP v3 quote>"}
 *   → 4xx {"error": "<one line>", "code": "ERR_…"}   (400 bad body, 404 path, 405 method, 411, 413, 415)
 */
import http from 'node:http';
import net from 'node:net';
import { promises as fs } from 'node:fs';
import { InputError, StateError } from '../errors.js';
import type { SimPlatform } from './platform.js';

/** Largest accepted request body. A valid one is 145 bytes; leave room for whitespace. */
export const QUOTE_REQUEST_MAX_BYTES = 4096;

export interface QuotingServiceOptions {
  socketPath: string;
  platform: SimPlatform;
  /** 32 bytes, or 64 hex characters. */
  mrEnclave: Uint8Array | string;
  mrSigner: Uint8Array | string;
  isvProdId: number;
  isvSvn: number;
  /** 16 bytes; default production attributes (DEBUG clear). */
  attributes?: Uint8Array;
  /** Mode of the socket file. Default 0o666 so that the container's processes can connect whatever their
   * uid; restrict who can reach it with the mode of the enclosing directory. */
  socketMode?: number;
  /** Called after each quote is issued (for progress logs); gets the report data hex. */
  onQuote?: (reportDataHex: string) => void;
}

export interface QuotingService {
  readonly socketPath: string;
  /** Stop accepting connections, end open ones, and remove the socket file. Idempotent. */
  close(): Promise<void>;
}

function bytesParam(name: string, value: Uint8Array | string, length: number): Uint8Array {
  if (typeof value === 'string') {
    if (!new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(value)) {
      throw new InputError('ERR_SIM_QUOTING_OPTIONS', `${name} must be ${length * 2} hex characters`);
    }
    return Buffer.from(value, 'hex');
  }
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new InputError('ERR_SIM_QUOTING_OPTIONS', `${name} must be ${length} bytes`);
  }
  return Uint8Array.from(value);
}

function u16Param(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new InputError('ERR_SIM_QUOTING_OPTIONS', `${name} must be an integer in 0..65535`);
  }
  return value;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Validate a request body; returns the 64 report-data bytes. Exported for unit tests. */
export function parseQuoteRequest(body: Buffer): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_JSON', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_SHAPE', 'request body must be a JSON object');
  }
  const keys = Object.keys(value);
  const extra = keys.filter((k) => k !== 'report_data');
  if (extra.length)
    throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_SHAPE', `unexpected field ${JSON.stringify(extra[0])}`);
  const rd = (value as Record<string, unknown>)['report_data'];
  if (rd === undefined) throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_SHAPE', 'missing field "report_data"');
  if (typeof rd !== 'string')
    throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_REPORT_DATA', 'report_data must be a string');
  if (rd.length !== 128) {
    throw new HttpFailure(
      400,
      'ERR_QUOTE_REQUEST_REPORT_DATA',
      `report_data must be 128 hex characters (64 bytes), got ${rd.length} characters`,
    );
  }
  if (!/^[0-9a-f]{128}$/.test(rd)) {
    throw new HttpFailure(400, 'ERR_QUOTE_REQUEST_REPORT_DATA', 'report_data must be lowercase hex (0-9, a-f)');
  }
  return Buffer.from(rd, 'hex');
}

function send(res: http.ServerResponse, status: number, payload: object, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** Oversized bodies up to this size are drained so the client reads a clean 413; beyond it we hang up. */
const DRAIN_LIMIT = 256 * 1024;

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_LIMIT) req.destroy();
    });
    req.on('end', () => {
      if (size > limit)
        reject(new HttpFailure(413, 'ERR_QUOTE_REQUEST_TOO_LARGE', `request body exceeds ${limit} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => reject(new HttpFailure(400, 'ERR_QUOTE_REQUEST_ABORTED', 'request aborted')));
  });
}

/** Is something accepting connections on this Unix socket? */
function socketAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Remove a stale socket left by a crashed service; refuse to touch anything else. */
async function clearStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new StateError('ERR_SIM_SOCKET_PATH', `${socketPath} exists and is not a socket`, {
      hint: 'Remove it or choose another socket path.',
    });
  }
  if (await socketAlive(socketPath)) {
    throw new StateError('ERR_SIM_SOCKET_IN_USE', `another quoting service is already listening on ${socketPath}`, {
      hint: 'Stop the other deployment first, or use another socket path.',
    });
  }
  await fs.rm(socketPath, { force: true });
}

/**
 * Start the quoting service for one deployment. Resolves once it listens. Throws `ERR_SIM_QUOTING_OPTIONS`
 * for bad options, `ERR_SIM_SOCKET_IN_USE` / `ERR_SIM_SOCKET_PATH` / `ERR_SIM_SOCKET_LISTEN` when the socket
 * cannot be created.
 */
export async function startQuotingService(options: QuotingServiceOptions): Promise<QuotingService> {
  const identity = {
    mrEnclave: bytesParam('mrEnclave', options.mrEnclave, 32),
    mrSigner: bytesParam('mrSigner', options.mrSigner, 32),
    isvProdId: u16Param('isvProdId', options.isvProdId),
    isvSvn: u16Param('isvSvn', options.isvSvn),
    attributes: options.attributes === undefined ? undefined : bytesParam('attributes', options.attributes, 16),
  };
  const { platform, socketPath } = options;

  // Every failure is answered inside the handler (its catch), so nothing is left to reject.
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const url = req.url ?? '';
        if (url !== '/quote')
          throw new HttpFailure(
            404,
            'ERR_QUOTE_NOT_FOUND',
            `no such endpoint ${JSON.stringify(url.slice(0, 100))}; use POST /quote`,
          );
        if (req.method !== 'POST') {
          throw new HttpFailure(405, 'ERR_QUOTE_METHOD', `method ${req.method ?? '?'} not allowed; use POST`, {
            Allow: 'POST',
          });
        }
        const type = req.headers['content-type'];
        if (type !== undefined && !/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type)) {
          throw new HttpFailure(415, 'ERR_QUOTE_CONTENT_TYPE', 'Content-Type must be application/json');
        }
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > DRAIN_LIMIT) {
          throw new HttpFailure(
            413,
            'ERR_QUOTE_REQUEST_TOO_LARGE',
            `request body exceeds ${QUOTE_REQUEST_MAX_BYTES} bytes`,
          );
        }
        const reportData = parseQuoteRequest(await readBody(req, QUOTE_REQUEST_MAX_BYTES));
        const quote = platform.signQuote({ ...identity, reportData });
        send(res, 200, { quote: Buffer.from(quote).toString('base64') });
        options.onQuote?.(Buffer.from(reportData).toString('hex'));
      } catch (error) {
        const f =
          error instanceof HttpFailure
            ? error
            : new HttpFailure(500, 'ERR_QUOTE_INTERNAL', 'the simulated quoting enclave failed to produce a quote');
        if (res.headersSent || req.socket.destroyed) return;
        // After an error the rest of the connection is not worth keeping: answer, then close it.
        send(res, f.status, { error: f.message, code: f.code }, { ...f.headers, Connection: 'close' });
        req.resume();
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxHeadersCount = 50;

  await clearStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        new StateError('ERR_SIM_SOCKET_LISTEN', `cannot listen on ${socketPath}: ${error.message}`, {
          hint: 'Check that the directory exists and is writable.',
          cause: error,
        }),
      );
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      resolve();
    });
  });
  await fs.chmod(socketPath, options.socketMode ?? 0o666);

  let closed: Promise<void> | undefined;
  return {
    socketPath,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => fs.rm(socketPath, { force: true }));
      return closed;
    },
  };
}
