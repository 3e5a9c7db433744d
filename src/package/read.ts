/**
 * Reading an mse-home/MSE package (`package_<name>_<ts>.tar`), safely, in one streaming pass.
 *
 * The package is an uncompressed tar of exactly four regular files: `app.tar`, `image.tar`, `mse.toml`,
 * `tests.tar` (MSE's layout, §4 of the spec). {@link readPackage} checks the outer archive and each
 * member with the strict reader of `./tar-read.ts` (no absolute paths, no `..`, no links or devices in the
 * package, the code or the tests, no duplicates, bounded sizes, nothing after the end marker), parses
 * `mse.toml`, lists the code and test files with their SHA-256, and reads the image's config digest from
 * `image.tar` without Docker. With `destDir`, the four members are also written there (through a
 * temporary sibling directory renamed at the end, so a bad package leaves nothing behind).
 *
 * `image.tar` is a `docker save` archive (docker-archive: `manifest.json` + config JSON + layer tars, as
 * Docker 20.10 writes it, or the OCI-flavoured layout of Docker 25+ that keeps `manifest.json`). Its
 * config digest is SHA-256 of the config JSON bytes, which is also the image ID `docker load` gives it.
 * Symbolic and hard links *inside* image.tar are allowed when they stay inside it (`docker save` writes
 * them for repeated layers); they are never extracted by us.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { parseMseConfig, type MseConfig } from '../project/config.js';
import { bufferSource, fileSource, indexTar, type TarEntryInfo, type TarSource } from './tar-read.js';

/** The four members, in the order mse-home writes them (sorted). */
export const PACKAGE_MEMBERS = ['app.tar', 'image.tar', 'mse.toml', 'tests.tar'] as const;
export type PackageMember = (typeof PACKAGE_MEMBERS)[number];

export interface PackageLimits {
  /** mse.toml. Default 1 MiB. */
  maxConfigBytes: number;
  /** app.tar. Default 1 GiB. */
  maxAppTarBytes: number;
  /** tests.tar. Default 256 MiB. */
  maxTestsTarBytes: number;
  /** image.tar. Default 32 GiB. */
  maxImageTarBytes: number;
  /** Files in app.tar / tests.tar, each. Default 100 000. */
  maxFiles: number;
  /** Entries in image.tar. Default 100 000. */
  maxImageEntries: number;
  /** A JSON document inside image.tar (manifest, config). Default 16 MiB. */
  maxImageJsonBytes: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxConfigBytes: 1 << 20,
  maxAppTarBytes: 1 << 30,
  maxTestsTarBytes: 256 << 20,
  maxImageTarBytes: 32 * 2 ** 30,
  maxFiles: 100_000,
  maxImageEntries: 100_000,
  maxImageJsonBytes: 16 << 20,
};

/** A file of the code or the tests. */
export interface CodeFile {
  /** Relative POSIX path inside app.tar/tests.tar (`.enc` kept for encrypted files). */
  path: string;
  /** Lowercase hex SHA-256 of the bytes as stored in the tar (ciphertext for `.enc` files). */
  sha256: string;
  size: number;
  /** Content, when `withData` was asked. */
  data?: Buffer;
}

/** What image.tar holds. */
export interface PackageImage {
  /** `sha256:<hex>` of the config JSON: the image ID once loaded. */
  configDigest: string;
  /** Tags recorded by `docker save` (e.g. `my_app:1700000000000000000`). */
  repoTags: string[];
  /** Layer paths inside image.tar, bottom first. */
  layers: string[];
  /** `rootfs.diff_ids` of the config. */
  diffIds: string[];
  /** True when every layer was hashed and matched its diff ID (`verifyLayers`). */
  layersVerified: boolean;
  /** Where each layer's tar lies inside image.tar (same order as `layers`). */
  layerRegions: { offset: number; size: number }[];
}

