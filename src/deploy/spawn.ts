/**
 * `spawn`: from a package to an enclave waiting for its secrets, and the evidence to prove it. Three steps:
 *
 * 1. **plan** ({@link planSpawn}, pure): every argument checked (name, platform, size, SAN, subject with the
 *    enclave's own parser, host address, port, days, output path) before anything is read or created;
 * 2. **preflight** (reads only): the engine answers, the name, the port and the output are free, the
 *    package is read and checked (without copying it), the signer key loads, the spawn arguments are
 *    fixed; on sgx the enclave is measured from the package's image and its SIGSTRUCT signed with the
 *    operator's key (no Gramine, no Docker: src/sgx/package-measurement.ts) and the PCCS is chosen;
 * 3. **apply**, with an undo for every effect, run on failure and on SIGINT/SIGTERM (then `spawn` exits
 *    130/143 with nothing left behind): the deployment's private state directory (`enclave/`: the args
 *    file and `app.tar` exactly as measured, on sgx the final manifest and SIGSTRUCT; `sim/`: the quoting
 *    socket; `sealed/`: the sgx enclave's encrypted mounts), the image loaded from the package in place,
 *    the sim quoting service for this MRENCLAVE only, the container, the wait for its configuration
 *    server, and last `evidence.json` (0600) and `ratls.pem` in the output directory.
 *
 * `--dry-run` ({@link dryRunSpawn}, sgx) stops after the preflight: it writes the final manifest, the
 * SIGSTRUCT and the args file into the output directory and returns the container plan.
 *
 * The deployment UUID lives only in the args file (mode 0600 in a 0700 directory), in the enclave and in
 * `evidence.json` (0600): never on a host command line, in a log line or in a world-readable file.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { serializeEvidence, type Evidence } from '../launch/evidence.js';
import { withCleanup, type CleanupScope } from '../docker/cleanup.js';
import type { ContainerSpec, DockerEngine } from '../docker/engine.js';
import { checkPortFree } from '../docker/localtest.js';
import { InputError, InterruptedError, NetworkError, StateError, UsageError } from '../errors.js';
import { imageRepository } from '../docker/app-image.js';
import {
  checkOutputDirectory,
  createOutputDirectories,
  outputError,
  writeFileAtomic,
  writeFilesAtomic,
} from '../fs/files.js';
import { checkManifest, localSigstructDate, parseManifestToml, signSigstruct } from '../gramine/index.js';
import type { ImageFs } from '../image/image-fs.js';
import { withPackage, type PackageContents } from '../package/read.js';
import type { PccsTarget } from '../pccs/config.js';
import { APP_NAME_PATTERN } from '../project/config.js';
import { readRatlsCertificate } from '../ratls/read.js';
import { ISV_PROD_ID, ISV_SVN, SEALED_MOUNTS } from '../sgx/enclave-manifest.js';
import { GRAMINE_SGX, MSE_RUN_SGX, SGX_APP_NAME, SGX_MANIFEST_FILE, SGX_SIGSTRUCT_FILE } from '../sgx/gramine-paths.js';
import { measureGramineImage, withOpenPackageImage, type GramineMeasurement } from '../sgx/package-measurement.js';
import { loadOrCreateSignerKey, type SignerKey } from '../launch/signer.js';
import { loadOrCreateSimPlatform, startQuotingService, startSimPccs } from '../sim/index.js';
import type { SimPlatform } from '../sim/platform.js';
import { simMrenclaveOf } from '../sim/package-measurement.js';
import { APP_TAR_FILE, ARGS_FILE, type Platform } from '../launch/layout.js';
import { checkHostAddress, checkInputArg, checkInputArgs, enclaveArgvFile, type InputArgs } from '../launch/args.js';
import {
  deploymentFromInspect,
  planEnclaveContainer,
  SGX_CONTAINER_DEVICES,
  type Deployment,
  type DeploymentSummary,
  type SgxHostDevices,
} from './container.js';
import {
  createDeploymentStateDir,
  deploymentsStateRoot,
  endpointOf,
  removeStateDir,
  EVIDENCE_FILE,
  listDeployments,
  RATLS_FILE,
} from './deployments.js';
import { collectEvidence, sgxCollateralSource } from './evidence.js';
import { fetchPresentedCertificate, probe } from './enclave-client.js';
import { assertRunning, sleep, throwIfInterrupted } from './wait.js';

/** ISV product id and SVN of mse-home enclaves (the sgx manifest's; the sim quoting service signs the same). */
export const ENCLAVE_ISV_PROD_ID = ISV_PROD_ID;
export const ENCLAVE_ISV_SVN = ISV_SVN;
/** Inside a deployment's state directory: the enclave's inputs, the quoting socket's, the sealed mounts'. */
export const STATE_ENCLAVE_DIR = 'enclave';
export const STATE_SIM_DIR = 'sim';
export const STATE_SEALED_DIR = 'sealed';
/** Files `spawn --dry-run` writes in the output directory (and `spawn` in the deployment's `enclave/`). */
export const SGX_OUTPUT_FILES = {
  manifest: path.posix.basename(SGX_MANIFEST_FILE),
  sigstruct: path.posix.basename(SGX_SIGSTRUCT_FILE),
  args: path.posix.basename(ARGS_FILE),
} as const;

