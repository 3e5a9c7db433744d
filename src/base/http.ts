/**
 * One bounded HTTP exchange, for every client of mse-home that speaks node:http or node:https (the pinned
 * requests to an enclave, the bootstrap's requests to the sim quoting service): an **overall deadline**,
 * from sending the request to the last byte of the answer (not an idle timeout: a peer that trickles bytes
 * cannot hold a command forever), and a **cap on the answer body** (the request is destroyed as soon as the
 * cap is passed; nothing more is buffered). The transport and its options (a Unix socket, TLS pinning) are
 * the caller's. Failures are Node's errors or an {@link HttpLimitError}; callers turn them into their own
 * typed errors. No error class of mse-home here, so the enclave bootstrap can carry it.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';

/** An answer read in full. */
export interface BoundedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A limit of {@link boundedRequest} was reached: the deadline, or the body cap. */
export class HttpLimitError extends Error {
  constructor(
    readonly kind: 'deadline' | 'too-large',
    /** The deadline in ms, or the cap in bytes. */
    readonly limit: number,
  ) {
    super(kind === 'deadline' ? `no answer within ${limit} ms` : `answer larger than ${limit} bytes`);
    this.name = 'HttpLimitError';
  }
}

/** `node:http`'s or `node:https`'s `request`. */
export type RequestFunction = (options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest;

/** Send one request (`body` if any) and read the whole answer within `deadlineMs` and `maxBytes`. */
export function boundedRequest(
  request: RequestFunction,
  options: RequestOptions,
  limits: { deadlineMs: number; maxBytes: number; body?: string | Buffer },
): Promise<BoundedAnswer> {
  return new Promise((resolve, reject) => {
    // The first outcome wins: a limit, an error, or the end of the answer (data may still be buffered when
    // the request is destroyed, so 'end' can follow a limit).
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const stop = (e: HttpLimitError): void => {
      settle(() => reject(e));
      req.destroy(); // no error: the outcome is settled, and nothing may surface unhandled
    };
    const fail = (error: Error): void => settle(() => reject(error));
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (settled) return;
        size += c.length;
        if (size > limits.maxBytes) stop(new HttpLimitError('too-large', limits.maxBytes));
        else chunks.push(c);
      });
      res.on('end', () =>
        settle(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })),
      );
      res.on('error', fail);
    });
    const timer = setTimeout(() => stop(new HttpLimitError('deadline', limits.deadlineMs)), limits.deadlineMs);
    req.on('error', fail);
    req.end(limits.body);
  });
}
