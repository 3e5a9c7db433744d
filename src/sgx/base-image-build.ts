/**
 * Building the sgx platform's base image `mse-home-sgx-base:<VERSION>`: the sim base image `mse-home-base:<VERSION>`
 * (its Debian rootfs, package list, launchers and enclave bootstrap: one source for both platforms) plus
 * Gramine, the counterpart of MSE's Gramine base image (docs/sgx.md, "The SGX base image").
 *
 * {@link ensureSgxBaseImage}:
 * 1. decides where Gramine comes from (src/sgx/gramine-source.ts) and verifies it: signed repository
 *    metadata and digests for packages (the repository is probed first, under a short deadline, so an
 *    unreachable one fails before anything is built), the image's identity for an operator's image;
 * 2. makes sure the sim base image is current (src/docker/base-image.ts);
 * 3. stage: installs the verified `.deb` into it (base-image/sgx/Dockerfile.gramine), or takes the
 *    operator's image after checking it is built FROM that base image (its layers start with the base's);
 * 4. checks the stage by reading files out of it (nothing of it is run): Gramine's files at its packages'
 *    paths, its version (pinned 1.9), its library directory, and the SHA-256 of the SGX PAL;
 * 5. adds mse-home's sgx layer (base-image/sgx/Dockerfile: launcher, manifest-template marker) and labels
 *    that record Gramine's version, source and libpal's SHA-256.
 * A failure removes what this call created (images, inspection container, temporary directory).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { sha256, toHex } from '../attestation/bytes.js';
import type { Logger } from '../base/log.js';
import type { CleanupScope } from '../docker/cleanup.js';
import { entriesContext } from '../docker/context.js';
import {
  BASE_IMAGE,
  currentBaseImage,
  defaultRepoRoot,
  ensureBaseImage,
  LABEL_VERSION,
  type BaseImageOptions,
} from '../docker/base-image.js';
import type { DockerEngine } from '../docker/engine.js';
import { DockerError, InputError, MseError } from '../errors.js';
import { bufferSource, indexTar, type TarEntryType } from '../package/tar-read.js';
import type { TarEntrySource } from '../package/tar-write.js';
import { VERSION } from '../version.js';
import { parseDeb822 } from './apt-metadata.js';
import { SGX_BASE_IMAGE, SGX_LABELS } from './base-image.js';
import {
  DPKG_STATUS,
  GRAMINE_LIBOS,
  GRAMINE_LIBPAL,
  GRAMINE_PKGLIBDIR,
  GRAMINE_RUNTIME_LD,
  GRAMINE_SGX,
  GRAMINE_SGX_LOADER,
  GRAMINE_VERSION,
  GRAMINELIBOS_INIT_CANDIDATES,
  MSE_BOOTSTRAP,
  MSE_RUN_SGX,
  SGX_ENCLAVE_DIR,
  SGX_MANIFEST_TEMPLATE_VERSION,
  SGX_SEALED_DIR,
  SGX_TEMPLATE_MARKER,
} from './gramine-paths.js';
import {
  acquireGramineDebs,
  gramineSourcePlan,
  type AcquireOptions,
  type GraminePlan,
  type GramineSourceOptions,
  type VerifiedGramineDebs,
} from './gramine-source.js';

/** Label of the short-lived containers used to read files out of an image. */
export const SGX_INSPECT_LABEL = 'org.mse-home.sgx.inspect';

export interface SgxBaseImageOptions extends GramineSourceOptions {
  /** Rebuild even when an up-to-date image exists. */
  force?: boolean;
  /** Options of the sim base image this builds on (snapshot, mirror, `force: 'rootfs'`). */
  base?: BaseImageOptions;
  /** Tag to build (default {@link SGX_BASE_IMAGE}; tests build under their own names). */
  ref?: string;
  /** Repository root holding `base-image/sgx/` (default: this installation). */
  repoRoot?: string;
  /** Undo actions are registered here too, so that Ctrl-C cleans up (the CLI passes its scope). */
  scope?: CleanupScope;
  /** Passed to the package source (deadlines, time of the metadata check, gpgv). */
  acquire?: Omit<AcquireOptions, 'workDir' | 'log'>;
}