export interface SpawnInput {
  engine: DockerEngine;
  log: Logger;
  env: NodeJS.ProcessEnv;
  name: string;
  packageFile: string;
  outputDir: string;
  san: string;
  host: string;
  port: number;
  size: number;
  subject: string;
  days: number;
  signerKeyPath: string;
  platform: Platform;
  /** PCCS for the evidence; sim default: the simulated PCCS, started for the occasion; sgx: the QCNL file. */
  pccsUrl?: string;
  /** sgx: the SGX devices and aesmd found on this host (`mse home doctor`'s facts). */
  sgxHost?: SgxHostDevices;
  /** sgx: only plan (see {@link dryRunSpawn}). */
  dryRun?: boolean;
  timeoutMs: number;
  now?: Date;
}

export interface SpawnResult {
  deployment: Deployment;
  evidenceFile: string;
  ratlsFile: string;
  mrenclave: string;
  mrsigner: string;
}

/** The operator's default signer key path (Gramine's). */
export function defaultSignerKeyPath(): string {
  return path.join(os.homedir(), '.config', 'gramine', 'enclave-key.pem');
}

/** What {@link planSpawn} fixed from the arguments alone. */
export interface SpawnPlan {
  name: string;
  packageFile: string;
  /** Absolute. */
  outputDir: string;
  /** Absolute. */
  signerKeyPath: string;
}

/**
 * Pure: check every argument of `spawn` and fix the paths. Throws `UsageError` naming the first bad one;
 * nothing has been read or created yet.
 */
export function planSpawn(input: Omit<SpawnInput, 'engine' | 'log'>): SpawnPlan {
  if (!APP_NAME_PATTERN.test(input.name)) {
    throw new UsageError('ERR_DEPLOYMENT_NAME', `invalid deployment name '${input.name}'`, {
      hint: 'Use letters, digits, "_", "." or "-".',
    });
  }
  if (input.dryRun && input.platform !== 'sgx') {
    throw new UsageError('ERR_CONFLICTING_OPTIONS', '--dry-run plans an sgx deployment: it needs --platform sgx', {
      hint: 'Add --platform sgx (a sim deployment has no Gramine manifest or SIGSTRUCT to plan).',
    });
  }
  if (input.platform === 'sgx') sgxHostOf(input);
  checkInputArg('size', input.size);
  checkInputArg('san', input.san);
  checkInputArg('subject', input.subject);
  checkHostAddress(input.host);
  if (!Number.isSafeInteger(input.port) || input.port < 1 || input.port > 65_535) {
    throw new UsageError('ERR_OPTION_VALUE', `--port must be from 1 to 65535, got ${input.port}`);
  }
  if (!Number.isSafeInteger(input.days) || input.days < 1) {
    throw new UsageError('ERR_OPTION_VALUE', `--days must be a positive integer, got ${input.days}`);
  }
  for (const [flag, value] of [
    ['--package', input.packageFile],
    ['--output', input.outputDir],
    ['--signer-key', input.signerKeyPath],
  ] as const) {
    if (value === '' || value.includes('\0')) throw new UsageError('ERR_OPTION_VALUE', `${flag} must be a path`);
  }
  return {
    name: input.name,
    packageFile: input.packageFile,
    outputDir: path.resolve(input.outputDir),
    signerKeyPath: path.resolve(input.signerKeyPath),
  };
}

/** `input.sgxHost`, which an sgx spawn needs (checked by {@link planSpawn}). */
function sgxHostOf(input: Pick<SpawnInput, 'sgxHost'>): SgxHostDevices {
  if (!input.sgxHost) {
    throw new InputError('ERR_INTERNAL_PLAN', 'an sgx spawn needs the host’s SGX devices (doctor’s facts)');
  }
  return input.sgxHost;
}

