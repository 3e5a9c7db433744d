/**
 * A deployment's container, planned and read back. `planEnclaveContainer` is pure: it turns a spawn
 * request into the Engine API's create body; `deploymentFromInspect` turns the engine's inspect answer
 * back into a {@link DeploymentSummary}. The engine is the only state store for deployments (as in MSE):
 * labels, port bindings and mounts say everything later commands need, and the arguments are read from
 * the args file the container mounts (`/opt/mse/enclave/args`, see `launch/args.ts`), never from its command
 * line.
 */
import type { BindMount, ContainerSpec } from '../docker/engine.js';
import { InputError } from '../errors.js';
import { MSE_RUN_SGX, SGX_SEALED_DIR } from '../sgx/gramine-paths.js';
import type { InputArgs } from '../launch/args.js';
import {
  ARGS_FILE,
  ENCLAVE_DIR,
  ENCLAVE_PORT,
  LAUNCHER_ARGV,
  SIM_SOCKET_DIR,
  type Platform,
} from '../launch/layout.js';

/** File names `spawn`/`evidence` write in the deployment's workspace (`--output`). */
export const EVIDENCE_FILE = 'evidence.json';
export const RATLS_FILE = 'ratls.pem';

/** Label on every deployment container (MSE's). */
export const DEPLOYMENT_LABEL = 'mse-home';
/** MSE's label for the app's health endpoint. */
export const HEALTHCHECK_LABEL = 'healthcheck_endpoint';
export const PLATFORM_LABEL = 'mse-home.platform';
/** The deployment's workspace (`spawn --output`): evidence.json and ratls.pem live there. */
export const WORKSPACE_LABEL = 'mse-home.workspace';
/** The enclave signer key's path and its MRSIGNER (hex): `evidence` uses that key, and only that one. */
export const SIGNER_KEY_LABEL = 'mse-home.signer-key';
export const MRSIGNER_LABEL = 'mse-home.mrsigner';
/**
 * Tags `spawn` created on the engine by loading the package's image (comma-separated; empty when the
 * image was already there): `stop --remove` removes exactly those.
 */
export const LOADED_TAGS_LABEL = 'mse-home.loaded-image-tags';
/** The SGX device nodes an sgx container is given, those of them that exist (the in-kernel driver's). */
export const SGX_CONTAINER_DEVICES = ['/dev/sgx_enclave', '/dev/sgx_provision'] as const;
/** aesmd's socket directory: mounted as a directory, so a restarted aesmd's new socket is seen. */
export const AESMD_DIR = '/var/run/aesmd';

/** What an sgx container needs from the host, as found there (see `mse home doctor`). */
export interface SgxHostDevices {
  /** The SGX device nodes of {@link SGX_CONTAINER_DEVICES} that exist on the host (character devices). */
  devices: string[];
  /** Whether aesmd's socket exists ({@link AESMD_DIR} is then mounted). */
  aesmd: boolean;
}

export interface EnclaveContainerRequest {
  name: string;
  image: string;
  healthcheckEndpoint: string;
  platform: Platform;
  /**
   * Host directory (private) holding the enclave's inputs, mounted read-only at {@link ENCLAVE_DIR}: `args`
   * and `app.tar`; on sgx also the final manifest and the SIGSTRUCT.
   */
  enclaveDir: string;
  /** The deployment's workspace (evidence, certificate). */
  outputDir: string;
  /** Host IP the port is published on. */
  host: string;
  port: number;
  /** Operator's signer key, absolute (recorded for `evidence`; never mounted into the container). */
  signerKeyPath: string;
  /** MRSIGNER of that key, hex. */
  mrSigner: string;
  /** sim: host directory holding the quoting service's socket. */
  simSocketDir?: string;
  /** sgx: host directory of the sealed mounts (`key/`, `home/`, `app/`), mounted read-write. */
  sealedDir?: string;
  /** sgx: the SGX devices and aesmd found on the host. */
  sgxHost?: SgxHostDevices;
  /** Image tags this spawn created by loading the package (removed again by `stop --remove`). */
  loadedTags?: readonly string[];
}

/**
 * Pure: the container of an enclave deployment, for {@link DockerEngine.createContainer}.
 *
 * - sim: the launcher itself is the command (`/usr/bin/dash /usr/local/bin/mse-run --argv-file ARGS`);
 *   the quoting service's socket directory is mounted.
 * - sgx: `mse-run-sgx` starts `gramine-sgx`, which runs the same launcher inside the enclave with the
 *   args file's vector as argv; the SGX devices that exist, aesmd's socket directory when aesmd runs, and
 *   the sealed directory are given. Nothing else: no extra capability, no signer key (the SIGSTRUCT is
 *   signed on the host).
 */
