/**
 * Human-oriented output on stderr: logs, warnings, progress by phase. stdout is reserved for data the
 * user asked for. Colour only on a TTY and never with `NO_COLOR`.
 */

export interface Logger {
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  /** Start a named phase of a long operation; returns a function that ends it and prints its duration. */
  phase(name: string): (detail?: string) => void;
  /** Print a raw line (tables, reports). */
  line(text: string): void;
}

export interface LoggerOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  /** Suppress info/success/phase lines (warnings and raw lines still print). */
  quiet?: boolean;
}

export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const color = useColor(stream as { isTTY?: boolean }, env);
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const write = (s: string): void => {
    stream.write(s + '\n');
  };
  return {
    info: (m) => !options.quiet && write(m),
    success: (m) => !options.quiet && write(`${paint('32', 'ok')} ${m}`),
    warn: (m) => write(`${paint('33', 'warning:')} ${m}`),
    line: (t) => write(t),
    phase(name) {
      const start = process.hrtime.bigint();
      if (!options.quiet) write(`${paint('36', '→')} ${name}…`);
      return (detail) => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const took = ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;
        if (!options.quiet) write(`${paint('32', '✓')} ${name}${detail ? `: ${detail}` : ''} (${took})`);
      };
    },
  };
}

/** Format an error for humans: `error[CODE]: message` then `hint: …`. */
export function formatError(
  code: string,
  message: string,
  hint: string,
  env: NodeJS.ProcessEnv,
  stream: { isTTY?: boolean },
): string {
  const color = useColor(stream, env);
  const red = (s: string): string => (color ? `\u001b[31m${s}\u001b[0m` : s);
  return `${red(`error[${code}]:`)} ${message}` + (hint ? `\n  hint: ${hint}` : '');
}
