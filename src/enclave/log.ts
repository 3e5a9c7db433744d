/**
 * The bootstrap's log: `[2024-01-31 12:00:00] [INFO] message` lines on stdout (what `mse home logs`
 * shows, as MSE's bootstrap does). Never log secrets: callers pass only names, sizes and outcomes.
 */

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export interface EnclaveLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC. */
export function logTimestamp(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/** A logger writing to `write` (default: stdout); DEBUG lines only when `debug` is set. */
export function createLogger(options: { debug?: boolean; write?: (line: string) => void } = {}): EnclaveLogger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const emit = (level: LogLevel, message: string): void => {
    // one record per line, whatever the message holds
    write(`[${logTimestamp()}] [${level}] ${message.replace(/[\r\n]+/g, ' ')}\n`);
  };
  return {
    debug: (m) => {
      if (options.debug) emit('DEBUG', m);
    },
    info: (m) => emit('INFO', m),
    warn: (m) => emit('WARNING', m),
    error: (m) => emit('ERROR', m),
  };
}
