/**
 * File-system boundary: reading user files through a bound (regular files only, unless a command documents
 * `-` for standard input; at most the input's named limit from `./limits.ts`, enforced while reading) with
 * specific errors, and writing outputs atomically so that a failed command never leaves a partial file.
 * Every output a command writes (files, streams, directories) goes through the helpers at the end of this
 * file, so a write failure is reported the same way everywhere: `ERR_DISK_FULL` (no space, quota),
 * `ERR_FILE_UNWRITABLE` (permissions, read-only file system), never as an internal error or a read error.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  createWriteStream,
  fstatSync,
  openSync,
  promises as fs,
  readSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, isMseError, type MseError } from '../errors.js';
import { formatBytes, formatBytesExact, type InputLimit } from './limits.js';
import { stageFile, tempSibling, writeAtomic } from './publish.js';

/** An opened and checked regular file (see {@link openUserFile}); the caller closes `handle`. */
export interface OpenedFile {
  handle: fs.FileHandle;
  /** Its size when it was opened. */
  size: number;
  /** Its permission bits. */
  mode: number;
}

export interface ReadUserFileOptions {
  /** The command documents `-` as standard input for this file: read it there, bounded the same way. */
  stdin?: boolean;
  /**
   * Refuse a symbolic link as the last component (`O_NOFOLLOW`, `ERR_FILE_NOT_REGULAR`): for files found in
   * a directory other users may write to, so that a link planted there cannot make mse-home open (and so
   * trigger) a device or read a file they cannot read. Files the operator names are followed as usual.
   */
  noFollow?: boolean;
}

/** The file name that means standard input where a command documents it. */
export const STDIN = '-';
const STDIN_LABEL = 'on standard input';

// O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever (it is then refused
// by fstat). O_NOCTTY: opening a terminal device never makes it the controlling terminal.
const OPEN_FLAGS = fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY;
/** Read size once a file has outgrown its fstat size (e.g. /proc files report 0). */
const CHUNK = 1 << 20;

/**
 * Open a user-supplied file for reading, checked on the opened descriptor (no race between the check and
 * the read): a directory is `ERR_FILE_IS_DIRECTORY`; a FIFO, device or socket is `ERR_FILE_NOT_REGULAR`
 * (it could block or never end); a file above `limit` is `ERR_FILE_TOO_LARGE`. `what` names the file in
 * errors ("evidence file"). A missing or unreadable file is `ERR_FILE_NOT_FOUND` / `ERR_FILE_UNREADABLE`.
 */
export async function openUserFile(
  file: string,
  what: string,
  limit: InputLimit,
  options: ReadUserFileOptions = {},
): Promise<OpenedFile> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, OPEN_FLAGS | (options.noFollow ? fsc.O_NOFOLLOW : 0));
  } catch (error) {
    if (options.noFollow && (error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw notRegular(file, what, 'a symbolic link (not followed here)', false);
    }
    throw fileError(error, file, what);
  }
  try {
    const stat = await handle.stat();
    checkRegular(stat, file, what, limit, options.stdin);
    return { handle, size: stat.size, mode: stat.mode & 0o7777 };
  } catch (error) {
    await handle.close();
    if (error instanceof InputError) throw error;
    throw fileError(error, file, what);
  }
}

/**
 * Read a user-supplied file whole, at most `limit.maxBytes` bytes (see {@link openUserFile} for what is
 * refused). A file that grows past the limit while being read is refused after `limit + 1` bytes. With
 * `options.stdin`, `-` reads standard input, refused as soon as it goes past the limit.
 */
export async function readUserFile(
  file: string,
  what: string,
  limit: InputLimit,
  options: ReadUserFileOptions = {},
): Promise<Buffer> {
  if (options.stdin && file === STDIN) return readStdin(what, limit);
  const { handle, size } = await openUserFile(file, what, limit, options);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = readSize(size, total, limit);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit.maxBytes) throw tooLarge(file, what, limit, undefined);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw fileError(error, file, what);
  } finally {
    await handle.close();
  }
}

/** Read a user-supplied UTF-8 text file (see {@link readUserFile}). */
export async function readUserText(
  file: string,
  what: string,
  limit: InputLimit,
  options: ReadUserFileOptions = {},
): Promise<string> {
  return (await readUserFile(file, what, limit, options)).toString('utf8');
}

/** {@link readUserText}, or undefined when nothing exists at `file` (optional files: `.dockerignore`…). */
export async function readUserTextIfExists(file: string, what: string, limit: InputLimit): Promise<string | undefined> {
  try {
    return await readUserText(file, what, limit);
  } catch (error) {
    if (error instanceof InputError && error.code === 'ERR_FILE_NOT_FOUND') return undefined;
    throw error;
  }
}

export interface CopyUserFileOptions extends Pick<ReadUserFileOptions, 'noFollow'> {
  /** Permission bits of the copy (default: the source's, as `cp` keeps them). */
  mode?: number;
  /**
   * Called with the size of the opened file before anything is copied; throwing refuses the file (e.g. a
   * size other than the one signed metadata lists), so a wrong file is never read.
   */
  checkSize?: (size: number) => void;
}