export interface PackageContents {
  /** The package file read. */
  file: string;
  config: MseConfig;
  configText: string;
  configWarnings: string[];
  /** Files of app.tar, sorted by path. */
  appFiles: CodeFile[];
  /** Files of tests.tar, sorted by path. */
  testFiles: CodeFile[];
  /** True when app.tar holds `.enc` files (made by `package --encrypt`). */
  encrypted: boolean;
  /** Shorthand for `image.configDigest`. */
  imageConfigDigest: string;
  image: PackageImage;
  /**
   * Where each member lies in the package file, and its SHA-256 when `hashMembers` was asked.
   */
  members: Record<PackageMember, { offset: number; size: number; sha256?: string }>;
  /** Where the members were written, when `destDir` was given. */
  dir?: string;
  /** The bytes of app.tar exactly as read and measured, when `keepAppTar` was asked. */
  appTar?: Buffer;
}

export interface ReadPackageOptions {
  /** Keep the bytes of code and test files in `data`. */
  withData?: boolean;
  /**
   * Hash every layer of image.tar and compare with the config's diff IDs (decompressing gzip layers).
   * Costs a pass over the whole image (SHA-256 of a few hundred MB); `docker load` checks the same itself.
   */
  verifyLayers?: boolean;
  /** SHA-256 of each member (a pass over the whole package; SHA-256 runs at ~350 MB/s here). */
  hashMembers?: boolean;
  /** Return app.tar's bytes (`appTar`): the same bytes the file list and hashes were taken from. */
  keepAppTar?: boolean;
  limits?: Partial<PackageLimits>;
}

/**
 * Read and check `file`; with `destDir`, also write the four members there (the directory must not exist
 * yet; it is created with mode 0700). Throws `InputError` (`ERR_PACKAGE_*`) naming the member and entry.
 *
 * Cost without `destDir`/`hashMembers`/`verifyLayers`: reading the tar headers, mse.toml, app.tar,
 * tests.tar and the JSON documents of image.tar; the image layers are skipped, not read.
 */
export async function readPackage(
  file: string,
  destDir?: string,
  options: ReadPackageOptions = {},
): Promise<PackageContents> {
  const limits = { ...DEFAULT_PACKAGE_LIMITS, ...options.limits };
  const label = path.basename(file);
  let fh: FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new InputError('ERR_FILE_IS_DIRECTORY', `package ${file} is a directory`, { cause });
    throw new InputError('ERR_FILE_NOT_FOUND', `package not found: ${file}`, { cause });
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new InputError('ERR_FILE_IS_DIRECTORY', `package ${file} is not a regular file`);
    const outer = await indexTar(fileSource(fh, 0, stat.size), label, {
      maxEntries: PACKAGE_MEMBERS.length + 1,
      maxEntryBytes: Math.max(limits.maxImageTarBytes, limits.maxAppTarBytes, limits.maxTestsTarBytes),
      maxTotalBytes: limits.maxImageTarBytes + limits.maxAppTarBytes + limits.maxTestsTarBytes + limits.maxConfigBytes,
      allow: ['file'],
    });
    const byName = new Map<PackageMember, TarEntryInfo>();
    for (const e of outer) {
      if (!(PACKAGE_MEMBERS as readonly string[]).includes(e.path)) {
        throw new InputError('ERR_PACKAGE_UNEXPECTED_MEMBER', `${label}: unexpected member ${e.path}`, {
          hint: `A package holds exactly ${PACKAGE_MEMBERS.join(', ')}.`,
        });
      }
      const member = e.path as PackageMember;
      const max = memberLimit(member, limits);
      if (e.size > max) {
        throw new InputError(
          'ERR_PACKAGE_MEMBER_TOO_LARGE',
          `${label}: ${member} is ${e.size} bytes, more than the ${max} allowed`,
        );
      }
      byName.set(member, e);
    }
    for (const m of PACKAGE_MEMBERS) {
      if (!byName.has(m)) {
        throw new InputError('ERR_PACKAGE_MISSING_MEMBER', `'${m}' was not found in the package ${label}`, {
          hint: `A package holds ${PACKAGE_MEMBERS.join(', ')}; make it with 'mse home package'.`,
        });
      }
    }
    const region = (m: PackageMember): TarEntryInfo => byName.get(m)!;
    const readRegion = async (m: PackageMember): Promise<Buffer> =>
      fileSource(fh, 0, stat.size).read(region(m).offset, region(m).size);

    const configText = decodeUtf8(await readRegion('mse.toml'), `mse.toml in ${label}`);
    const { config, warnings } = parseMseConfig(configText, `mse.toml in ${label}`);
    const appTar = await readRegion('app.tar');
    const appFiles = await readCodeTar(appTar, `app.tar in ${label}`, limits, options.withData ?? false);
    const testFiles = await readCodeTar(
      await readRegion('tests.tar'),
      `tests.tar in ${label}`,
      { maxFiles: limits.maxFiles, maxAppTarBytes: limits.maxTestsTarBytes },
      options.withData ?? false,
    );
    const img = region('image.tar');
    const image = await readImageTar(
      fileSource(fh, img.offset, img.size),
      `image.tar in ${label}`,
      limits,
      options.verifyLayers ?? false,
      file,
      img.offset,
    );

    const members = Object.fromEntries(
      PACKAGE_MEMBERS.map((m) => [m, { offset: region(m).offset, size: region(m).size }]),
    ) as PackageContents['members'];
    let dir: string | undefined;
    if (destDir !== undefined) {
      dir = await extractMembers(file, destDir, byName, members, options.hashMembers ?? false);
    } else if (options.hashMembers) {
      for (const m of PACKAGE_MEMBERS) members[m].sha256 = await hashRange(file, region(m).offset, region(m).size);
    }
    return {
      file,
      config,
      configText,
      configWarnings: warnings,
      appFiles,
      testFiles,
      encrypted: appFiles.some((f) => f.path.endsWith('.enc')),
      imageConfigDigest: image.configDigest,
      image,
      members,
      ...(dir ? { dir } : {}),
      ...(options.keepAppTar ? { appTar } : {}),
    };
  } finally {
    await fh.close();
  }
}

