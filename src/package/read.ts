/**
 * Reading an mse-home/MSE package (`package_<name>_<ts>.tar`), safely, by random access through one
 * descriptor opened by the bounded reader (a regular file within the package limit), in bounded memory.
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
 * Symbolic and hard links *inside* image.tar are allowed when they resolve to an entry of it (`docker save`
 * writes them for repeated layers), every one of them, named by manifest.json or not; they are never
 * extracted by us.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { openUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { decodeMseConfig, parseMseConfig, type MseConfig } from '../project/config.js';
import {
  checkMemberSize,
  DEFAULT_PACKAGE_LIMITS,
  PACKAGE_MEMBERS,
  readCodeTar,
  sha256Hex,
  type CodeFile,
  type PackageLimits,
  type PackageMember,
} from './code-tar.js';
import { bufferSource, fileSource, indexTar, sourceChunks, type TarEntryInfo, type TarSource } from './tar-read.js';

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
  /** SHA-256 (hex) of app.tar's bytes: the enclave reads app.tar whole, and on sgx it is measured so. */
  appTarSha256: string;
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
  // Opened once, checked on the descriptor (a regular file within the package limit); everything below,
  // extraction included, reads through this one descriptor.
  const { handle: fh, size: fileSize } = await openUserFile(file, 'package', INPUT_LIMITS.package);
  try {
    return await readOpenPackage(fh, fileSize, file, destDir, options);
  } finally {
    await fh.close();
  }
}

/**
 * Read and check `file` as {@link readPackage} does, then run `fn` with what was read and its members as
 * sources over the same descriptor: whatever `fn` reads of a member (the image, for measuring it) comes
 * from the file that was checked, never from a path opened again. The file is closed after.
 */
export async function withPackage<T>(
  file: string,
  options: ReadPackageOptions,
  fn: (pkg: PackageContents, member: (m: PackageMember) => TarSource, handle: FileHandle) => Promise<T>,
): Promise<T> {
  const { handle: fh, size: fileSize } = await openUserFile(file, 'package', INPUT_LIMITS.package);
  try {
    const pkg = await readOpenPackage(fh, fileSize, file, undefined, options);
    return await fn(pkg, (m) => fileSource(fh, pkg.members[m].offset, pkg.members[m].size), fh);
  } finally {
    await fh.close();
  }
}

async function readOpenPackage(
  fh: FileHandle,
  fileSize: number,
  file: string,
  destDir: string | undefined,
  options: ReadPackageOptions,
): Promise<PackageContents> {
  const limits = { ...DEFAULT_PACKAGE_LIMITS, ...options.limits };
  const label = path.basename(file);
  {
    const outer = await indexTar(fileSource(fh, 0, fileSize), label, {
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
      checkMemberSize(member, e.size, label, limits);
      byName.set(member, e);
    }
    const region = (m: PackageMember): TarEntryInfo => {
      const e = byName.get(m);
      if (!e) {
        throw new InputError('ERR_PACKAGE_MISSING_MEMBER', `'${m}' was not found in the package ${label}`, {
          hint: `A package holds ${PACKAGE_MEMBERS.join(', ')}; make it with 'mse home package'.`,
        });
      }
      return e;
    };
    // every member is there before any is read
    for (const m of PACKAGE_MEMBERS) region(m);
    const memberSource = (m: PackageMember): TarSource => fileSource(fh, region(m).offset, region(m).size);

    const configWhere = `mse.toml in ${label}`;
    const configSource = memberSource('mse.toml');
    const configText = decodeMseConfig(await configSource.read(0, configSource.size), configWhere);
    const { config, warnings } = parseMseConfig(configText, configWhere);
    // app.tar and tests.tar are hashed by streaming over the package: memory stays bounded whatever their
    // size. Only a caller that keeps app.tar's bytes (spawn hands the enclave exactly the measured bytes)
    // reads it into memory, and then hashes those very bytes.
    const appTarSource = memberSource('app.tar');
    const appTar = options.keepAppTar ? await appTarSource.read(0, appTarSource.size) : undefined;
    const appTarSha256 = appTar
      ? createHash('sha256').update(appTar).digest('hex')
      : await sha256Hex(appTarSource, 0, appTarSource.size);
    const appFiles = await readCodeTar(
      appTar ? bufferSource(appTar) : appTarSource,
      `app.tar in ${label}`,
      limits,
      options.withData ?? false,
    );
    const testFiles = await readCodeTar(
      memberSource('tests.tar'),
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
    );

    const members = Object.fromEntries(
      PACKAGE_MEMBERS.map((m) => [m, { offset: region(m).offset, size: region(m).size }]),
    ) as PackageContents['members'];
    let dir: string | undefined;
    if (destDir !== undefined) {
      dir = await extractMembers(memberSource, destDir, members, options.hashMembers ?? false);
    } else if (options.hashMembers) {
      for (const m of PACKAGE_MEMBERS) members[m].sha256 = await sha256Hex(memberSource(m), 0, region(m).size);
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
      appTarSha256,
    };
  }
}

/** Copy the members to `destDir` through a temporary sibling directory; hash them on the way. */
async function extractMembers(
  memberSource: (m: PackageMember) => TarSource,
  destDir: string,
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
      const src = memberSource(m);
      const hash = createHash('sha256');
      await pipeline(
        Readable.from(sourceChunks(src, 0, src.size)),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const c of chunks) {
            if (hashMembers) hash.update(c);
            yield c;
          }
        },
        createWriteStream(path.join(staging, m), { flags: 'wx', mode: 0o600 }),
      );
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

