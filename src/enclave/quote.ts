/**
 * Where the enclave's quote comes from. One interface, two platforms:
 *
 * - **sgx** ({@link GramineQuoteProvider}): Gramine's pseudo-files. `/dev/attestation/attestation_type`
 *   must read `dcap`; writing the 64 bytes of report_data to `/dev/attestation/user_report_data` and then
 *   reading `/dev/attestation/quote` yields a DCAP quote made by Intel's quoting enclave for this enclave.
 * - **sim** ({@link SimQuoteProvider}): the simulated platform's quoting service, HTTP/1.1 over a Unix socket
 *   that `spawn` bind-mounts at `/var/run/mse-sim/quote.sock`: `POST /quote` with JSON
 *   `{"report_data": "<128 lowercase hex>"}` answers 200 JSON `{"quote": "<standard base64>"}` (errors: 4xx
 *   JSON `{"error": "..."}`). The service fixes MRENCLAVE/MRSIGNER for the deployment; the enclave only
 *   chooses report_data.
 *
 * Both return raw bytes; the caller checks that the quote carries the report_data it asked for.
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AttestationError, NetworkError } from '../errors.js';
import { MAX_QUOTE_SIZE, MIN_QUOTE_SIZE, QUOTE_REPORT_DATA_OFFSET, REPORT_DATA_SIZE } from '../ratls/format.js';

export interface QuoteProvider {
  /** `sgx` or `sim`: printed in logs and recorded by the operator side. */
  readonly platform: 'sgx' | 'sim';
  /** A quote whose report_data is `reportData` (64 bytes). */
  getQuote(reportData: Uint8Array): Promise<Uint8Array>;
}

/** Gramine's attestation directory. */
export const GRAMINE_ATTESTATION_DIR = '/dev/attestation';
/** The sim quoting service's socket inside the container. */
export const SIM_QUOTE_SOCKET = '/var/run/mse-sim/quote.sock';

function quoteError(code: string, message: string, hint?: string, cause?: unknown): AttestationError {
  return new AttestationError('quote', code, message, { hint, cause });
}

/** Check a quote's size and that it carries `reportData` at offset 368. */
export function checkQuoteReportData(quote: Uint8Array, reportData: Uint8Array): void {
  if (quote.length < MIN_QUOTE_SIZE || quote.length > MAX_QUOTE_SIZE) {
    throw quoteError(
      'ERR_QUOTE_SIZE',
      `quote is ${quote.length} bytes, expected ${MIN_QUOTE_SIZE} to ${MAX_QUOTE_SIZE}`,
    );
  }
  const got = quote.subarray(QUOTE_REPORT_DATA_OFFSET, QUOTE_REPORT_DATA_OFFSET + REPORT_DATA_SIZE);
  if (!Buffer.from(got).equals(Buffer.from(reportData))) {
    throw quoteError('ERR_QUOTE_REPORT_DATA', 'the quote does not carry the report_data the enclave asked for');
  }
}

/** Quotes from Gramine's `/dev/attestation` interface (real SGX). */
export class GramineQuoteProvider implements QuoteProvider {
  readonly platform = 'sgx' as const;
  constructor(private readonly dir = GRAMINE_ATTESTATION_DIR) {}

  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    if (reportData.length !== REPORT_DATA_SIZE)
      throw quoteError('ERR_QUOTE_REPORT_DATA', 'report_data must be 64 bytes');
    let type: string;
    try {
      type = (await fs.readFile(path.join(this.dir, 'attestation_type'), 'utf8')).trim();
    } catch (error) {
      throw quoteError(
        'ERR_QUOTE_GRAMINE',
        `cannot read ${this.dir}/attestation_type: not running inside Gramine-SGX`,
        undefined,
        error,
      );
    }
    if (type !== 'dcap') {
      throw quoteError(
        'ERR_QUOTE_GRAMINE',
        `Gramine attestation type is "${type}", expected "dcap"`,
        'Set sgx.remote_attestation = "dcap" in the manifest.',
      );
    }
    try {
      await fs.writeFile(path.join(this.dir, 'user_report_data'), reportData);
      const quote = new Uint8Array(await fs.readFile(path.join(this.dir, 'quote')));
      checkQuoteReportData(quote, reportData);
      return quote;
    } catch (error) {
      if (error instanceof AttestationError) throw error;
      throw quoteError(
        'ERR_QUOTE_GRAMINE',
        `Gramine could not produce a quote: ${(error as Error).message}`,
        'Check that aesmd and the quoting enclave are reachable on the host.',
        error,
      );
    }
  }
}

