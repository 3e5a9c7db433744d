/**
 * File-system boundary: reading user files with specific errors, and writing outputs atomically so that a
 * failed command never leaves a partial file behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

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
  if (code === 'ENOTDIR') {
    return new InputError('ERR_NOT_A_DIRECTORY', `a parent of ${what} ${file} is not a directory`, { cause: error });
  }
  return new InputError('ERR_FILE_IO', `cannot access ${what} ${file}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}
