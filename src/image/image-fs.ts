/**
 * The file system of a Docker image read straight from its docker-archive (`image.tar`), with no Docker:
 * what a container started from the image would see, for measuring it (Gramine trusted files) offline.
 *
 * {@link openImageFs} reads image.tar's manifest and config (src/package/read.ts `readImageTar`), indexes
 * every layer tar with the strict random-access indexer (src/package/tar-read.ts; only headers are read,
 * bodies are skipped) and flattens the layers with overlay2's rules (./layers.ts). Nothing is extracted
 * and nothing touches the host file system: paths are resolved inside the image root only.
 *
 * File contents are read from the archive by offset. {@link ImageFs.checkLayers} computes each layer's
 * SHA-256 and compares it with the config's `rootfs.diff_ids` (refusing the image on a mismatch), on a
 * second thread that reads the archive itself for large images; {@link ImageFs.hashFiles} hashes the files
 * asked for, both threads sharing the work once the layers are checked. Memory stays bounded by a few read
 * buffers, whatever the image size.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { InputError } from '../errors.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageLimits } from '../package/code-tar.js';
import { readImageTar, type PackageImage } from '../package/read.js';
import { comparePaths, indexTar, type TarSource } from '../package/tar-read.js';
import {
  flattenLayers,
  resolveImagePath,
  type ImageDirNode,
  type ImageFileNode,
  type ImageNode,
  type LayerIndex,
  type Resolved,
} from './layers.js';
import { claimJob, fileJobs, HashWorker } from './worker-hash.js';

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

/** Bytes read at a time by file streams and by a layer check on this thread. */
export const READ_CHUNK = 1 << 20;
/**
 * Largest run of small files hashed as one job (one read), and the size of each read of a larger file:
 * jobs small enough that neither thread is left with much to do after the other has finished.
 */
export const JOB_BYTES = 1 << 20;

/** Layers adding up to this many bytes get their hash computed on a second thread (when there is a core for it). */
export const PARALLEL_MIN_BYTES = 64 << 20;

/** A source over `length` bytes of `src` from `start`. */
function subSource(src: TarSource, start: number, length: number): TarSource {
  const within = (offset: number, target: Buffer): Buffer =>
    target.subarray(0, Math.max(0, Math.min(target.length, length - offset)));
  const { readInto, readIntoSync } = src;
  return {
    size: length,
    read: (offset, len) => src.read(start + offset, Math.min(len, length - offset)),
    ...(readInto ? { readInto: (offset, target) => readInto.call(src, start + offset, within(offset, target)) } : {}),
    ...(readIntoSync
      ? { readIntoSync: (offset, target) => readIntoSync.call(src, start + offset, within(offset, target)) }
      : {}),
    ...(src.file ? { file: { fd: src.file.fd, start: src.file.start + start } } : {}),
  };
}

/** Bytes read at a time for the tar indexer's header reads (see {@link readAhead}). */
export const HEADER_READ_AHEAD = 16 << 10;

/**
 * Serve the small sequential reads of the tar indexer (one 512-byte header at a time, bodies skipped) from
 * a block read ahead, synchronously when the source can: the headers of small files share a block. A
 * block of 16 KiB copies a sixth of what 1 MiB blocks copied for the 230 MB test image (36 MB in 2 200
 * reads, against 115 MB in 115) and costs less in all; asynchronous reads would each cost a round trip to
 * libuv's thread pool. One buffer is reused: a returned view is valid until the next read, which is how
 * the indexer uses it.
 */
