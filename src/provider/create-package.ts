/**
 * `mse home package`: make `package_<name>_<time_ns>.tar` from a project. The code provider's packaging,
 * above both `docker/` (it builds and saves the app image) and `package/` (the format it writes).
 *
 * Phases (printed on stderr): code → tests → build → save → write.
 * - `app.tar`: the code directory after `.mseignore` and without dotfiles (see `package/files.ts`), as a
 *   deterministic tar (sorted, mtime 0, uid/gid 0, mode 0644/0755). With `--encrypt`, each file but
 *   `requirements.txt` is replaced by `<file>.enc` = NaCl secretbox (nonce ‖ tag ‖ ciphertext) under a fresh
 *   32-byte key written raw beside the package as `package_<name>_<time_ns>.key` (mode 0600).
 * - `tests.tar`: the tests directory, same rules, `__pycache__` skipped.
 * - `image.tar`: the image built from the project's Dockerfile (context = its directory), saved by the
 *   engine (`docker save`), tagged `<name>:<time_ns>` inside the archive.
 * - `mse.toml`: the configuration file as is.
 * The outer tar is deterministic too. Everything is staged in a temporary directory inside the output
 * directory and linked into place at the end: a failure leaves no partial file, and an image this run
 * created is removed again. Interrupts (Ctrl-C, SIGTERM, the output closing) follow `withCleanup`: until
 * the package and its key are in place the command stops at its next step and removes everything
 * (package and key included), exit 130/143/141; once they are, it finishes and exits 0. A write that fails
 * (full disk, read-only or forbidden output) is `ERR_DISK_FULL` / `ERR_FILE_UNWRITABLE`.
 *
 * Same inputs give the same `app.tar` and `tests.tar` bytes (unencrypted) and, with the engine's build
 * cache, the same image config digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../base/log.js';
import { secretboxSeal } from '../crypto/secretbox.js';
import { buildAppImageScoped, imageRepository } from '../docker/app-image.js';
import { withCleanup, type CleanupScope } from '../docker/cleanup.js';
import type { DockerEngine } from '../docker/engine.js';
import type { BaseImageOptions } from '../docker/base-image.js';
import { InputError } from '../errors.js';
import {
  createOutputStream,
  ensureOutputDirectory,
  outputError,
  readUserFile,
  writeFileAtomic,
  writingOutput,
} from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { loadMseConfig } from '../project/config.js';
import { loadMseignore, selectFiles, type SelectedFile } from '../package/files.js';
import type { ProjectPaths } from '../package/project.js';
import { checkMemberSize, DEFAULT_PACKAGE_LIMITS } from '../package/code-tar.js';
import { readImageTar } from '../package/read.js';
import { fileSource } from '../package/tar-read.js';
import { deterministicTar, type TarEntrySource } from '../package/tar-write.js';

/** Names never packaged from the tests directory (besides dotfiles). */
export const TESTS_SKIP = ['__pycache__'];
/** Basenames never encrypted by `--encrypt` (read before the code is decrypted). */
export const ENCRYPT_EXEMPT = ['requirements.txt'];

export interface CreatePackageOptions {
  engine: DockerEngine;
  log: Logger;
  paths: ProjectPaths;
  outputDir: string;
  encrypt?: boolean;
  /** Timestamp for names (nanoseconds since the epoch, as MSE's `time_ns()`); default now. */
  timestampNs?: bigint;
  base?: BaseImageOptions;
}

export interface CreatedPackage {
  /** The package file. */
  file: string;
  /** The code key file (`--encrypt`). */
  keyFile?: string;
  name: string;
  /** `<repo>:<time_ns>`, the tag recorded in image.tar. */
  imageRef: string;
  /** `sha256:<hex>` of the image config (its ID). */
  imageConfigDigest: string;
  size: number;
  appFiles: number;
  testFiles: number;
  appTarSha256: string;
  testsTarSha256: string;
  encrypted: boolean;
  /** Durations of the phases, milliseconds. */
  timings: Record<'code' | 'tests' | 'build' | 'save' | 'write', number>;
}

