/**
 * `spawn`: from a package to an enclave waiting for its secrets, and the evidence to prove it. Three steps:
 *
 * 1. **plan** ({@link planSpawn}, pure): every argument checked (name, platform, size, SAN, subject with the
 *    enclave's own parser, host address, port, days, output path) before anything is read or created;
 * 2. **preflight** (reads only): the engine answers, the name, the port and the output are free, the
 *    package is read and checked (without copying it), the signer key loads;
 * 3. **apply**, with an undo for every effect, run on failure and on SIGINT/SIGTERM (then `spawn` exits
 *    130/143 with nothing left behind): the deployment's private state directory (`app.tar` exactly as
 *    measured, the argv file, the quoting socket), the image loaded from the package in place, the
 *    quoting service for this MRENCLAVE only, the container, the wait for its configuration server, and
 *    last `evidence.json` (0600) and `ratls.pem` in the output directory.
 *
 * The deployment UUID lives only in the argv file (mode 0600 in a 0700 directory), in the enclave and in
 * `evidence.json` (0600): never on a command line, in a log line or in a world-readable file.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { serializeEvidence } from '../attestation/evidence.js';
import { withCleanup } from '../docker/cleanup.js';
import type { DockerEngine } from '../docker/engine.js';
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
import { readPackage, type PackageContents } from '../package/read.js';
import { APP_NAME_PATTERN } from '../project/config.js';
import { readRatlsCertificate } from '../ratls/read.js';
import { loadOrCreateSignerKey, type SignerKey } from '../launch/signer.js';
import { loadOrCreateSimPlatform, startQuotingService, startSimPccs } from '../sim/index.js';
import type { SimPlatform } from '../sim/platform.js';
import { simMrenclaveOf } from '../sim/package-measurement.js';
import {
  checkEnclaveSize,
  checkHostAddress,
  checkInputArgs,
  checkSan,
  checkSubject,
  enclaveArgvFile,
  type InputArgs,
} from '../launch/args.js';
import {
  deploymentFromInspect,
  planEnclaveContainer,
  type ContainerInspect,
  type Deployment,
  type DeploymentSummary,
} from './container.js';
import type { Platform } from '../launch/layout.js';
import {
  createDeploymentStateDir,
  endpointOf,
  removeStateDir,
  EVIDENCE_FILE,
  listDeployments,
  RATLS_FILE,
} from './deployments.js';
import { collectEvidence } from './evidence.js';
import { fetchPresentedCertificate, probe } from './enclave-client.js';
import { assertRunning, sleep, throwIfInterrupted } from './wait.js';

/** ISV product id and SVN of mse-home enclaves (as MSE's Gramine manifest). */
export const ENCLAVE_ISV_PROD_ID = 1;
export const ENCLAVE_ISV_SVN = 10;
/** Inside a deployment's state directory: the input mounted at /opt/input, the quoting socket's directory. */
export const STATE_INPUT_DIR = 'input';
export const STATE_SIM_DIR = 'sim';

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
  /** PCCS for the evidence; sim default: the simulated PCCS, started for the occasion. */
  pccsUrl?: string;
  timeoutMs: number;
  now?: Date;
}

export interface SpawnResult {
  deployment: Deployment;
  evidenceFile: string;
  ratlsFile: string;
  mrenclave: string;
}

