/** A deployment's status, from its container state and a probe of its enclave. Pure. */
import type { Deployment } from './container.js';
import type { ProbeResult } from './enclave-client.js';

export type DeploymentStatus =
  'initializing' | 'waiting for secrets' | 'running' | 'on error' | 'stopped' | 'expired' | 'unknown';

/**
 * - container not running: `stopped` (clean exit or never started) or `on error` (non-zero exit);
 * - no TLS answer yet: `initializing`; 200 with `Mse-Status`: `waiting for secrets` (the configuration
 *   server); 200 without it: `running`; 503: `initializing`; other 5xx: `on error`.
 * - past the certificate's expiry: `expired` (clients will refuse it).
 */
export function classifyStatus(
  d: Pick<Deployment, 'state' | 'exitCode' | 'args'>,
  probe: ProbeResult | undefined,
  now: Date,
): DeploymentStatus {
  if (d.state !== 'running')
    return d.state === 'exited' && d.exitCode !== 0
      ? 'on error'
      : d.state === 'restarting'
        ? 'initializing'
        : 'stopped';
  if (now.getTime() / 1000 > d.args.expiration) return 'expired';
  if (!probe || probe.kind === 'unreachable') return 'initializing';
  if (probe.status === 200) return probe.waiting ? 'waiting for secrets' : 'running';
  if (probe.status === 503) return 'initializing';
  if (probe.status >= 500) return 'on error';
  return 'unknown';
}