/** Where Gramine came from, as recorded in the image's `org.mse-home.sgx.gramine.source` label. */
export type GramineSourceLabel =
  | {
      kind: 'repository' | 'debs';
      location: string;
      suite: string;
      signedBy: string;
      release: { sha256: string; date?: string };
      debs: { name: string; package: string; version: string; sha256: string }[];
    }
  | { kind: 'image'; image: string; imageId: string };

/** What was found in the image's Gramine installation. */
export interface GramineInstall {
  version: string;
  pkglibdir: string;
  libpalSha256: string;
  /** Where `graminelibos/__init__.py` was found. */
  graminelibos: string;
  /** Version of the `gramine` package dpkg has installed, when there is one. */
  dpkgVersion?: string;
}

export interface SgxBaseImageStatus {
  ref: string;
  id: string;
  built: boolean;
  size: number;
  inputsHash: string;
  base: { ref: string; id: string };
  gramine: { version: string; libpalSha256: string; source: GramineSourceLabel };
}

/** A file read out of an image: its tar entry type, and content for regular files. */
export interface ImageFile {
  type: TarEntryType;
  data?: Buffer;
  linkname?: string;
}

function sha256Hex(data: Uint8Array | string): string {
  return toHex(sha256(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
}

// ----- pure checks --------------------------------------------------------------------------------------

function incompleteError(what: string, file: string, role: string): InputError {
  return new InputError('ERR_SGX_GRAMINE_INCOMPLETE', `${what} has no ${role} at ${file}`, {
    hint: `Gramine ${GRAMINE_VERSION} must be installed at its Debian/Ubuntu packages' paths (${GRAMINE_PKGLIBDIR}); see docs/sgx.md#the-sgx-base-image.`,
  });
}

/** The paths {@link checkGramineInstall} needs read out of the image. */
export const GRAMINE_CHECK_PATHS = [
  GRAMINE_LIBPAL,
  GRAMINE_SGX_LOADER,
  GRAMINE_LIBOS,
  GRAMINE_RUNTIME_LD,
  GRAMINE_SGX,
  ...GRAMINELIBOS_INIT_CANDIDATES,
  DPKG_STATUS,
  MSE_BOOTSTRAP,
] as const;
/** Paths that `spawn --platform sgx` creates and that must not be in the image. */
export const SGX_SPAWN_PATHS = [SGX_ENCLAVE_DIR, SGX_SEALED_DIR] as const;

/**
 * Check a Gramine installation from files read out of an image (`undefined` = absent). Pure. Throws
 * `ERR_SGX_GRAMINE_INCOMPLETE` naming the first missing file, `ERR_SGX_GRAMINE_LAYOUT` for another
 * library directory or a path spawn owns, `ERR_SGX_GRAMINE_VERSION_MISMATCH` for another version.
 */
export function checkGramineInstall(
  files: ReadonlyMap<string, ImageFile | undefined>,
  present: ReadonlySet<string>,
  what: string,
  expectedVersion = GRAMINE_VERSION,
): GramineInstall {
  const libpal = files.get(GRAMINE_LIBPAL);
  if (!libpal) throw incompleteError(what, GRAMINE_LIBPAL, "Gramine's SGX PAL (libpal.so)");
  if (libpal.type !== 'file' || !libpal.data) {
    throw new InputError(
      'ERR_SGX_GRAMINE_LAYOUT',
      `${what}: ${GRAMINE_LIBPAL} is a ${libpal.type}, not a regular file (it is measured into MRENCLAVE)`,
      { hint: 'Install Gramine so that libpal.so is a regular file at that path.' },
    );
  }
  for (const [file, role] of [
    [GRAMINE_SGX_LOADER, "Gramine's SGX loader"],
    [GRAMINE_LIBOS, "Gramine's LibOS (libsysdb.so)"],
    [GRAMINE_RUNTIME_LD, "Gramine's runtime glibc"],
    [GRAMINE_SGX, 'gramine-sgx'],
    [MSE_BOOTSTRAP, "mse-home's enclave bootstrap (from the base image)"],
  ] as const) {
    if (!files.get(file)) throw incompleteError(what, file, role);
  }
  const initFile = GRAMINELIBOS_INIT_CANDIDATES.map((p) => ({ path: p, data: files.get(p)?.data })).find((f) => f.data);
  if (!initFile?.data) {
    throw incompleteError(
      what,
      GRAMINELIBOS_INIT_CANDIDATES[0],
      "Gramine's Python package (graminelibos, which records its version)",
    );
  }
  const initPath = initFile.path;
  const init = initFile.data.toString('utf8');
  const version = /^__version__\s*=\s*['"]([^'"]*)['"]\s*$/m.exec(init)?.[1];
  const pkglibdir = /^_CONFIG_PKGLIBDIR\s*=\s*['"]([^'"]*)['"]\s*$/m.exec(init)?.[1];
  if (version === undefined || pkglibdir === undefined) {
    throw new InputError(
      'ERR_SGX_GRAMINE_LAYOUT',
      `${what}: ${initPath} records no __version__ or _CONFIG_PKGLIBDIR (not an installed Gramine)`,
      { hint: 'Install Gramine with its packages or meson install, not from its source tree.' },
    );
  }
  if (version !== expectedVersion) {
    throw new InputError(
      'ERR_SGX_GRAMINE_VERSION_MISMATCH',
      `${what} has Gramine ${version}; mse-home pins Gramine ${expectedVersion}`,
      {
        hint: `mse-home measures enclaves the way Gramine ${expectedVersion}'s signer does; install Gramine ${expectedVersion}.`,
      },
    );
  }
  if (pkglibdir.replace(/\/+$/, '') !== GRAMINE_PKGLIBDIR) {
    throw new InputError(
      'ERR_SGX_GRAMINE_LAYOUT',
      `${what}: Gramine was built for ${pkglibdir}, not ${GRAMINE_PKGLIBDIR}`,
      {
        hint: 'Build Gramine with meson --prefix=/usr (the packages’ layout): manifests and measurements use those paths.',
      },
    );
  }
  for (const p of SGX_SPAWN_PATHS) {
    if (present.has(p)) {
      throw new InputError('ERR_SGX_GRAMINE_LAYOUT', `${what} already holds ${p}, which spawn --platform sgx creates`, {
        hint: `Remove ${p} from the image.`,
      });
    }
  }
  let dpkgVersion: string | undefined;
  const status = files.get(DPKG_STATUS)?.data;
  if (status) {
    const entry = parseDeb822(status.toString('utf8'), DPKG_STATUS).find(
      (p) => p.get('package') === 'gramine' && /\binstalled$/.test(p.get('status') ?? ''),
    );
    dpkgVersion = entry?.get('version');
  }
  return {
    version,
    pkglibdir: GRAMINE_PKGLIBDIR,
    libpalSha256: sha256Hex(libpal.data),
    graminelibos: initPath,
    ...(dpkgVersion !== undefined ? { dpkgVersion } : {}),
  };
}

/** The source label of verified packages. */
export function debsSourceLabel(v: VerifiedGramineDebs): GramineSourceLabel {
  return {
    kind: v.kind,
    location: v.location,
    suite: v.suite,
    signedBy: v.signedBy.primaryFingerprint,
    release: { sha256: v.release.sha256, ...(v.release.date ? { date: v.release.date } : {}) },
    debs: v.debs.map((d) => ({ name: d.name, package: d.package, version: d.version, sha256: d.sha256 })),
  };
}

/**
 * What identifies the Gramine source for the up-to-date check. For the repository it is the request (no
 * network is needed to tell an existing image is current); for a folder, the verified packages; for an
 * image, its ID.
 */
export function sourceKey(plan: GraminePlan, verified?: VerifiedGramineDebs, imageId?: string): unknown {
  switch (plan.kind) {
    case 'repository':
      return {
        kind: plan.kind,
        repository: plan.repository,
        suite: plan.suite,
        version: plan.version,
        trusted: [...plan.trusted].sort(),
      };
    case 'debs':
      return {
        kind: plan.kind,
        version: plan.version,
        debs: verified?.debs.map((d) => d.sha256) ?? [],
        signedBy: verified?.signedBy.primaryFingerprint,
      };
    case 'image':
      return { kind: plan.kind, imageId };
  }
}

// ----- effectful shell -----------------------------------------------------------------------------------

interface SgxFiles {
  stageDockerfile: Buffer;
  dockerfile: Buffer;
  launcher: Buffer;
  marker: Buffer;
  hash: string;
}

async function sgxFiles(repoRoot: string): Promise<SgxFiles> {
  const dir = path.join(repoRoot, 'base-image', 'sgx');
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await fs.readFile(path.join(dir, name));
    } catch (cause) {
      throw new InputError('ERR_BASE_FILES_MISSING', `base image file ${path.join(dir, name)} is missing`, {
        hint: 'Reinstall mse-home: its base-image/sgx/ directory is incomplete.',
        cause,
      });
    }
  };
  const [stageDockerfile, dockerfile, launcher] = await Promise.all([
    read('Dockerfile.gramine'),
    read('Dockerfile'),
    read('mse-run-sgx'),
  ]);
  const marker = Buffer.from(`${SGX_MANIFEST_TEMPLATE_VERSION}\n`);
  const hash = sha256Hex(JSON.stringify([stageDockerfile, dockerfile, launcher, marker].map((b) => sha256Hex(b))));
  return { stageDockerfile, dockerfile, launcher, marker, hash };
}

