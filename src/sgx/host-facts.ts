/**
 * The effectful shell of `mse home doctor`: gathers {@link HostFacts} from the real host, every read and
 * every probe bounded.
 *
 * - `/proc/cpuinfo` and the kernel release through the project's bounded file reader;
 * - `stat` of each SGX device node (following symlinks, as `/dev/sgx/enclave` often is one);
 * - a connection to aesmd's Unix socket, with a deadline;
 * - `/etc/sgx_default_qcnl.conf` through the project's QCNL reader;
 * - the PCCS: `rootcacrl` and `qe/identity` of its v4 API, fetched in parallel with the project's PCCS
 *   client, so the probe has one overall deadline and a body cap;
 * - the Docker engine's version and the base images, with a request timeout;
 * - the operator's signer key, read (never created) with the project's signer-key loader.
 *
 * Host paths are resolved under `root` (default `/`), so tests can point the shell at fixture trees. The
 * signer key path and the PCCS URL are taken as given.
 */
import { promises as fs, type Stats } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { toHex } from '../attestation/bytes.js';
import type { Platform } from '../launch/layout.js';
import { BASE_IMAGE } from '../docker/base-image.js';
import { DockerEngine, resolveEndpoint } from '../docker/engine.js';
import { isMseError } from '../errors.js';
import { readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { PccsClient } from '../pccs/client.js';
import { DEFAULT_QCNL_CONF, pccsTarget, readQcnlConfig, type PccsTarget } from '../pccs/config.js';
import { loadSignerKey } from '../launch/signer.js';
import { SGX_BASE_IMAGE } from './base-image.js';
import {
  AESMD_SOCKET,
  checkHost,
  CPUINFO_FILE,
  KERNEL_RELEASE_FILE,
  SGX_DEVICES,
  type ErrorFact,
  type HostFacts,
  type HostReport,
  type NodeKind,
  type PccsProbe,
  type SgxDevice,
  type SignerKeyFact,
} from './host-checks.js';

/** Bounds of the reads and probes. */
export interface DoctorLimits {
  /** Overall deadline of the PCCS probe, ms (its requests run in parallel). */
  pccsTimeoutMs: number;
  /** Largest PCCS response body the probe accepts (a root CA CRL or QE identity is a few KiB). */
  pccsMaxBodyBytes: number;
  aesmdTimeoutMs: number;
  /** Engine request timeout, ms (only for the engine this shell creates). */
  dockerTimeoutMs: number;
}

export const DOCTOR_LIMITS: Readonly<DoctorLimits> = Object.freeze({
  pccsTimeoutMs: 5_000,
  pccsMaxBodyBytes: 256 * 1024,
  aesmdTimeoutMs: 2_000,
  dockerTimeoutMs: 5_000,
});

export interface HostFactsOptions {
  /** Prefix of every host path (`/proc`, `/dev`, `/var/run/aesmd`, `/etc`); default `/`. */
  root?: string;
  /** PCCS to probe instead of the QCNL configuration's `pccs_url` (`--pccs`). */
  pccsUrl?: string;
  /** The operator's enclave signer key (spawn's `--signer-key`). */
  signerKeyPath: string;
  /** The engine to ask; default: `DOCKER_HOST` of `env`, with a request timeout. */
  engine?: DockerEngine;
  env?: NodeJS.ProcessEnv;
  limits?: Partial<DoctorLimits>;
}

/** Gather the facts and check them: the report `mse home doctor` prints and `spawn` decides with. */
export async function inspectHost(options: HostFactsOptions): Promise<HostReport> {
  return checkHost(await gatherHostFacts(options));
}

/** Gather every fact, in parallel where independent. */
export async function gatherHostFacts(options: HostFactsOptions): Promise<HostFacts> {
  const root = options.root ?? '/';
  const limits = { ...DOCTOR_LIMITS, ...options.limits };
  const at = (p: string): string => path.join(root, p);
  const qcnlPath = at(DEFAULT_QCNL_CONF);
  const [cpuinfo, kernelRelease, devices, aesmd, qcnl, docker, signerKey] = await Promise.all([
    readUserText(at(CPUINFO_FILE), 'CPU information', INPUT_LIMITS.host).then(
      (text) => ({ text }),
      (error: unknown) => ({ error: errorFact(error) }),
    ),
    readUserText(at(KERNEL_RELEASE_FILE), 'kernel release', INPUT_LIMITS.host).then(
      (t) => t.trim(),
      () => undefined,
    ),
    deviceFacts(at),
    aesmdFacts(at(AESMD_SOCKET), limits.aesmdTimeoutMs),
    readQcnlConfig(qcnlPath).then(
      (config): HostFacts['qcnl'] => ({ path: qcnlPath, config }),
      (error: unknown): HostFacts['qcnl'] => ({ path: qcnlPath, error: errorFact(error) }),
    ),
    dockerFacts(options, limits.dockerTimeoutMs),
    signerKeyFacts(options.signerKeyPath),
  ]);
  // --pccs, else what the quote provider uses (pccs_url with its use_secure_cert)
  const target = pccsTarget(options.pccsUrl, qcnl.config, 'pck');
  const pccs = target ? { target, probe: await probePccs(target, limits) } : {};
  return {
    cpuinfo,
    ...(kernelRelease ? { kernelRelease } : {}),
    devices,
    aesmd,
    qcnl,
    pccs,
    docker: docker.docker,
    images: docker.images,
    signerKey,
  };
}

/**
 * GET the PCCS's `rootcacrl` and `qe/identity` (v4 API) in parallel, each under the same deadline and body
 * cap, and check that they look like a PCCS's answers (a CRL; a QE identity with its issuer chain header).
 */
export async function probePccs(
  target: PccsTarget,
  limits: Pick<DoctorLimits, 'pccsTimeoutMs' | 'pccsMaxBodyBytes'> = DOCTOR_LIMITS,
): Promise<PccsProbe> {
  const start = performance.now();
  try {
    const client = new PccsClient({
      url: target.url,
      secureCert: target.secureCert,
      timeoutMs: limits.pccsTimeoutMs,
      maxBodyBytes: limits.pccsMaxBodyBytes,
    });
    await Promise.all([client.getRootCaCrl(), client.getQeIdentity()]);
    return { ok: true, ms: performance.now() - start, endpoints: ['rootcacrl', 'qe/identity'] };
  } catch (error) {
    return { ok: false, ms: performance.now() - start, error: errorFact(error) };
  }
}

async function kindOf(p: string): Promise<NodeKind | undefined> {
  let st: Stats;
  try {
    st = await fs.stat(p);
  } catch {
    // ENOENT, a dangling symlink, or a node we may not even stat: none is usable as a device.
    return undefined;
  }
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isSocket()) return 'socket';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

async function deviceFacts(at: (p: string) => string): Promise<HostFacts['devices']> {
  const entries = await Promise.all(
    (Object.keys(SGX_DEVICES) as SgxDevice[]).map(async (d) => [d, await kindOf(at(SGX_DEVICES[d]))] as const),
  );
  return Object.fromEntries(entries.filter(([, k]) => k !== undefined));
}

async function aesmdFacts(socketPath: string, timeoutMs: number): Promise<HostFacts['aesmd']> {
  const kind = await kindOf(socketPath);
  if (kind !== 'socket') return { path: socketPath, ...(kind ? { kind } : {}) };
  return { path: socketPath, kind, connect: await connectUnix(socketPath, timeoutMs) };
}

/** Connect to a Unix socket and hang up at once; bounded by `timeoutMs`. */
export function connectUnix(
  socketPath: string,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; error: ErrorFact }> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const done = (r: { ok: true } | { ok: false; error: ErrorFact }): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        done({
          ok: false,
          error: { code: 'ETIMEDOUT', message: `no connection within ${timeoutMs} ms` },
        }),
      timeoutMs,
    );
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done({ ok: false, error: { code: e.code ?? 'ERROR', message: e.message } }),
    );
  });
}

