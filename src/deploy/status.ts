/** A deployment's status, from its container state and a probe of its enclave. Pure. */
import type { Deployment } from './container.js';
import type { ProbeResult } from './enclave-client.js';
import type { PinProblem } from './pinning.js';

export type DeploymentStatus =
  | 'created'
  | 'initializing'
  | 'waiting for secrets'
  | 'running'
  | 'paused'
  | 'unverified'
  | 'on error'
  | 'stopped'
  | 'expired'
  | 'unknown';

/**
 * Exit code of a container whose process ended on SIGTERM (128 + 15): what `stop`, `docker stop` and a
 * dockerd shutdown send. The bootstrap exits so while it waits for its secrets, and with the app's code
 * (128 + signal for an app that does not catch it) afterwards.
 */
export const SIGTERM_EXIT_CODE = 143;

/** True for a container that ended on request (clean exit or SIGTERM), not on an error or a kill. */
export function endedOnRequest(d: Pick<Deployment, 'exitCode'>): boolean {
  return d.exitCode === 0 || d.exitCode === SIGTERM_EXIT_CODE;
}

/**
 * - container created but never started: `created`; paused (`docker pause`): `paused`;
 * - container not running: `stopped` (clean exit or exit on SIGTERM, i.e. a requested stop) or `on error`
 *   (any other non-zero exit, including SIGKILL: 137);
 * - running, but its certificate cannot be checked against the pinned ratls.pem (missing, or another
 *   certificate presented): `unverified` (the report says why);
 * - no TLS answer yet: `initializing`; 200 with `Mse-Status`: `waiting for secrets` (the configuration
 *   server); 200 without it: `running`; 503: `initializing`; other 5xx: `on error`.
 * - past the certificate's expiry: `expired` (clients will refuse it).
 */
export function classifyStatus(
  d: Pick<Deployment, 'state' | 'exitCode' | 'args'>,
  probe: ProbeResult | undefined,
  now: Date,
  problem?: PinProblem,
): DeploymentStatus {
  if (d.state !== 'running') {
    if (d.state === 'created') return 'created';
    if (d.state === 'paused') return 'paused';
    if (d.state === 'dead') return 'on error';
    if (d.state === 'restarting') return 'initializing';
    return d.state === 'exited' && !endedOnRequest(d) ? 'on error' : 'stopped';
  }
  if (now.getTime() / 1000 > d.args.expiration) return 'expired';
  if (problem) return 'unverified';
  if (!probe || probe.kind === 'unreachable') return 'initializing';
  if (probe.status === 200) return probe.waiting ? 'waiting for secrets' : 'running';
  if (probe.status === 503) return 'initializing';
  if (probe.status >= 500) return 'on error';
  return 'unknown';
}