function inputsHash(baseId: string, key: unknown, files: SgxFiles): string {
  return sha256Hex(
    JSON.stringify({
      format: 1,
      version: VERSION,
      gramine: GRAMINE_VERSION,
      base: baseId,
      source: key,
      files: files.hash,
    }),
  );
}

async function readStream(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      stream.destroy();
      throw new DockerError('ERR_SGX_IMAGE_READ', `${what} is larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const MAX_IMAGE_FILE = 128 << 20;

/**
 * Read `files` (content) and check `probe` (existence only) out of `image` through a container that is
 * created and never started (the engine's archive API), then removed. Absent paths map to undefined.
 * `track` receives the container's removal too, for clean-up on an interruption.
 */
export async function readImageFiles(
  engine: DockerEngine,
  image: string,
  files: readonly string[],
  probe: readonly string[],
  track?: (undo: () => Promise<unknown>) => void,
): Promise<{ files: Map<string, ImageFile | undefined>; present: Set<string> }> {
  const id = await engine.createContainer({
    name: `mse-home-sgx-inspect-${randomBytes(6).toString('hex')}`,
    image,
    entrypoint: ['/nonexistent/never-started'],
    labels: { [SGX_INSPECT_LABEL]: '1' },
    extra: { NetworkDisabled: true },
  });
  track?.(() => engine.removeContainer(id, { force: true }));
  const container = engine.docker.getContainer(id);
  const archive = async (p: string): Promise<Readable | undefined> => {
    try {
      return (await container.getArchive({ path: p })) as unknown as Readable;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw new DockerError('ERR_SGX_IMAGE_READ', `reading ${p} out of ${image} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  try {
    const out = new Map<string, ImageFile | undefined>();
    for (const p of files) {
      const stream = await archive(p);
      if (!stream) {
        out.set(p, undefined);
        continue;
      }
      const tar = await readStream(stream, MAX_IMAGE_FILE + (1 << 20), `${p} in ${image}`);
      const entries = await indexTar(bufferSource(tar), `${p} in ${image}`, {
        maxEntryBytes: MAX_IMAGE_FILE,
        maxTotalBytes: MAX_IMAGE_FILE,
        maxEntries: 1,
        allow: ['file', 'symlink'],
      });
      const e = entries[0];
      if (!e) {
        out.set(p, undefined);
        continue;
      }
      out.set(p, {
        type: e.type,
        ...(e.type === 'file' ? { data: tar.subarray(e.offset, e.offset + e.size) } : {}),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      });
    }
    const present = new Set<string>();
    for (const p of probe) {
      const stream = await archive(p);
      if (stream) {
        present.add(p);
        stream.destroy();
      }
    }
    return { files: out, present };
  } finally {
    await engine.removeContainer(id, { force: true }).catch(() => undefined);
  }
}

/** The Gramine installation of `image`, checked (see {@link checkGramineInstall}). */
export async function inspectGramine(
  engine: DockerEngine,
  image: string,
  what: string,
  track?: (undo: () => Promise<unknown>) => void,
): Promise<GramineInstall> {
  const { files, present } = await readImageFiles(engine, image, GRAMINE_CHECK_PATHS, SGX_SPAWN_PATHS, track);
  return checkGramineInstall(files, present, what);
}

function fileEntries(entries: [string, Buffer, boolean][]): TarEntrySource[] {
  return entries.map(([p, data, executable]) => ({ path: p, type: 'file' as const, data, executable }));
}

/** The stage image holding Gramine, what it is called in errors, and the source label it records. */
interface GramineStage {
  id: string;
  source: GramineSourceLabel;
  what: string;
}

/** An operator's `--gramine-image`, as found on the engine. */
interface OperatorImage {
  id: string;
  layers: string[];
}

/** One {@link ensureSgxBaseImage} call: its inputs, and the undo actions of what it has created so far. */
interface SgxBuild {
  engine: DockerEngine;
  log: Logger;
  options: SgxBaseImageOptions;
  ref: string;
  plan: GraminePlan;
  files: SgxFiles;
  baseOptions: BaseImageOptions;
  /** Run on failure (and on Ctrl-C through the CLI's scope), last first. */
  undo: (() => Promise<unknown>)[];
  undone: boolean;
  /** The temporary directory of the package source, made on first use; always removed. */
  workDir: string | undefined;
}

/** Run the undo actions once, last first, ignoring their failures. */
async function runUndo(run: SgxBuild): Promise<void> {
  if (run.undone) return;
  run.undone = true;
  for (const fn of run.undo.splice(0).reverse()) await fn().catch(() => undefined);
}

async function removeWork(run: SgxBuild): Promise<void> {
  if (run.workDir) await fs.rm(run.workDir, { recursive: true, force: true });
}

/** Fetch or read and verify the Gramine packages, in the (lazily made) work directory. */
async function acquire(
  run: SgxBuild,
  plan: Extract<GraminePlan, { kind: 'repository' | 'debs' }>,
): Promise<VerifiedGramineDebs> {
  run.workDir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'mse-home-sgx-base-'));
  return acquireGramineDebs(plan, { ...(run.options.acquire ?? {}), workDir: run.workDir, log: run.log });
}

