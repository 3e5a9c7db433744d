/**
 * The file system of a Docker image read straight from its docker-archive (`image.tar`), with no Docker:
 * what a container started from the image would see, for measuring it (Gramine trusted files) offline.
 *
 * {@link openImageFs} reads image.tar's manifest and config (src/package/read.ts `readImageTar`), indexes
 * every layer tar with the strict random-access indexer (src/package/tar-read.ts; only headers are read,
 * bodies are skipped) and flattens the layers with overlay2's rules (./layers.ts). Nothing is extracted
 * and nothing touches the host file system: paths are resolved inside the image root only.
 *
 * File contents are read from the archive by offset. {@link ImageFs.scan} makes one sequential pass over
 * every layer tar: it computes each layer's SHA-256 and compares it with the config's `rootfs.diff_ids`
 * (refusing the image on a mismatch) and, in the same pass, the SHA-256 of the files asked for, so each
 * byte is read once and memory stays bounded by one read buffer, whatever the image size.
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { InputError } from '../errors.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '../package/code-tar.js';
import { readImageTar, type PackageImage } from '../package/read.js';
import { comparePaths } from '../package/tar-write.js';
import { indexTar, type TarSource } from '../package/tar-read.js';
import {
  flattenLayers,
  resolveImagePath,
  type ImageDirNode,
  type ImageFileNode,
  type ImageNode,
  type LayerIndex,
  type Resolved,
} from './layers.js';
import { SLOTS, WorkerSha256 } from './worker-hash.js';

export interface ImageFsLimits {
  /** Entries in all layer tars together. Default 1 000 000. */
  maxLayerEntries: number;
}

export const DEFAULT_IMAGE_FS_LIMITS: ImageFsLimits = { maxLayerEntries: 1_000_000 };

export interface ImageStat {
  kind: ImageNode['kind'];
  /** Bytes of a regular file (0 otherwise). */
  size: number;
  /** Permission bits from the layer tar. */
  mode: number;
  /** Target of a symbolic link (lstat only). */
  target?: string;
}

/** What {@link ImageFs.scan} did. */
export interface ImageScan {
  /** SHA-256 (lowercase hex) of each file asked for, by the path as asked. */
  hashes: Map<string, string>;
  /** Distinct file contents hashed (hard links and repeated paths count once). */
  filesHashed: number;
  /** Bytes of those contents. */
  fileBytes: number;
  /** Bytes of layer tars read and checked against their diff IDs. */
  layerBytes: number;
}

/** Bytes read at a time by {@link ImageFs.scan} and file streams. */
export const READ_CHUNK = 1 << 20;
/** Bytes per shared chunk when the layer hash runs on a second thread (fewer hand-overs between threads). */
export const PARALLEL_CHUNK = 4 << 20;

/** Layers adding up to this many bytes get their hash computed on a second thread (when there is a core for it). */
export const PARALLEL_MIN_BYTES = 64 << 20;

interface FileHash {
  node: ImageFileNode;
  hash: Hash;
}

/** A source over `length` bytes of `src` from `start`. */
function subSource(src: TarSource, start: number, length: number): TarSource {
  return { size: length, read: (offset, len) => src.read(start + offset, Math.min(len, length - offset)) };
}

/**
 * Serve the small sequential reads of the tar indexer (one 512-byte header at a time, bodies skipped) from
 * a 1 MiB block read ahead: the headers of small files share a block, so a layer of thousands of entries
 * costs a few hundred reads instead of thousands (each read is a round trip to libuv's thread pool). One
 * buffer is reused: a returned view is valid until the next read, which is how the indexer uses it.
 */
function readAhead(src: TarSource, blockSize = READ_CHUNK): TarSource {
  let start = -1;
  let length = 0;
  let block: Buffer | undefined;
  return {
    size: src.size,
    async read(offset, want) {
      if (want > blockSize) return src.read(offset, want);
      if (offset < start || offset + want > start + length) {
        const n = Math.min(blockSize, src.size - offset);
        if (src.readInto) {
          block ??= Buffer.allocUnsafe(blockSize);
          length = await src.readInto(offset, block.subarray(0, n));
        } else {
          block = await src.read(offset, n);
          length = block.length;
        }
        start = offset;
      }
      return block!.subarray(offset - start, Math.min(offset - start + want, length));
    },
  };
}

