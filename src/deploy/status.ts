/** A deployment's status, from its container state and a probe of its enclave. Pure. */
import type { Deployment } from './container.js';
import type { ProbeResult } from './enclave-client.js';

export type DeploymentStatus =
  'initializing' | 'waiting for secrets' | 'running' | 'on error' | 'stopped' | 'expired' | 'unknown';

/**
 * Exit code of a container whose process ended on SIGTERM (128 + 15): what `stop`, `docker stop` and a
 * dockerd shutdown send. The bootstrap exits so while it waits for its secrets, and with the app's code
 * (128 + signal for an app that does not catch it) afterwards.
 */
export const SIGTERM_EXIT_CODE = 143;

/**
 * - container not running: `stopped` (clean exit, exit on SIGTERM, i.e. a requested stop, or never
 *   started) or `on error` (any other non-zero exit, including SIGKILL: 137);
 * - no TLS answer yet: `initializing`; 200 with `Mse-Status`: `waiting for secrets` (the configuration
 *   server); 200 without it: `running`; 503: `initializing`; other 5xx: `on error`.
 * - past the certificate's expiry: `expired` (clients will refuse it).
 */
export function classifyStatus(
  d: Pick<Deployment, 'state' | 'exitCode' | 'args'>,
  probe: ProbeResult | undefined,
  now: Date,
): DeploymentStatus {
  if (d.state !== 'running') {
    if (d.state === 'dead') return 'on error';
    if (d.state === 'restarting') return 'initializing';
    return d.state === 'exited' && d.exitCode !== 0 && d.exitCode !== SIGTERM_EXIT_CODE ? 'on error' : 'stopped';
  }
  if (now.getTime() / 1000 > d.args.expiration) return 'expired';
  if (!probe || probe.kind === 'unreachable') return 'initializing';
  if (probe.status === 200) return probe.waiting ? 'waiting for secrets' : 'running';
  if (probe.status === 503) return 'initializing';
  if (probe.status >= 500) return 'on error';
  return 'unknown';
}