/** The platform to use: `sgx` where the SGX device exists, else `sim`; an explicit choice wins. */
export function defaultPlatform(): Platform {
  return existsSync('/dev/sgx_enclave') ? 'sgx' : 'sim';
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
  if (input.platform === 'sgx') {
    throw new StateError(
      'ERR_SGX_UNAVAILABLE',
      'the sgx platform needs SGX hardware and the Gramine base image, which this build does not provide yet',
      {
        hint: 'Use --platform sim on machines without SGX (see docs/simulation.md).',
      },
    );
  }
  checkEnclaveSize(input.size);
  checkSan(input.san);
  checkSubject(input.subject);
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

/** What {@link preflight} read: everything `apply` needs, with nothing created yet (but the signer key). */
interface Preflight {
  pkg: PackageContents & { appTar: Buffer };
  signer: SignerKey & { created: boolean };
  platform: SimPlatform;
  /** The directories to create for the output, outermost first (none when it exists). */
  missingOutputDirs: string[];
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

  const phase = log.phase('reading the package');
  // app.tar is held to the enclave's own limit (readPackage's default): refused here, not in the container
  const pkg = await readPackage(plan.packageFile, undefined, { keepAppTar: true });
  phase(`${pkg.config.name}, ${pkg.appFiles.length} code files, image ${pkg.imageConfigDigest.slice(0, 19)}`);
  // `docker load` applies every tag image.tar names: a hostile package could retag another image on this
  // engine (e.g. the base image). Accept only the tag our packager (and MSE's) writes: <app>:<time_ns>.
  checkImageTags(pkg.image.repoTags, pkg.config.name);

  const signer = await loadOrCreateSignerKey(plan.signerKeyPath);
  if (signer.created) log.info(`created the enclave signer key ${plan.signerKeyPath} (RSA-3072, e=3)`);
  const platform = await loadOrCreateSimPlatform({ env: input.env });
  return { pkg: pkg as Preflight['pkg'], signer, platform, missingOutputDirs };
}

export async function spawnDeployment(input: SpawnInput): Promise<SpawnResult> {
  const plan = planSpawn(input);
  const pre = await preflight(input, plan);
  return withCleanup(
    async (scope) => {
      const { engine, log } = input;
      // SIGINT/SIGTERM: the current step finishes (an image load is not cut off half-way: the engine
      // would tag it after we left), then every effect is undone and spawn ends with ERR_INTERRUPTED.
      const abort = new AbortController();
      let committing = false;
      void scope.interrupted.then((signal) => {
        log.warn(
          committing
            ? `${signal}: the deployment is complete, finishing`
            : `${signal}: stopping, then removing what spawn created`,
        );
        abort.abort(new InterruptedError(signal));
      });
      const checkpoint = (): void => throwIfInterrupted(abort.signal);
      const { pkg, signer, platform } = pre;

      // 0. the output directory, created now (undone on failure) and proven writable, so that nothing
      //    fails there after the enclave was started
      await createOutputDirectories(pre.missingOutputDirs, '--output', 0o700, (dir) =>
        scope.onFailure(() => fs.rmdir(dir)),
      );
      await fs
        .mkdtemp(path.join(plan.outputDir, '.mse-spawn-'))
        .then((probeDir) => fs.rmdir(probeDir))
        .catch((cause: unknown) => {
          throw outputError(cause, plan.outputDir, '--output');
        });

      // 1. the deployment's private state: a directory of its own (0700, a fresh random name: never one
      //    that exists, so nothing of another spawn is reused or removed), files 0600 (the code, the UUID)
      const stateDir = await createDeploymentStateDir(plan.name, input.env);
      scope.onFailure(() => removeStateDir(stateDir));
      const inputDir = path.join(stateDir, STATE_INPUT_DIR);
      const simDir = path.join(stateDir, STATE_SIM_DIR);
      for (const dir of [stateDir, inputDir, simDir]) {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        await fs.chmod(dir, 0o700); // whatever the umask
      }
      const now = input.now ?? new Date();
      const args: InputArgs = checkInputArgs({
        size: input.size,
        subject: input.subject,
        san: input.san,
        appId: randomUUID(),
        application: pkg.config.pythonApplication,
        expiration: Math.floor(now.getTime() / 1000) + input.days * 86_400,
      });
      // the code exactly as read and measured below: the enclave gets these bytes, not the package file
      await writeFileAtomic(path.join(inputDir, 'app.tar'), pkg.appTar, { mode: 0o600 });
      await writeFileAtomic(path.join(inputDir, 'argv'), enclaveArgvFile(args), { mode: 0o600 });
      checkpoint();

      // 2. the image, loaded from the package in place; the tags this load adds are undone on failure
      let phase = log.phase('loading the image');
      const tagsBefore = new Set<string>();
      for (const tag of pkg.image.repoTags) if (await engine.inspectImage(tag)) tagsBefore.add(tag);
      const loadedTags = pkg.image.repoTags.filter((t) => !tagsBefore.has(t));
      scope.onFailure(async () => {
        for (const tag of loadedTags) await engine.removeImage(tag).catch(() => undefined);
      });
      await engine.loadImage(plan.packageFile, undefined, pkg.members['image.tar']);
      if (!(await engine.inspectImage(pkg.imageConfigDigest))) {
        throw new StateError(
          'ERR_IMAGE_MISMATCH',
          `the engine has no image ${pkg.imageConfigDigest} after loading the package's image.tar`,
        );
      }
      phase();
      checkpoint();

      // 3. the quoting service signs quotes for this MRENCLAVE only
      log.warn('platform sim: a SIMULATED enclave (no SGX hardware, no confidentiality against this machine)');
      const mrEnclave = simMrenclaveOf(pkg, args);
      const quoting = await startQuotingService({
        socketPath: path.join(simDir, 'quote.sock'),
        platform,
        mrEnclave,
        mrSigner: signer.mrSigner,
        isvProdId: ENCLAVE_ISV_PROD_ID,
        isvSvn: ENCLAVE_ISV_SVN,
        onQuote: () => log.info('quoting service: signed the enclave quote'),
      });
      scope.always(() => quoting.close());

      // 4. the container
      phase = log.phase('starting the enclave');
      const spec = planEnclaveContainer({
        name: plan.name,
        image: pkg.imageConfigDigest,
        healthcheckEndpoint: pkg.config.healthcheckEndpoint,
        platform: input.platform,
        inputDir,
        outputDir: plan.outputDir,
        host: input.host,
        port: input.port,
        signerKeyPath: plan.signerKeyPath,
        mrSigner: Buffer.from(signer.mrSigner).toString('hex'),
        simSocketDir: simDir,
        loadedTags,
      });
      const id = await engine.createContainer(spec);
      scope.onFailure(() => engine.removeContainer(id, { force: true }));
      checkpoint();
      await engine.startContainer(id);
      const deployment: Deployment = { ...(await findDeploymentById(engine, id)), args };
      phase();

      phase = log.phase('waiting for the configuration server');
      const ratlsPem = await waitForConfigurationServer(engine, deployment, input.timeoutMs, abort.signal);
      phase();
      await quoting.close();
      checkpoint();

      // 5. the evidence, then the output files (the last step: nothing is written there before)
      phase = log.phase('collecting the evidence');
      const pccs = input.pccsUrl ? undefined : await startSimPccs(platform);
      scope.always(async () => pccs?.close());
      const { evidence } = await collectEvidence({
        endpoint: endpointOf(deployment),
        args,
        platform: input.platform,
        pccsUrl: input.pccsUrl ?? pccs!.url,
        signerPublicKeyPem: signer.publicKeyPem,
      });
      if (evidence.ratlsCertificate !== ratlsPem) {
        throw new StateError(
          'ERR_CERTIFICATE_CHANGED',
          'the enclave presented a different certificate while the evidence was collected',
        );
      }
      checkpoint();
      committing = true;
      const evidenceFile = path.join(plan.outputDir, EVIDENCE_FILE);
      const ratlsFile = path.join(plan.outputDir, RATLS_FILE);
      // Both or neither; a failure leaves the output as it was (files spawn did not write are never removed).
      await writeFilesAtomic(
        [
          { file: ratlsFile, data: ratlsPem },
          // evidence.json carries the deployment UUID: readable by the operator only (they send it to the provider)
          { file: evidenceFile, data: serializeEvidence(evidence) + '\n', mode: 0o600 },
        ],
        scope,
      );
      phase();
      return { deployment, evidenceFile, ratlsFile, mrenclave: Buffer.from(mrEnclave).toString('hex') };
    },
    { exitOnSignal: false },
  );
}

/** The summary of the container just created (by ID: the name could be reused meanwhile). */
async function findDeploymentById(engine: DockerEngine, id: string): Promise<DeploymentSummary> {
  const info = await engine.inspectContainer(id);
  if (!info) throw new StateError('ERR_DEPLOYMENT_NOT_FOUND', `the container ${id.slice(0, 12)} vanished`);
  return deploymentFromInspect(info as unknown as ContainerInspect);
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