/** The sgx enclave, measured and signed before anything is created. */
interface SgxEnclave {
  measurement: GramineMeasurement;
  /** The 1808-byte SIGSTRUCT, signed with the operator's key. */
  sigstruct: Uint8Array;
  /** Its date, `YYYY-MM-DD`. */
  date: string;
  /** Where the evidence's collateral comes from (absent for a dry run). */
  pccs?: PccsTarget;
}

/** What {@link preflight} read: everything `apply` needs, with nothing created yet (but the signer key). */
interface Preflight {
  pkg: PackageContents & { appTar: Buffer };
  signer: SignerKey & { created: boolean };
  /** The spawn arguments (a new deployment UUID, the expiration from --days). */
  args: InputArgs;
  /** sim: the simulated platform. */
  sim?: SimPlatform;
  /** sgx: the enclave. */
  sgx?: SgxEnclave;
  /** The directories to create for the output, outermost first (none when it exists). */
  missingOutputDirs: string[];
}

/** The enclave of an sgx spawn's preflight (which measures one for every sgx spawn). */
function sgxEnclaveOf(pre: Preflight): SgxEnclave {
  if (!pre.sgx) throw new InputError('ERR_INTERNAL_PLAN', 'an sgx spawn without its measured enclave');
  return pre.sgx;
}

/** Reads and checks everything `spawn` depends on, in order of cost. Creates nothing but the signer key. */
async function preflight(input: SpawnInput, plan: SpawnPlan): Promise<Preflight> {
  const { engine, log } = input;
  await engine.ping();
  if (await engine.inspectContainer(plan.name)) {
    throw new StateError('ERR_NAME_IN_USE', `a container named '${plan.name}' already exists`, {
      hint: `Stop and remove it first: 'mse home stop --remove ${plan.name}'.`,
    });
  }
  // (spawn has no "free port" default: --port defaults to 443)
  await checkPortFree(
    input.port,
    "Choose another --port; 'mse home list' shows the ports deployments use.",
    input.host,
  );
  const missingOutputDirs = await checkOutputDirectory(plan.outputDir, '--output');
  const user = (await listDeployments(engine)).find((d) => path.resolve(d.outputDir) === plan.outputDir);
  if (user) {
    throw new StateError('ERR_OUTPUT_IN_USE', `${plan.outputDir} is the workspace of deployment '${user.name}'`, {
      hint: `Use another --output, or remove that deployment first ('mse home stop --remove ${user.name}').`,
    });
  }
  // sgx: the PCCS is settled before anything is created (a dry run collects no evidence)
  const pccs = input.platform === 'sgx' && !input.dryRun ? await sgxCollateralSource(input.pccsUrl) : undefined;
  if (pccs && !pccs.secureCert) {
    log.warn(
      `the PCCS ${pccs.url} (${pccs.from}) is used without TLS certificate verification ("use_secure_cert": false)`,
    );
  }

  // app.tar is held to the enclave's own limit (readPackage's default): refused here, not in the container.
  // The sgx image is measured through the descriptor the package was checked through (never reopened).
  const reading = log.phase('reading the package');
  return withPackage(plan.packageFile, { keepAppTar: true }, (pkg, member, fh) => {
    reading(`${pkg.config.name}, ${pkg.appFiles.length} code files, image ${pkg.imageConfigDigest.slice(0, 19)}`);
    const withImage = <T>(fn: (image: ImageFs) => Promise<T>): Promise<T> => withOpenPackageImage(pkg, member, fh, fn);
    return preflightPackage(input, plan, { pkg, missingOutputDirs, pccs }, withImage);
  });
}

/**
 * The package part of {@link preflight}, while the package is open: `pkg` as read and checked, its image
 * opened by `withImage` through the same descriptor.
 */
