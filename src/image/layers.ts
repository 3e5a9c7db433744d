/**
 * Flattening the layers of a Docker image into the file tree a container sees, without Docker. Pure: from
 * the strict tar index of each layer (src/package/tar-read.ts) to an in-memory tree whose regular files
 * point at their bytes inside the image archive.
 *
 * The rules are those of Docker's default storage driver, overlay2, as `docker load` applies them (each
 * layer is unpacked into its own directory, then the directories are stacked by overlayfs); every rule
 * below that deviates from a naive "extract the tars in order" was checked against Docker 20.10 (see
 * docs/measurement.md, "Image filesystem"):
 * - layers apply bottom first; an entry of an upper layer replaces the entry at the same path, except
 *   that a directory over a directory merges the two (the upper one's mode wins);
 * - a non-directory over a directory hides the whole lower subtree; a directory over a non-directory
 *   (a file or a **symbolic link**) replaces it: overlayfs never follows a lower symlink into an upper
 *   directory, so an upper `lib/x` over a lower `lib -> usr/lib` gives a real `lib/` holding only `x`;
 * - parents missing from a layer are created by it (mode 0755), with the same effect as a directory entry;
 * - `.wh.<name>` (a whiteout) deletes `<name>` and its subtree from the lower layers; `.wh..wh..opq` in a
 *   directory hides every lower entry of that directory (opaque); neither appears in the result; other
 *   `.wh..wh.*` names (AUFS metadata) are refused, as is a whiteout next to an entry of the same layer at
 *   the path it deletes (the unpacking order would decide);
 * - a hard link must name an **earlier** regular file of the **same** layer (overlay2 unpacks each layer
 *   alone: Docker fails with "link …: no such file or directory" otherwise); it shares that file's bytes;
 * - symbolic links are kept as written and resolved only at lookup, inside the image root
 *   ({@link resolveImagePath});
 * - character and block devices and FIFOs are accepted only under `dev/` (Debian root filesystems made by
 *   mmdebstrap carry /dev/null and friends; the runtime mounts its own /dev over them) and never read;
 *   anywhere else they are refused.
 */
import { InputError } from '../errors.js';
import { canonicalEntryPath, type TarEntryInfo } from '../package/tar-read.js';

export interface ImageFileNode {
  kind: 'file';
  mode: number;
  size: number;
  /** Index of the layer (bottom = 0) whose tar holds the bytes. */
  layer: number;
  /** Offset of the bytes inside the image archive (the source the layers were indexed from). */
  offset: number;
}
export interface ImageDirNode {
  kind: 'directory';
  mode: number;
  children: Map<string, ImageNode>;
}
export interface ImageSymlinkNode {
  kind: 'symlink';
  mode: number;
  target: string;
}
/** A device node or FIFO under /dev: listed, never read. */
export interface ImageSpecialNode {
  kind: 'special';
  mode: number;
  type: 'character-device' | 'block-device' | 'fifo';
}
export type ImageNode = ImageFileNode | ImageDirNode | ImageSymlinkNode | ImageSpecialNode;

