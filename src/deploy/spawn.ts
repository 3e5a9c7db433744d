/**
 * `spawn`: from a package to an enclave waiting for its secrets, and the evidence to prove it.
 *
 * 1. check the name, the port and the package (extracted into `<output>/enclave-input/`);
 * 2. load the image, check it is the one the package names (image ID = config digest);
 * 3. fix the enclave's arguments (app id, expiry) and, on the simulated platform, its MRENCLAVE, computed
 *    from the package and the arguments exactly as `verify` recomputes it, and start the quoting service
 *    that signs quotes for that MRENCLAVE only;
 * 4. start the container and wait for the configuration server;
 * 5. collect `evidence.json` and `ratls.pem` into `<output>`.
 * A failure after the container exists removes it again: nothing half-spawned stays behind.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../cli/log.js';
import { serializeEvidence } from '../attestation/evidence.js';
import type { DockerEngine } from '../docker/engine.js';
import { checkPortFree } from '../docker/localtest.js';
import { InputError, NetworkError, StateError, UsageError } from '../errors.js';
import { imageRepository } from '../docker/app-image.js';
import { writeFileAtomic } from '../fs/files.js';
import { readPackage } from '../package/read.js';
import { APP_NAME_PATTERN } from '../project/config.js';
import { readRatlsCertificate } from '../ratls/read.js';
import { loadOrCreateSignerKey, loadOrCreateSimPlatform, startQuotingService, startSimPccs } from '../sim/index.js';
import { simMrenclaveOf } from '../sim/package-measurement.js';
import { checkInputArgs, type InputArgs } from './args.js';
import { planEnclaveContainer, type Deployment, type Platform } from './container.js';
import { deploymentStateDir, EVIDENCE_FILE, findDeployment, RATLS_FILE, endpointOf } from './deployments.js';
import { collectEvidence } from './evidence.js';
import { fetchPresentedCertificate, probe } from './enclave-client.js';
import { assertRunning } from './wait.js';

/** Where `spawn` extracts the package inside `--output` (mounted at /opt/input). */
export const ENCLAVE_INPUT_DIR = 'enclave-input';
/** ISV product id and SVN of mse-home enclaves (as MSE's Gramine manifest). */
export const ENCLAVE_ISV_PROD_ID = 1;
export const ENCLAVE_ISV_SVN = 10;

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

export async function spawnDeployment(input: SpawnInput): Promise<SpawnResult> {
  const { engine, log } = input;
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
  await engine.ping();
  if (await engine.inspectContainer(input.name)) {
    throw new StateError('ERR_NAME_IN_USE', `a container named '${input.name}' already exists`, {
      hint: `Stop and remove it first: 'mse home stop --remove ${input.name}'.`,
    });
  }
  // (spawn has no "free port" default: --port defaults to 443)
  await checkPortFree(
    input.port,
    "Choose another --port; 'mse home list' shows the ports deployments use.",
    input.host,
  );
  const outputDir = path.resolve(input.outputDir);
  await fs.mkdir(outputDir, { recursive: true, mode: 0o700 });
  const inputDir = path.join(outputDir, ENCLAVE_INPUT_DIR);
  if (existsSync(inputDir)) {
    throw new StateError('ERR_OUTPUT_IN_USE', `${inputDir} already exists: ${outputDir} holds another deployment`, {
      hint: 'Use a fresh --output directory for each deployment.',
    });
  }

  const cleanups: (() => Promise<unknown>)[] = [() => fs.rm(inputDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    let phase = log.phase('reading the package');
    const pkg = await readPackage(input.packageFile, inputDir);
    phase(`${pkg.config.name}, ${pkg.appFiles.length} code files, image ${pkg.imageConfigDigest.slice(0, 19)}`);

    // `docker load` applies every tag image.tar names: a hostile package could retag another image on this
    // engine (e.g. the base image). Accept only the tag our packager (and MSE's) writes: <app>:<time_ns>.
    checkImageTags(pkg.image.repoTags, pkg.config.name);
    phase = log.phase('loading the image');
    await engine.loadImage(path.join(inputDir, 'image.tar'));
    const image = await engine.inspectImage(pkg.imageConfigDigest);
    if (!image) {
      throw new StateError(
        'ERR_IMAGE_MISMATCH',
        `the engine has no image ${pkg.imageConfigDigest} after loading the package's image.tar`,
      );
    }
    phase();

    const now = input.now ?? new Date();
    const args: InputArgs = checkInputArgs({
      size: input.size,
      subject: input.subject,
      san: input.san,
      appId: randomUUID(),
      application: pkg.config.pythonApplication,
      expiration: Math.floor(now.getTime() / 1000) + input.days * 86_400,
    });
    const signer = await loadOrCreateSignerKey(input.signerKeyPath);
    if (signer.created) log.info(`created the enclave signer key ${input.signerKeyPath} (RSA-3072, e=3)`);

    log.warn('platform sim: a SIMULATED enclave (no SGX hardware, no confidentiality against this machine)');
    const platform = await loadOrCreateSimPlatform({ env: input.env });
    const mrEnclave = simMrenclaveOf(pkg, args);
    const socketDir = deploymentStateDir(input.name, input.env);
    await fs.rm(socketDir, { recursive: true, force: true });
    await fs.mkdir(socketDir, { recursive: true, mode: 0o700 });
    cleanups.push(() => fs.rm(socketDir, { recursive: true, force: true }));
    const quoting = await startQuotingService({
      socketPath: path.join(socketDir, 'quote.sock'),
      platform,
      mrEnclave,
      mrSigner: signer.mrSigner,
      isvProdId: ENCLAVE_ISV_PROD_ID,
      isvSvn: ENCLAVE_ISV_SVN,
      onQuote: () => log.info('quoting service: signed the enclave quote'),
    });
    cleanups.push(() => quoting.close());

    phase = log.phase('starting the enclave');
    const spec = planEnclaveContainer({
      name: input.name,
      image: pkg.imageConfigDigest,
      args,
      healthcheckEndpoint: pkg.config.healthcheckEndpoint,
      platform: input.platform,
      inputDir,
      outputDir,
      host: input.host,
      port: input.port,
      signerKeyPath: path.resolve(input.signerKeyPath),
      mrSigner: Buffer.from(signer.mrSigner).toString('hex'),
      simSocketDir: socketDir,
    });
    const id = await engine.runContainer(spec);
    cleanups.push(() => engine.removeContainer(id, { force: true }));
    const deployment = await findDeployment(engine, input.name);
    phase();

    phase = log.phase('waiting for the configuration server');
    const ratlsPem = await waitForConfigurationServer(engine, deployment, input.timeoutMs);
    phase();
    await quoting.close();

    phase = log.phase('collecting the evidence');
    const pccs = input.pccsUrl ? undefined : await startSimPccs(platform);
    try {
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
      const evidenceFile = path.join(outputDir, EVIDENCE_FILE);
      const ratlsFile = path.join(outputDir, RATLS_FILE);
      await writeFileAtomic(ratlsFile, ratlsPem);
      await writeFileAtomic(evidenceFile, serializeEvidence(evidence) + '\n');
      phase();
      return { deployment, evidenceFile, ratlsFile, mrenclave: Buffer.from(mrEnclave).toString('hex') };
    } finally {
      await pccs?.close();
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
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
async function waitForConfigurationServer(engine: DockerEngine, d: Deployment, timeoutMs: number): Promise<string> {
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
    await new Promise((r) => setTimeout(r, 150));
  }
}
