/**
 * Clean-up that also runs on interrupts: commands that create containers, images or files register undo
 * actions here; they run (last registered first) when the command ends, fails, or is interrupted, so
 * nothing is left behind.
 *
 * Interrupts are SIGINT (Ctrl-C), SIGTERM and the command's output closing under it (`| head -1`, reported
 * by the CLI core through {@link interruptActiveScopes} as `SIGPIPE`). The rule (ARCHITECTURE §9): an
 * interrupted command either finishes and exits 0, or removes everything it made and exits 130/143/141,
 * never both. The dividing line is the *commit*: the moment the scope's body returns successfully.
 * - Before the commit, an interrupt aborts `scope.signal`; once the body settles (it should stop at its next
 *   checkpoint) every undo action runs and the scope rejects with `InterruptedError` (`ERR_INTERRUPTED`).
 *   A body that does not settle within a short grace (an engine call that cannot be cancelled) is abandoned:
 *   the actions run and the scope rejects all the same; the CLI then exits at once.
 * - A second interrupt before the commit gives up on the body at once (it may hang on a stuck file system):
 *   the undo actions run and the scope rejects with `InterruptedError`, even with `exitOnSignal: false`.
 * - After the commit, interrupts are ignored until the process exits: the command finishes (exit 0).
 *   {@link holdInterruptsAfterCommit} extends this to the rest of the process (the CLI turns it on), so
 *   that a Ctrl-C while the CLI prints its result cannot kill a command whose output is already complete;
 *   a held interrupt still stops a later scope of the same command before it starts.
 * A command should therefore make everything it keeps inside one scope.
 */
import { InterruptedError, type InterruptSignal } from '../errors.js';

export interface CleanupScope {
  /** Run `fn` whenever the scope ends (success, failure, interruption). */
  always(fn: () => Promise<unknown>): void;
  /** Run `fn` only if the scope fails or is interrupted. */
  onFailure(fn: () => Promise<unknown>): void;
  /** Run `fn` only if the scope succeeds. */
  onSuccess(fn: () => Promise<unknown>): void;
  /** Resolves when an interrupt arrives (for commands that wait for Ctrl-C on purpose). */
  readonly interrupted: Promise<InterruptSignal>;
  /** Aborted on an interrupt, with the `InterruptedError` as its reason. */
  readonly signal: AbortSignal;
}

export interface CleanupOptions {
  /**
   * Default true: an interrupt before the commit undoes everything and rejects with `InterruptedError`.
   * False: the body handles the interrupt itself (`scope.interrupted`, e.g. "serve until Ctrl-C") and its
   * result counts as a normal success.
   */
  exitOnSignal?: boolean;
  /** How long an interrupted body may take to settle before it is abandoned (default 3 s). */
  graceMs?: number;
}

type Action = { fn: () => Promise<unknown>; when: 'always' | 'failure' | 'success' };

/** Interrupt handlers of the scopes running now (nested scopes are allowed). */
const activeScopes = new Set<(signal: InterruptSignal) => void>();
let holdAfterCommit = false;
let committedOnce = false;
/** An interrupt that arrived while held (after a commit, no scope running). */
let heldInterrupt: InterruptSignal | undefined;
const hold = (sig: NodeJS.Signals): void => {
  heldInterrupt ??= sig as InterruptSignal;
};

/**
 * Deliver an interrupt that is not a process signal (the CLI's stdout or stderr closed) to the running
 * scopes, or hold it when a scope has committed (see {@link holdInterruptsAfterCommit}). Returns false when
 * neither applies: nothing needs undoing, the caller exits by itself.
 */
export function interruptActiveScopes(signal: InterruptSignal): boolean {
  if (activeScopes.size === 0) {
    if (!(holdAfterCommit && committedOnce)) return false;
    heldInterrupt ??= signal;
    return true;
  }
  for (const handler of [...activeScopes]) handler(signal);
  return true;
}

