/**
 * The CLI's stdout and stderr closing under it: `mse home list | head -1` closes the pipe after one line,
 * and the next write fails with EPIPE. Node ignores SIGPIPE, so that failure arrives as an `error` event on
 * the stream, which would crash the process with a stack trace. Handled here once for every command.
 */

/**
 * Watch `streams` for write errors. The first one calls `onClosed` (with the error); every error after it
 * is swallowed, so writes that are still queued or come later fail silently instead of crashing.
 * Errors that are not a closed reader (e.g. EIO on a terminal that went away) are treated the same: there
 * is nowhere left to report them.
 */
export function guardOutputStreams(streams: NodeJS.WritableStream[], onClosed: (error: Error) => void): void {
  let closed = false;
  const handler = (error: Error): void => {
    if (closed) return;
    closed = true;
    onClosed(error);
  };
  for (const s of streams) s.on('error', handler);
}