const COMPRESSED_MAGIC: [string, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
];

function pathError(where: string, path: string, r: Exclude<Resolved, { node: ImageNode }>): InputError {
  const why = {
    ENOENT: `${r.at} does not exist`,
    ENOTDIR: `${r.at} is not a directory`,
    ELOOP: `too many symbolic links at ${r.at}`,
  }[r.error];
  return new InputError(
    r.error === 'ELOOP' ? 'ERR_IMAGE_SYMLINK' : 'ERR_IMAGE_PATH_NOT_FOUND',
    `${where}: cannot resolve ${path}: ${why}`,
    { hint: 'The image does not hold what this needs: was it built from the right base image?' },
  );
}

function absolute(path: string): string {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new InputError('ERR_IMAGE_PATH_INVALID', `image paths are absolute: ${JSON.stringify(path)}`);
  }
  return path;
}

/** A flattened image, read by offset from its archive. Create with {@link openImageFs}. */
export class ImageFs {
  /** @internal use {@link openImageFs} */
  constructor(
    /** Names the archive in errors, e.g. `image.tar in package_x.tar`. */
    readonly where: string,
    /** Manifest, config digest, layers and diff IDs of the image. */
    readonly image: PackageImage,
    /** Entries indexed in all layers. */
    readonly entryCount: number,
    private readonly root: ImageDirNode,
    private readonly src: TarSource,
  ) {}

  /** Resolve `path` inside the image root (see `resolveImagePath`): the node and its canonical path. */
  resolve(path: string, followLast = true): Resolved {
    return resolveImagePath(this.root, absolute(path), followLast);
  }

  /** What `path` is, following symbolic links; undefined when it does not resolve (missing, loop, ENOTDIR). */
  stat(path: string): ImageStat | undefined {
    const r = this.resolve(path, true);
    return 'node' in r ? statOf(r.node) : undefined;
  }

  /** What `path` is without following a final symbolic link; undefined when it does not resolve. */
  lstat(path: string): ImageStat | undefined {
    const r = this.resolve(path, false);
    return 'node' in r ? statOf(r.node) : undefined;
  }

  /** The canonical path `path` resolves to (every symbolic link followed). Throws when it does not resolve. */
  realpath(path: string): string {
    const r = this.resolve(path, true);
    if ('error' in r) throw pathError(this.where, path, r);
    return r.path;
  }

  /** Names in the directory `path` (symbolic links followed), sorted by their UTF-8 bytes. */
  readdir(path: string): string[] {
    const r = this.resolve(path, true);
    if ('error' in r) throw pathError(this.where, path, r);
    if (r.node.kind !== 'directory') {
      throw new InputError('ERR_IMAGE_NOT_A_DIRECTORY', `${this.where}: ${path} is not a directory`);
    }
    let names = this.sorted.get(r.node);
    if (names === undefined) {
      names = [...r.node.children.keys()].sort(comparePaths);
      this.sorted.set(r.node, names);
    }
    return [...names];
  }

  /** Sorted names of the directories listed so far (the tree never changes once flattened). */
  private readonly sorted = new WeakMap<ImageDirNode, string[]>();

  private fileNode(path: string): ImageFileNode {
    const r = this.resolve(path, true);
    if ('error' in r) throw pathError(this.where, path, r);
    if (r.node.kind !== 'file') {
      throw new InputError('ERR_IMAGE_NOT_A_FILE', `${this.where}: ${path} is a ${r.node.kind}, not a regular file`);
    }
    return r.node;
  }