/**
 * Once a scope has committed, ignore SIGINT/SIGTERM for the rest of the process, so the command can print
 * its result and exit 0 instead of being killed with its output complete. For the CLI process only (a
 * library user or a test runner keeps the default behaviour).
 */
export function holdInterruptsAfterCommit(): void {
  holdAfterCommit = true;
}

function onCommitted(): void {
  committedOnce = true;
  if (!holdAfterCommit) return;
  // Signal handlers do not keep the event loop alive: the process still exits when its work is done.
  process.off('SIGINT', hold).on('SIGINT', hold);
  process.off('SIGTERM', hold).on('SIGTERM', hold);
}

/**
 * Run `body` with a clean-up scope (see the module comment for what an interrupt does).
 * Rejects with `InterruptedError` when interrupted before the commit (unless `exitOnSignal` is false).
 */
export async function withCleanup<T>(
  body: (scope: CleanupScope) => Promise<T>,
  options: CleanupOptions = {},
): Promise<T> {
  const exitOnSignal = options.exitOnSignal !== false;
  const actions: Action[] = [];
  const controller = new AbortController();
  let resolveInterrupted!: (s: InterruptSignal) => void;
  const interrupted = new Promise<InterruptSignal>((r) => (resolveInterrupted = r));
  let interruptedBy: InterruptSignal | undefined;
  let committed = false;
  let closed = false;
  let running: Promise<void> | undefined;
  let abandon!: (error: InterruptedError) => void;
  const abandoned = new Promise<never>((_, reject) => (abandon = reject));
  abandoned.catch(() => undefined);
  let graceTimer: NodeJS.Timeout | undefined;

  const runActions = (failed: boolean): Promise<void> => {
    running ??= (async () => {
      closed = true;
      for (const a of actions.splice(0).reverse()) {
        if ((a.when === 'failure' && !failed) || (a.when === 'success' && failed)) continue;
        try {
          await a.fn();
        } catch {
          // Best effort: one failed undo must not prevent the others.
        }
      }
    })();
    return running;
  };
  const onInterrupt = (sig: InterruptSignal): void => {
    // After the commit the command finishes.
    if (committed) return;
    if (interruptedBy) {
      // A second interrupt while the body still winds down (it may hang, e.g. on a stuck file system or an
      // engine call that cannot be cancelled): give up on the body and undo now.
      abandon(new InterruptedError(interruptedBy));
      return;
    }
    interruptedBy = sig;
    const error = new InterruptedError(sig);
    controller.abort(error);
    resolveInterrupted(sig);
    if (!exitOnSignal) return;
    graceTimer = setTimeout(() => abandon(error), options.graceMs ?? 3000);
  };
  const onSignal = (sig: NodeJS.Signals): void => onInterrupt(sig as InterruptSignal);
  activeScopes.add(onInterrupt);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // An interrupt held since an earlier scope committed stops this one before it makes anything.
  if (heldInterrupt) onInterrupt(heldInterrupt);
  // After the actions ran (interrupted, body abandoned), late registrations undo at once.
  const register = (fn: () => Promise<unknown>, when: Action['when']): void => {
    if (closed) {
      if (when !== 'success') void fn().catch(() => undefined);
      return;
    }
    actions.push({ fn, when });
  };
  const scope: CleanupScope = {
    always: (fn) => register(fn, 'always'),
    onFailure: (fn) => register(fn, 'failure'),
    onSuccess: (fn) => register(fn, 'success'),
    interrupted,
    signal: controller.signal,
  };
  try {
    const result = await Promise.race([body(scope), abandoned]);
    if (interruptedBy && exitOnSignal) throw new InterruptedError(interruptedBy);
    committed = true;
    onCommitted();
    await runActions(false);
    return result;
  } catch (error) {
    await runActions(true);
    if (interruptedBy && exitOnSignal && !(error instanceof InterruptedError)) {
      // Whatever the body failed with, the cause of the failure is the interrupt.
      throw new InterruptedError(interruptedBy, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(graceTimer);
    activeScopes.delete(onInterrupt);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
