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
  /** Interrupted by SIGINT (128 + 2) after undoing what the command had created. */
  interrupted: 130,
  /** Interrupted by SIGTERM (128 + 15) after undoing what the command had created. */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface MseErrorOptions {
  /** What the user can do about it. Shown as `hint:`. */
  hint?: string;
  /** Underlying error, kept for `MSE_BACKTRACE=full`. */
  cause?: unknown;
}

/** Base class of every error mse-home reports on purpose. */
export class MseError extends Error {
  /** Stable machine-readable code, e.g. `ERR_FILE_NOT_FOUND`. */
  readonly code: string;
  /** What to do about it; may be empty. */
  readonly hint: string;
  /** Process exit code for the CLI. */
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode, options: MseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint ?? '';
    this.exitCode = exitCode;
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

/** True for errors mse-home raised on purpose. */
export function isMseError(error: unknown): error is MseError {
  return error instanceof MseError;
}
