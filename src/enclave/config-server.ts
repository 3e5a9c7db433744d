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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Serve until a valid configuration has been written; resolves once the port is released. */
export function runConfigurationServer(opts: ConfigServerOptions): Promise<ConfigurationOutcome> {
  const { log } = opts;
  return new Promise((resolve, reject) => {
    let busy = false;
    let outcome: ConfigurationOutcome | undefined;
    let timer: NodeJS.Timeout | undefined;

    const server = https.createServer(
      { cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
      (req, res) => {
        handle(req, res).catch((error: unknown) => {
          log.error(`Configuration server failure: ${(error as Error).message}`);
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error', code: 'ERR_INTERNAL' }, waiting);
        });
      },
    );
    server.headersTimeout = 20_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 64;
    server.on('tlsClientError', (error) => log.debug(`TLS client error: ${error.message}`));

    const waiting = { 'mse-status': 'Waiting' };

    const finish = (result: ConfigurationOutcome): void => {
      if (timer) clearTimeout(timer);
      server.close(() => resolve(result));
      server.closeAllConnections();
    };

    const refuseConfigured = (res: ServerResponse): void =>
      sendJson(
        res,
        503,
        { error: 'the enclave is already configured and starting the app', code: 'ERR_CONFIG_DONE' },
        { connection: 'close' },
      );

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (outcome) return refuseConfigured(res);
      if (req.method === 'GET' || req.method === 'HEAD') {
        res.writeHead(200, {
          ...waiting,
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(WAITING_BODY),
        });
        res.end(req.method === 'HEAD' ? undefined : WAITING_BODY);
        return;
      }
      if (req.method !== 'POST') {
        sendJson(
          res,
          405,
          { error: `method ${req.method} is not allowed`, code: 'ERR_CONFIG_METHOD' },
          { ...waiting, allow: 'GET, HEAD, POST' },
        );
        return;
      }
      // Read the (bounded) body before taking the lock: a client that never finishes its body must not
      // hold the one-at-a-time slot, or any peer on the network could keep the enclave from being configured.
      const body = await readBody(req, res);
      if (!body) return; // already answered 413
      if (outcome) return refuseConfigured(res);
      if (busy) {
        sendJson(
          res,
          503,
          { error: 'another configuration request is being processed', code: 'ERR_CONFIG_BUSY' },
          { ...waiting, 'retry-after': '1' },
        );
        return;
      }
      busy = true;
      try {
        let validated;
        try {
          validated = await validateConfiguration(body, opts.context);
        } catch (error) {
          if (!(error instanceof ConfigurationRejected)) throw error;
          log.warn(`Configuration refused (${error.status} ${error.code}): ${error.message}`);
          sendJson(res, error.status, { error: error.message, code: error.code }, waiting);
          return;
        }
        try {
          await applyConfiguration(validated, opts.paths);
        } catch (error) {
          log.error(`Cannot write the configuration: ${(error as Error).message}`);
          sendJson(
            res,
            500,
            { error: 'the enclave could not store the configuration', code: 'ERR_CONFIG_WRITE' },
            waiting,
          );
          return;
        }
        outcome = {
          appSecrets: validated.appSecrets !== undefined,
          sealedSecrets: validated.sealedSecrets !== undefined,
          codeKeySource: validated.codeKeySource,
          files: validated.files.filter((f) => f.type === 'file').length,
        };
        const done = outcome;
        res.on('finish', () => finish(done));
        sendJson(res, 200, { status: 'configured' }, { connection: 'close' });
      } finally {
        busy = false;
      }
    }

    /** The request body, or undefined after answering 413 when it exceeds {@link MAX_CONFIG_BODY}. */
    function readBody(req: IncomingMessage, res: ServerResponse): Promise<Uint8Array | undefined> {
      const tooLarge = (): void => {
        log.warn(`Configuration refused (413 ERR_CONFIG_TOO_LARGE): body over ${MAX_CONFIG_BODY} bytes`);
        sendJson(
          res,
          413,
          { error: `request body is larger than ${MAX_CONFIG_BODY} bytes`, code: 'ERR_CONFIG_TOO_LARGE' },
          { ...waiting, connection: 'close' },
        );
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

    server.on('error', (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(
        new NetworkError(
          'ERR_CONFIG_LISTEN',
          `configuration server cannot listen on ${opts.host}:${opts.port}: ${error.message}`,
          {
            hint: error.code === 'EADDRINUSE' ? 'Another process uses this port.' : undefined,
            cause: error,
          },
        ),
      );
    });
    server.listen(opts.port, opts.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      log.info(`Configuration server listening on https://${opts.host}:${port} (waiting for secrets)`);
      opts.onListening?.(port);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          server.close();
          server.closeAllConnections();
          reject(
            new NetworkError(
              'ERR_CONFIG_TIMEOUT',
              `no valid configuration received within ${opts.timeoutMs! / 1000} s`,
              {
                hint: 'Run `mse home run` sooner, or spawn again with a longer --timeout.',
              },
            ),
          );
        }, opts.timeoutMs);
      }
    });
  });
}