export function planEnclaveContainer(r: EnclaveContainerRequest): ContainerSpec {
  const binds: BindMount[] = [{ host: r.enclaveDir, container: ENCLAVE_DIR, readOnly: true }];
  let devices: string[] = [];
  if (r.platform === 'sim') {
    if (!r.simSocketDir) throw new InputError('ERR_INTERNAL_PLAN', 'sim deployment without a quoting socket directory');
    binds.push({ host: r.simSocketDir, container: SIM_SOCKET_DIR, readOnly: true });
  } else {
    const { sgxHost } = r;
    if (!r.sealedDir || !sgxHost)
      throw new InputError('ERR_INTERNAL_PLAN', 'sgx deployment without its sealed directory or host devices');
    binds.push({ host: r.sealedDir, container: SGX_SEALED_DIR });
    if (sgxHost.aesmd) binds.push({ host: AESMD_DIR, container: AESMD_DIR });
    devices = SGX_CONTAINER_DEVICES.filter((d) => sgxHost.devices.includes(d));
  }
  return {
    name: r.name,
    image: r.image,
    // The arguments hold the deployment UUID: they are in the args file, never on a host command line.
    entrypoint: r.platform === 'sim' ? [...LAUNCHER_ARGV] : [MSE_RUN_SGX],
    cmd: r.platform === 'sim' ? ['--argv-file', ARGS_FILE] : [],
    labels: {
      [DEPLOYMENT_LABEL]: '1',
      [HEALTHCHECK_LABEL]: r.healthcheckEndpoint,
      [PLATFORM_LABEL]: r.platform,
      [WORKSPACE_LABEL]: r.outputDir,
      [SIGNER_KEY_LABEL]: r.signerKeyPath,
      [MRSIGNER_LABEL]: r.mrSigner,
      [LOADED_TAGS_LABEL]: (r.loadedTags ?? []).join(','),
    },
    binds,
    ports: [{ container: `${ENCLAVE_PORT}/tcp`, hostIp: r.host, hostPort: r.port }],
    extra: {
      HostConfig: {
        Devices: devices.map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })),
        // The enclave needs no privilege beyond binding 443 and managing its own files as root.
        CapDrop: ['ALL'],
        CapAdd: ['NET_BIND_SERVICE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'KILL'],
        SecurityOpt: ['no-new-privileges'],
        PidsLimit: 512,
      },
    },
  };
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** A deployment as read back from the engine's inspect answer (its arguments are read separately). */
export interface DeploymentSummary {
  name: string;
  id: string;
  image: string;
  state: ContainerState;
  exitCode: number;
  startedAt: string;
  healthcheckEndpoint: string;
  platform: Platform;
  host: string;
  port: number;
  outputDir: string;
  /** Host directory mounted at /opt/mse/enclave (the deployment's private enclave inputs: args, app.tar…). */
  enclaveDir: string;
  /** sim: the host directory of the quoting service's socket (operator-side state of this deployment). */
  simSocketDir?: string;
  /** sgx: the host directory of the enclave's sealed mounts (`key/`, `home/`, `app/`). */
  sealedDir?: string;
  /** The signer key spawn used and its MRSIGNER (hex); absent on containers spawned before they were recorded. */
  signerKeyPath?: string;
  mrSigner?: string;
  /** Image tags spawn created by loading the package. */
  loadedTags: string[];
}

/** A deployment with its arguments (read from its args file). */
export interface Deployment extends DeploymentSummary {
  args: InputArgs;
}

/** The subset of the engine's `GET /containers/{id}/json` answer read here. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Config: { Image: string; Cmd: string[] | null; Labels: Record<string, string> | null };
  State: { Status: string; ExitCode: number; StartedAt: string };
  HostConfig: { PortBindings?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
  Mounts: { Source: string; Destination: string }[];
}

/** Pure: a deployment from the engine's inspect answer. Throws if the container is not an mse-home enclave. */
export function deploymentFromInspect(info: ContainerInspect): DeploymentSummary {
  const name = info.Name.replace(/^\//, '');
  const labels = info.Config.Labels ?? {};
  if (labels[DEPLOYMENT_LABEL] !== '1') {
    throw new InputError('ERR_NOT_A_DEPLOYMENT', `container ${name} is not an mse-home deployment`, {
      hint: "See 'mse home list'.",
    });
  }
  const binding = info.HostConfig.PortBindings?.[`${ENCLAVE_PORT}/tcp`]?.[0];
  const input = info.Mounts.find((m) => m.Destination === ENCLAVE_DIR);
  const socketDir = info.Mounts.find((m) => m.Destination === SIM_SOCKET_DIR);
  const sealed = info.Mounts.find((m) => m.Destination === SGX_SEALED_DIR);
  const workspace = labels[WORKSPACE_LABEL];
  if (!binding || !input || !workspace) {
    throw new InputError(
      'ERR_NOT_A_DEPLOYMENT',
      `container ${name} lacks the port binding, the ${ENCLAVE_DIR} mount or the workspace label of a deployment`,
    );
  }
  const platform = labels[PLATFORM_LABEL] === 'sim' ? 'sim' : 'sgx';
  return {
    name,
    id: info.Id,
    image: info.Config.Image,
    state: info.State.Status as ContainerState,
    exitCode: info.State.ExitCode,
    startedAt: info.State.StartedAt,
    healthcheckEndpoint: labels[HEALTHCHECK_LABEL] ?? '/',
    platform,
    host: binding.HostIp || '0.0.0.0',
    port: Number(binding.HostPort),
    outputDir: workspace,
    enclaveDir: input.Source,
    ...(socketDir ? { simSocketDir: socketDir.Source } : {}),
    ...(sealed ? { sealedDir: sealed.Source } : {}),
    ...(labels[SIGNER_KEY_LABEL] ? { signerKeyPath: labels[SIGNER_KEY_LABEL] } : {}),
    ...(labels[MRSIGNER_LABEL] ? { mrSigner: labels[MRSIGNER_LABEL] } : {}),
    loadedTags: (labels[LOADED_TAGS_LABEL] ?? '').split(',').filter((t) => t !== ''),
  };
}

/** The address a local client uses to reach a deployment published on `host`. */
export function localAddress(d: Pick<Deployment, 'host'>): string {
  return d.host === '0.0.0.0' || d.host === '' ? '127.0.0.1' : d.host === '::' ? '::1' : d.host;
}
