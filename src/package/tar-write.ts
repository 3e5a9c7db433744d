/**
 * Deterministic tar writing: the same entries always give the same bytes.
 *
 * Entries are written sorted by path (byte order of the UTF-8 path, independent of locale), with a fixed
 * mtime (the Unix epoch), uid/gid 0, empty user/group names and a mode that depends only on the entry type
 * and its executable bit. Names that do not fit ustar (longer than 100/155 bytes, non-ASCII) get a PAX
 * header, itself deterministic. Uncompressed, like MSE's packages.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InputError } from '../errors.js';
import { openUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { comparePaths, fileSource, sourceChunks } from './tar-read.js';

/** The mtime of every entry mse-home writes (1970-01-01T00:00:00Z). */
export const FIXED_MTIME = new Date(0);

/**
 * One entry to write. Content comes from `data` (in memory) or `file` (streamed from disk, `size` bytes; it
 * must still be a regular file of that size when it is read, else `ERR_FILE_CHANGED`/`ERR_FILE_NOT_REGULAR`).
 */
export interface TarEntrySource {
  /** Relative POSIX path, no leading `./` or `/`, no `..`. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  data?: Uint8Array;
  file?: string;
  /** Required with `file`. */
  size?: number;
  /** Keep the executable bit (mode 0755 instead of 0644). */
  executable?: boolean;
  /** Symlink target (type `symlink`). */
  linkname?: string;
}

// comparePaths lives beside the reader, which image readers load without tar-stream; re-exported for writers.
export { comparePaths };

/**
 * A readable tar stream of `entries`, sorted and normalised. Duplicate paths are a programming error and
 * throw. The stream errors if a `file` source changes size while being read.
 */
export function deterministicTar(entries: TarEntrySource[]): Readable {
  const sorted = [...entries].sort((x, y) => comparePaths(x.path, y.path));
  let previous: string | undefined;
  for (const { path } of sorted) {
    if (path === previous) throw new Error(`duplicate tar entry ${path}`);
    previous = path;
  }
  const pack = tar.pack();
  void (async () => {
    try {
      for (const e of sorted) await writeEntry(pack, e);
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
  })();
  return pack as unknown as Readable;
}

async function writeEntry(pack: tar.Pack, e: TarEntrySource): Promise<void> {
  const header: Partial<tar.Header> & { name: string } = {
    name: e.path,
    mtime: FIXED_MTIME,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    type: e.type,
    mode: e.type === 'directory' || e.type === 'symlink' || e.executable ? 0o755 : 0o644,
  };
  if (e.type === 'directory') {
    await entryDone(pack, header);
    return;
  }
  if (e.type === 'symlink') {
    header.linkname = e.linkname ?? '';
    header.mode = 0o777;
    await entryDone(pack, header);
    return;
  }
  if (e.data !== undefined) {
    header.size = e.data.byteLength;
    await entryDone(pack, header, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    return;
  }
  if (e.file === undefined || e.size === undefined) throw new Error(`tar entry ${e.path} has no content`);
  header.size = e.size;
  // Opened through the bounded reader: a file swapped for a FIFO or a device since it was listed is refused
  // instead of blocking, and one that changed size is refused instead of writing a corrupt entry.
  const what = `file ${e.file}`;
  const { handle, size } = await openUserFile(e.file, 'file', INPUT_LIMITS.imageTar);
  try {
    if (size !== e.size) {
      throw new InputError('ERR_FILE_CHANGED', `${what} changed while being archived (${e.size} then ${size} bytes)`, {
        hint: 'Do not change the files while mse-home reads them, then run the command again.',
      });
    }
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
      pipeline(Readable.from(sourceChunks(fileSource(handle, 0, size), 0, size, what)), sink).catch(reject);
    });
  } finally {
    await handle.close();
  }
}

function entryDone(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (error?: Error | null): void => (error ? reject(error) : resolve());
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}

/** Collect a tar stream into one buffer (small archives only: code and tests). */
export async function tarToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Write a tar stream to a writable (e.g. a file stream). */
export async function writeTar(stream: Readable, sink: NodeJS.WritableStream): Promise<void> {
  await pipeline(stream, sink);
}