async function preflightPackage(
  input: SpawnInput,
  plan: SpawnPlan,
  read: { pkg: PackageContents; missingOutputDirs: string[]; pccs: PccsTarget | undefined },
  withImage: <T>(fn: (image: ImageFs) => Promise<T>) => Promise<T>,
): Promise<Preflight> {
  const { log } = input;
  const { pkg, missingOutputDirs, pccs } = read;
  // `docker load` applies every tag image.tar names: a hostile package could retag another image on this
  // engine (e.g. the base image). Accept only the tag our packager (and MSE's) writes: <app>:<time_ns>.
  checkImageTags(pkg.image.repoTags, pkg.config.name);

  const signer = await loadOrCreateSignerKey(plan.signerKeyPath);
  if (signer.created) log.info(`created the enclave signer key ${plan.signerKeyPath} (RSA-3072, e=3)`);
  const now = input.now ?? new Date();
  const args: InputArgs = checkInputArgs({
    size: input.size,
    subject: input.subject,
    san: input.san,
    appId: randomUUID(),
    application: pkg.config.pythonApplication,
    expiration: Math.floor(now.getTime() / 1000) + input.days * 86_400,
  });
  const common = { pkg: pkg as Preflight['pkg'], signer, args, missingOutputDirs };
  if (input.platform === 'sim') return { ...common, sim: await loadOrCreateSimPlatform({ env: input.env }) };

  const phase = log.phase('measuring the enclave (Gramine manifest from the package’s image)');
  const measurement = await withImage(async (image) => {
    // The container's entrypoint and Gramine's starter must be there: an image FROM mse-home-sgx-base.
    for (const p of [MSE_RUN_SGX, GRAMINE_SGX]) {
      if (image.stat(p)?.kind !== 'file') {
        throw new InputError(
          'ERR_SGX_IMAGE_INCOMPLETE',
          `${image.where} has no ${p}: it was not built FROM mse-home-sgx-base`,
          {
            hint: 'Build the app FROM mse-home-sgx-base:<version> (mse home base build --platform sgx; docs/sgx.md).',
          },
        );
      }
    }
    return measureGramineImage(image, { files: pkg.appFiles, appTarSha256: pkg.appTarSha256 }, args);
  });
  // What Gramine would refuse to load is refused here, before it is signed.
  checkManifest(parseManifestToml(measurement.final.bytes, 'final manifest'), 'the final enclave manifest', {
    strict: true,
  });
  const date = localSigstructDate(now);
  const sigstruct = signSigstruct(
    { mrenclave: measurement.mrenclave, attributes: measurement.final.attributes, date },
    signer.privateKey,
  );
  phase(`${measurement.stats.trustedFiles} trusted files, MRENCLAVE ${hex(measurement.mrenclave).slice(0, 16)}…`);
  if (input.size < 2048) {
    log.warn(
      `--size ${input.size}: Node.js may need more than 1 GiB of enclave address space under Gramine (its example uses 2G); see docs/sgx.md`,
    );
  }
  return { ...common, sgx: { measurement, sigstruct, date, ...(pccs ? { pccs } : {}) } };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The deployment's container, as planned from the preflight (the same for a dry run and for real), its
 * private state in `stateDir`.
 */
function containerSpec(
  input: SpawnInput,
  plan: SpawnPlan,
  pre: Preflight,
  stateDir: string,
  loadedTags: string[] = [],
): ContainerSpec {
  return planEnclaveContainer({
    name: plan.name,
    image: pre.pkg.imageConfigDigest,
    healthcheckEndpoint: pre.pkg.config.healthcheckEndpoint,
    platform: input.platform,
    enclaveDir: path.join(stateDir, STATE_ENCLAVE_DIR),
    outputDir: plan.outputDir,
    host: input.host,
    port: input.port,
    signerKeyPath: plan.signerKeyPath,
    mrSigner: hex(pre.signer.mrSigner),
    ...(input.platform === 'sim'
      ? { simSocketDir: path.join(stateDir, STATE_SIM_DIR) }
      : { sealedDir: path.join(stateDir, STATE_SEALED_DIR), sgxHost: sgxHostOf(input) }),
    loadedTags,
  });
}

/** The state directory a dry run shows in its mounts: spawn makes `state-` plus six random characters. */
export const DRY_RUN_STATE_DIR = 'state-XXXXXX';

/** What `spawn --dry-run` prints: the container it would start, the enclave, and what it wrote. */
export interface SpawnDryRun {
  name: string;
  platform: 'sgx';
  /** The package's image (its config digest: the image ID once loaded) and the tags loading would add. */
  image: string;
  imageTags: string[];
  entrypoint: string[];
  cmd: string[];
  /** The SGX devices passed (those found on this host), and those missing. */
  devices: string[];
  missingDevices: string[];
  /** Bind mounts, host → container (the state directory's random name shown as {@link DRY_RUN_STATE_DIR}). */
  mounts: { host: string; container: string; readOnly: boolean }[];
  ports: { host: string; container: string }[];
  /** Inside the container: the final manifest and SIGSTRUCT `gramine-sgx` reads, the args file, the code. */
  enclaveFiles: { manifest: string; sigstruct: string; args: string; code: string; gramineApp: string };
  mrenclave: string;
  mrsigner: string;
  template: string;
  enclaveSize: number;
  maxThreads: number;
  trustedFiles: number;
  sigstructDate: string;
  /** The files written in the output directory. */
  written: { manifest: string; sigstruct: string; args: string };
}

/** Pure: the printable plan of a container spec. */
export function describeContainer(
  spec: ContainerSpec,
): Pick<SpawnDryRun, 'entrypoint' | 'cmd' | 'devices' | 'mounts' | 'ports'> {
  const hostConfig = (spec.extra?.HostConfig ?? {}) as { Devices?: { PathOnHost: string }[] };
  return {
    entrypoint: spec.entrypoint ?? [],
    cmd: spec.cmd ?? [],
    devices: (hostConfig.Devices ?? []).map((d) => d.PathOnHost),
    mounts: (spec.binds ?? []).map((b) => ({ host: b.host, container: b.container, readOnly: b.readOnly === true })),
    ports: (spec.ports ?? []).map((p) => ({ host: `${p.hostIp}:${p.hostPort}`, container: p.container })),
  };
}

/**
 * `spawn --platform sgx --dry-run`: everything up to starting the container (arguments, engine, name, port,
 * output, package, signer key; the enclave measured from the package's image and its SIGSTRUCT signed),
 * then the final manifest, the SIGSTRUCT and the args file (0600: it holds the UUID of this plan, which
 * no enclave uses) are written into the output directory, all three or none (what the directory held is
 * given back on a failure or an interrupt), and the container plan is returned. Nothing else is created:
 * no state directory, no image loaded, no container.
 */
export async function dryRunSpawn(input: SpawnInput): Promise<SpawnDryRun> {
  const plan = planSpawn({ ...input, dryRun: true });
  const pre = await preflight(input, plan);
  const sgx = sgxEnclaveOf(pre);
  const m = sgx.measurement;
  const written = {
    manifest: path.join(plan.outputDir, SGX_OUTPUT_FILES.manifest),
    sigstruct: path.join(plan.outputDir, SGX_OUTPUT_FILES.sigstruct),
    args: path.join(plan.outputDir, SGX_OUTPUT_FILES.args),
  };
  await withCleanup(
    async (scope) => {
      await createOutputDirectories(pre.missingOutputDirs, '--output', 0o700, (dir) =>
        scope.onFailure(() => fs.rmdir(dir)),
      );
      // All three or none; a failure gives back what the output held (files it did not write are never removed).
      await writeFilesAtomic(
        [
          { file: written.manifest, data: m.final.bytes },
          { file: written.sigstruct, data: sgx.sigstruct },
          { file: written.args, data: m.enclave.argsFile, mode: 0o600 },
        ],
        scope,
      );
    },
    { exitOnSignal: false },
  );
  // spawn names the state directory when it makes it (mkdtemp): the plan shows mkdtemp's template
  const stateDir = path.join(deploymentsStateRoot(input.env), plan.name, DRY_RUN_STATE_DIR);
  const spec = containerSpec(input, plan, pre, stateDir, pre.pkg.image.repoTags);
  const described = describeContainer(spec);
  return {
    name: plan.name,
    platform: 'sgx',
    image: pre.pkg.imageConfigDigest,
    imageTags: pre.pkg.image.repoTags,
    ...described,
    missingDevices: SGX_CONTAINER_DEVICES.filter((d) => !described.devices.includes(d)),
    enclaveFiles: {
      manifest: SGX_MANIFEST_FILE,
      sigstruct: SGX_SIGSTRUCT_FILE,
      args: ARGS_FILE,
      code: APP_TAR_FILE,
      gramineApp: SGX_APP_NAME,
    },
    mrenclave: hex(m.mrenclave),
    mrsigner: hex(pre.signer.mrSigner),
    template: m.enclave.version,
    enclaveSize: m.final.attributes.enclaveSize,
    maxThreads: m.final.attributes.maxThreads,
    trustedFiles: m.stats.trustedFiles,
    sigstructDate: sgx.date,
    written,
  };
}

/**
 * Step 1 of {@link spawnDeployment}: the deployment's private state, a directory of its own (0700, a fresh
 * random name: never one that exists, so nothing of another spawn is reused or removed; removed when the
 * scope fails), holding the enclave's inputs (0600: they hold the measured code and the UUID). Returns it.
 */
async function createStateDir(
  input: SpawnInput,
  plan: SpawnPlan,
  pre: Preflight,
  scope: CleanupScope,
): Promise<string> {
  const stateDir = await createDeploymentStateDir(plan.name, input.env);
  scope.onFailure(() => removeStateDir(stateDir));
  const enclaveDir = path.join(stateDir, STATE_ENCLAVE_DIR);
  const dirs =
    input.platform === 'sim'
      ? [enclaveDir, path.join(stateDir, STATE_SIM_DIR)]
      : [enclaveDir, ...SEALED_MOUNTS.map((m) => path.join(stateDir, STATE_SEALED_DIR, m.dir))];
  for (const dir of dirs) {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700); // whatever the umask
  }
  if (input.platform === 'sgx') await fs.chmod(path.join(stateDir, STATE_SEALED_DIR), 0o700);
  // the code exactly as read and measured: the enclave gets these bytes, not the package file
  const put = (file: string, data: Uint8Array): Promise<void> =>
    writeFileAtomic(path.join(enclaveDir, path.posix.basename(file)), data, { mode: 0o600 });
  await put(APP_TAR_FILE, pre.pkg.appTar);
  await put(ARGS_FILE, pre.sgx ? pre.sgx.measurement.enclave.argsFile : enclaveArgvFile(pre.args));
  if (pre.sgx) {
    await put(SGX_MANIFEST_FILE, pre.sgx.measurement.final.bytes);
    await put(SGX_SIGSTRUCT_FILE, pre.sgx.sigstruct);
  }
  return stateDir;
}

