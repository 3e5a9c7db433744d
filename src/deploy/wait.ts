/** Waiting for an enclave to reach a state, with a deadline and a clear error when it cannot. */
import path from 'node:path';
import type { DockerEngine } from '../docker/engine.js';
import { enclavePaths } from '../enclave/paths.js';
import { pathExists } from '../fs/files.js';
import { SEALED_MOUNTS } from '../sgx/enclave-manifest.js';
import { ExitCode, MseError, NetworkError, StateError } from '../errors.js';
import type { ContainerState, Deployment, DeploymentSummary } from './container.js';
import { endpointOf } from './deployments.js';
import { probe, type ProbeResult } from './enclave-client.js';
import { failureLine, notRunningError, type LifecycleFacts } from './lifecycle.js';

export interface WaitOptions {
  timeoutMs: number;
  /** `app`: the app answers its health check (no Mse-Status); `any-ready`: the app, or the configuration server. */
  expect: 'app' | 'any-ready';
  /** The certificate to pin (the deployment's ratls.pem, checked by the caller). */
  pinnedPem: string;
  intervalMs?: number;
  /** Stop waiting (with `ERR_INTERRUPTED`) when aborted. */
  signal?: AbortSignal;
}

/** Poll until the enclave is as expected. Throws if the container stops or the deadline passes. */
export async function waitForApp(engine: DockerEngine, d: Deployment, options: WaitOptions): Promise<ProbeResult> {
  const deadline = Date.now() + options.timeoutMs;
  let last: ProbeResult;
  for (;;) {
    await assertRunning(engine, d);
    last = await probe(endpointOf(d), options.pinnedPem, d.healthcheckEndpoint, 3_000);
    if (last.kind === 'answer' && last.status === 200 && (options.expect === 'any-ready' || !last.waiting)) return last;
    // another certificate than the pinned one will not change by waiting
    if (last.kind === 'unreachable' && last.error?.code === 'ERR_CERTIFICATE_MISMATCH') throw last.error;
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
    await sleep(options.intervalMs ?? 200, options.signal);
  }
}

/** Sleep `ms`; throws `ERR_INTERRUPTED` when `signal` aborts (before or during). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfInterrupted(signal);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
  throwIfInterrupted(signal);
}

/** Throw `ERR_INTERRUPTED` (exit 130) when `signal` was aborted by SIGINT/SIGTERM. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof MseError) throw reason;
    throw new MseError('ERR_INTERRUPTED', 'interrupted', ExitCode.interrupted);
  }
}

/** The deployment fields {@link lifecycleFacts} reads. */
export type LifecycleSubject = Pick<DeploymentSummary, 'id' | 'name' | 'platform' | 'sealedDir'>;

/**
 * Whether the enclave was configured: its own mark, `/key/configured`, written last by a successful
 * configuration. sim: in the container's filesystem (`docker diff`); sgx: `/key` is an encrypted mount,
 * whose host side is the deployment's sealed directory, and Gramine encrypts file contents, not names.
 */
async function isConfigured(engine: DockerEngine, d: LifecycleSubject): Promise<boolean> {
  const mark = enclavePaths('/').configured;
  if (d.platform === 'sgx') {
    const keyMount = SEALED_MOUNTS.find((m) => m.path === path.dirname(mark));
    // a bug (ERR_INTERNAL): the manifest no longer seals the directory of the mark
    if (!keyMount) throw new Error(`no sealed mount holds ${mark}`);
    return d.sealedDir !== undefined && pathExists(path.join(d.sealedDir, keyMount.dir, path.basename(mark)));
  }
  return (await engine.containerChanges(d.id).catch((): string[] => [])).includes(mark);
}

/**
 * What the engine says about a deployment's container: its state, and whether the enclave was configured
 * ({@link isConfigured}), plus the log line that says why it ended when it did not end on request.
 */
export async function lifecycleFacts(engine: DockerEngine, d: LifecycleSubject): Promise<LifecycleFacts | undefined> {
  const info = await engine.inspectContainer(d.id);
  if (!info) return undefined;
  const state = info.State.Status as ContainerState;
  const exitCode = info.State.ExitCode;
  const configured = await isConfigured(engine, d);
  const facts: LifecycleFacts = { name: d.name, state, exitCode, configured };
  if (state !== 'running' && state !== 'created' && state !== 'paused') {
    const logs = await engine.containerLogs(d.id, { tail: 30 }).catch(() => '');
    const reason = failureLine(logs, configured);
    if (reason) facts.reason = reason;
  }
  return facts;
}

/** Throw the state's error (see `./lifecycle.ts`) when the container is not running. */
export async function assertRunning(engine: DockerEngine, d: LifecycleSubject): Promise<void> {
  const info = await engine.inspectContainer(d.id);
  if (info?.State?.Running && !info.State.Paused) return;
  const facts = await lifecycleFacts(engine, d);
  if (!facts) {
    throw new StateError('ERR_DEPLOYMENT_NOT_FOUND', `${d.name} is gone (its container was removed)`, {
      hint: "See 'mse home list'.",
    });
  }
  const error = notRunningError(facts);
  if (error) throw error;
}
