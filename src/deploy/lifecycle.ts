/**
 * What `run` and `restart` say for each state a deployment can be in: one message naming the state and
 * the next command to type (the table is in docs/user-guide.md, "Deployment states"). Pure: the facts
 * come from the engine (container state, exit code, and whether the enclave's own "configured" mark,
 * `/key/configured`, exists), read by `./wait.ts`.
 */
import { StateError, type MseError } from '../errors.js';
import type { ContainerState } from './container.js';
import { endedOnRequest } from './status.js';

/** Exit code of a container killed by SIGKILL (`docker kill`, the OOM killer): not the app's doing. */
export const SIGKILL_EXIT_CODE = 137;

export interface LifecycleFacts {
  name: string;
  state: ContainerState;
  exitCode: number;
  /** The enclave received its configuration (its `/key/configured` mark exists). */
  configured: boolean;
  /** The log line that says why the container ended on an error ({@link failureLine}). */
  reason?: string;
}

/** The error for a deployment that is not running (undefined when it runs). */
export function notRunningError(f: LifecycleFacts): MseError | undefined {
  const n = f.name;
  switch (f.state) {
    case 'running':
      return undefined;
    case 'created':
      return new StateError('ERR_DEPLOYMENT_NOT_STARTED', `${n} was created but never started`, {
        hint: `Start it with 'mse home restart ${n}'.`,
      });
    case 'paused':
      return new StateError('ERR_DEPLOYMENT_PAUSED', `${n} is paused`, {
        hint: `Resume it with 'docker unpause ${n}'.`,
      });
    case 'removing':
      return new StateError('ERR_DEPLOYMENT_NOT_FOUND', `${n} is being removed`, { hint: "See 'mse home list'." });
    default:
      break;
  }
  // exited, dead, restarting
  if (f.state === 'exited' && (endedOnRequest(f) || f.exitCode === SIGKILL_EXIT_CODE)) {
    const how = f.exitCode === SIGKILL_EXIT_CODE ? 'was killed' : 'is stopped';
    return f.configured
      ? new StateError('ERR_DEPLOYMENT_STOPPED', `${n} ${how}; it is configured (its secrets are kept)`, {
          hint: `Start the app again with 'mse home restart ${n}'.`,
        })
      : new StateError('ERR_DEPLOYMENT_STOPPED', `${n} ${how} while waiting for its secrets`, {
          hint: `Start it with 'mse home restart ${n}', then 'mse home run ${n}'.`,
        });
  }
  const code = f.state === 'exited' ? `exit code ${f.exitCode}` : `container ${f.state}`;
  const why = f.reason ? `: ${f.reason}` : '';
  if (f.configured) {
    return new StateError('ERR_APP_CRASHED', `${n}: the app stopped (${code}) after the enclave was configured${why}`, {
      hint:
        'The enclave keeps its configuration and accepts no new secrets, and a restart starts the same app. ' +
        `Remove it with 'mse home stop --remove ${n}' and spawn the fixed package; 'mse home logs ${n}' shows the app's output.`,
    });
  }
  return new StateError('ERR_ENCLAVE_EXITED', `${n} stopped (${code}) before it was configured${why}`, {
    hint: `'mse home logs ${n}' shows why; 'mse home restart ${n}' starts it again, or 'mse home stop --remove ${n}' removes it.`,
  });
}

/** `run` on a running deployment that is already configured (decided without contacting the app). */
export function alreadyConfiguredError(name: string): MseError {
  return new StateError('ERR_ALREADY_CONFIGURED', `${name} is already configured: its app is running`, {
    hint: `An enclave is configured once; to change its secrets, 'mse home stop --remove ${name}' and spawn again.`,
  });
}

/** `run`/`restart` on a deployment whose certificate is past its expiry. */
export function expiredError(name: string, expiration: number): MseError {
  return new StateError(
    'ERR_DEPLOYMENT_EXPIRED',
    `${name}'s RA-TLS certificate expired at ${new Date(expiration * 1000).toISOString()}`,
    { hint: `Clients refuse it: 'mse home stop --remove ${name}' and spawn again.` },
  );
}

/** Bootstrap log lines: `[YYYY-MM-DD HH:MM:SS] [LEVEL] message`. */
const BOOTSTRAP_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[([A-Z]+)\] (.*)$/;

/**
 * Pure: the line of a log tail that says why a container ended, at most 300 characters. After the
 * configuration it is the app's last line (the bootstrap only reports the exit code); before, the
 * bootstrap's last error, else the last line.
 */
export function failureLine(logs: string, configured: boolean): string | undefined {
  const lines = logs
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const bootstrap = (l: string): RegExpExecArray | null => BOOTSTRAP_LINE.exec(l);
  const pick = configured
    ? lines.filter((l) => !bootstrap(l)).at(-1)
    : (lines
        .map((l) => bootstrap(l))
        .filter((m) => m?.[1] === 'ERROR')
        .at(-1)?.[2] ?? lines.at(-1));
  return pick === undefined ? undefined : pick.length > 300 ? `${pick.slice(0, 297)}...` : pick;
}