/**
 * The sources checked before the up-to-date check (no network): a folder's packages are verified, an
 * operator's image must exist (`ERR_SGX_GRAMINE_IMAGE_NOT_FOUND`).
 */
async function localSource(run: SgxBuild): Promise<{ verified?: VerifiedGramineDebs; operatorImage?: OperatorImage }> {
  const { plan } = run;
  if (plan.kind === 'debs') {
    const verified = await acquire(run, plan);
    run.log.info(`verified ${verified.debs.map((d) => `${d.name} (${d.version})`).join(', ')} in ${plan.dir}`);
    return { verified };
  }
  if (plan.kind === 'image') {
    const info = await run.engine.inspectImage(plan.image);
    if (!info) {
      throw new InputError(
        'ERR_SGX_GRAMINE_IMAGE_NOT_FOUND',
        `--gramine-image ${plan.image}: no such image on the engine`,
        {
          hint: `Build or load it first (docker load -i …); it must be built FROM ${BASE_IMAGE} with Gramine ${GRAMINE_VERSION} installed.`,
        },
      );
    }
    return { operatorImage: { id: info.Id, layers: info.RootFS?.Layers ?? [] } };
  }
  return {};
}

/** The status of the existing image when its recorded inputs are the current ones (and not `force`). */
async function upToDateImage(
  run: SgxBuild,
  verified: VerifiedGramineDebs | undefined,
  operatorImage: OperatorImage | undefined,
): Promise<SgxBaseImageStatus | undefined> {
  if (run.options.force) return undefined;
  const { engine, ref } = run;
  const current = await currentBaseImage(engine, run.baseOptions);
  const existing = current ? await engine.inspectImage(ref) : undefined;
  if (!current || !existing) return undefined;
  const key = inputsHash(current.id, sourceKey(run.plan, verified, operatorImage?.id), run.files);
  const labels = existing.Config?.Labels ?? {};
  if (labels[SGX_LABELS.inputs] !== key) {
    run.log.info(`${ref} is out of date: rebuilding it`);
    return undefined;
  }
  return {
    ref,
    id: existing.Id,
    built: false,
    size: existing.Size,
    inputsHash: key,
    base: { ref: BASE_IMAGE, id: current.id },
    gramine: {
      version: labels[SGX_LABELS.gramineVersion] ?? '',
      libpalSha256: labels[SGX_LABELS.libpalSha256] ?? '',
      source: JSON.parse(labels[SGX_LABELS.gramineSource] ?? '{}') as GramineSourceLabel,
    },
  };
}