/** Build the code tar entries, encrypting with `key` when given. */
export async function codeTarEntries(files: SelectedFile[], key?: Uint8Array): Promise<TarEntrySource[]> {
  const out: TarEntrySource[] = [];
  for (const f of files) {
    const base = path.posix.basename(f.rel);
    if (key && !ENCRYPT_EXEMPT.includes(base)) {
      const plain = await readUserFile(f.abs, `code file ${f.rel}`, INPUT_LIMITS.appTar);
      out.push({ path: `${f.rel}.enc`, type: 'file', data: await secretboxSeal(plain, key) });
    } else {
      out.push({ path: f.rel, type: 'file', file: f.abs, size: f.size, executable: f.executable });
    }
  }
  if (key) {
    const names = new Set(out.map((e) => e.path));
    if (names.size !== out.length) {
      throw new InputError('ERR_PACKAGE_NAME_CLASH', 'encrypting would give two files the same name (x and x.enc)', {
        hint: 'Rename the file that already ends in .enc.',
      });
    }
  }
  return out;
}

/** A lower bound of the size of a tar of `files`: one header and the padded body each, and the end marker. */
function tarSizeAtLeast(files: SelectedFile[]): number {
  return files.reduce((sum, f) => sum + 512 + Math.ceil(f.size / 512) * 512, 1024);
}

/** Write a staged tar; a failed write names the package (`shownAs`), the file the user asked for. */
async function writeTarFile(
  entries: TarEntrySource[],
  file: string,
  shownAs: string,
  signal?: AbortSignal,
): Promise<string> {
  await pipeline(deterministicTar(entries), createOutputStream(file, { what: 'package', shownAs }), {
    ...(signal ? { signal } : {}),
  });
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Names and places of one package, decided before anything is written. */
export interface PackagePlan {
  name: string;
  outputDir: string;
  /** The package file, and the code key file with `--encrypt`. */
  finalFile: string;
  keyFile: string | undefined;
  /** The image's repository, and `<repo>:<time_ns>`, the tag recorded in image.tar. */
  repo: string;
  imageRef: string;
}

/** Where a package of `name` goes and what it is called, at `timestampNs`. Pure. */
export function planPackage(
  name: string,
  options: Pick<CreatePackageOptions, 'outputDir' | 'encrypt'> & { timestampNs: bigint },
): PackagePlan {
  const ts = options.timestampNs.toString();
  const outputDir = path.resolve(options.outputDir);
  const baseName = `package_${name}_${ts}`;
  const repo = imageRepository(name);
  return {
    name,
    outputDir,
    finalFile: path.join(outputDir, `${baseName}.tar`),
    keyFile: options.encrypt ? path.join(outputDir, `${baseName}.key`) : undefined,
    repo,
    imageRef: `${repo}:${ts}`,
  };
}

type Timings = CreatedPackage['timings'];

/** One packaging run: its plan, its cleanup scope and staging directory, its phase timings. */
interface PackageRun {
  plan: PackagePlan;
  options: CreatePackageOptions;
  scope: CleanupScope;
  /** The staging directory inside the output directory. */
  work: string;
  timings: Timings;
}

/** Run `fn`, recording its duration as the phase's timing. */
async function timed<T>(run: PackageRun, phase: keyof Timings, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    run.timings[phase] = performance.now() - t0;
  }
}

/** Between steps: stop at once when interrupted (withCleanup then removes everything). */
function checkpoint(run: PackageRun): void {
  run.scope.signal.throwIfAborted();
}

/** The output directory (removed on failure when made here) and the staging directory (always removed). */
async function prepareOutput(plan: PackagePlan, scope: CleanupScope): Promise<string> {
  const createdOutput = await ensureOutputDirectory(plan.outputDir);
  if (createdOutput) scope.onFailure(() => fs.rm(createdOutput, { recursive: true, force: true }));
  const work = await writingOutput(plan.finalFile, 'package', () =>
    fs.mkdtemp(path.join(plan.outputDir, '.mse-package-')),
  );
  scope.always(() => fs.rm(work, { recursive: true, force: true }));
  return work;
}