/**
 * One spawn in progress: what every step of {@link spawnDeployment} reads, and the scope it registers its
 * undo actions in.
 */
interface SpawnRun {
  input: SpawnInput;
  plan: SpawnPlan;
  pre: Preflight;
  scope: CleanupScope;
  /** Aborted on SIGINT/SIGTERM, with the `InterruptedError`. */
  abort: AbortController;
  /** Set at the commit point (the output files are being written): an interrupt then lets spawn finish. */
  committing: boolean;
}

/**
 * The run of a spawn. SIGINT/SIGTERM: the current step finishes (an image load is not cut off half-way: the
 * engine would tag it after we left), then every effect is undone and spawn ends with ERR_INTERRUPTED.
 */
function startSpawnRun(input: SpawnInput, plan: SpawnPlan, pre: Preflight, scope: CleanupScope): SpawnRun {
  const run: SpawnRun = { input, plan, pre, scope, abort: new AbortController(), committing: false };
  void scope.interrupted.then((signal) => {
    input.log.warn(
      run.committing
        ? `${signal}: the deployment is complete, finishing`
        : `${signal}: stopping, then removing what spawn created`,
    );
    run.abort.abort(new InterruptedError(signal));
  });
  return run;
}

/** Between steps: stop here if an interrupt arrived. */
const checkpoint = (run: SpawnRun): void => throwIfInterrupted(run.abort.signal);