/** The operator's image as the stage, once its layers are shown to start with the base image's. */
function operatorStage(
  plan: Extract<GraminePlan, { kind: 'image' }>,
  operatorImage: OperatorImage,
  base: { id: string; layers: readonly string[] },
): GramineStage {
  const { layers } = operatorImage;
  if (base.layers.length === 0 || layers.length <= base.layers.length || base.layers.some((l, i) => layers[i] !== l)) {
    throw new InputError(
      'ERR_SGX_GRAMINE_IMAGE_BASE',
      `--gramine-image ${plan.image} is not built FROM the current ${BASE_IMAGE} (${base.id.slice(7, 19)}): its layers do not start with the base image's`,
      {
        hint: `Rebuild it FROM ${BASE_IMAGE} (the base image carries the enclave bootstrap and the Debian packages apps rely on), adding only Gramine ${GRAMINE_VERSION}.`,
      },
    );
  }
  return {
    id: operatorImage.id,
    source: { kind: 'image', image: plan.image, imageId: operatorImage.id },
    what: `--gramine-image ${plan.image}`,
  };
}

/** The stage built by installing the verified `.deb` into the base image (base-image/sgx/Dockerfile.gramine). */
async function installStage(run: SgxBuild, v: VerifiedGramineDebs, baseId: string): Promise<GramineStage> {
  const { engine, log } = run;
  const context = entriesContext([
    ...fileEntries([['Dockerfile', run.files.stageDockerfile, false]]),
    { path: 'debs', type: 'directory' },
    ...v.debs.map((d) => ({ path: `debs/${d.name}`, type: 'file' as const, file: d.file, size: d.size })),
  ]);
  const done = log.phase(`installing ${v.debs.map((d) => d.name).join(', ')} into ${BASE_IMAGE}`);
  let stage;
  try {
    stage = await engine.build({
      context,
      tags: [],
      buildArgs: { BASE: baseId },
      onProgress: (line) => {
        if (/^Step \d+\/\d+/.test(line) || /^(E|W): /.test(line) || /^mse-home: /.test(line)) log.line(`  ${line}`);
      },
    });
  } catch (error) {
    if (error instanceof MseError && error.code === 'ERR_DOCKER_BUILD_FAILED') {
      throw new DockerError(
        'ERR_SGX_BASE_BUILD_FAILED',
        `installing Gramine into ${BASE_IMAGE} failed: ${error.message}`,
        {
          hint: `apt could not install the package (see its output above): its Debian dependencies must be in the archive the base image uses (suite ${v.suite}).`,
          cause: error,
        },
      );
    }
    throw error;
  }
  for (const id of stage.createdIds) run.undo.push(() => engine.removeImage(id, { noPrune: true }));
  done();
  return {
    id: stage.id,
    source: debsSourceLabel(v),
    what: `the image built from ${v.debs.map((d) => d.name).join(', ')}`,
  };
}