/** code: app.tar, encrypted under `key` when given. */
async function writeCodeTar(run: PackageRun, key: Uint8Array | undefined) {
  const { paths, log } = run.options;
  const done = log.phase('code: app.tar');
  const rules = await loadMseignore(paths.code);
  const files = await timed(run, 'code', () => selectFiles(paths.code, { rules, what: 'code directory' }));
  if (files.length === 0) {
    throw new InputError('ERR_PACKAGE_EMPTY_CODE', `the code directory ${paths.code} has no file to package`, {
      hint: 'Check .mseignore: every file is excluded.',
    });
  }
  // The limits every reader of the package applies (verify, spawn, the enclave): a lower bound of the tar
  // size is checked before writing it, the exact size after.
  checkMemberSize('app.tar', tarSizeAtLeast(files), `the code directory ${paths.code}`);
  const tar = path.join(run.work, 'app.tar');
  const sha256 = await timed(run, 'code', async () =>
    writeTarFile(await codeTarEntries(files, key), tar, run.plan.finalFile, run.scope.signal),
  );
  checkMemberSize('app.tar', (await fs.stat(tar)).size, `the code directory ${paths.code}`);
  checkpoint(run);
  done(`${files.length} files${key ? ', encrypted' : ''}`);
  return { files, tar, sha256 };
}

/** tests: tests.tar. */
async function writeTestsTar(run: PackageRun) {
  const { paths, log } = run.options;
  const done = log.phase('tests: tests.tar');
  const files = await timed(run, 'tests', () =>
    selectFiles(paths.tests, { skipNames: TESTS_SKIP, what: 'tests directory' }),
  );
  checkMemberSize('tests.tar', tarSizeAtLeast(files), `the tests directory ${paths.tests}`);
  const tar = path.join(run.work, 'tests.tar');
  const sha256 = await timed(run, 'tests', () =>
    writeTarFile(
      files.map((f) => ({ path: f.rel, type: 'file', file: f.abs, size: f.size, executable: f.executable })),
      tar,
      run.plan.finalFile,
      run.scope.signal,
    ),
  );
  checkMemberSize('tests.tar', (await fs.stat(tar)).size, `the tests directory ${paths.tests}`);
  done(`${files.length} files`);
  checkpoint(run);
  return { files, tar, sha256 };
}

/** build, then save: image.tar, checked to be the image just built. */
async function buildAndSaveImage(run: PackageRun) {
  const { engine, log, paths } = run.options;
  const { repo, imageRef, finalFile } = run.plan;
  const built = await timed(run, 'build', () =>
    buildAppImageScoped(engine, log, run.scope, {
      dockerfile: paths.dockerfile,
      stableRef: `${repo}:latest`,
      extraTags: [imageRef],
      base: run.options.base ?? {},
    }),
  );
  checkpoint(run);

  const done = log.phase(`save: image.tar (${imageRef})`);
  const tar = path.join(run.work, 'image.tar');
  await timed(run, 'save', () =>
    engine.saveImage(imageRef, tar, { signal: run.scope.signal, what: 'package', shownAs: finalFile }),
  );
  checkpoint(run);
  const fh = await fs.open(tar, 'r');
  let image;
  try {
    const size = (await fh.stat()).size;
    image = await readImageTar(fileSource(fh, 0, size), 'image.tar', DEFAULT_PACKAGE_LIMITS, false);
  } finally {
    await fh.close();
  }
  if (image.configDigest !== built.id) {
    throw new InputError(
      'ERR_PACKAGE_IMAGE_MISMATCH',
      `saved image ${image.configDigest} is not the built image ${built.id}`,
      { hint: 'Another process retagged the image during packaging; run the command again.' },
    );
  }
  const size = (await fs.stat(tar)).size;
  checkMemberSize('image.tar', size, `the saved image ${imageRef}`);
  done(`${(size / 1e6).toFixed(1)} MB, ${image.configDigest.slice(0, 19)}`);
  return { tar, size, configDigest: image.configDigest };
}