/** Lowercase hex SHA-256 of `length` bytes of `src` from `offset`, streamed. */
/**
 * Read image.tar's manifest and config by random access and return its config digest and layers; with
 * `verifyLayers`, every layer is hashed (streamed) and compared with the config's diff IDs. Every link in the
 * archive must resolve to an entry inside it, whether or not manifest.json names it (`ERR_PACKAGE_LINK`).
 */
export async function readImageTar(
  src: TarSource,
  where: string,
  limits: Pick<PackageLimits, 'maxImageEntries' | 'maxImageTarBytes' | 'maxImageJsonBytes'>,
  verifyLayers: boolean,
): Promise<PackageImage> {
  const list = await indexTar(src, where, {
    maxEntries: limits.maxImageEntries,
    maxEntryBytes: limits.maxImageTarBytes,
    maxTotalBytes: limits.maxImageTarBytes,
    allow: ['file', 'directory', 'symlink', 'link'],
  });
  const entries = new Map(list.map((e) => [e.path, e]));
  checkImageLinks(list, where, entries);
  const readBytes = async (e: TarEntryInfo, what: string): Promise<Buffer> => {
    if (e.size > limits.maxImageJsonBytes) {
      throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: ${what} ${e.path} is ${e.size} bytes, too large`);
    }
    return src.read(e.offset, e.size);
  };

  const manifestEntry = entries.get('manifest.json');
  if (manifestEntry?.type !== 'file') {
    throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: no manifest.json (not a docker save archive)`, {
      hint: "image.tar must be the output of 'docker save' (docker-archive format).",
    });
  }
  const manifest = parseJson(
    await readBytes(manifestEntry, 'manifest.json'),
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
  const configEntry = resolveInArchive(m.Config, where, entries);
  const configPath = configEntry.path;
  const configBytes = await readBytes(configEntry, 'image config');
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
  const layerEntries = (m.Layers as string[]).map((l) => resolveInArchive(l, where, entries));
  const layers = layerEntries.map((e) => e.path);
  if (verifyLayers) {
    for (const [i, e] of layerEntries.entries()) {
      const got = `sha256:${await layerDigest(src, e.offset, e.size)}`;
      if (got !== diffIds[i]) {
        throw new InputError(
          'ERR_PACKAGE_IMAGE_LAYER',
          `${where}: layer ${i + 1} (${e.path}) hashes to ${got}, the config says ${diffIds[i] as string}`,
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
    layerRegions: layerEntries.map((e) => ({ offset: e.offset, size: e.size })),
  };
}

/** SHA-256 of a layer's uncompressed tar (gunzipped first when it is gzip), streamed. */
async function layerDigest(src: TarSource, offset: number, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size === 0) return hash.digest('hex');
  const head = await src.read(offset, 2);
  const source = Readable.from(sourceChunks(src, offset, size));
  if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(source, createGunzip(), hash);
  else await pipeline(source, hash);
  return hash.digest('hex');
}

/** Resolve a manifest path (following in-archive links, already checked) to a regular file entry. */
function resolveInArchive(p: string, where: string, entries: Map<string, TarEntryInfo>): TarEntryInfo {
  const e = entries.get(p.startsWith('./') ? p.slice(2) : p);
  if (!e) throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: manifest.json names ${p}, which is missing`);
  const final = followLinks(e, where, entries);
  if (final.type !== 'file') {
    throw new InputError('ERR_PACKAGE_IMAGE_MANIFEST', `${where}: manifest.json names ${p}, a ${final.type}`);
  }
  return final;
}

/**
 * Refuse any link of image.tar that does not resolve to an entry inside it, named by manifest.json or not
 * (`docker load` and other readers may follow any of them): absolute targets, `..` escapes, dangling
 * targets and chains longer than 16 links are `ERR_PACKAGE_LINK`.
 */
function checkImageLinks(list: TarEntryInfo[], where: string, entries: Map<string, TarEntryInfo>): void {
  for (const e of list) if (e.type === 'symlink' || e.type === 'link') followLinks(e, where, entries);
}

/** The entry `e` leads to through links (itself when it is not a link). */
function followLinks(e: TarEntryInfo, where: string, entries: Map<string, TarEntryInfo>): TarEntryInfo {
  let current = e;
  for (let hops = 0; hops <= 16; hops++) {
    if (current.type !== 'symlink' && current.type !== 'link') return current;
    const target = current.linkname ?? '';
    // A symbolic link is relative to its directory; a hard link names an archive path.
    const base = current.type === 'symlink' ? path.posix.dirname(current.path) : '';
    const next = path.posix.normalize(path.posix.join(base, target));
    if (target === '' || target.startsWith('/') || next === '..' || next.startsWith('../') || next === '.') {
      throw new InputError(
        'ERR_PACKAGE_LINK',
        `${where}: link ${current.path} points outside the archive (${JSON.stringify(target)})`,
        { hint: 'image.tar must be the output of docker save; links must stay inside it. Do not use this package.' },
      );
    }
    const found = entries.get(next);
    if (!found) {
      throw new InputError(
        'ERR_PACKAGE_LINK',
        `${where}: link ${current.path} points to ${JSON.stringify(target)}, which is not in the archive`,
        { hint: 'image.tar must be the output of docker save; links must stay inside it. Do not use this package.' },
      );
    }
    current = found;
  }
  throw new InputError('ERR_PACKAGE_LINK', `${where}: more than 16 links resolving ${e.path}`);
}

function parseJson(bytes: Buffer, what: string, code: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new InputError(code, `${what} is not valid JSON`, { cause });
  }
}
