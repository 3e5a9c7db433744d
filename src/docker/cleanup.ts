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
 *   the actions run, then the body gets the same time again to unwind; what it registers meanwhile (say,
 *   the container that call created after all) is undone at once, and the scope rejects only when those
 *   late undo actions have finished (the CLI exits right after: they must not be cut off).
 * - A second interrupt before the commit gives up on the body at once (it may hang on a stuck file system):
 *   the undo actions run (late ones already started are still awaited, within the grace) and the scope
 *   rejects with `InterruptedError`, even with `exitOnSignal: false`.
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
  /**
   * How long an interrupted body may take to settle before it is abandoned (default 3 s), and then how long
   * it may still take to unwind, with its late undo actions, before the scope rejects.
   */
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
 * After a scope's actions ran on failure: let `abandonedBody` (a body abandoned at the end of its grace)
 * unwind for up to the grace again, then wait for the `late` undo actions, within the same bound, so that
 * the process does not exit under them. `onWait` receives the function that ends the current wait (a
 * further interrupt: exit now).
 */
async function settleLate(
  graceMs: number,
  abandonedBody: Promise<unknown> | undefined,
  late: ReadonlySet<Promise<unknown>>,
  onWait: (stop: () => void) => void,
): Promise<void> {
  const deadline = Date.now() + graceMs;
  const until = async (what: Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const stop = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      onWait(resolve);
    });
    try {
      await Promise.race([what, stop]);
    } finally {
      clearTimeout(timer);
    }
  };
  if (abandonedBody) {
    await until(
      abandonedBody.then(
        () => undefined,
        () => undefined,
      ),
    );
  }
  while (late.size > 0 && Date.now() < deadline) await until(Promise.allSettled([...late]));
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
  const graceMs = options.graceMs ?? 3000;
  const actions: Action[] = [];
  const controller = new AbortController();
  let resolveInterrupted!: (s: InterruptSignal) => void;
  const interrupted = new Promise<InterruptSignal>((r) => (resolveInterrupted = r));
  let interruptedBy: InterruptSignal | undefined;
  let committed = false;
  let closed = false;
  let failed = false;
  let running: Promise<void> | undefined;
  let rejectAbandoned!: (error: InterruptedError) => void;
  const abandoned = new Promise<never>((_, reject) => (rejectAbandoned = reject));
  abandoned.catch(() => undefined);
  /** Why the body was given up on: its grace ran out (it may still unwind), or a further interrupt. */
  let abandonedBy: 'grace' | 'interrupt' | undefined;
  /** Ends the wait of {@link settleLate} (a further interrupt: exit now). */
  let stopWaiting: () => void = () => undefined;
  const abandon = (why: 'grace' | 'interrupt', error: InterruptedError): void => {
    if (why === 'interrupt') stopWaiting();
    if (abandonedBy) return;
    abandonedBy = why;
    rejectAbandoned(error);
  };
  let graceTimer: NodeJS.Timeout | undefined;
  /** Undo actions registered after the actions ran, still running. */
  const late = new Set<Promise<unknown>>();

  const runActions = (failedNow: boolean): Promise<void> => {
    running ??= (async () => {
      closed = true;
      failed = failedNow;
      for (const a of actions.splice(0).reverse()) {
        if ((a.when === 'failure' && !failedNow) || (a.when === 'success' && failedNow)) continue;
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
      // A further interrupt while the body still winds down (it may hang, e.g. on a stuck file system or an
      // engine call that cannot be cancelled): give up on the body and undo now.
      abandon('interrupt', new InterruptedError(interruptedBy));
      return;
    }
    interruptedBy = sig;
    const error = new InterruptedError(sig);
    controller.abort(error);
    resolveInterrupted(sig);
    if (!exitOnSignal) return;
    graceTimer = setTimeout(() => abandon('grace', error), graceMs);
  };
  const onSignal = (sig: NodeJS.Signals): void => onInterrupt(sig as InterruptSignal);
  activeScopes.add(onInterrupt);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // An interrupt held since an earlier scope committed stops this one before it makes anything.
  if (heldInterrupt) onInterrupt(heldInterrupt);
  // After the actions ran (interrupted, body abandoned), late registrations undo at once (failure and
  // always ones after a failure, always ones after a success); a failing scope waits for them (settleLate).
  const register = (fn: () => Promise<unknown>, when: Action['when']): void => {
    if (!closed) {
      actions.push({ fn, when });
      return;
    }
    if (when === 'success' || (when === 'failure' && !failed)) return;
    const undo = fn().catch(() => undefined);
    late.add(undo);
    void undo.finally(() => late.delete(undo));
  };
  const scope: CleanupScope = {
    always: (fn) => register(fn, 'always'),
    onFailure: (fn) => register(fn, 'failure'),
    onSuccess: (fn) => register(fn, 'success'),
    interrupted,
    signal: controller.signal,
  };
  const bodyRun = (async () => body(scope))();
  try {
    const result = await Promise.race([bodyRun, abandoned]);
    if (interruptedBy && exitOnSignal) throw new InterruptedError(interruptedBy);
    committed = true;
    onCommitted();
    await runActions(false);
    return result;
  } catch (error) {
    await runActions(true);
    await settleLate(graceMs, abandonedBy === 'grace' ? bodyRun : undefined, late, (stop) => (stopWaiting = stop));
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