/**
 * write: the package staged, the key written (exclusive, 0600), then the package linked into place (never
 * over an existing file). From the link on the package exists; an interrupt before the scope ends still
 * removes it. Returns its size.
 */
async function writePackage(
  run: PackageRun,
  parts: { appTar: string; imageTar: string; imageSize: number; testsTar: string; config: Uint8Array },
  key: Uint8Array | undefined,
): Promise<number> {
  const { finalFile, keyFile } = run.plan;
  const done = run.options.log.phase(`write: ${path.basename(finalFile)}`);
  const staged = path.join(run.work, 'package.tar');
  const members: TarEntrySource[] = [
    { path: 'app.tar', type: 'file', file: parts.appTar, size: (await fs.stat(parts.appTar)).size },
    { path: 'image.tar', type: 'file', file: parts.imageTar, size: parts.imageSize },
    { path: 'mse.toml', type: 'file', data: parts.config },
    { path: 'tests.tar', type: 'file', file: parts.testsTar, size: (await fs.stat(parts.testsTar)).size },
  ];
  await timed(run, 'write', async () => {
    await pipeline(deterministicTar(members), createOutputStream(staged, { what: 'package', shownAs: finalFile }), {
      signal: run.scope.signal,
    });
    if (keyFile && key) {
      checkpoint(run);
      await writeFileAtomic(keyFile, key, { mode: 0o600, exclusive: true });
      run.scope.onFailure(() => fs.rm(keyFile, { force: true }));
    }
    checkpoint(run);
    try {
      await fs.link(staged, finalFile); // fails if it exists: never overwrite a package
    } catch (error) {
      throw outputError(error, finalFile, 'package');
    }
    run.scope.onFailure(() => fs.rm(finalFile, { force: true }));
  });
  const size = (await fs.stat(finalFile)).size;
  done(`${(size / 1e6).toFixed(1)} MB`);
  return size;
}

/** Make the package: the plan, then code → tests → build → save → write in one cleanup scope. See the module comment. */
export async function createPackage(options: CreatePackageOptions): Promise<CreatedPackage> {
  const { log, paths } = options;
  // Read once: the bytes validated here are the bytes packaged.
  const { config, warnings, bytes: configBytes } = await loadMseConfig(paths.config);
  for (const w of warnings) log.warn(w);
  const plan = planPackage(config.name, {
    outputDir: options.outputDir,
    encrypt: options.encrypt,
    timestampNs: options.timestampNs ?? BigInt(Date.now()) * 1_000_000n,
  });
  const timings: Timings = { code: 0, tests: 0, build: 0, save: 0, write: 0 };

  return withCleanup(async (scope) => {
    const run: PackageRun = { plan, options, scope, work: await prepareOutput(plan, scope), timings };
    const key = options.encrypt ? randomBytes(32) : undefined;
    const code = await writeCodeTar(run, key);
    const tests = await writeTestsTar(run);
    const image = await buildAndSaveImage(run);
    const size = await writePackage(
      run,
      { appTar: code.tar, imageTar: image.tar, imageSize: image.size, testsTar: tests.tar, config: configBytes },
      key,
    );
    return {
      file: plan.finalFile,
      ...(plan.keyFile ? { keyFile: plan.keyFile } : {}),
      name: config.name,
      imageRef: plan.imageRef,
      imageConfigDigest: image.configDigest,
      size,
      appFiles: code.files.length,
      testFiles: tests.files.length,
      appTarSha256: code.sha256,
      testsTarSha256: tests.sha256,
      encrypted: key !== undefined,
      timings,
    };
  });
}