/**
 * Step 0 of {@link spawnDeployment}: the output directory, created now (undone on failure) and proven
 * writable, so that nothing fails there after the enclave was started.
 */
async function prepareOutputDir(run: SpawnRun): Promise<void> {
  const { plan, pre, scope } = run;
  await createOutputDirectories(pre.missingOutputDirs, '--output', 0o700, (dir) =>
    scope.onFailure(() => fs.rmdir(dir)),
  );
  await fs
    .mkdtemp(path.join(plan.outputDir, '.mse-spawn-'))
    .then((probeDir) => fs.rmdir(probeDir))
    .catch((cause: unknown) => {
      throw outputError(cause, plan.outputDir, '--output');
    });
}

/**
 * Step 2 of {@link spawnDeployment}: the image, loaded from the package in place; the tags this load adds
 * are undone on failure. Returns them.
 */
async function loadPackageImage(run: SpawnRun): Promise<string[]> {
  const { engine, log } = run.input;
  const { pkg } = run.pre;
  const phase = log.phase('loading the image');
  const tagsBefore = new Set<string>();
  for (const tag of pkg.image.repoTags) if (await engine.inspectImage(tag)) tagsBefore.add(tag);
  const loadedTags = pkg.image.repoTags.filter((t) => !tagsBefore.has(t));
  run.scope.onFailure(async () => {
    for (const tag of loadedTags) await engine.removeImage(tag).catch(() => undefined);
  });
  await engine.loadImage(run.plan.packageFile, undefined, pkg.members['image.tar']);
  if (!(await engine.inspectImage(pkg.imageConfigDigest))) {
    throw new StateError(
      'ERR_IMAGE_MISMATCH',
      `the engine has no image ${pkg.imageConfigDigest} after loading the package's image.tar`,
    );
  }
  phase();
  return loadedTags;
}

