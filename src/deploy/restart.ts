/** `mse home restart`'s flow: start a deployment again, its enclave keeping its keys and secrets. */
import type { DockerEngine } from '../docker/engine.js';
import type { Logger } from '../base/log.js';
import type { Deployment } from './container.js';
import { findDeployment } from './deployments.js';
import { pinnedCertificate, pinProblemError } from './pinning.js';
import { waitForApp } from './wait.js';

export interface RestartInput {
  engine: DockerEngine;
  /** The deployment's name. */
  name: string;
  /** How long to wait for the app (or the configuration server). */
  timeoutMs: number;
  log: Logger;
}

/**
 * Stop the deployment's container if it runs, start it, and wait until the app (or, for an enclave still
 * waiting for its secrets, the configuration server) answers over TLS pinned to its ratls.pem. A
 * deployment without a ratls.pem is refused before anything is touched.
 */
export async function restartDeployment(input: RestartInput): Promise<Deployment> {
  const { engine } = input;
  const d = await findDeployment(engine, input.name);
  const pinned = await pinnedCertificate(d);
  if ('code' in pinned) throw pinProblemError(pinned);
  await engine.stopContainer(d.id, 3);
  await engine.startContainer(d.id);
  const done = input.log.phase(`restarting ${d.name}`);
  await waitForApp(engine, d, { timeoutMs: input.timeoutMs, expect: 'any-ready', pinnedPem: pinned.pem });
  done();
  return d;
}
