/**
 * Where manifest finalization reads trusted files from. `gramine-sgx-sign` reads the host file system
 * relative to its working directory; mse-home also finalizes manifests over an image's file system read
 * from `image.tar`. Both go through {@link FileSource}, so the finalization code is the same.
 *
 * Paths handed to a source are the `file:` URI's path normalized the way Python's `pathlib` does (see
 * {@link uriPath}): relative (to the source's base) or absolute, with `..` components kept. How they map
 * to real files, and whether `..` or an absolute path may leave a root, is the source's decision.
 */
import { createHash } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { formatBytes, INPUT_LIMITS } from '../fs/limits.js';

/** What a path is, as Python's `Path.is_file()` / `is_dir()` / `is_symlink()` / `os.access(R_OK)` see it. */
export interface SourceEntry {
  /** Type after following symbolic links; `other` for devices, sockets, FIFOs and dangling links. */
  kind: 'file' | 'directory' | 'other';
  /** The path itself is a symbolic link (directories reached through one are not walked). */
  symlink: boolean;
  /** Readable by the signer (`os.access(path, R_OK)`); unreadable entries are skipped in directory walks. */
  readable: boolean;
}

/** Read-only access to the files a manifest's `file:` URIs name. */
export interface FileSource {
  /** Where the files come from, for messages (e.g. `directory /srv/app`, `image sha256:…`). */
  readonly description: string;
  /** The entry at `p`, or `undefined` when nothing is there. */
  stat(p: string): Promise<SourceEntry | undefined>;
  /** Names in directory `p` (any order; callers sort). Names must be valid UTF-8. */
  list(p: string): Promise<string[]>;
  /**
   * The content of regular file `p` as a stream of chunks (read once, bounded memory). A chunk may be
   * reused once the next one is requested: consume it first.
   */
  read(p: string): AsyncIterable<Uint8Array>;
  /**
   * Optional: the SHA-256 (lowercase hex) of regular file `p`, for a source that already knows it (e.g.
   * computed in one pass over an image). When absent, {@link read} is streamed and hashed.
   */
  sha256?(p: string): Promise<string>;
  /**
   * Optional: told once, before any trusted file is hashed, every path finalization is about to hash (in
   * order), so that a source can read them all in one pass (an image reads each layer once). Paths that
   * are not regular files are left for the per-file checks to report.
   */
  prefetch?(paths: readonly string[]): Promise<void>;
}

/**
 * The path of a `file:` URI, normalized as `pathlib.PurePosixPath(uri[5:])`: repeated and trailing
 * slashes and `.` components dropped, `..` kept, a leading `//` kept, empty → `.`. Throws
 * `ERR_GRAMINE_URI` for another scheme or a NUL byte.
 */
export function uriPath(uri: string, key: string): string {
  if (!uri.startsWith('file:')) {
    throw new InputError('ERR_GRAMINE_URI', `${key}: unsupported URI '${uri}' (only file: URIs can be measured)`, {
      hint: 'Trusted files and loader.entrypoint must be file: URIs.',
    });
  }
  const p = uri.slice('file:'.length);
  if (p.includes('\0')) {
    throw new InputError('ERR_GRAMINE_URI', `${key}: URI '${JSON.stringify(uri)}' contains a NUL byte`);
  }
  const root = p.startsWith('//') && !p.startsWith('///') ? '//' : p.startsWith('/') ? '/' : '';
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return root + parts.join('/') || '.';
}

