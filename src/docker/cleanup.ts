/**
 * Clean-up that also runs on Ctrl-C: commands that create containers, images or temporary files register
 * undo actions here; they run (last registered first) when the command ends, fails, or the process gets
 * SIGINT/SIGTERM, so nothing is left behind.
 */
import { ExitCode, MseError } from '../errors.js';

export interface CleanupScope {
  /** Run `fn` whenever the scope ends (success, failure, interruption). */
  always(fn: () => Promise<unknown>): void;
  /** Run `fn` only if the scope fails or is interrupted. */
  onFailure(fn: () => Promise<unknown>): void;
  /** Run `fn` only if the scope succeeds. */
  onSuccess(fn: () => Promise<unknown>): void;
  /** Resolves when SIGINT/SIGTERM arrives (for commands that wait for Ctrl-C on purpose). */
  readonly interrupted: Promise<NodeJS.Signals>;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

/**
 * The error a command ends with when SIGINT/SIGTERM interrupted it and it undid what it had created
 * (`ERR_INTERRUPTED`, exit 130 or 143). `undone` says what was removed.
 */
export function interruptedError(signal: NodeJS.Signals, what: string, undone: string): MseError {
  return new MseError(
    'ERR_INTERRUPTED',
    `${what} interrupted by ${signal}: ${undone}`,
    signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted,
  );
}

type Action = { fn: () => Promise<unknown>; when: 'always' | 'failure' | 'success' };

/** Exit code after an interruption: 128 + signal number, as shells report it. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Run `body` with a clean-up scope. On SIGINT/SIGTERM the registered actions run and the process exits
 * with 130/143, unless `body` handles the interruption itself (`scope.interrupted`, `exitOnSignal: false`),
 * in which case it ends as it chooses and the actions run accordingly. A second signal runs the failure
 * actions at once and exits, whatever the body is doing.
 */
export async function withCleanup<T>(
  body: (scope: CleanupScope) => Promise<T>,
  options: { exitOnSignal?: boolean } = {},
): Promise<T> {
  const actions: Action[] = [];
  const controller = new AbortController();
  let resolveInterrupted!: (s: NodeJS.Signals) => void;
  const interrupted = new Promise<NodeJS.Signals>((r) => (resolveInterrupted = r));
  let running: Promise<void> | undefined;
  let closed = false;
  let bodyDone: Promise<unknown> = Promise.resolve();
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
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    controller.abort();
    resolveInterrupted(sig);
    // A second signal while the body still winds down (it may hang, e.g. on a stuck file system): undo now.
    if (++signals > 1) {
      void runActions(true).finally(() => process.exit(SIGNAL_EXIT[sig] ?? 1));
      return;
    }
    if (options.exitOnSignal === false) return;
    // Give an engine call in flight (e.g. a container being created) a moment to land, so that its undo
    // action is registered before the actions run; then clean up and exit.
    const grace = new Promise((r) => setTimeout(r, 3000).unref());
    void Promise.race([bodyDone, grace])
      .then(() => runActions(true))
      .finally(() => process.exit(SIGNAL_EXIT[sig] ?? 1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // After the actions ran (interrupted), late registrations undo at once.
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
    const pending = body(scope);
    bodyDone = pending.catch(() => undefined);
    const result = await pending;
    await runActions(false);
    return result;
  } catch (error) {
    await runActions(true);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
