/**
 * File-system boundary: reading user files with specific errors, and writing outputs atomically so that a
 * failed command never leaves a partial file behind. Every output a command writes (files, streams,
 * directories) goes through the helpers at the end of this file, so a write failure is reported the same
 * way everywhere: `ERR_DISK_FULL` (no space, quota), `ERR_FILE_UNWRITABLE` (permissions, read-only file
 * system), never as an internal error or as a read error.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { InputError, isMseError, type MseError } from '../errors.js';

/** Largest user file read into memory by default (keys, secrets, tokens, certificates, evidence). */
export const DEFAULT_MAX_READ = 64 * 1024 * 1024;

/**
 * Read a user-supplied file. `what` names it in errors ("secrets file", "Fernet key file").
 * Throws `ERR_FILE_NOT_FOUND`, `ERR_FILE_IS_DIRECTORY`, `ERR_FILE_UNREADABLE` or `ERR_FILE_TOO_LARGE`.
 */
export async function readUserFile(file: string, what: string, maxBytes = DEFAULT_MAX_READ): Promise<Buffer> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsc.O_RDONLY);
  } catch (error) {
    throw fileError(error, file, what);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw new InputError('ERR_FILE_IS_DIRECTORY', `${what} ${file} is a directory, expected a file`, {
        hint: `Pass the path of the ${what} itself.`,
      });
    }
    if (stat.size > maxBytes) {
      throw new InputError(
        'ERR_FILE_TOO_LARGE',
        `${what} ${file} is ${stat.size} bytes, more than the ${maxBytes} allowed`,
        {
          hint: `Check that ${file} is the right file.`,
        },
      );
    }
    const data = await handle.readFile();
    if (data.length > maxBytes) {
      throw new InputError('ERR_FILE_TOO_LARGE', `${what} ${file} grew beyond ${maxBytes} bytes while being read`);
    }
    return data;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw fileError(error, file, what);
  } finally {
    await handle.close();
  }
}

/** Read a user-supplied UTF-8 text file (see {@link readUserFile}). */
export async function readUserText(file: string, what: string, maxBytes = DEFAULT_MAX_READ): Promise<string> {
  return (await readUserFile(file, what, maxBytes)).toString('utf8');
}

/** Ensure `dir` exists and is a directory; `what` names it in errors. */
export async function requireDirectory(dir: string, what: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (error) {
    throw fileError(error, dir, what);
  }
  if (!stat.isDirectory()) {
    throw new InputError('ERR_NOT_A_DIRECTORY', `${what} ${dir} is not a directory`, {
      hint: `Pass the path of an existing directory as the ${what}.`,
    });
  }
}

export interface AtomicWriteOptions {
  /** File mode; 0o600 for anything secret. Default 0o644. */
  mode?: number;
  /** Refuse to replace an existing file (`ERR_OUTPUT_EXISTS`). Default false. */
  exclusive?: boolean;
}

/**
 * Write `data` to `file` atomically: a temporary sibling is written, flushed and renamed over the target,
 * so readers see either the old content or the new one, and a failure leaves nothing behind.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = path.dirname(path.resolve(file));
  let isDir = false;
  try {
    isDir = (await fs.stat(dir)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw outputError(error, file, 'output file');
  }
  if (!isDir) {
    throw new InputError('ERR_OUTPUT_DIR_MISSING', `cannot write ${file}: directory ${dir} does not exist`, {
      hint: 'Create the directory first or choose another output path.',
    });
  }
  if (options.exclusive && (await pathExists(file))) {
    throw new InputError('ERR_OUTPUT_EXISTS', `refusing to overwrite existing file ${file}`, {
      hint: 'Remove it or choose another output path.',
    });
  }
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or widened what open() applied
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, file);
  } catch (error) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw outputError(error, file, 'output file');
  }
}

/** True when something exists at `p` (without following a final symlink). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

function fileError(error: unknown, file: string, what: string): InputError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new InputError('ERR_FILE_NOT_FOUND', `${what} not found: ${file}`, {
      hint: 'Check the path; relative paths are resolved from the current directory.',
      cause: error,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new InputError('ERR_FILE_UNREADABLE', `permission denied on ${what} ${file}`, {
      hint: 'Check the file permissions.',
      cause: error,
    });
  }
  if (code === 'EISDIR') {
    return new InputError('ERR_FILE_IS_DIRECTORY', `${what} ${file} is a directory, expected a file`, { cause: error });
  }
  if (code === 'ENOTDIR') {
    return new InputError('ERR_NOT_A_DIRECTORY', `a parent of ${what} ${file} is not a directory`, { cause: error });
  }
  return new InputError('ERR_FILE_IO', `cannot access ${what} ${file}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

/**
 * The error for a failed write, mkdir, rename or link of an output (`what` names it: "package", "output
 * directory"). `MseError`s pass through.
 * - ENOSPC, EDQUOT → `ERR_DISK_FULL`
 * - EACCES, EPERM, EROFS, EFBIG → `ERR_FILE_UNWRITABLE`
 * - ENOENT → `ERR_OUTPUT_DIR_MISSING`, EEXIST → `ERR_OUTPUT_EXISTS`, EISDIR → `ERR_FILE_IS_DIRECTORY`,
 *   ENOTDIR → `ERR_NOT_A_DIRECTORY`, anything else → `ERR_FILE_IO`.
 * All are input/output errors (exit 3).
 */