type QuotingService = Awaited<ReturnType<typeof startQuotingService>>;

/**
 * Step 3 of {@link spawnDeployment}: the enclave's MRENCLAVE. sim: the quoting service signs quotes for
 * this MRENCLAVE only (started now, closed whenever the scope ends); sgx: the CPU measures the enclave.
 */
async function enclaveIdentity(
  run: SpawnRun,
  stateDir: string,
): Promise<{ mrEnclave: Uint8Array; quoting?: QuotingService }> {
  const { input, pre, scope } = run;
  if (!pre.sim) return { mrEnclave: sgxEnclaveOf(pre).measurement.mrenclave };
  input.log.warn('platform sim: a SIMULATED enclave (no SGX hardware, no confidentiality against this machine)');
  const mrEnclave = simMrenclaveOf(pre.pkg, pre.args);
  const quoting = await startQuotingService({
    socketPath: path.join(stateDir, STATE_SIM_DIR, 'quote.sock'),
    platform: pre.sim,
    mrEnclave,
    mrSigner: pre.signer.mrSigner,
    isvProdId: ENCLAVE_ISV_PROD_ID,
    isvSvn: ENCLAVE_ISV_SVN,
    onQuote: () => input.log.info('quoting service: signed the enclave quote'),
  });
  scope.always(() => quoting.close());
  return { mrEnclave, quoting };
}

/**
 * Step 4 of {@link spawnDeployment}: the container (removed on failure), started, until its configuration
 * server presents its RA-TLS certificate (returned, PEM); then the quoting service is closed.
 */
async function startEnclave(
  run: SpawnRun,
  stateDir: string,
  loadedTags: string[],
  quoting: QuotingService | undefined,
): Promise<{ deployment: Deployment; ratlsPem: string }> {
  const { input, plan, pre, scope } = run;
  const { engine, log } = input;
  let phase = log.phase('starting the enclave');
  const spec = containerSpec(input, plan, pre, stateDir, loadedTags);
  const id = await engine.createContainer(spec);
  scope.onFailure(() => engine.removeContainer(id, { force: true }));
  checkpoint(run);
  await engine.startContainer(id);
  const deployment: Deployment = { ...(await findDeploymentById(engine, id)), args: pre.args };
  phase();

  phase = log.phase('waiting for the configuration server');
  const ratlsPem = await waitForConfigurationServer(engine, deployment, input.timeoutMs, run.abort.signal);
  phase();
  await quoting?.close();
  return { deployment, ratlsPem };
}

/**
 * Where the evidence's collateral comes from. sgx: the PCCS the preflight settled; sim: --pccs-url, or
 * else the simulated PCCS, started now (closed whenever the scope ends).
 */
async function evidencePccs(run: SpawnRun): Promise<Pick<PccsTarget, 'url' | 'secureCert'>> {
  const { input, pre } = run;
  if (pre.sgx) {
    if (!pre.sgx.pccs) throw new InputError('ERR_INTERNAL_PLAN', 'an sgx spawn without the PCCS of its evidence');
    return pre.sgx.pccs;
  }
  if (!pre.sim) throw new InputError('ERR_INTERNAL_PLAN', 'a spawn with neither an sgx enclave nor a sim platform');
  if (input.pccsUrl) return { url: input.pccsUrl, secureCert: true };
  const simPccs = await startSimPccs(pre.sim);
  run.scope.always(() => simPccs.close());
  return { url: input.pccsUrl ?? simPccs.url, secureCert: true };
}

/**
 * Step 5 of {@link spawnDeployment}: the evidence of the enclave just started, which must present the
 * certificate it presented when it came up.
 */
async function collectSpawnEvidence(run: SpawnRun, deployment: Deployment, ratlsPem: string): Promise<Evidence> {
  const { input, pre } = run;
  const pccs = await evidencePccs(run);
  const { evidence } = await collectEvidence({
    endpoint: endpointOf(deployment),
    args: pre.args,
    platform: input.platform,
    pccsUrl: pccs.url,
    pccsSecureCert: pccs.secureCert,
    signerPublicKeyPem: pre.signer.publicKeyPem,
    ...(pre.sgx
      ? { gramine: { manifest: pre.sgx.measurement.final.text, argv: pre.sgx.measurement.enclave.argv } }
      : {}),
  });
  if (evidence.ratlsCertificate !== ratlsPem) {
    throw new StateError(
      'ERR_CERTIFICATE_CHANGED',
      'the enclave presented a different certificate while the evidence was collected',
    );
  }
  return evidence;
}