/** One layer: its strict tar index, and where its tar starts inside the image archive. */
export interface LayerIndex {
  /** Names the layer in errors, e.g. `layer 2 (abc…/layer.tar) of image.tar in p.tar`. */
  where: string;
  /** Offset of the layer tar inside the image archive (entry offsets are relative to it). */
  base: number;
  entries: readonly TarEntryInfo[];
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const DEFAULT_DIR_MODE = 0o755;
const PERMISSION_BITS = 0o7777;

/** A layer's own tree (what overlay2 unpacks into the layer's directory). */
interface DiffDir {
  kind: 'directory';
  mode: number;
  opaque: boolean;
  children: Map<string, DiffNode>;
}
type DiffNode = DiffDir | Exclude<ImageNode, ImageDirNode> | { kind: 'whiteout' };

function layerError(code: string, where: string, message: string): InputError {
  return new InputError(code, `${where}: ${message}`, {
    hint: 'Docker would not load this image the same way (or at all); the image is refused.',
  });
}

/** A layer's tree while it is built: the files seen so far (hard link targets) and the last parent found. */
interface DiffBuild {
  layer: LayerIndex;
  layerNo: number;
  root: DiffDir;
  /** Regular files (and hard links to them) of this layer so far, by path. */
  files: Map<string, ImageFileNode>;
  // The parent directory of the previous entry: entries of a directory mostly follow each other, and a
  // directory of the layer's tree is never replaced once made (anything that would is an error).
  lastParent: string | undefined;
  lastDir: DiffDir;
}

/** The directory at `parts`, made (mode 0755) where missing; a whiteout or non-directory on the way is refused. */
function dirAt(build: DiffBuild, parts: readonly string[], path: string): DiffDir {
  let dir = build.root;
  for (const part of parts) {
    let next = dir.children.get(part);
    if (next === undefined) {
      next = { kind: 'directory', mode: DEFAULT_DIR_MODE, opaque: false, children: new Map() };
      dir.children.set(part, next);
    } else if (next.kind === 'whiteout') {
      // `.wh.d` and `d/x` in one layer: the unpacking order would decide.
      throw layerError('ERR_IMAGE_WHITEOUT', build.layer.where, `${path} lies under a path the same layer deletes`);
    } else if (next.kind !== 'directory') {
      throw layerError(
        'ERR_IMAGE_PATH_CONFLICT',
        build.layer.where,
        `${path} lies under ${parts.join('/')}, not a directory`,
      );
    }
    dir = next;
  }
  return dir;
}

/** {@link dirAt} of `parent` (`''` is the root), reusing the previous entry's when it is the same. */
function parentOf(build: DiffBuild, parent: string, path: string): DiffDir {
  if (parent !== build.lastParent) {
    build.lastDir = dirAt(build, parent === '' ? [] : parent.split('/'), path);
    build.lastParent = parent;
  }
  return build.lastDir;
}

/** `.wh..wh..opq` makes `dir` opaque; `.wh.<name>` deletes `<name>` (not written by this layer too). */
function addWhiteout(build: DiffBuild, e: TarEntryInfo, parent: string, name: string): void {
  const { where } = build.layer;
  if (e.type !== 'file' || e.size !== 0) {
    throw layerError('ERR_IMAGE_WHITEOUT', where, `whiteout ${e.path} is not an empty regular file`);
  }
  const dir = parentOf(build, parent, e.path);
  if (name === OPAQUE) {
    dir.opaque = true;
    return;
  }
  const target = name.slice(WHITEOUT.length);
  if (target.startsWith(WHITEOUT) || target === '' || target === '.' || target === '..') {
    throw layerError('ERR_IMAGE_WHITEOUT', where, `unsupported whiteout ${e.path}`);
  }
  if (dir.children.has(target)) {
    throw layerError('ERR_IMAGE_WHITEOUT', where, `${e.path} deletes an entry the same layer writes`);
  }
  dir.children.set(target, { kind: 'whiteout' });
}

/** A directory entry: new, or the mode of one made earlier as a parent; over anything else refused. */
function addDirectory(
  build: DiffBuild,
  dir: DiffDir,
  e: TarEntryInfo,
  name: string,
  mode: number,
  existing: DiffNode | undefined,
): void {
  if (existing === undefined) {
    dir.children.set(name, { kind: 'directory', mode, opaque: false, children: new Map() });
  } else if (existing.kind === 'directory') {
    existing.mode = mode; // it was created as the parent of an earlier entry
  } else {
    throw layerError(
      'ERR_IMAGE_PATH_CONFLICT',
      build.layer.where,
      `${e.path} is both a directory and a ${existing.kind}`,
    );
  }
}

/** A hard link: to an earlier regular file of this layer, whose bytes it shares (with its own mode). */
function addHardLink(build: DiffBuild, dir: DiffDir, e: TarEntryInfo, name: string, mode: number): void {
  const { where } = build.layer;
  const raw = e.linkname ?? '';
  let target: string;
  try {
    target = canonicalEntryPath(raw.replace(/^\/+/, ''), where);
  } catch {
    throw layerError('ERR_IMAGE_HARDLINK', where, `hard link ${e.path} names ${JSON.stringify(raw)}`);
  }
  const file = build.files.get(target);
  if (file === undefined) {
    throw layerError(
      'ERR_IMAGE_HARDLINK',
      where,
      `hard link ${e.path} -> ${target}: the target is not an earlier regular file of this layer`,
    );
  }
  dir.children.set(name, { ...file, mode });
  build.files.set(e.path, file);
}

/** A symbolic link, kept as written (resolved only at lookup); an empty target is refused. */
function addSymlink(build: DiffBuild, dir: DiffDir, e: TarEntryInfo, name: string, mode: number): void {
  const target = e.linkname ?? '';
  if (target === '' || target.includes('\0')) {
    throw layerError('ERR_IMAGE_SYMLINK', build.layer.where, `symbolic link ${e.path} has an empty target`);
  }
  dir.children.set(name, { kind: 'symlink', mode, target });
}

/** A non-directory over anything of the same layer (necessarily a parent made earlier): `ERR_IMAGE_PATH_CONFLICT`. */
function conflictError(build: DiffBuild, e: TarEntryInfo, what: string): InputError {
  return layerError('ERR_IMAGE_PATH_CONFLICT', build.layer.where, `${e.path} is both a ${what} and a directory`);
}

/** Add one non-whiteout entry under its parent (see the module comment for the rules). */
function addEntry(build: DiffBuild, e: TarEntryInfo, parent: string, name: string): void {
  const { layer } = build;
  const mode = e.mode & PERMISSION_BITS;
  const dir = parentOf(build, parent, e.path);
  const existing = dir.children.get(name);
  if (existing?.kind === 'whiteout') {
    throw layerError('ERR_IMAGE_WHITEOUT', layer.where, `${e.path} is also deleted by a whiteout of the same layer`);
  }
  switch (e.type) {
    case 'directory':
      addDirectory(build, dir, e, name, mode, existing);
      break;
    case 'file': {
      if (existing !== undefined) throw conflictError(build, e, 'file');
      const node: ImageFileNode = {
        kind: 'file',
        mode,
        size: e.size,
        layer: build.layerNo,
        offset: layer.base + e.offset,
      };
      build.files.set(e.path, node);
      dir.children.set(name, node);
      break;
    }
    case 'link':
      if (existing !== undefined) throw conflictError(build, e, 'hard link');
      addHardLink(build, dir, e, name, mode);
      break;
    case 'symlink':
      if (existing !== undefined) throw conflictError(build, e, 'symbolic link');
      addSymlink(build, dir, e, name, mode);
      break;
    case 'character-device':
    case 'block-device':
    case 'fifo':
      if (!e.path.startsWith('dev/')) {
        throw layerError('ERR_IMAGE_SPECIAL_FILE', layer.where, `${e.path} is a ${e.type}, accepted only under dev/`);
      }
      if (existing !== undefined) throw conflictError(build, e, e.type);
      dir.children.set(name, { kind: 'special', mode, type: e.type });
      break;
  }
}

/** Build one layer's own tree from its entries, in archive order. */
function diffTree(layer: LayerIndex, layerNo: number): DiffDir {
  const root: DiffDir = { kind: 'directory', mode: DEFAULT_DIR_MODE, opaque: false, children: new Map() };
  const build: DiffBuild = { layer, layerNo, root, files: new Map(), lastParent: undefined, lastDir: root };
  for (const e of layer.entries) {
    const slash = e.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : e.path.slice(0, slash);
    const name = e.path.slice(slash + 1);
    if (name.startsWith(WHITEOUT)) addWhiteout(build, e, parent, name);
    else addEntry(build, e, parent, name);
  }
  return root;
}

/** Stack a layer's tree on the merged tree, overlayfs-style (see the module comment). */
function mergeInto(target: ImageDirNode, diff: DiffDir): void {
  if (diff.opaque) target.children.clear();
  for (const [name, d] of diff.children) {
    if (d.kind === 'whiteout') {
      target.children.delete(name);
    } else if (d.kind === 'directory') {
      let t = target.children.get(name);
      if (t?.kind !== 'directory') {
        t = { kind: 'directory', mode: d.mode, children: new Map() };
        target.children.set(name, t);
      } else {
        t.mode = d.mode;
      }
      mergeInto(t, d);
    } else {
      target.children.set(name, d);
    }
  }
}

/** The merged tree of `layers` (bottom first). Throws `InputError` (`ERR_IMAGE_*`) naming layer and path. */
export function flattenLayers(layers: readonly LayerIndex[]): ImageDirNode {
  const root: ImageDirNode = { kind: 'directory', mode: DEFAULT_DIR_MODE, children: new Map() };
  layers.forEach((layer, i) => mergeInto(root, diffTree(layer, i)));
  return root;
}

/** Linux's limit on symbolic links followed while resolving one path (MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

export type ResolveFailure = 'ENOENT' | 'ENOTDIR' | 'ELOOP';

export type Resolved = { node: ImageNode; path: string } | { error: ResolveFailure; at: string };

/**
 * Resolve an absolute path inside the image as a process chrooted into it would: `.` skipped, `..` goes to
 * the parent and stops at the root, a symbolic link in the middle is always followed (an absolute target
 * restarts from the image root, never from the host's), the last component is followed when `followLast`
 * (stat) and not otherwise (lstat), at most {@link MAX_SYMLINK_HOPS} links. Returns the node and its
 * canonical path, or why it failed (`at` names the path reached).
 */
export function resolveImagePath(root: ImageDirNode, path: string, followLast: boolean): Resolved {
  return resolveCanonical(root, path, followLast) ?? resolveSlowly(root, path, followLast);
}

/**
 * The common case without allocation: a canonical absolute path (no `.`, `..`, empty component or
 * trailing `/`) that meets no symbolic link to follow and exists. Undefined otherwise.
 */
function resolveCanonical(root: ImageDirNode, path: string, followLast: boolean): Resolved | undefined {
  if (path === '/') return { node: root, path };
  let node: ImageNode = root;
  for (let start = 1; ;) {
    const end = path.indexOf('/', start);
    const part = end < 0 ? path.slice(start) : path.slice(start, end);
    if (part === '' || part === '.' || part === '..' || node.kind !== 'directory') return undefined;
    const child: ImageNode | undefined = node.children.get(part);
    if (child === undefined || (child.kind === 'symlink' && (end >= 0 || followLast))) return undefined;
    if (end < 0) return { node: child, path };
    node = child;
    start = end + 1;
  }
}

function resolveSlowly(root: ImageDirNode, path: string, followLast: boolean): Resolved {
  const pending = path.split('/').reverse();
  const names: string[] = [];
  const nodes: ImageNode[] = [];
  let hops = 0;
  for (let part = pending.pop(); part !== undefined; part = pending.pop()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      names.pop();
      nodes.pop();
      continue;
    }
    const dir = nodes.at(-1) ?? root;
    const here = (): string => '/' + [...names, part].join('/');
    if (dir.kind !== 'directory') return { error: 'ENOTDIR', at: '/' + names.join('/') };
    const child = dir.children.get(part);
    if (child === undefined) return { error: 'ENOENT', at: here() };
    const last = pending.every((p) => p === '' || p === '.');
    const trailingSlash = last && pending.length > 0;
    if (child.kind === 'symlink' && (!last || followLast || trailingSlash)) {
      if (++hops > MAX_SYMLINK_HOPS) return { error: 'ELOOP', at: here() };
      pending.push(...child.target.split('/').reverse());
      if (child.target.startsWith('/')) {
        names.length = 0;
        nodes.length = 0;
      }
      continue;
    }
    if (trailingSlash && child.kind !== 'directory') return { error: 'ENOTDIR', at: here() };
    names.push(part);
    nodes.push(child);
  }
  return { node: nodes.at(-1) ?? root, path: '/' + names.join('/') };
}
