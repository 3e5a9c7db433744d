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
import { withCleanup } from '../docker/cleanup.js';
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

/** Make the package. See the module comment. */
export async function createPackage(options: CreatePackageOptions): Promise<CreatedPackage> {
  const { engine, log, paths } = options;
  // Read once: the bytes validated here are the bytes packaged.
  const { config, warnings, bytes: configBytes } = await loadMseConfig(paths.config);
  for (const w of warnings) log.warn(w);
  const ts = (options.timestampNs ?? BigInt(Date.now()) * 1_000_000n).toString();
  const outputDir = path.resolve(options.outputDir);
  const baseName = `package_${config.name}_${ts}`;
  const finalFile = path.join(outputDir, `${baseName}.tar`);
  const keyFile = options.encrypt ? path.join(outputDir, `${baseName}.key`) : undefined;
  const repo = imageRepository(config.name);
  const imageRef = `${repo}:${ts}`;
  const timings = { code: 0, tests: 0, build: 0, save: 0, write: 0 };
  const timed = async <T>(phase: keyof typeof timings, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[phase] = performance.now() - t0;
    }
  };

  return withCleanup(async (scope) => {
    const createdOutput = await ensureOutputDirectory(outputDir);
    if (createdOutput) scope.onFailure(() => fs.rm(createdOutput, { recursive: true, force: true }));
    const work = await writingOutput(finalFile, 'package', () => fs.mkdtemp(path.join(outputDir, '.mse-package-')));
    scope.always(() => fs.rm(work, { recursive: true, force: true }));
    // Between steps: stop at once when interrupted (withCleanup then removes everything).
    const checkpoint = (): void => scope.signal.throwIfAborted();

    // code
    const key = options.encrypt ? randomBytes(32) : undefined;
    let done = log.phase('code: app.tar');
    const rules = await loadMseignore(paths.code);
    const codeFiles = await timed('code', () => selectFiles(paths.code, { rules, what: 'code directory' }));
    if (codeFiles.length === 0) {
      throw new InputError('ERR_PACKAGE_EMPTY_CODE', `the code directory ${paths.code} has no file to package`, {
        hint: 'Check .mseignore: every file is excluded.',
      });
    }
    // The limits every reader of the package applies (verify, spawn, the enclave): a lower bound of the tar
    // size is checked before writing it, the exact size after.
    checkMemberSize('app.tar', tarSizeAtLeast(codeFiles), `the code directory ${paths.code}`);
    const appTar = path.join(work, 'app.tar');
    const appTarSha256 = await timed('code', async () =>
      writeTarFile(await codeTarEntries(codeFiles, key), appTar, finalFile, scope.signal),
    );
    checkMemberSize('app.tar', (await fs.stat(appTar)).size, `the code directory ${paths.code}`);
    checkpoint();
    done(`${codeFiles.length} files${key ? ', encrypted' : ''}`);

    // tests
    done = log.phase('tests: tests.tar');
    const testFiles = await timed('tests', () =>
      selectFiles(paths.tests, { skipNames: TESTS_SKIP, what: 'tests directory' }),
    );
    checkMemberSize('tests.tar', tarSizeAtLeast(testFiles), `the tests directory ${paths.tests}`);
    const testsTar = path.join(work, 'tests.tar');
    const testsTarSha256 = await timed('tests', () =>
      writeTarFile(
        testFiles.map((f) => ({ path: f.rel, type: 'file', file: f.abs, size: f.size, executable: f.executable })),
        testsTar,
        finalFile,
        scope.signal,
      ),
    );
    checkMemberSize('tests.tar', (await fs.stat(testsTar)).size, `the tests directory ${paths.tests}`);
    done(`${testFiles.length} files`);
    checkpoint();

    // build
    const built = await timed('build', () =>
      buildAppImageScoped(engine, log, scope, {
        dockerfile: paths.dockerfile,
        stableRef: `${repo}:latest`,
        extraTags: [imageRef],
        base: options.base ?? {},
      }),
    );
    checkpoint();

    // save
    done = log.phase(`save: image.tar (${imageRef})`);
    const imageTar = path.join(work, 'image.tar');
    await timed('save', () =>
      engine.saveImage(imageRef, imageTar, { signal: scope.signal, what: 'package', shownAs: finalFile }),
    );
    checkpoint();
    const imageFh = await fs.open(imageTar, 'r');
    let image;
    try {
      const size = (await imageFh.stat()).size;
      image = await readImageTar(fileSource(imageFh, 0, size), 'image.tar', DEFAULT_PACKAGE_LIMITS, false);
    } finally {
      await imageFh.close();
    }
    if (image.configDigest !== built.id) {
      throw new InputError(
        'ERR_PACKAGE_IMAGE_MISMATCH',
        `saved image ${image.configDigest} is not the built image ${built.id}`,
        { hint: 'Another process retagged the image during packaging; run the command again.' },
      );
    }
    const imageSize = (await fs.stat(imageTar)).size;
    checkMemberSize('image.tar', imageSize, `the saved image ${imageRef}`);
    done(`${(imageSize / 1e6).toFixed(1)} MB, ${image.configDigest.slice(0, 19)}`);

    // write
    done = log.phase(`write: ${path.basename(finalFile)}`);
    const staged = path.join(work, 'package.tar');
    const members: TarEntrySource[] = [
      { path: 'app.tar', type: 'file', file: appTar, size: (await fs.stat(appTar)).size },
      { path: 'image.tar', type: 'file', file: imageTar, size: imageSize },
      { path: 'mse.toml', type: 'file', data: configBytes },
      { path: 'tests.tar', type: 'file', file: testsTar, size: (await fs.stat(testsTar)).size },
    ];
    await timed('write', async () => {
      await pipeline(deterministicTar(members), createOutputStream(staged, { what: 'package', shownAs: finalFile }), {
        signal: scope.signal,
      });
      if (keyFile && key) {
        checkpoint();
        await writeFileAtomic(keyFile, key, { mode: 0o600, exclusive: true });
        scope.onFailure(() => fs.rm(keyFile, { force: true }));
      }
      // The commit: from here the package exists; an interrupt before the scope ends still removes it.
      checkpoint();
      try {
        await fs.link(staged, finalFile); // fails if it exists: never overwrite a package
      } catch (error) {
        throw outputError(error, finalFile, 'package');
      }
      scope.onFailure(() => fs.rm(finalFile, { force: true }));
    });
    const size = (await fs.stat(finalFile)).size;
    done(`${(size / 1e6).toFixed(1)} MB`);
    return {
      file: finalFile,
      ...(keyFile ? { keyFile } : {}),
      name: config.name,
      imageRef,
      imageConfigDigest: image.configDigest,
      size,
      appFiles: codeFiles.length,
      testFiles: testFiles.length,
      appTarSha256,
      testsTarSha256,
      encrypted: key !== undefined,
      timings,
    };
  });
}