/** What {@link copyUserFile} copied: the bytes of the copy, hashed as they were written. */
export interface CopiedFile {
  size: number;
  sha256: string;
}

/**
 * Copy a user-supplied file to `dest` (created exclusively, with the source's permission bits unless
 * `options.mode` says otherwise) by streaming, through the same checks as {@link openUserFile}: one
 * descriptor, read once. At most the size it had when opened is copied, and the SHA-256 returned is that
 * of the bytes written to `dest`, so checking it checks the copy, whatever happens to `file` afterwards.
 */
export async function copyUserFile(
  file: string,
  dest: string,
  what: string,
  limit: InputLimit,
  options: CopyUserFileOptions = {},
): Promise<CopiedFile> {
  const { handle, size, mode } = await openUserFile(file, what, limit, {
    ...(options.noFollow ? { noFollow: true } : {}),
  });
  try {
    options.checkSize?.(size);
  } catch (error) {
    await handle.close();
    throw error; // the caller's verdict, as it made it
  }
  try {
    const hash = createHash('sha256');
    let copied = 0;
    const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
    if (size === 0)
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    else {
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, cb) {
          hash.update(chunk);
          copied += chunk.length;
          cb(null, chunk);
        },
      });
      await pipeline(handle.createReadStream({ start: 0, end: size - 1, autoClose: false }), tap, out);
    }
    await fs.chmod(dest, options.mode ?? mode);
    return { size: copied, sha256: hash.digest('hex') };
  } catch (error) {
    if (isMseError(error)) throw error;
    throw fileError(error, file, what);
  } finally {
    await handle.close();
  }
}

/**
 * {@link readUserFile} for the few places that must stay synchronous (connection set-up); no stdin.
 */
export function readUserFileSync(file: string, what: string, limit: InputLimit): Buffer {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (error) {
    throw fileError(error, file, what);
  }
  try {
    const stat = fstatSync(fd);
    checkRegular(stat, file, what, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = readSize(stat.size, total, limit);
      const buf = Buffer.allocUnsafe(want);
      const n = readSync(fd, buf, 0, want, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > limit.maxBytes) throw tooLarge(file, what, limit, undefined);
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw fileError(error, file, what);
  } finally {
    closeSync(fd);
  }
}

/**
 * How much to read next: the rest of the file as fstat saw it plus one byte (so that a file that grew is
 * noticed), then chunks (files in /proc report size 0); never more than one byte past the limit.
 */
function readSize(size: number, done: number, limit: InputLimit): number {
  return Math.min(done <= size ? size + 1 - done : CHUNK, limit.maxBytes + 1 - done);
}

/** Standard input, bounded: a regular file redirected there is checked by size first. */
async function readStdin(what: string, limit: InputLimit): Promise<Buffer> {
  const label = STDIN_LABEL;
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    const stat = fstatSync(0);
    if (stat.isFile() && stat.size > limit.maxBytes) throw tooLarge(label, what, limit, stat.size);
    // Leaving the loop early (throw) destroys the stream: nothing more is read from the writer.
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit.maxBytes) throw tooLarge(label, what, limit, undefined);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw fileError(error, label, what);
  }
  return Buffer.concat(chunks, total);
}

/** Refuse what is not a regular file of at most `limit` bytes. */
function checkRegular(stat: Stats, file: string, what: string, limit: InputLimit, stdin = false): void {
  if (stat.isDirectory()) {
    throw new InputError('ERR_FILE_IS_DIRECTORY', `${what} ${file} is a directory, expected a file`, {
      hint: `Pass the path of the ${what} itself.`,
    });
  }
  if (!stat.isFile()) {
    const kind = stat.isFIFO()
      ? 'a FIFO (named pipe)'
      : stat.isCharacterDevice()
        ? 'a character device'
        : stat.isBlockDevice()
          ? 'a block device'
          : stat.isSocket()
            ? 'a socket'
            : 'a special file';
    throw notRegular(file, what, kind, stdin);
  }
  if (stat.size > limit.maxBytes) throw tooLarge(file, what, limit, stat.size);
}

function notRegular(file: string, what: string, kind: string, stdin: boolean): InputError {
  return new InputError('ERR_FILE_NOT_REGULAR', `${what} ${file} is ${kind}, not a regular file`, {
    hint:
      'mse-home reads regular files only (a device, FIFO or socket could block or never end): ' +
      (stdin ? 'save the data to a file, or pipe it into standard input with -.' : 'save the data to a file first.'),
  });
}