/**
 * The last step of {@link spawnDeployment}, after its commit point: the output files, both or neither; a
 * failure leaves the output as it was (files spawn did not write are never removed).
 */
async function writeSpawnOutputs(
  run: SpawnRun,
  evidence: Evidence,
  ratlsPem: string,
): Promise<{ evidenceFile: string; ratlsFile: string }> {
  const evidenceFile = path.join(run.plan.outputDir, EVIDENCE_FILE);
  const ratlsFile = path.join(run.plan.outputDir, RATLS_FILE);
  await writeFilesAtomic(
    [
      { file: ratlsFile, data: ratlsPem },
      // evidence.json carries the deployment UUID: readable by the operator only (they send it to the provider)
      { file: evidenceFile, data: serializeEvidence(evidence) + '\n', mode: 0o600 },
    ],
    run.scope,
  );
  return { evidenceFile, ratlsFile };
}

/**
 * Spawn a deployment from the preflight: its steps in order, each registering its undo action; every
 * effect is undone on a failure or an interrupt before the commit point (the output files are written).
 */
export async function spawnDeployment(input: SpawnInput): Promise<SpawnResult> {
  const plan = planSpawn(input);
  const pre = await preflight(input, plan);
  return withCleanup(
    async (scope) => {
      const run = startSpawnRun(input, plan, pre, scope);
      await prepareOutputDir(run);
      // 1. the deployment's private state (its own directory, undone on failure)
      const stateDir = await createStateDir(input, plan, pre, scope);
      checkpoint(run);
      const loadedTags = await loadPackageImage(run);
      checkpoint(run);
      const { mrEnclave, quoting } = await enclaveIdentity(run, stateDir);
      const { deployment, ratlsPem } = await startEnclave(run, stateDir, loadedTags, quoting);
      checkpoint(run);
      // 5. the evidence, then the output files (the last step: nothing is written there before)
      const phase = input.log.phase('collecting the evidence');
      const evidence = await collectSpawnEvidence(run, deployment, ratlsPem);
      checkpoint(run);
      run.committing = true;
      const { evidenceFile, ratlsFile } = await writeSpawnOutputs(run, evidence, ratlsPem);
      phase();
      return { deployment, evidenceFile, ratlsFile, mrenclave: hex(mrEnclave), mrsigner: hex(pre.signer.mrSigner) };
    },
    { exitOnSignal: false },
  );
}

/** The summary of the container just created (by ID: the name could be reused meanwhile). */
async function findDeploymentById(engine: DockerEngine, id: string): Promise<DeploymentSummary> {
  const info = await engine.inspectContainer(id);
  if (!info) throw new StateError('ERR_DEPLOYMENT_NOT_FOUND', `the container ${id.slice(0, 12)} vanished`);
  return deploymentFromInspect(info);
}

/** Refuse image.tar tags other than `<app repository>:<digits>` (see spawnDeployment). */
export function checkImageTags(repoTags: string[], appName: string): void {
  const expected = new RegExp(`^${imageRepository(appName).replace(/[.]/g, '\\.')}:[0-9]{1,20}$`);
  const bad = repoTags.filter((t) => !expected.test(t));
  if (bad.length > 0) {
    throw new InputError(
      'ERR_PACKAGE_IMAGE_TAGS',
      `the package's image.tar would tag ${bad.join(', ')} on this engine`,
      {
        hint: `A package's image may only be tagged ${imageRepository(appName)}:<timestamp>; this package was not made by 'mse home package'.`,
      },
    );
  }
}

/**
 * Wait until the enclave's configuration server answers; return its certificate. The certificate is
 * read unverified, checked for self-consistency, then pinned for the status probe.
 */
async function waitForConfigurationServer(
  engine: DockerEngine,
  d: Deployment,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    await assertRunning(engine, d);
    try {
      const der = await fetchPresentedCertificate(endpointOf(d), 3_000);
      const pem = readRatlsCertificate(der).pem;
      const answer = await probe(endpointOf(d), pem, '/', 3_000);
      if (answer.kind === 'answer' && answer.status === 200 && answer.waiting) return pem;
      last = answer.kind === 'answer' ? `HTTP ${answer.status}` : answer.reason;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new NetworkError(
        'ERR_TIMEOUT',
        `${d.name}: no configuration server after ${Math.round(timeoutMs / 1000)} s (${last})`,
        {
          hint: `See 'mse home logs ${d.name}'.`,
        },
      );
    }
    await sleep(150, signal);
  }
}
