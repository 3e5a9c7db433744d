/**
 * Finding deployments in the engine and probing their enclaves: the effectful shell around
 * `container.ts` and `status.ts`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DockerEngine } from '../docker/engine.js';
import { StateError } from '../errors.js';
import { stateRoot } from '../sim/state.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { SGX_MANIFEST_FILE } from '../sgx/gramine-paths.js';
import { ARGS_FILE } from '../launch/layout.js';
import { fromEnclaveArgvFile, MAX_ARGV_FILE_BYTES, parseArgvFile, type InputArgs } from '../launch/args.js';
import {
  deploymentFromInspect,
  DEPLOYMENT_LABEL,
  localAddress,
  type Deployment,
  type DeploymentSummary,
} from './container.js';
import { probe, type EnclaveEndpoint, type ProbeResult } from './enclave-client.js';
import { checkPinnedCertificate, type PinProblem } from './pinning.js';
import { classifyStatus, type DeploymentStatus } from './status.js';

export { EVIDENCE_FILE, RATLS_FILE } from './container.js';

/**
 * The deployment named `name`, without its arguments (enough to stop or remove it, or list it). Throws
 * `ERR_DEPLOYMENT_NOT_FOUND` when there is none.
 */
export async function findDeploymentSummary(engine: DockerEngine, name: string): Promise<DeploymentSummary> {
  const info = await engine.inspectContainer(name);
  if (!info) {
    throw new StateError('ERR_DEPLOYMENT_NOT_FOUND', `no deployment named '${name}'`, { hint: "See 'mse home list'." });
  }
  return deploymentFromInspect(info);
}

/** The deployment named `name` with its arguments (read from its args file through the engine). */
export async function findDeployment(engine: DockerEngine, name: string): Promise<Deployment> {
  const summary = await findDeploymentSummary(engine, name);
  return { ...summary, args: await readDeploymentArgs(engine, summary) };
}

/**
 * A deployment's whole argv (the launcher first), from the args file its container mounts: the one copy
 * the enclave itself reads (single source of truth), read through the engine, so any user of the engine
 * can read it and no one else (the file is private to the operator on the host).
 */
export async function readDeploymentArgv(engine: DockerEngine, d: DeploymentSummary): Promise<string[]> {
  const bytes = await readArgsFile(engine, d);
  fromEnclaveArgvFile(bytes); // the launcher first, then only the measured arguments, or ERR_ARGV_FILE
  return parseArgvFile(bytes);
}

/** A deployment's arguments, from its args file (see {@link readDeploymentArgv}). */
export async function readDeploymentArgs(engine: DockerEngine, d: DeploymentSummary): Promise<InputArgs> {
  return fromEnclaveArgvFile(await readArgsFile(engine, d));
}

async function readArgsFile(engine: DockerEngine, d: DeploymentSummary): Promise<Uint8Array> {
  const bytes = await engine.readContainerFile(d.id, ARGS_FILE, MAX_ARGV_FILE_BYTES);
  if (!bytes) {
    throw new StateError('ERR_ARGV_FILE_MISSING', `${d.name} has no args file (${d.enclaveDir}/args is missing)`, {
      hint: `Its private state was deleted; remove it with 'mse home stop --remove ${d.name}' and spawn again.`,
    });
  }
  return bytes;
}

/**
 * An sgx deployment's final Gramine manifest (the one its enclave was started with), read through the
 * engine from the container's enclave directory. Throws `ERR_ENCLAVE_FILE_MISSING` when it is absent.
 */
export async function readDeploymentManifest(engine: DockerEngine, d: DeploymentSummary): Promise<string> {
  const bytes = await engine.readContainerFile(d.id, SGX_MANIFEST_FILE, INPUT_LIMITS.gramine.maxBytes);
  if (!bytes) {
    throw new StateError('ERR_ENCLAVE_FILE_MISSING', `${d.name} has no final manifest (${SGX_MANIFEST_FILE})`, {
      hint: `Its private state was deleted; remove it with 'mse home stop --remove ${d.name}' and spawn again.`,
    });
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Every deployment the engine knows (running or not). */
export async function listDeployments(engine: DockerEngine): Promise<DeploymentSummary[]> {
  const summaries = await engine.listContainers({ [DEPLOYMENT_LABEL]: '1' });
  const out: DeploymentSummary[] = [];
  for (const s of summaries) {
    const info = await engine.inspectContainer(s.id);
    if (!info) continue; // removed meanwhile
    try {
      out.push(deploymentFromInspect(info));
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

export interface DeploymentReport {
  deployment: Deployment;
  status: DeploymentStatus;
  probe?: ProbeResult;
  /** Why the enclave could not be checked against the deployment's ratls.pem. */
  problem?: PinProblem;
}

/** Status of a deployment: container state plus a probe pinned to its certificate. */
export async function deploymentStatus(d: Deployment, now = new Date()): Promise<DeploymentReport> {
  if (d.state !== 'running') return { deployment: d, status: classifyStatus(d, undefined, now) };
  const pin = await checkPinnedCertificate(d, endpointOf(d));
  if (pin.problem) {
    return { deployment: d, status: classifyStatus(d, undefined, now, pin.problem), problem: pin.problem };
  }
  const result = await probe(endpointOf(d), pin.pem, d.healthcheckEndpoint);
  return { deployment: d, status: classifyStatus(d, result, now), probe: result };
}

/**
 * Where the operator-side state directories of deployments live (private, 0700). Each deployment gets its
 * own, made by {@link createDeploymentStateDir}: `enclave/` (mounted read-only at /opt/mse/enclave: args,
 * app.tar; sgx: the final manifest and SIGSTRUCT), and `sim/` (the quoting socket) or `sealed/` (sgx: the
 * host side of the enclave's encrypted mounts).
 */
export function deploymentsStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'deployments');
}

/**
 * Create the private state directory of a new deployment `name`: `<root>/<name>/state-<random>`, made by
 * mkdtemp (mode 0700, a name nothing else holds), never reusing or emptying a directory that exists, so
 * that two spawns of one name, or a leftover of an earlier one, never share or delete each other's state.
 */
export async function createDeploymentStateDir(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const parent = path.join(deploymentsStateRoot(env), name);
  await fs.mkdir(parent, { recursive: true, mode: 0o700 });
  return fs.mkdtemp(path.join(parent, STATE_PREFIX));
}

const STATE_PREFIX = 'state-';

/**
 * True when `dir` is a state directory {@link createDeploymentStateDir} makes for `name` (or the fixed
 * `<root>/<name>` of earlier versions).
 */
export function isDeploymentStateDir(dir: string, name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const resolved = path.resolve(dir);
  const parent = path.join(deploymentsStateRoot(env), name);
  if (resolved === parent) return true;
  return path.dirname(resolved) === parent && /^state-[A-Za-z0-9]{6}$/.test(path.basename(resolved));
}

/** Remove a deployment's state directory, and its name's folder once no other state is left there. */
export async function removeStateDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  if (path.basename(dir).startsWith(STATE_PREFIX)) await fs.rmdir(path.dirname(dir)).catch(() => undefined);
}

/**
 * Delete a removed deployment's operator-side state (`stop --remove`). Only a directory this state root
 * assigns to its name ({@link isDeploymentStateDir}), and only the one the container mounted its input
 * from: a path read from the engine is never deleted on its own say-so. Returns true when something was
 * deleted.
 */
export async function removeDeploymentState(
  d: DeploymentSummary,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const dir = path.dirname(path.resolve(d.enclaveDir));
  if (!isDeploymentStateDir(dir, d.name, env)) return false;
  await removeStateDir(dir);
  return true;
}
