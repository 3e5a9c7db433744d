/**
 * The CLI's stdout and stderr closing under it: `mse home list | head -1` closes the pipe after one line,
 * and the next write fails with EPIPE. Node ignores SIGPIPE, so that failure arrives as an `error` event on
 * the stream, which would crash the process with a stack trace. Handled here once for every command.
 */

/** Errors that mean the reader went away (rather than the device failing, e.g. ENOSPC on a redirect). */
const READER_GONE = new Set(['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** True when a write error on stdout/stderr means the reader went away (`| head -1`). */
export function isReaderGone(error: unknown): boolean {
  return READER_GONE.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/**
 * Watch `streams` for write errors. The first one calls `onFailed` with the error and the stream; every
 * error after it is swallowed, so writes that are still queued or come later fail silently instead of
 * crashing the process with a stack trace.
 */
export function guardOutputStreams<S extends NodeJS.WritableStream>(
  streams: S[],
  onFailed: (error: Error, stream: S) => void,
): void {
  let failed = false;
  for (const s of streams) {
    s.on('error', (error: Error) => {
      if (failed) return;
      failed = true;
      onFailed(error, s);
    });
  }
}
