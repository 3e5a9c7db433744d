/**
 * An image's file system as a Gramine {@link FileSource}: manifest finalization walks and hashes the
 * image's files from image.tar exactly as `gramine-sgx-sign` would inside a container of that image
 * (paths are the image's, symbolic links resolve inside it, as root every file is readable).
 *
 * Hashing goes through {@link ImageFs}: when finalization announces the files it will hash (`prefetch`),
 * they are hashed together ({@link ImageFs.hashFiles}), with the layer check started
 * ({@link ImageFs.checkLayers}, on a second thread for large images). {@link ImageFileSource.verified}
 * waits for that check (starting it when nothing was prefetched): a measurement taken over this source
 * must not be used before `verified()` has resolved, so none is ever used over layers that do not match
 * the image's config.
 */
import { createHash } from 'node:crypto';
import type { FileSource, SourceEntry } from '../gramine/index.js';
import type { ImageFs, ImageScan } from './image-fs.js';

export class ImageFileSource implements FileSource {
  readonly description: string;
  private hashes = new Map<string, string>();
  private filesHashed = 0;
  private fileBytes = 0;

  constructor(readonly fs: ImageFs) {
    this.description = `image ${fs.image.configDigest}`;
  }

  async stat(p: string): Promise<SourceEntry | undefined> {
    const link = this.fs.lstat(p);
    if (link === undefined) return undefined;
    const target = link.kind === 'symlink' ? this.fs.stat(p) : link;
    const kind = target?.kind === 'file' || target?.kind === 'directory' ? target.kind : 'other';
    return { kind, symlink: link.kind === 'symlink', readable: target !== undefined };
  }

  async list(p: string): Promise<string[]> {
    return this.fs.readdir(p);
  }

  read(p: string): AsyncIterable<Uint8Array> {
    return this.fs.stream(p);
  }

  async sha256(p: string): Promise<string> {
    const known = this.hashes.get(p);
    if (known !== undefined) return known;
    const hash = createHash('sha256');
    for await (const chunk of this.fs.stream(p)) hash.update(chunk);
    return hash.digest('hex');
  }

  async prefetch(paths: readonly string[]): Promise<void> {
    void this.fs.checkLayers(); // started if it was not: it runs while the files are hashed
    const files = paths.filter((p) => this.fs.stat(p)?.kind === 'file');
    const hashed = await this.fs.hashFiles(files);
    for (const [p, h] of hashed.hashes) this.hashes.set(p, h);
    this.filesHashed += hashed.filesHashed;
    this.fileBytes += hashed.fileBytes;
  }

  /** Every layer checked against its diff ID (see the module comment); what was read and hashed in all. */
  async verified(): Promise<Omit<ImageScan, 'hashes'>> {
    const layerBytes = await this.fs.checkLayers();
    return { filesHashed: this.filesHashed, fileBytes: this.fileBytes, layerBytes };
  }
}