/** `ERR_FILE_TOO_LARGE`, naming the limit and, when known, the size. */
function tooLarge(file: string, what: string, limit: InputLimit, size: number | undefined): InputError {
  const max = formatBytesExact(limit.maxBytes);
  const message =
    size === undefined
      ? `${what} ${file} is larger than the ${limit.name} limit of ${max}: reading stopped there`
      : `${what} ${file} is ${formatBytesExact(size)}, more than the ${limit.name} limit of ${max}`;
  return new InputError('ERR_FILE_TOO_LARGE', message, {
    hint:
      `mse-home reads at most ${formatBytes(limit.maxBytes)} for a ${limit.name} input (docs/cli.md, "Input limits"); ` +
      (file === STDIN_LABEL ? 'check what is piped into standard input.' : `check that ${file} is the right file.`),
  });
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
 * Write `data` to `file` atomically (`./publish.ts`, the one atomic write): a temporary sibling is written,
 * flushed and put in place, so readers see either the old content or the new one, and a failure leaves
 * nothing behind. `exclusive` refuses an existing file (`ERR_OUTPUT_EXISTS`): checked first, and enforced
 * by link(2), so a file created meanwhile is not overwritten either.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const exclusive = options.exclusive === true;
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
  if (exclusive && (await pathExists(file))) throw outputExistsError(file, 'file');
  let written: boolean;
  try {
    written = await writeAtomic(path.join(dir, path.basename(file)), data, { mode, exclusive });
  } catch (error) {
    throw outputError(error, file, 'output file');
  }
  if (!written) throw outputExistsError(file, 'file');
}

/** `ERR_OUTPUT_EXISTS`: an exclusive output (`what` at `file`) found something already there. */
export function outputExistsError(file: string, what: string, cause?: unknown): InputError {
  return new InputError('ERR_OUTPUT_EXISTS', `refusing to overwrite existing ${what} ${file}`, {
    hint: 'Remove it or choose another output path.',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** One file of {@link writeFilesAtomic}. */
export interface OutputFile {
  file: string;
  data: string | Uint8Array;
  /** Default 0o644; 0o600 for anything secret. */
  mode?: number;
}

/** Where {@link writeFilesAtomic} registers its undo (a clean-up scope of `docker/cleanup.ts`). */
export interface UndoRegistry {
  onFailure(fn: () => Promise<unknown>): void;
  onSuccess(fn: () => Promise<unknown>): void;
}

/**
 * Write several output files as one change. Every file is first staged beside its target (written, synced)
 * while no target is touched; then each target is replaced by a rename, what it held before kept aside (a
 * hard link, or a copy) until all are in place. If any step fails, every target gets back exactly what it
 * held, or is removed if it did not exist, and the staged files are removed: the outputs are as before,
 * and only files this call wrote are ever removed. With `scope`, the previous contents are kept until the
 * scope ends: its failure (an interrupt after the writes, a later step) restores them too. A target that
 * is a directory is refused before anything is written (`ERR_FILE_IS_DIRECTORY`).
 */
export async function writeFilesAtomic(files: readonly OutputFile[], scope?: UndoRegistry): Promise<void> {
  const plan = files.map((f) => ({
    ...f,
    file: path.resolve(f.file),
    staged: '',
    backup: undefined as string | undefined,
  }));
  if (new Set(plan.map((f) => f.file)).size !== plan.length)
    throw new TypeError('writeFilesAtomic: a file is listed twice');
  for (const f of plan) {
    const st = await fs.lstat(f.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw outputError(error, f.file, 'output file');
    });
    if (st?.isDirectory()) {
      throw new InputError('ERR_FILE_IS_DIRECTORY', `output file ${f.file} is a directory, expected a file`, {
        hint: 'Remove or rename that directory, or choose another output directory.',
      });
    }
  }
  const replaced: typeof plan = [];
  const removeAside = async (): Promise<void> => {
    for (const f of plan) {
      for (const p of [f.staged, f.backup]) if (p) await fs.rm(p, { force: true }).catch(() => undefined);
    }
  };
  // Every target back to what it held (its backup, or nothing), newest first.
  const restore = async (): Promise<void> => {
    for (const f of replaced.splice(0).reverse()) {
      await (f.backup ? fs.rename(f.backup, f.file) : fs.rm(f.file, { force: true })).catch(() => undefined);
      f.backup = undefined;
    }
    await removeAside();
  };
  let current = plan[0]?.file ?? '';
  try {
    for (const f of plan) {
      current = f.file;
      f.staged = await stageFile(f.file, f.data, f.mode ?? 0o644);
    }
    for (const f of plan) {
      current = f.file;
      const st = await fs.lstat(f.file).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      const backup = tempSibling(f.file, 'bak');
      // a hard link keeps the old content without a moment where the target is missing
      await fs.link(f.file, backup).catch(() => fs.copyFile(f.file, backup, fsc.COPYFILE_EXCL));
      f.backup = backup;
    }
    for (const f of plan) {
      current = f.file;
      await fs.rename(f.staged, f.file);
      f.staged = '';
      replaced.push(f);
    }
  } catch (error) {
    await restore();
    throw outputError(error, current, 'output file');
  }
  if (!scope) return removeAside();
  scope.onFailure(restore);
  scope.onSuccess(removeAside);
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
  if (code === 'ENXIO') {
    // open() of a Unix socket, or of a device with no driver behind it
    return notRegular(file, what, 'a socket or a device', false);
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
      return outputExistsError(file, what, error);
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