function readAhead(src: TarSource, blockSize = HEADER_READ_AHEAD): TarSource {
  let start = -1;
  let length = 0;
  let block: Buffer | undefined;
  return {
    size: src.size,
    async read(offset, want) {
      if (want > blockSize) return src.read(offset, want);
      if (offset < start || offset + want > start + length) {
        const n = Math.min(blockSize, src.size - offset);
        if (src.readIntoSync) {
          block ??= Buffer.allocUnsafe(blockSize);
          length = src.readIntoSync(offset, block.subarray(0, n));
        } else if (src.readInto) {
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

  /** The layer check, once started (see {@link checkLayers}). */
  private layerCheck: Promise<number> | undefined;
  /** The second thread, when one was decided on (see {@link hashWorker}). */
  private worker: HashWorker | undefined;
  private workerDecided = false;

  /**
   * The second thread that hashes the layers (and then helps with the files), created on first use: when
   * the archive is a file another thread can read (`TarSource.file`) and, unless `parallel` says, when the
   * layers add up to {@link PARALLEL_MIN_BYTES} or more and there is a spare core. Decided once.
   */
  private hashWorker(parallel: boolean | undefined): HashWorker | undefined {
    if (!this.workerDecided) {
      this.workerDecided = true;
      const total = this.image.layerRegions.reduce((n, r) => n + r.size, 0);
      const wanted = parallel ?? (total >= PARALLEL_MIN_BYTES && availableParallelism() > 1);
      if (wanted && this.src.file) this.worker = new HashWorker();
    }
    return this.worker;
  }

  /**
   * Check every layer tar against its diff ID: `ERR_PACKAGE_IMAGE_LAYER` on a mismatch, `ERR_PACKAGE_CORRUPT`
   * for a truncated one. Resolves with the bytes of layer tars read (a layer listed twice is read once).
   * Starts the check on the first call and returns the same promise after: on a second thread that reads
   * the archive itself when there is one (so it runs while this thread indexes, walks and hashes files),
   * else here. Call {@link close} before closing the archive's file.
   */
  checkLayers(options: { parallel?: boolean } = {}): Promise<number> {
    if (this.layerCheck === undefined) {
      const worker = this.hashWorker(options.parallel);
      this.layerCheck = this.checkLayersWith(worker);
      this.layerCheck.catch(() => undefined); // the caller awaits it later: not an unhandled rejection meanwhile
    }
    return this.layerCheck;
  }

  private async checkLayersWith(worker: HashWorker | undefined): Promise<number> {
    const regions = this.image.layerRegions;
    const distinct = [...new Map(regions.map((r) => [r.offset, r])).values()];
    let digests: (string | null)[];
    if (worker) {
      const file = this.src.file!;
      digests = await worker.layers(
        file.fd,
        distinct.map((r) => ({ offset: file.start + r.offset, size: r.size })),
      );
    } else {
      digests = [];
      for (const r of distinct) digests.push(await this.layerDigest(r.offset, r.size));
    }
    const byOffset = new Map(distinct.map((r, k) => [r.offset, digests[k]]));
    regions.forEach((r, i) => {
      const digest = byOffset.get(r.offset);
      if (digest === null || digest === undefined) throw this.truncated(i);
      if (`sha256:${digest}` !== this.image.diffIds[i]) {
        throw new InputError(
          'ERR_PACKAGE_IMAGE_LAYER',
          `${this.where}: layer ${i + 1} (${this.image.layers[i]}) hashes to sha256:${digest}, the config says ${this.image.diffIds[i]}`,
          { hint: 'The image archive was modified after `docker save`: do not use this package.' },
        );
      }
    });
    return distinct.reduce((n, r) => n + r.size, 0);
  }

  /** SHA-256 of `size` bytes at `offset` on this thread (null when the archive ends before), read ahead. */
  private async layerDigest(offset: number, size: number): Promise<string | null> {
    const hash = createHash('sha256');
    const end = offset + size;
    const buffers = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)];
    let pending = size > 0 ? this.readAt(offset, Math.min(READ_CHUNK, size), buffers[0]!) : undefined;
    for (let pos = offset, turn = 0; pos < end; pos += READ_CHUNK, turn ^= 1) {
      const buf = await pending!;
      if (buf.length !== Math.min(READ_CHUNK, end - pos)) return null;
      const next = pos + buf.length;
      pending = next < end ? this.readAt(next, Math.min(READ_CHUNK, end - next), buffers[turn ^ 1]!) : undefined;
      hash.update(buf);
    }
    return hash.digest('hex');
  }

  /** Up to `length` bytes at `offset` into `buffer` (synchronously when the source can); fewer at its end. */
  private async readAt(offset: number, length: number, buffer: Buffer): Promise<Buffer> {
    const target = buffer.subarray(0, length);
    const src = this.src;
    if (src.readIntoSync) return target.subarray(0, src.readIntoSync(offset, target));
    if (src.readInto) return target.subarray(0, await src.readInto(offset, target));
    return src.read(offset, length);
  }

  /**
   * The SHA-256 (lowercase hex) of the regular files at `paths` (symbolic links followed), each content
   * hashed once (hard links and paths reaching the same file count once). Every path must resolve to a
   * regular file (`ERR_IMAGE_PATH_NOT_FOUND`, `ERR_IMAGE_NOT_A_FILE` otherwise). Only the files' bytes are
   * read. With the second thread, once it has checked the layers it takes its share of the files: both
   * threads claim jobs (a run of small files within {@link JOB_BYTES}, or one larger file) from one
   * counter, largest first. Does not check the layers: see {@link checkLayers}, {@link scan}.
   */
  async hashFiles(
    paths: Iterable<string>,
    options: { parallel?: boolean } = {},
  ): Promise<Omit<ImageScan, 'layerBytes'>> {
    const byContent = new Map<number, ImageFileNode>();
    const asked: [string, number][] = [];
    for (const p of paths) {
      const node = this.fileNode(p);
      byContent.set(node.offset, node);
      asked.push([p, node.offset]);
    }
    const nodes = [...byContent.values()].sort((a, b) => a.offset - b.offset);
    // Jobs: runs of adjacent files spanning at most JOB_BYTES, or one larger file; largest first.
    const runs: ImageFileNode[][] = [];
    for (const n of nodes) {
      const run = runs[runs.length - 1];
      if (run && n.size <= JOB_BYTES && n.offset + n.size - run[0]!.offset <= JOB_BYTES && run[0]!.size <= JOB_BYTES) {
        run.push(n);
      } else {
        runs.push([n]);
      }
    }
    const span = (run: ImageFileNode[]): number =>
      run[run.length - 1]!.offset + run[run.length - 1]!.size - run[0]!.offset;
    runs.sort((a, b) => span(b) - span(a));
    const ordered = runs.flat();
    const starts = [0];
    for (const run of runs) starts.push(starts[starts.length - 1]! + run.length);
    const base = this.src.file?.start ?? 0;
    const jobs = fileJobs(
      ordered.map((n) => ({ offset: base + n.offset, size: n.size })),
      starts,
    );

    const worker = this.hashWorker(options.parallel);
    if (worker) worker.files(this.src.file!.fd, jobs);
    const digests: (string | undefined)[] = new Array(ordered.length);
    const buffer = Buffer.allocUnsafe(JOB_BYTES);
    try {
      for (let job = claimJob(jobs); job !== undefined; job = claimJob(jobs)) {
        const [from, to] = job;
        const first = ordered[from]!;
        if (to - from === 1 && first.size > JOB_BYTES) {
          const hash = createHash('sha256');
          for (let pos = 0; pos < first.size; pos += JOB_BYTES) {
            const want = Math.min(JOB_BYTES, first.size - pos);
            const buf = await this.readAt(first.offset + pos, want, buffer);
            if (buf.length !== want) throw this.truncated(first.layer);
            hash.update(buf);
          }
          digests[from] = hash.digest('hex');
          continue;
        }
        const last = ordered[to - 1]!;
        const want = last.offset + last.size - first.offset;
        const buf = await this.readAt(first.offset, want, buffer);
        if (buf.length !== want) throw this.truncated(last.layer);
        for (let i = from; i < to; i++) {
          const n = ordered[i]!;
          digests[i] = createHash('sha256')
            .update(buf.subarray(n.offset - first.offset, n.offset - first.offset + n.size))
            .digest('hex');
        }
      }
    } finally {
      Atomics.store(jobs.control, 0, starts.length); // after a failure here, the worker takes no more jobs
      await worker?.filesDone(jobs);
    }
    const failed = Atomics.load(jobs.control, 2);
    if (failed > 0) throw this.truncated(ordered[failed - 1]!.layer);
    const hex = new Map<number, string>();
    let fileBytes = 0;
    if (failed !== 0) throw new Error('hash worker failed while hashing files');
    ordered.forEach((n, i) => {
      let d = digests[i];
      if (d === undefined) {
        // Hashed by the worker; one that stopped (crashed, terminated) while holding a job left no digest.
        if (jobs.done[i] !== 1) throw new Error('hash worker stopped while hashing files');
        d = Buffer.from(jobs.digests.subarray(i * 32, i * 32 + 32)).toString('hex');
      }
      hex.set(n.offset, d);
      fileBytes += n.size;
    });
    return {
      hashes: new Map(asked.map(([p, offset]) => [p, hex.get(offset)!])),
      filesHashed: ordered.length,
      fileBytes,
    };
  }

  /**
   * Hash the regular files at `paths` ({@link hashFiles}) and check every layer against its diff ID
   * ({@link checkLayers}), in parallel when there is a second thread (`options.parallel` forces either way).
   */
  async scan(paths: Iterable<string>, options: { parallel?: boolean } = {}): Promise<ImageScan> {
    const layers = this.checkLayers(options);
    const files = await this.hashFiles(paths, options);
    return { ...files, layerBytes: await layers };
  }

  /** Stop the second thread, if any (it may be reading: close the archive's file only after this). Idempotent. */
  async close(): Promise<void> {
    this.workerDecided = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.close();
  }

  private truncated(layer: number): InputError {
    return new InputError('ERR_PACKAGE_CORRUPT', `${this.where}: layer ${layer + 1} is truncated`);
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
