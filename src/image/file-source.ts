/**
 * An image's file system as a Gramine {@link FileSource}: manifest finalization walks and hashes the
 * image's files from image.tar exactly as `gramine-sgx-sign` would inside a container of that image
 * (paths are the image's, symbolic links resolve inside it, as root every file is readable).
 *
 * Hashing goes through {@link ImageFs.scan}: when finalization announces the files it will hash
 * (`prefetch`), one pass over the layers hashes all of them and checks every layer's diff ID on the way.
 * {@link ImageFileSource.verified} runs that check alone when nothing was prefetched, so no measurement
 * is ever taken over layers that do not match the image's config.
 */
import { createHash } from 'node:crypto';
import type { FileSource, SourceEntry } from '../gramine/index.js';
import type { ImageFs, ImageScan } from './image-fs.js';

export class ImageFileSource implements FileSource {
  readonly description: string;
  private hashes = new Map<string, string>();
  private scans: ImageScan[] = [];

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
    const files = paths.filter((p) => this.fs.stat(p)?.kind === 'file');
    const scan = await this.fs.scan(files);
    this.scans.push(scan);
    for (const [p, h] of scan.hashes) this.hashes.set(p, h);
  }

  /**
   * Every layer checked against its diff ID (a scan of its own when no prefetch did it); returns what was
   * read and hashed in all.
   */
  async verified(): Promise<Omit<ImageScan, 'hashes'>> {
    if (this.scans.length === 0) this.scans.push(await this.fs.scan([]));
    return {
      filesHashed: this.scans.reduce((n, s) => n + s.filesHashed, 0),
      fileBytes: this.scans.reduce((n, s) => n + s.fileBytes, 0),
      layerBytes: this.scans.reduce((n, s) => n + s.layerBytes, 0),
    };
  }
}
