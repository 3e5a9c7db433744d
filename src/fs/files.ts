/**
 * File-system boundary: reading user files through a bound (regular files only, unless a command documents
 * `-` for standard input; at most the input's named limit from `./limits.ts`, enforced while reading) with
 * specific errors, and writing outputs atomically so that a failed command never leaves a partial file.
 */
import { randomBytes } from 'node:crypto';
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
import { pipeline } from 'node:stream/promises';
import { InputError } from '../errors.js';
import { formatBytes, formatBytesExact, type InputLimit } from './limits.js';

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
    handle = await fs.open(file, OPEN_FLAGS);
  } catch (error) {
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

/**
 * Copy a user-supplied file to `dest` (created exclusively, with the source's permission bits, as `cp`) by
 * streaming, through the same checks as {@link openUserFile}; at most the size it had when opened is copied.
 */
export async function copyUserFile(file: string, dest: string, what: string, limit: InputLimit): Promise<void> {
  const { handle, size, mode } = await openUserFile(file, what, limit);
  try {
    const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
    if (size === 0)
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    else await pipeline(handle.createReadStream({ start: 0, end: size - 1, autoClose: false }), out);
    await fs.chmod(dest, mode);
  } catch (error) {
    if (error instanceof InputError) throw error;
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
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) throw new Error('not a directory');
  } catch {
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
    throw fileError(error, file, 'output file');
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