/** Check the stage's Gramine from files read out of it; with verified packages, dpkg must have installed them. */
async function checkStage(
  run: SgxBuild,
  stage: GramineStage,
  verified: VerifiedGramineDebs | undefined,
): Promise<GramineInstall> {
  const checked = run.log.phase('checking the Gramine installation (files read out of the image)');
  const install = await inspectGramine(run.engine, stage.id, stage.what, (fn) => run.undo.push(fn));
  if (verified && install.dpkgVersion !== verified.debs[0]?.version) {
    throw new InputError(
      'ERR_SGX_GRAMINE_VERSION_MISMATCH',
      `${stage.what}: dpkg reports gramine ${install.dpkgVersion ?? '(not installed)'}, not the verified ${verified.debs[0]?.version}`,
      { hint: 'The installation did not take the verified package; rebuild with --force.' },
    );
  }
  checked(`Gramine ${install.version}, libpal.so ${install.libpalSha256.slice(0, 16)}…`);
  return install;
}

/**
 * Build mse-home's sgx layer on the stage, tagged `ref`, with the labels that record its inputs; then
 * nothing is left to undo, and the image the tag left goes unless something still uses it.
 */
async function buildSgxLayer(
  run: SgxBuild,
  stage: GramineStage,
  install: GramineInstall,
  baseId: string,
  key: string,
): Promise<SgxBaseImageStatus> {
  const { engine, log, ref, files } = run;
  const previous = await engine.inspectImage(ref);
  const done = log.phase(`building ${ref}`);
  const result = await engine.build({
    context: entriesContext(
      fileEntries([
        ['Dockerfile', files.dockerfile, false],
        [`bin/${path.basename(MSE_RUN_SGX)}`, files.launcher, true],
        [`opt/${path.basename(SGX_TEMPLATE_MARKER)}`, files.marker, false],
      ]),
    ),
    tags: [ref],
    buildArgs: { GRAMINE_STAGE: stage.id },
    labels: {
      [LABEL_VERSION]: VERSION,
      [SGX_LABELS.inputs]: key,
      [SGX_LABELS.base]: baseId,
      [SGX_LABELS.gramineVersion]: install.version,
      [SGX_LABELS.gramineSource]: JSON.stringify(stage.source),
      [SGX_LABELS.libpalSha256]: install.libpalSha256,
      [SGX_LABELS.manifestTemplate]: SGX_MANIFEST_TEMPLATE_VERSION,
    },
    onProgress: (line) => {
      if (/^Step \d+\/\d+/.test(line)) log.line(`  ${line}`);
    },
  });
  const info = await engine.inspectImage(result.id);
  done(`${((info?.Size ?? 0) / 1e6).toFixed(0)} MB`);
  run.undo.length = 0; // built: nothing to undo any more
  if (previous && previous.Id !== result.id) {
    // The old image lost its tag; it goes (with its Gramine stage) unless something still uses it.
    await engine.removeIfDangling(previous.Id).catch(() => undefined);
  }
  return {
    ref,
    id: result.id,
    built: true,
    size: info?.Size ?? 0,
    inputsHash: key,
    base: { ref: BASE_IMAGE, id: baseId },
    gramine: { version: install.version, libpalSha256: install.libpalSha256, source: stage.source },
  };
}