/** Quotes from the simulated platform's quoting service over a Unix socket. */
export class SimQuoteProvider implements QuoteProvider {
  readonly platform = 'sim' as const;
  /**
   * @param socketPath the service's socket
   * @param waitMs how long to keep retrying while the socket is absent or refuses connections
   */
  constructor(
    readonly socketPath = SIM_QUOTE_SOCKET,
    private readonly waitMs = 10_000,
  ) {}

  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    if (reportData.length !== REPORT_DATA_SIZE)
      throw quoteError('ERR_QUOTE_REPORT_DATA', 'report_data must be 64 bytes');
    const body = JSON.stringify({ report_data: Buffer.from(reportData).toString('hex') });
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      try {
        const quote = await this.post(body);
        checkQuoteReportData(quote, reportData);
        return quote;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ECONNREFUSED') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        if (error instanceof AttestationError || error instanceof NetworkError) throw error;
        throw new NetworkError(
          'ERR_QUOTE_SERVICE',
          `cannot reach the sim quoting service at ${this.socketPath}: ${(error as Error).message}`,
          {
            hint: 'The operator side serves it while the enclave starts (mse home spawn); check that the socket is mounted.',
            cause: error,
          },
        );
      }
    }
  }

  private post(body: string): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method: 'POST',
          path: '/quote',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), host: 'localhost' },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 4 * MAX_QUOTE_SIZE) {
              req.destroy(new NetworkError('ERR_QUOTE_SERVICE', 'the sim quoting service answer is too large'));
              return;
            }
            chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            try {
              resolve(parseQuoteAnswer(res.statusCode ?? 0, Buffer.concat(chunks)));
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new NetworkError('ERR_QUOTE_SERVICE', 'the sim quoting service did not answer within 30 s')),
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

function parseQuoteAnswer(status: number, body: Buffer): Uint8Array {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const obj = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  if (status !== 200) {
    const reason = typeof obj.error === 'string' ? obj.error : body.toString('utf8').slice(0, 200);
    throw quoteError('ERR_QUOTE_REFUSED', `the sim quoting service refused the quote (HTTP ${status}): ${reason}`);
  }
  const b64 = obj.quote;
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw quoteError('ERR_QUOTE_SERVICE_ANSWER', 'the sim quoting service answer has no base64 "quote" field');
  }
  const quote = Buffer.from(b64, 'base64');
  if (quote.toString('base64') !== b64)
    throw quoteError('ERR_QUOTE_SERVICE_ANSWER', 'the quote is not canonical base64');
  return new Uint8Array(quote);
}

/**
 * The provider for this container: sgx when Gramine's `/dev/attestation/quote` exists, sim otherwise, with
 * the socket at `MSE_SIM_QUOTE_SOCKET` (tests) or {@link SIM_QUOTE_SOCKET}.
 */
export async function detectQuoteProvider(env: NodeJS.ProcessEnv = process.env): Promise<QuoteProvider> {
  try {
    await fs.access(path.join(GRAMINE_ATTESTATION_DIR, 'quote'));
    return new GramineQuoteProvider();
  } catch {
    return new SimQuoteProvider(env.MSE_SIM_QUOTE_SOCKET || SIM_QUOTE_SOCKET);
  }
}