/** Copy the members to `destDir` through a temporary sibling directory; hash them on the way. */
async function extractMembers(
  file: string,
  destDir: string,
  byName: Map<PackageMember, TarEntryInfo>,
  members: PackageContents['members'],
  hashMembers: boolean,
): Promise<string> {
  const target = path.resolve(destDir);
  try {
    await fs.lstat(target);
    throw new InputError('ERR_OUTPUT_EXISTS', `extraction directory ${destDir} already exists`, {
      hint: 'Choose a new directory; packages are never extracted over existing files.',
    });
  } catch (error) {
    if (error instanceof InputError) throw error;
  }
  const staging = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.partial-`));
  try {
    await fs.chmod(staging, 0o700);
    for (const m of PACKAGE_MEMBERS) {
      const e = byName.get(m)!;
      const hash = createHash('sha256');
      const out = createWriteStream(path.join(staging, m), { flags: 'wx', mode: 0o600 });
      if (e.size > 0) {
        await pipeline(
          createReadStream(file, { start: e.offset, end: e.offset + e.size - 1 }),
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const c of chunks) {
              if (hashMembers) hash.update(c);
              yield c;
            }
          },
          out,
        );
      } else {
        await new Promise<void>((resolve, reject) =>
          out.end((error?: Error | null) => (error ? reject(error) : resolve())),
        );
      }
      if (hashMembers) members[m].sha256 = hash.digest('hex');
    }
    await fs.rename(staging, target);
    return target;
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    if (error instanceof InputError) throw error;
    throw new InputError('ERR_FILE_IO', `cannot extract the package into ${destDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function hashRange(file: string, offset: number, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size > 0) await pipeline(createReadStream(file, { start: offset, end: offset + size - 1 }), hash);
  return hash.digest('hex');
}

function memberLimit(member: PackageMember, limits: PackageLimits): number {
  switch (member) {
    case 'mse.toml':
      return limits.maxConfigBytes;
    case 'app.tar':
      return limits.maxAppTarBytes;
    case 'tests.tar':
      return limits.maxTestsTarBytes;
    case 'image.tar':
      return limits.maxImageTarBytes;
  }
}

function decodeUtf8(bytes: Buffer, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InputError('ERR_PACKAGE_CONFIG_ENCODING', `${where} is not valid UTF-8`, { cause });
  }
}

