/** Waiting for an enclave to reach a state, with a deadline and a clear error when it cannot. */
import type { DockerEngine } from '../docker/engine.js';
import { NetworkError, StateError } from '../errors.js';
import type { Deployment } from './container.js';
import { endpointOf, readDeploymentCertificate } from './deployments.js';
import { probe, type ProbeResult } from './enclave-client.js';

export interface WaitOptions {
  timeoutMs: number;
  /** `app`: the app answers its health check (no Mse-Status); `any-ready`: the app, or the configuration server. */
  expect: 'app' | 'any-ready';
  /** Certificate to pin; default: the deployment's collected ratls.pem. */
  pinnedPem?: string;
  intervalMs?: number;
}

/** Poll until the enclave is as expected. Throws if the container stops or the deadline passes. */
export async function waitForApp(engine: DockerEngine, d: Deployment, options: WaitOptions): Promise<ProbeResult> {
  const pem = options.pinnedPem ?? (await readDeploymentCertificate(d));
  if (!pem) {
    throw new StateError('ERR_NO_CERTIFICATE', `no RA-TLS certificate collected for ${d.name} in ${d.outputDir}`, {
      hint: "Run 'mse home evidence NAME --output DIR' first.",
    });
  }
  const deadline = Date.now() + options.timeoutMs;
  let last: ProbeResult;
  for (;;) {
    await assertRunning(engine, d);
    last = await probe(endpointOf(d), pem, d.healthcheckEndpoint, 3_000);
    if (last.kind === 'answer' && last.status === 200 && (options.expect === 'any-ready' || !last.waiting)) return last;
    if (last.kind === 'answer' && last.status >= 500 && last.status !== 503) {
      throw new StateError(
        'ERR_APP_ERROR',
        `${d.name}: the app answers ${d.healthcheckEndpoint} with HTTP ${last.status}`,
        {
          hint: `See 'mse home logs ${d.name}'.`,
        },
      );
    }
    if (Date.now() > deadline) {
      const seen =
        last.kind === 'answer' ? `HTTP ${last.status}${last.waiting ? ' (configuration server)' : ''}` : last.reason;
      throw new NetworkError(
        'ERR_TIMEOUT',
        `${d.name} not ready after ${Math.round(options.timeoutMs / 1000)} s (last probe: ${seen})`,
        {
          hint: `See 'mse home logs ${d.name}'.`,
        },
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

/** Throw `ERR_ENCLAVE_EXITED` with the last log lines when the container is not running. */
export async function assertRunning(engine: DockerEngine, d: Pick<Deployment, 'id' | 'name'>): Promise<void> {
  const info = await engine.inspectContainer(d.id);
  if (info?.State?.Running) return;
  const logs = info ? await engine.containerLogs(d.id, { tail: 15 }).catch(() => '') : '';
  const code = info?.State?.ExitCode;
  throw new StateError(
    'ERR_ENCLAVE_EXITED',
    `${d.name} is not running${info ? ` (exit code ${code})` : ' (container gone)'}`,
    {
      hint: logs
        ? `last log lines:\n${logs
            .trimEnd()
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n')}`
        : `See 'mse home logs ${d.name}'.`,
    },
  );
}