  /** The whole content of the regular file `path`, refused when larger than `maxBytes`. */
  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const f = this.fileNode(path);
    if (f.size > maxBytes) {
      throw new InputError('ERR_IMAGE_FILE_TOO_LARGE', `${this.where}: ${path} is ${f.size} bytes, over ${maxBytes}`);
    }
    return Buffer.from(await this.src.read(f.offset, f.size));
  }

  /** The content of the regular file `path`, in chunks of at most {@link READ_CHUNK} bytes. */
  async *stream(path: string): AsyncGenerator<Buffer> {
    const f = this.fileNode(path);
    for (let pos = 0; pos < f.size; pos += READ_CHUNK) {
      yield await this.src.read(f.offset + pos, Math.min(READ_CHUNK, f.size - pos));
    }
  }

  private scanning = false;

  /**
   * One pass over every layer tar: check each against its diff ID (`ERR_PACKAGE_IMAGE_LAYER` on a
   * mismatch) and hash the regular files at `paths` (symbolic links followed) on the way. Every path must
   * resolve to a regular file (`ERR_IMAGE_PATH_NOT_FOUND`, `ERR_IMAGE_NOT_A_FILE` otherwise). On a
   * machine with more than one core and a large image, the layer hash runs on a second thread
   * ({@link WorkerSha256}) while the files are hashed on this one (`options.parallel` forces either way).
   */
  async scan(paths: Iterable<string>, options: { parallel?: boolean } = {}): Promise<ImageScan> {
    if (this.scanning) throw new Error('ImageFs.scan is not reentrant'); // it reuses its read buffers
    this.scanning = true;
    try {
      return await this.scanLayers(paths, options.parallel);
    } finally {
      this.scanning = false;
    }
  }

  private async scanLayers(paths: Iterable<string>, parallel: boolean | undefined): Promise<ImageScan> {
    const byContent = new Map<number, FileHash>();
    const asked: [string, number][] = [];
    for (const p of paths) {
      const node = this.fileNode(p);
      if (!byContent.has(node.offset)) byContent.set(node.offset, { node, hash: createHash('sha256') });
      asked.push([p, node.offset]);
    }
    const perLayer = this.image.layerRegions.map(() => [] as FileHash[]);
    for (const c of byContent.values()) perLayer[c.node.layer]!.push(c);
    const total = this.image.layerRegions.reduce((n, r) => n + r.size, 0);
    const auto = total >= PARALLEL_MIN_BYTES && availableParallelism() > 1;
    const worker = (parallel ?? auto) ? new WorkerSha256(PARALLEL_CHUNK) : undefined;
    let layerBytes = 0;
    let fileBytes = 0;
    try {
      const layerDigests = new Map<number, string>(); // by region offset: a layer listed twice is read once
      for (let i = 0; i < this.image.layerRegions.length; i++) {
        const region = this.image.layerRegions[i]!;
        const files = perLayer[i]!.sort((a, b) => a.node.offset - b.node.offset);
        let digest = layerDigests.get(region.offset);
        if (digest === undefined || files.length > 0) {
          digest = `sha256:${await (worker ? this.hashLayerParallel(i, files, worker) : this.hashLayer(i, files))}`;
          layerDigests.set(region.offset, digest);
          layerBytes += region.size;
        }
        if (digest !== this.image.diffIds[i]) {
          throw new InputError(
            'ERR_PACKAGE_IMAGE_LAYER',
            `${this.where}: layer ${i + 1} (${this.image.layers[i]}) hashes to ${digest}, the config says ${this.image.diffIds[i]}`,
            { hint: 'The image archive was modified after `docker save`: do not use this package.' },
          );
        }
      }
    } finally {
      await worker?.close();
    }
    const digests = new Map<number, string>();
    for (const [offset, c] of byContent) {
      digests.set(offset, c.hash.digest('hex'));
      fileBytes += c.node.size;
    }
    return {
      hashes: new Map(asked.map(([p, offset]) => [p, digests.get(offset)!])),
      filesHashed: byContent.size,
      fileBytes,
      layerBytes,
    };
  }

  /** Give the part of each file (sorted by offset) inside chunk [pos, pos + buf.length) to its hash. */
  private static hashFileParts(files: FileHash[], from: number, pos: number, buf: Buffer): number {
    const end = pos + buf.length;
    for (let k = from; k < files.length && files[k]!.node.offset < end; k++) {
      const f = files[k]!;
      const s = Math.max(f.node.offset, pos);
      const e = Math.min(f.node.offset + f.node.size, end);
      if (e > s) f.hash.update(buf.subarray(s - pos, e - pos));
    }
    let next = from;
    while (next < files.length && files[next]!.node.offset + files[next]!.node.size <= end) next++;
    return next; // the first file not yet complete
  }

  private truncated(layer: number): InputError {
    return new InputError('ERR_PACKAGE_CORRUPT', `${this.where}: layer ${layer + 1} is truncated`);
  }

  /** Layer `i`'s SHA-256 on this thread; two buffers: the next chunk is read while this one is hashed. */
  private async hashLayer(i: number, files: FileHash[]): Promise<string> {
    const region = this.image.layerRegions[i]!;
    const end = region.offset + region.size;
    const layerHash = createHash('sha256');
    let next = 0;
    let pending = end > region.offset ? this.readChunk(region.offset, end, 0) : undefined;
    for (let pos = region.offset, turn = 0; pos < end; pos += READ_CHUNK, turn ^= 1) {
      const buf = await pending!;
      if (buf.length !== Math.min(READ_CHUNK, end - pos)) throw this.truncated(i);
      pending = pos + buf.length < end ? this.readChunk(pos + buf.length, end, turn ^ 1) : undefined;
      layerHash.update(buf);
      next = ImageFs.hashFileParts(files, next, pos, buf);
    }
    return layerHash.digest('hex');
  }

  /** Layer `i`'s SHA-256 on the worker, the files' parts on this thread, from the same shared chunks. */
  private async hashLayerParallel(i: number, files: FileHash[], worker: WorkerSha256): Promise<string> {
    const region = this.image.layerRegions[i]!;
    const end = region.offset + region.size;
    let next = 0;
    for (let pos = region.offset, slot = 0; pos < end; pos += worker.slotSize, slot = (slot + 1) % SLOTS) {
      await worker.consumed(slot);
      const want = Math.min(worker.slotSize, end - pos);
      const buf = worker.slot(slot).subarray(0, want);
      const got = this.src.readInto ? await this.src.readInto(pos, buf) : (await this.src.read(pos, want)).copy(buf);
      if (got !== want) throw this.truncated(i);
      worker.update(slot, want);
      next = ImageFs.hashFileParts(files, next, pos, buf);
    }
    return worker.digest();
  }

  private readonly buffers: Buffer[] = [];

  /** Bytes [pos, min(pos + READ_CHUNK, end)) into reusable buffer `which` (0 or 1). */
  private async readChunk(pos: number, end: number, which: number): Promise<Buffer> {
    const n = Math.min(READ_CHUNK, end - pos);
    if (!this.src.readInto) return this.src.read(pos, n);
    const buf = (this.buffers[which] ??= Buffer.allocUnsafe(READ_CHUNK)).subarray(0, n);
    return buf.subarray(0, await this.src.readInto(pos, buf));
  }
}

