/**
 * The error model shared by every component.
 *
 * One base class, {@link MseError}, carries a stable string `code` (never reworded once released: scripts
 * match on it), a one-line `message` naming what is wrong, a `hint` saying what to do about it, and the
 * process `exitCode` class it belongs to. Components throw the typed subclasses below; the CLI prints
 * `error[CODE]: message` and `hint: …` on stderr (or a JSON object with `--json`) and exits with
 * `exitCode`. A stack trace is shown only with `MSE_BACKTRACE=full`.
 *
 * Anything that is not an `MseError` reaching the CLI is a bug in mse-home and is reported as
 * `ERR_INTERNAL`.
 */

/** Documented process exit codes, one per error class (see docs/cli.md). */
export const ExitCode = {
  ok: 0,
  /** Unexpected failure: a bug in mse-home. */
  internal: 1,
  /** Wrong command line: unknown command or flag, missing or conflicting arguments. */
  usage: 2,
  /** A file or value given by the user is missing, unreadable or malformed. */
  input: 3,
  /** Decryption, authentication or key failure: wrong key, tampered or truncated ciphertext. */
  crypto: 4,
  /** The Docker engine is unreachable or a container/image operation failed. */
  docker: 5,
  /** A network peer (PCCS, enclave, configuration server) failed or timed out. */
  network: 6,
  /** A deployment is not in the state the command needs (absent, stopped, already configured). */
  state: 7,
  /** Tests run by `localtest`/`test` failed. */
  testsFailed: 8,
  /** Attestation evidence is cryptographically valid but rejected by the policy. */
  policyRejected: 10,
  /** Attestation evidence is invalid (signature, chain, collateral, measurement). */
  invalidEvidence: 11,
  /** Interrupted by SIGINT (Ctrl-C): 128 + 2, as shells report it. What the command was creating is removed. */
  interrupted: 130,
  /** stdout or stderr closed under the command (`mse home list | head -1`): 128 + SIGPIPE (13). */
  outputClosed: 141,
  /** Terminated by SIGTERM: 128 + 15. What the command was creating is removed. */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface MseErrorOptions {
  /** What the user can do about it. Shown as `hint:`. */
  hint?: string;
  /** Underlying error, kept for `MSE_BACKTRACE=full`. */
  cause?: unknown;
  /**
   * Fields of the command's `--json` result that still hold on failure (e.g. the test summary of a failed
   * test run); printed beside `ok: false` and `error`.
   */
  data?: Record<string, unknown>;
}

/** Base class of every error mse-home reports on purpose. */
export class MseError extends Error {
  /** Stable machine-readable code, e.g. `ERR_FILE_NOT_FOUND`. */
  readonly code: string;
  /** What to do about it; may be empty. */
  readonly hint: string;
  /** Process exit code for the CLI. */
  readonly exitCode: ExitCode;
  /** Extra `--json` result fields (see {@link MseErrorOptions.data}). */
  readonly data: Record<string, unknown> | undefined;

  constructor(code: string, message: string, exitCode: ExitCode, options: MseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint ?? '';
    this.exitCode = exitCode;
    this.data = options.data;
  }

  /** The shape printed by `--json`. */
  toJSON(): { code: string; message: string; hint: string; exitCode: number } {
    return { code: this.code, message: this.message, hint: this.hint, exitCode: this.exitCode };
  }
}

/** Bad command line. */
export class UsageError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.usage, options);
  }
}

/** A user-supplied file or value is missing, unreadable or malformed. */
export class InputError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.input, options);
  }
}

/** A cryptographic operation failed: wrong key, tampered data, bad key material. */
export class CryptoError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.crypto, options);
  }
}

/** The Docker engine or a container operation failed. */
export class DockerError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.docker, options);
  }
}

/** A network peer failed, answered wrongly or timed out. */
export class NetworkError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.network, options);
  }
}

/** A deployment is not in the state the command needs. */
export class StateError extends MseError {
  constructor(code: string, message: string, options?: MseErrorOptions) {
    super(code, message, ExitCode.state, options);
  }
}

/**
 * Attestation evidence failed a check. `stage` names the verification stage (e.g. `quote`, `pck-chain`,
 * `tcb-info`, `ratls`, `identity`, `policy`) so reports can say where it broke.
 */
export class AttestationError extends MseError {
  readonly stage: string;
  constructor(stage: string, code: string, message: string, options?: MseErrorOptions & { policy?: boolean }) {
    super(code, message, options?.policy ? ExitCode.policyRejected : ExitCode.invalidEvidence, options);
    this.stage = stage;
  }
}

/** The interrupts a command reacts to: Ctrl-C, `kill`, and its output pipe closing (see docs/cli.md). */
export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGPIPE';

const INTERRUPT_EXIT: Record<InterruptSignal, ExitCode> = {
  SIGINT: ExitCode.interrupted,
  SIGTERM: ExitCode.terminated,
  SIGPIPE: ExitCode.outputClosed,
};

/**
 * The command was interrupted (`ERR_INTERRUPTED`) and undid what it was creating. Exit code 130 (SIGINT),
 * 143 (SIGTERM) or 141 (stdout/stderr closed), as a shell reports a process killed by that signal.
 */
export class InterruptedError extends MseError {
  readonly signal: InterruptSignal;
  constructor(signal: InterruptSignal, options: MseErrorOptions = {}) {
    super(
      'ERR_INTERRUPTED',
      signal === 'SIGPIPE' ? 'interrupted: the output was closed' : `interrupted by ${signal}`,
      INTERRUPT_EXIT[signal],
      { hint: 'Nothing was kept: what the command had created so far was removed.', ...options },
    );
    this.signal = signal;
  }
}

/** Exit code of a process interrupted by `signal` (130, 143, 141). */
export function interruptExitCode(signal: InterruptSignal): ExitCode {
  return INTERRUPT_EXIT[signal];
}

/** True for errors mse-home raised on purpose. */
export function isMseError(error: unknown): error is MseError {
  return error instanceof MseError;
}
