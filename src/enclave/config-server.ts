/**
 * The configuration server: HTTPS with the RA-TLS certificate on the app's port, until one valid
 * configuration request arrives.
 *
 * - `GET`/`HEAD` any path → 200, header `Mse-Status: Waiting` (how `spawn`/`status` see that the enclave
 *   waits for its secrets).
 * - `POST` any path → the request of {@link validateConfiguration}. Refusals answer 4xx with
 *   `{"error": "<reason>", "code": "ERR_…"}` and the server keeps waiting; a body over 1 MiB is refused with
 *   413 without being read. Success writes the configuration, answers 200 `{"status": "configured"}` and
 *   closes the server so the app can take the port.
 * - One POST is validated and applied at a time (others get 503 meanwhile); bodies are read before that
 *   lock is taken, so a slow client cannot hold it; other methods get 405.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NetworkError } from '../errors.js';
import {
  ConfigurationRejected,
  MAX_CONFIG_BODY,
  applyConfiguration,
  validateConfiguration,
  type ConfigurationContext,
  type ValidatedConfiguration,
} from './configuration.js';
import type { EnclaveLogger } from './log.js';
import type { EnclavePaths } from './paths.js';

export const WAITING_BODY = 'Waiting for the configuration: secrets and/or code key...\n';

export interface ConfigServerOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  context: ConfigurationContext;
  paths: EnclavePaths;
  log: EnclaveLogger;
  /** Give up after this many milliseconds (`ERR_CONFIG_TIMEOUT`); default: wait forever. */
  timeoutMs?: number;
  /** Called once the server listens (tests, readiness logs). */
  onListening?: (port: number) => void;
}

export interface ConfigurationOutcome {
  appSecrets: boolean;
  sealedSecrets: boolean;
  codeKeySource?: 'code_secret_key' | 'app_sealed_secrets';
  files: number;
}

/** The header every answer gives while the enclave waits for its configuration. */
const WAITING = { 'mse-status': 'Waiting' } as const;

/** An answer of the server, as data: a JSON body, or the waiting text (no body for HEAD). */
export type Reply =
  { kind: 'json'; status: number; body: unknown; headers: Record<string, string> } | { kind: 'waiting'; head: boolean };

const json = (status: number, body: unknown, headers: Record<string, string>): Reply => ({
  kind: 'json',
  status,
  body,
  headers,
});

/** Every answer but the refusals of {@link validateConfiguration}, which carry their own status and code. */
export const REPLIES = {
  configured: json(200, { status: 'configured' }, { connection: 'close' }),
  alreadyConfigured: json(
    503,
    { error: 'the enclave is already configured and starting the app', code: 'ERR_CONFIG_DONE' },
    { connection: 'close' },
  ),
  busy: json(
    503,
    { error: 'another configuration request is being processed', code: 'ERR_CONFIG_BUSY' },
    { ...WAITING, 'retry-after': '1' },
  ),
  tooLarge: json(
    413,
    { error: `request body is larger than ${MAX_CONFIG_BODY} bytes`, code: 'ERR_CONFIG_TOO_LARGE' },
    { ...WAITING, connection: 'close' },
  ),
  writeFailed: json(500, { error: 'the enclave could not store the configuration', code: 'ERR_CONFIG_WRITE' }, WAITING),
  internal: json(500, { error: 'internal error', code: 'ERR_INTERNAL' }, WAITING),
  methodNotAllowed: (method: string | undefined): Reply =>
    json(
      405,
      { error: `method ${method} is not allowed`, code: 'ERR_CONFIG_METHOD' },
      { ...WAITING, allow: 'GET, HEAD, POST' },
    ),
  refused: (error: ConfigurationRejected): Reply =>
    json(error.status, { error: error.message, code: error.code }, WAITING),
};

/**
 * What to do with a request as it arrives: answer it at once, or read its body (a POST while the enclave
 * still waits). Pure.
 */
export function planRequest(method: string | undefined, configured: boolean): Reply | 'read-body' {
  if (configured) return REPLIES.alreadyConfigured;
  if (method === 'GET' || method === 'HEAD') return { kind: 'waiting', head: method === 'HEAD' };
  if (method !== 'POST') return REPLIES.methodNotAllowed(method);
  return 'read-body';
}

/**
 * What to do with a POST whose body was read: refuse it, or validate and apply it (the one-at-a-time slot
 * is free). Pure.
 */
export function planConfigure(state: { configured: boolean; busy: boolean }): Reply | 'configure' {
  if (state.configured) return REPLIES.alreadyConfigured;
  if (state.busy) return REPLIES.busy;
  return 'configure';
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.kind === 'waiting') {
    res.writeHead(200, {
      ...WAITING,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(WAITING_BODY),
    });
    res.end(reply.head ? undefined : WAITING_BODY);
    return;
  }
  const text = JSON.stringify(reply.body) + '\n';
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