/**
 * Read a code or tests tar held in memory: regular files and directories only; returns the files sorted
 * by path. A path used both as a file and as a directory is refused.
 */
export async function readCodeTar(
  tarBytes: Buffer,
  where: string,
  limits: Pick<PackageLimits, 'maxFiles' | 'maxAppTarBytes'>,
  withData: boolean,
): Promise<CodeFile[]> {
  const entries = await indexTar(bufferSource(tarBytes), where, {
    maxEntries: limits.maxFiles,
    maxEntryBytes: limits.maxAppTarBytes,
    maxTotalBytes: limits.maxAppTarBytes,
    allow: ['file', 'directory'],
  });
  const files: CodeFile[] = [];
  const dirs = new Set<string>();
  for (const e of entries) {
    if (e.type === 'directory') {
      dirs.add(e.path);
      continue;
    }
    const data = tarBytes.subarray(e.offset, e.offset + e.size);
    files.push({
      path: e.path,
      sha256: createHash('sha256').update(data).digest('hex'),
      size: e.size,
      ...(withData ? { data: Buffer.from(data) } : {}),
    });
  }
  const filePaths = new Set(files.map((f) => f.path));
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (filePaths.has(prefix)) {
        throw new InputError('ERR_PACKAGE_PATH_CONFLICT', `${where}: ${prefix} is both a file and a directory`);
      }
    }
  }
  for (const d of dirs) {
    if (filePaths.has(d)) {
      throw new InputError('ERR_PACKAGE_PATH_CONFLICT', `${where}: ${d} is both a file and a directory`);
    }
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Read image.tar's manifest and config by random access and return its config digest and layers.
 * `file`/`fileOffset` locate image.tar on disk, for streaming layers when `verifyLayers`.
 */
export async function readImageTar(
  src: TarSource,
  where: string,
  limits: Pick<PackageLimits, 'maxImageEntries' | 'maxImageTarBytes' | 'maxImageJsonBytes'>,
  verifyLayers: boolean,
  file?: string,
  fileOffset = 0,
): Promise<PackageImage> {
  const list = await indexTar(src, where, {
    maxEntries: limits.maxImageEntries,
    maxEntryBytes: limits.maxImageTarBytes,
    maxTotalBytes: limits.maxImageTarBytes,
    allow: ['file', 'directory', 'symlink', 'link'],
  });
  const entries = new Map(list.map((e) => [e.path, e]));
  const readBytes = async (p: string, what: string): Promise<Buffer> => {
    const e = entries.get(p)!;
    if (e.size > limits.maxImageJsonBytes) {
      throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: ${what} ${p} is ${e.size} bytes, too large`);
    }
    return src.read(e.offset, e.size);
  };

  if (entries.get('manifest.json')?.type !== 'file') {
    throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: no manifest.json (not a docker save archive)`, {
      hint: "image.tar must be the output of 'docker save' (docker-archive format).",
    });
  }
  const manifest = parseJson(
    await readBytes('manifest.json', 'manifest.json'),
    `${where}: manifest.json`,
    'ERR_PACKAGE_IMAGE_MANIFEST',
  );
  if (!Array.isArray(manifest) || manifest.length !== 1) {
    throw new InputError(
      'ERR_PACKAGE_IMAGE_MANIFEST',
      `${where}: manifest.json must describe exactly one image, found ${Array.isArray(manifest) ? manifest.length : 'no list'}`,
    );
  }
  const m = manifest[0] as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
  if (typeof m.Config !== 'string' || !Array.isArray(m.Layers) || m.Layers.some((l) => typeof l !== 'string')) {
    throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: manifest.json lacks Config or Layers`);
  }
  const repoTags = Array.isArray(m.RepoTags) ? m.RepoTags.filter((t): t is string => typeof t === 'string') : [];
  const configPath = resolveInArchive(m.Config, where, entries);
  const configBytes = await readBytes(configPath, 'image config');
  const digest = createHash('sha256').update(configBytes).digest('hex');
  // Docker names the config after its digest (`<hex>.json` or `blobs/sha256/<hex>`); a mismatch means tampering.
  const named = /(?:^|\/)([0-9a-f]{64})(?:\.json)?$/.exec(configPath)?.[1];
  if (named !== undefined && named !== digest) {
    throw new InputError(
      'ERR_PACKAGE_IMAGE_CONFIG',
      `${where}: image config ${m.Config} does not hash to the digest in its name (sha256:${digest})`,
    );
  }
  const config = parseJson(configBytes, `${where}: image config ${m.Config}`, 'ERR_PACKAGE_IMAGE_CONFIG');
  const diffIds = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d))) {
    throw new InputError('ERR_PACKAGE_IMAGE_CONFIG', `${where}: image config has no valid rootfs.diff_ids`);
  }
  if (diffIds.length !== m.Layers.length) {
    throw new InputError(
      'ERR_PACKAGE_IMAGE_CONFIG',
      `${where}: ${m.Layers.length} layers listed for ${diffIds.length} diff IDs in the config`,
    );
  }
  const layers = (m.Layers as string[]).map((l) => resolveInArchive(l, where, entries));
  if (verifyLayers) {
    if (file === undefined) throw new Error('verifyLayers needs the image file');
    for (let i = 0; i < layers.length; i++) {
      const e = entries.get(layers[i]!)!;
      const got = `sha256:${await layerDigest(file, fileOffset + e.offset, e.size)}`;
      if (got !== diffIds[i]) {
        throw new InputError(
          'ERR_PACKAGE_IMAGE_LAYER',
          `${where}: layer ${i + 1} (${layers[i]}) hashes to ${got}, the config says ${diffIds[i] as string}`,
        );
      }
    }
  }
  return {
    configDigest: `sha256:${digest}`,
    repoTags,
    layers,
    diffIds: diffIds as string[],
    layersVerified: verifyLayers,
    layerRegions: layers.map((l) => ({ offset: entries.get(l)!.offset, size: entries.get(l)!.size })),
  };
}

/** SHA-256 of a layer's uncompressed tar (gunzipped first when it is gzip). */
async function layerDigest(file: string, offset: number, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size === 0) return hash.digest('hex');
  const fh = await fs.open(file, 'r');
  const head = Buffer.alloc(2);
  try {
    await fh.read(head, 0, 2, offset);
  } finally {
    await fh.close();
  }
  const source = createReadStream(file, { start: offset, end: offset + size - 1 });
  if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(source, createGunzip(), hash);
  else await pipeline(source, hash);
  return hash.digest('hex');
}

/** Resolve a manifest path (following in-archive links) to a regular file entry. */
function resolveInArchive(p: string, where: string, entries: Map<string, TarEntryInfo>): string {
  let current = p.startsWith('./') ? p.slice(2) : p;
  for (let hops = 0; hops < 16; hops++) {
    const e = entries.get(current);
    if (!e) throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: manifest.json names ${p}, which is missing`);
    if (e.type === 'file') return current;
    if (e.type === 'directory') {
      throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: manifest.json names ${p}, a directory`);
    }
    const target = e.linkname ?? '';
    const base = e.type === 'symlink' ? path.posix.dirname(current) : '';
    const next = path.posix.normalize(path.posix.join(base, target));
    if (target.startsWith('/') || next.startsWith('../') || next === '..') {
      throw new InputError('ERR_PACKAGE_LINK', `${where}: link ${current} points outside the archive (${target})`);
    }
    current = next;
  }
  throw new InputError('ERR_PACKAGE_LINK', `${where}: too many links resolving ${p}`);
}

function parseJson(bytes: Buffer, what: string, code: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new InputError(code, `${what} is not valid JSON`, { cause });
  }
}