async function dockerFacts(
  options: HostFactsOptions,
  timeoutMs: number,
): Promise<{ docker: HostFacts['docker']; images: HostFacts['images'] }> {
  const refs: { platform: Platform; ref: string }[] = [
    { platform: 'sim', ref: BASE_IMAGE },
    { platform: 'sgx', ref: SGX_BASE_IMAGE },
  ];
  let engine: DockerEngine;
  let endpoint = options.engine?.endpoint.url ?? 'DOCKER_HOST';
  try {
    if (options.engine) engine = options.engine;
    else {
      const e = resolveEndpoint(options.env ?? process.env);
      endpoint = e.url;
      // docker-modem's request timeout: an engine that accepts but never answers cannot hold doctor.
      engine = new DockerEngine({ url: e.url, options: { ...e.options, timeout: timeoutMs } });
    }
    const v = await engine.ping();
    const images = await Promise.all(
      refs.map(async (r) => {
        const info = await engine.inspectImage(r.ref);
        return { ...r, present: info !== undefined, ...(info ? { id: info.Id } : {}) };
      }),
    );
    return { docker: { ok: true, endpoint, version: v.version, apiVersion: v.apiVersion }, images };
  } catch (error) {
    return { docker: { ok: false, endpoint, error: errorFact(error) }, images: refs };
  }
}

async function signerKeyFacts(file: string): Promise<SignerKeyFact> {
  let mode: number;
  try {
    mode = (await fs.stat(file)).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path: file, state: 'absent' };
    return { path: file, state: 'invalid', error: errorFact(error) };
  }
  try {
    const key = await loadSignerKey(file);
    return { path: file, state: 'valid', mrsigner: toHex(key.mrSigner), mode };
  } catch (error) {
    return { path: file, state: 'invalid', error: errorFact(error) };
  }
}

/** An error as data: an MseError's code, message and hint, or an errno error's code and message. */
export function errorFact(error: unknown): ErrorFact {
  if (isMseError(error))
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  const e = error as NodeJS.ErrnoException | undefined;
  return { code: e?.code ?? 'ERROR', message: e?.message ?? String(error) };
}
