/**
 * Finding deployments in the engine and probing their enclaves: the effectful shell around
 * `container.ts` and `status.ts`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DockerEngine } from '../docker/engine.js';
import { StateError } from '../errors.js';
import { readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { stateRoot } from '../sim/state.js';
import {
  deploymentFromInspect,
  DEPLOYMENT_LABEL,
  localAddress,
  type ContainerInspect,
  type Deployment,
} from './container.js';
import { probe, type EnclaveEndpoint, type ProbeResult } from './enclave-client.js';
import { classifyStatus, type DeploymentStatus } from './status.js';

/** File names `spawn`/`evidence` write in the deployment's output directory. */
export const EVIDENCE_FILE = 'evidence.json';
export const RATLS_FILE = 'ratls.pem';

/** The deployment named `name`. Throws `ERR_DEPLOYMENT_NOT_FOUND` when there is none. */
export async function findDeployment(engine: DockerEngine, name: string): Promise<Deployment> {
  const info = await engine.inspectContainer(name);
  if (!info) {
    throw new StateError('ERR_DEPLOYMENT_NOT_FOUND', `no deployment named '${name}'`, { hint: "See 'mse home list'." });
  }
  return deploymentFromInspect(info as unknown as ContainerInspect);
}

/** Every deployment the engine knows (running or not). */
export async function listDeployments(engine: DockerEngine): Promise<Deployment[]> {
  const summaries = await engine.listContainers({ [DEPLOYMENT_LABEL]: '1' });
  const out: Deployment[] = [];
  for (const s of summaries) {
    const info = await engine.inspectContainer(s.id);
    if (!info) continue; // removed meanwhile
    try {
      out.push(deploymentFromInspect(info as unknown as ContainerInspect));
    } catch {
      // labelled by hand or damaged: not ours to list
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Where a local client reaches the enclave. */
export function endpointOf(d: Deployment): EnclaveEndpoint {
  return { address: localAddress(d), port: d.port, san: d.args.san };
}

/** The deployment's RA-TLS certificate as `spawn` collected it, or undefined before that. */
export async function readDeploymentCertificate(d: Deployment): Promise<string | undefined> {
  try {
    return await readUserText(path.join(d.outputDir, RATLS_FILE), 'RA-TLS certificate', INPUT_LIMITS.certificate);
  } catch {
    return undefined;
  }
}

export interface DeploymentReport {
  deployment: Deployment;
  status: DeploymentStatus;
  probe?: ProbeResult;
}

/** Status of a deployment: container state plus a probe pinned to its certificate. */
export async function deploymentStatus(d: Deployment, now = new Date()): Promise<DeploymentReport> {
  if (d.state !== 'running') return { deployment: d, status: classifyStatus(d, undefined, now) };
  const pem = await readDeploymentCertificate(d);
  const result: ProbeResult = pem
    ? await probe(endpointOf(d), pem, d.healthcheckEndpoint)
    : { kind: 'unreachable', reason: 'no certificate collected yet' };
  return { deployment: d, status: classifyStatus(d, result, now), probe: result };
}

/** The operator-side state directory of deployment `name` (sim: its quoting socket directory). */
export function deploymentStateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'deployments', name);
}

/**
 * Delete a removed deployment's operator-side state (`stop --remove`). Only the directory this state root
 * assigns to its name, and only when the container mounted exactly that one: a path read from the engine
 * is never deleted on its own say-so.
 */
export async function removeDeploymentState(d: Deployment, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = deploymentStateDir(d.name, env);
  if (d.simSocketDir !== undefined && path.resolve(d.simSocketDir) === dir) {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