/**
 * Make sure `mse-home-sgx-base:<VERSION>` (or `options.ref`) exists, built from the current base image
 * and the requested Gramine source; build it when missing, stale or forced. See the module comment.
 */
export async function ensureSgxBaseImage(
  engine: DockerEngine,
  log: Logger,
  options: SgxBaseImageOptions = {},
): Promise<SgxBaseImageStatus> {
  const plan = gramineSourcePlan(options);
  const run: SgxBuild = {
    engine,
    log,
    options,
    ref: options.ref ?? SGX_BASE_IMAGE,
    plan,
    files: await sgxFiles(options.repoRoot ?? defaultRepoRoot()),
    baseOptions: { ...(options.base ?? {}) },
    undo: [],
    undone: false,
    workDir: undefined,
  };
  options.scope?.onFailure(() => runUndo(run));
  options.scope?.always(() => removeWork(run));
  try {
    const local = await localSource(run);
    const operatorImage = local.operatorImage;
    let verified = local.verified;
    // Up to date? Decided before contacting any repository.
    const current = await upToDateImage(run, verified, operatorImage);
    if (current) return current;
    if (plan.kind === 'repository') {
      log.info(`fetching Gramine ${plan.version} from ${plan.repository} (suite ${plan.suite})`);
      verified = await acquire(run, plan);
    }
    const base = await ensureBaseImage(engine, log, run.baseOptions);
    const baseLayers = (await engine.inspectImage(base.id))?.RootFS?.Layers ?? [];
    let stage: GramineStage;
    if (plan.kind === 'image' && operatorImage)
      stage = operatorStage(plan, operatorImage, { id: base.id, layers: baseLayers });
    else if (verified) stage = await installStage(run, verified, base.id);
    // a bug (ERR_INTERNAL): packages (debs, repository) are verified and an image plan has its image by here
    else throw new Error(`Gramine source ${plan.kind} has neither an operator image nor verified packages`);
    const install = await checkStage(run, stage, verified);
    const key = inputsHash(base.id, sourceKey(plan, verified, operatorImage?.id), run.files);
    return await buildSgxLayer(run, stage, install, base.id, key);
  } catch (error) {
    await runUndo(run);
    throw error;
  } finally {
    await removeWork(run);
  }
}