export function outputError(error: unknown, file: string, what: string): MseError {
  if (isMseError(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const opts = (hint: string): { hint: string; cause: unknown } => ({ hint, cause: error });
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new InputError(
        'ERR_DISK_FULL',
        `cannot write ${what} ${file}: ${code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded'}`,
        opts('Free some space on that file system, or write to another place.'),
      );
    case 'EROFS':
      return new InputError(
        'ERR_FILE_UNWRITABLE',
        `cannot write ${what} ${file}: read-only file system`,
        opts('Choose an output on a writable file system.'),
      );
    case 'EACCES':
    case 'EPERM':
      return new InputError(
        'ERR_FILE_UNWRITABLE',
        `permission denied writing ${what} ${file}`,
        opts('Check the permissions of the output and its directory, or choose another output path.'),
      );
    case 'EFBIG':
      return new InputError(
        'ERR_FILE_UNWRITABLE',
        `cannot write ${what} ${file}: larger than the file system or the process limit allows`,
        opts('Write to another file system, or raise the file size limit (ulimit -f).'),
      );
    case 'ENOENT':
      return new InputError('ERR_OUTPUT_DIR_MISSING', `cannot write ${what} ${file}: its directory does not exist`, {
        hint: 'Create the directory first or choose another output path.',
        cause: error,
      });
    case 'EEXIST':
      return new InputError('ERR_OUTPUT_EXISTS', `refusing to overwrite existing ${what} ${file}`, {
        hint: 'Remove it or choose another output path.',
        cause: error,
      });
    case 'EISDIR':
      return new InputError('ERR_FILE_IS_DIRECTORY', `${what} ${file} is a directory, expected a file`, {
        cause: error,
      });
    case 'ENOTDIR':
      return new InputError('ERR_NOT_A_DIRECTORY', `a parent of ${what} ${file} is not a directory`, {
        cause: error,
      });
    default:
      return new InputError(
        'ERR_FILE_IO',
        `cannot write ${what} ${file}: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
  }
}

/** Run `fn` (a write, mkdir, rename, link… of an output) and report its failure with {@link outputError}. */
export async function writingOutput<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw outputError(error, file, what);
  }
}

export interface OutputStreamOptions {
  /** File mode (applied exactly, whatever the umask). Default 0o644. */
  mode?: number;
  /** Names the output in errors ("image archive"). Default "output file". */
  what?: string;
  /** The path errors show, when `file` is a staging file the user never sees (default `file`). */
  shownAs?: string;
}

/**
 * A writable stream to a new file (`O_EXCL`: an existing file is `ERR_OUTPUT_EXISTS`), for outputs too big
 * to hold in memory. Write failures are reported with {@link outputError}; the data is flushed to disk
 * (`fsync`) before the stream finishes. The caller removes the file when the stream fails (it is usually a
 * temporary file in a staging directory).
 */
export function createOutputStream(file: string, options: OutputStreamOptions = {}): Writable {
  const mode = options.mode ?? 0o644;
  const what = options.what ?? 'output file';
  let handle: fs.FileHandle | undefined;
  const fail = (error: unknown): Error => outputError(error, options.shownAs ?? file, what);
  const writeAll = async (chunks: Buffer[]): Promise<void> => {
    for (const chunk of chunks) {
      let offset = 0;
      // A write on a regular file may be short (e.g. just before ENOSPC): write the rest.
      while (offset < chunk.length) {
        const { bytesWritten } = await handle!.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    }
  };
  return new Writable({
    highWaterMark: 1 << 20,
    construct(cb) {
      fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode)
        .then(async (h) => {
          handle = h;
          await h.chmod(mode);
        })
        .then(
          () => cb(),
          (error: unknown) => cb(fail(error)),
        );
    },
    write(chunk: Buffer, _encoding, cb) {
      writeAll([chunk]).then(
        () => cb(),
        (error: unknown) => cb(fail(error)),
      );
    },
    writev(chunks, cb) {
      writeAll(chunks.map((c) => c.chunk as Buffer)).then(
        () => cb(),
        (error: unknown) => cb(fail(error)),
      );
    },
    final(cb) {
      const h = handle!;
      handle = undefined;
      h.sync()
        .then(() => h.close())
        .then(
          () => cb(),
          async (error: unknown) => {
            await h.close().catch(() => undefined);
            cb(fail(error));
          },
        );
    },
    destroy(error, cb) {
      const h = handle;
      handle = undefined;
      if (!h) return cb(error);
      h.close().then(
        () => cb(error),
        () => cb(error),
      );
    },
  });
}

/**
 * Check an output directory before any work is done: it must be a directory we can write in, or not exist
 * yet under one. Returns the directories to create, outermost first (empty when `dir` exists).
 * `ERR_NOT_A_DIRECTORY` when a file is in the way, `ERR_FILE_UNWRITABLE` when the first existing
 * directory is not writable (checked by permissions; the write itself is the real test).
 */
export async function checkOutputDirectory(dir: string, what = 'output directory'): Promise<string[]> {
  const missing: string[] = [];
  for (let probe = path.resolve(dir); ; probe = path.dirname(probe)) {
    const stat = await fs.stat(probe).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw outputError(error, probe, what);
    });
    if (!stat) {
      if (path.dirname(probe) === probe) return missing.reverse();
      missing.push(probe);
      continue;
    }
    if (!stat.isDirectory()) {
      throw new InputError(
        'ERR_NOT_A_DIRECTORY',
        missing.length === 0
          ? `${what} ${dir} is not a directory`
          : `${probe} (on the way to ${what} ${dir}) is not a directory`,
        { hint: 'Pass a directory (it is created if missing), or remove the file in the way.' },
      );
    }
    await fs.access(probe, fsc.W_OK | fsc.X_OK).catch((error: unknown) => {
      throw outputError(error, probe, what);
    });
    return missing.reverse();
  }
}

/**
 * Create `dirs` (outermost first, as {@link checkOutputDirectory} lists them) one level at a time (Node's
 * recursive mkdir can spin forever under /proc); `onCreated` hears of each one this call made, so that it
 * can be undone. A directory that appeared meanwhile is fine.
 */
export async function createOutputDirectories(
  dirs: readonly string[],
  what: string,
  mode: number,
  onCreated: (dir: string) => void = () => undefined,
): Promise<void> {
  for (const dir of dirs) {
    const made = await fs.mkdir(dir, { mode }).then(
      () => true,
      async (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST' && (await fs.stat(dir)).isDirectory()) return false;
        throw outputError(error, dir, what);
      },
    );
    if (made) onCreated(dir);
  }
}

/**
 * Check and create the output directory `dir` (and missing parents) with `mode`, as `package` and
 * `evidence` do. Returns the outermost directory this call created (remove it to undo), or undefined when
 * `dir` existed.
 */
export async function ensureOutputDirectory(
  dir: string,
  what = 'output directory',
  mode = 0o755,
): Promise<string | undefined> {
  const missing = await checkOutputDirectory(dir, what);
  await createOutputDirectories(missing, what, mode);
  return missing[0];
}