/** `pathlib` join of a normalized directory path and one name (`.` / `x` → `x`, `/` / `x` → `/x`). */
export function joinPath(dir: string, name: string): string {
  if (dir === '.') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** SHA-256 of a source file, as lowercase hex, streamed. */
export async function sha256Source(source: FileSource, p: string): Promise<string> {
  if (source.sha256) return source.sha256(p);
  const hash = createHash('sha256');
  for await (const chunk of source.read(p)) hash.update(chunk);
  return hash.digest('hex');
}

const READ_CHUNK = 1024 * 1024;

function hostError(error: unknown, what: string, p: string): InputError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new InputError('ERR_GRAMINE_FILE_MISSING', `${what} ${p} does not exist`, {
      hint: 'Relative file: URIs are resolved from the manifest’s folder.',
      cause: error,
    });
  }
  return new InputError('ERR_GRAMINE_FILE_READ', `cannot read ${what} ${p}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * The host file system, relative paths resolved from `baseDir` (for `measure --manifest`: the manifest's
 * folder, where `gramine-sgx-sign` would run). Absolute paths are host paths, as for Gramine's signer.
 * Everything read adds up to at most `maxBytes` (default: the `trusted files` limit): a file that would go
 * over is refused before it is read (a sparse file of terabytes costs nothing), one that grows while read
 * as soon as it does (`ERR_GRAMINE_MEASUREMENT_LIMIT`).
 */
export class HostFileSource implements FileSource {
  readonly description: string;
  private readonly base: string;
  /** Bytes read so far. */
  private readBytes = 0;

  constructor(
    baseDir: string,
    private readonly maxBytes: number = INPUT_LIMITS.trustedFiles.maxBytes,
  ) {
    this.base = path.resolve(baseDir);
    this.description = `directory ${this.base}`;
  }

  private overLimit(full: string, size: number): InputError {
    return new InputError(
      'ERR_GRAMINE_MEASUREMENT_LIMIT',
      `trusted file ${full} (${formatBytes(size)}) takes the trusted files past the ` +
        `${formatBytes(this.maxBytes)} mse-home hashes (limit '${INPUT_LIMITS.trustedFiles.name}')`,
      { hint: 'See docs/cli.md, "Input limits"; trusted files that large do not belong in an enclave.' },
    );
  }

  private resolve(p: string): string {
    return path.resolve(this.base, p);
  }

  async stat(p: string): Promise<SourceEntry | undefined> {
    const full = this.resolve(p);
    let link;
    try {
      link = await fs.lstat(full);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw hostError(error, 'file', full);
    }
    let target = link;
    if (link.isSymbolicLink()) {
      try {
        target = await fs.stat(full);
      } catch {
        return { kind: 'other', symlink: true, readable: false }; // dangling or looping link
      }
    }
    const kind = target.isFile() ? 'file' : target.isDirectory() ? 'directory' : 'other';
    const readable = await fs.access(full, fsc.R_OK).then(
      () => true,
      () => false,
    );
    return { kind, symlink: link.isSymbolicLink(), readable };
  }

  async list(p: string): Promise<string[]> {
    const full = this.resolve(p);
    let names: Buffer[];
    try {
      names = await fs.readdir(full, { encoding: 'buffer' });
    } catch (error) {
      throw hostError(error, 'directory', full);
    }
    const decoder = new TextDecoder('utf-8', { fatal: true });
    return names.map((n) => {
      try {
        return decoder.decode(n);
      } catch {
        throw new InputError(
          'ERR_GRAMINE_FILE_NAME',
          `a file name in ${full} is not valid UTF-8 (${JSON.stringify(n.toString('latin1'))})`,
          { hint: 'Gramine cannot write such a name into the manifest; rename the file.' },
        );
      }
    });
  }

  async *read(p: string): AsyncIterable<Uint8Array> {
    const full = this.resolve(p);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(full, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (error) {
      throw hostError(error, 'trusted file', full);
    }
    try {
      // Checked on the open descriptor: a FIFO or device would make Gramine's signer block or hash forever.
      const st = await handle.stat();
      if (!st.isFile()) {
        throw new InputError('ERR_GRAMINE_FILE_TYPE', `trusted file ${full} is not a regular file`, {
          hint: 'Trusted files must be regular files (or directories given with a trailing "/").',
        });
      }
      if (this.readBytes + st.size > this.maxBytes) throw this.overLimit(full, st.size);
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      let size = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
        if (bytesRead === 0) break;
        size += bytesRead;
        this.readBytes += bytesRead;
        if (this.readBytes > this.maxBytes) throw this.overLimit(full, size);
        yield buffer.subarray(0, bytesRead);
      }
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw hostError(error, 'trusted file', full);
    } finally {
      await handle.close();
    }
  }
}