function statOf(n: ImageNode): ImageStat {
  return {
    kind: n.kind,
    size: n.kind === 'file' ? n.size : 0,
    mode: n.mode,
    ...(n.kind === 'symlink' ? { target: n.target } : {}),
  };
}

/**
 * Open the image in `src` (a docker-archive: the bytes of image.tar): read its manifest and config, index
 * every layer strictly and flatten them. Reads tar headers only. Throws `InputError` (`ERR_PACKAGE_*` for
 * the archive and tars, `ERR_IMAGE_*` for the layer semantics) naming the layer and the path.
 */
export async function openImageFs(
  src: TarSource,
  where: string,
  limits: Partial<PackageLimits & ImageFsLimits> = {},
): Promise<ImageFs> {
  const l = { ...DEFAULT_PACKAGE_LIMITS, ...DEFAULT_IMAGE_FS_LIMITS, ...limits };
  const image = await readImageTar(src, where, l, false);
  const layers: LayerIndex[] = [];
  let entryCount = 0;
  for (let i = 0; i < image.layers.length; i++) {
    const region = image.layerRegions[i]!;
    const layerWhere = `layer ${i + 1} (${image.layers[i]}) of ${where}`;
    const head = await src.read(region.offset, Math.min(8, region.size));
    const compressed = COMPRESSED_MAGIC.find(([, magic]) => magic.every((b, k) => head[k] === b));
    if (compressed) {
      throw new InputError('ERR_IMAGE_LAYER_COMPRESSED', `${layerWhere} is ${compressed[0]}-compressed`, {
        hint: "Layers are read by offset and must be plain tars, as 'docker save' writes them.",
      });
    }
    const entries = await indexTar(readAhead(subSource(src, region.offset, region.size)), layerWhere, {
      maxEntries: l.maxLayerEntries - entryCount,
      maxEntryBytes: region.size,
      maxTotalBytes: region.size,
      allow: ['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'],
    });
    entryCount += entries.length;
    layers.push({ where: layerWhere, base: region.offset, entries });
  }
  return new ImageFs(where, image, entryCount, flattenLayers(layers), src);
}