/** The request body, or undefined after answering 413 when it exceeds {@link MAX_CONFIG_BODY}. */
function readBody(req: IncomingMessage, res: ServerResponse, log: EnclaveLogger): Promise<Uint8Array | undefined> {
  const tooLarge = (): void => {
    log.warn(`Configuration refused (413 ERR_CONFIG_TOO_LARGE): body over ${MAX_CONFIG_BODY} bytes`);
    send(res, REPLIES.tooLarge);
  };
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_CONFIG_BODY) {
    tooLarge();
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_CONFIG_BODY) {
        over = true;
        chunks.length = 0;
        tooLarge();
        done(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) done(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on('error', fail);
  });
}

function outcomeOf(validated: ValidatedConfiguration): ConfigurationOutcome {
  return {
    appSecrets: validated.appSecrets !== undefined,
    sealedSecrets: validated.sealedSecrets !== undefined,
    codeKeySource: validated.codeKeySource,
    files: validated.files.filter((f) => f.type === 'file').length,
  };
}

/**
 * The requests of one configuration server: answers each by {@link planRequest} and {@link planConfigure},
 * validates and applies one POST at a time, and calls `configured` once the answer to the first valid one
 * has been sent.
 */
class ConfigurationSession {
  private busy = false;
  private outcome: ConfigurationOutcome | undefined;

  constructor(
    private readonly opts: ConfigServerOptions,
    private readonly configured: (outcome: ConfigurationOutcome) => void,
  ) {}

  /** Answer one request; a failure of the server itself answers 500 when nothing was sent yet. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((error: unknown) => {
      this.opts.log.error(`Configuration server failure: ${(error as Error).message}`);
      if (!res.headersSent) send(res, REPLIES.internal);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const first = planRequest(req.method, this.outcome !== undefined);
    if (first !== 'read-body') return send(res, first);
    // Read the (bounded) body before taking the lock: a client that never finishes its body must not
    // hold the one-at-a-time slot, or any peer on the network could keep the enclave from being configured.
    const body = await readBody(req, res, this.opts.log);
    if (!body) return; // already answered 413
    const next = planConfigure({ configured: this.outcome !== undefined, busy: this.busy });
    if (next !== 'configure') return send(res, next);
    this.busy = true;
    try {
      await this.configure(body, res);
    } finally {
      this.busy = false;
    }
  }

  /** Validate and apply one configuration; answer the refusal, the write failure or the success. */
  private async configure(body: Uint8Array, res: ServerResponse): Promise<void> {
    const { log } = this.opts;
    let validated: ValidatedConfiguration;
    try {
      validated = await validateConfiguration(body, this.opts.context);
    } catch (error) {
      if (!(error instanceof ConfigurationRejected)) throw error;
      log.warn(`Configuration refused (${error.status} ${error.code}): ${error.message}`);
      return send(res, REPLIES.refused(error));
    }
    try {
      await applyConfiguration(validated, this.opts.paths);
    } catch (error) {
      log.error(`Cannot write the configuration: ${(error as Error).message}`);
      return send(res, REPLIES.writeFailed);
    }
    const done = (this.outcome = outcomeOf(validated));
    res.on('finish', () => this.configured(done));
    send(res, REPLIES.configured);
  }
}

function createServer(opts: ConfigServerOptions, session: ConfigurationSession): https.Server {
  const server = https.createServer(
    { cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
    (req, res) => session.serve(req, res),
  );
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.on('tlsClientError', (error) => opts.log.debug(`TLS client error: ${error.message}`));
  return server;
}

function listenError(opts: ConfigServerOptions, error: NodeJS.ErrnoException): NetworkError {
  return new NetworkError(
    'ERR_CONFIG_LISTEN',
    `configuration server cannot listen on ${opts.host}:${opts.port}: ${error.message}`,
    { hint: error.code === 'EADDRINUSE' ? 'Another process uses this port.' : undefined, cause: error },
  );
}

function timeoutError(timeoutMs: number): NetworkError {
  return new NetworkError('ERR_CONFIG_TIMEOUT', `no valid configuration received within ${timeoutMs / 1000} s`, {
    hint: 'Run `mse home run` sooner, or spawn again with a longer --timeout.',
  });
}

/** Serve until a valid configuration has been written; resolves once the port is released. */
export function runConfigurationServer(opts: ConfigServerOptions): Promise<ConfigurationOutcome> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const session = new ConfigurationSession(opts, (outcome) => {
      if (timer) clearTimeout(timer);
      server.close(() => resolve(outcome));
      server.closeAllConnections();
    });
    const server = createServer(opts, session);
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(listenError(opts, error));
    });
    server.listen(opts.port, opts.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      opts.log.info(`Configuration server listening on https://${opts.host}:${port} (waiting for secrets)`);
      opts.onListening?.(port);
      const timeoutMs = opts.timeoutMs;
      if (timeoutMs === undefined) return;
      timer = setTimeout(() => {
        server.close();
        server.closeAllConnections();
        reject(timeoutError(timeoutMs));
      }, timeoutMs);
    });
  });
}
