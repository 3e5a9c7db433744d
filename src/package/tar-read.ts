/**
 * Strict tar indexing for untrusted archives (packages and their members), by random access: headers are
 * read and checked one by one and bodies are skipped, so finding a 200-byte config inside a 300 MB image
 * archive costs a few small reads instead of a full pass.
 *
 * {@link indexTar} returns every entry with where its content lies, after checking what every reader of
 * the archive must agree on:
 * - headers are ustar/GNU with a valid checksum; PAX (`x`) and GNU long-name (`L`/`K`) extensions are
 *   applied, but not both to one entry's names (Go's reader, which `docker load` uses, lets the GNU name
 *   win where others take the PAX record); global PAX headers, sparse files and other exotic types are
 *   refused;
 * - the path is relative and canonical: no leading `/`, no `..`, no empty or `.` component (one leading
 *   `./` is tolerated and removed), no backslash or NUL, valid UTF-8, bounded length;
 * - the entry type is one the caller allows (links, devices and FIFOs are refused unless asked for: only
 *   image layers ask, see src/image/layers.ts), and links,
 *   devices and directories declare no content (Go's archive/tar, used by `docker load`, ignores such a
 *   size while other readers do not: the ambiguity is refused);
 * - no two entries have the same path (tar readers disagree on which one wins);
 * - sizes are bounded, per entry and in total, and every body lies inside the archive;
 * - nothing but zero bytes, at most {@link MAX_TRAILER} of them, follows the end-of-archive marker (Python's
 *   tarfile and Go stop at the marker; a reader that went on would see other entries).
 * Failures are `InputError`s whose message names the archive and the entry.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntryInfo {
  /** Canonical relative path (no trailing `/` for directories). */
  path: string;
  type: TarEntryType;
  /** Content size (0 for everything but files). */
  size: number;
  /** Offset of the content inside the indexed source. */
  offset: number;
  mode: number;
  /** Link target (symlink/hard link), as written in the archive. */
  linkname?: string;
}

export interface TarReadLimits {
  /** Largest single entry, bytes. */
  maxEntryBytes: number;
  /** Largest sum of entry sizes, bytes. */
  maxTotalBytes: number;
  /** Most entries. */
  maxEntries: number;
  /** Entry types accepted; others are rejected with a specific error. */
  allow: TarEntryType[];
}

/** Zero bytes tolerated after the end-of-archive marker (tar pads to 10 KiB records; 64 KiB is ample). */
export const MAX_TRAILER = 64 * 1024;

/** Random access to the bytes of an archive. */
export interface TarSource {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: fill `target` with the bytes from `offset` (fewer at the end of the source); resolves with
   * the number of bytes copied. Lets long sequential reads reuse one buffer.
   */
  readInto?(offset: number, target: Buffer): Promise<number>;
  /**
   * Optional: {@link readInto} done synchronously, blocking the thread for the copy. For many small reads
   * (tar headers, where a round trip to libuv's thread pool costs more than the copy) and for chunks another
   * thread waits for (no third thread woken per chunk).
   */
  readIntoSync?(offset: number, target: Buffer): number;
  /**
   * Optional: the open file these bytes are, from byte `start` of descriptor `fd`, for a reader on another
   * thread (which must be done before the descriptor is closed).
   */
  file?: { fd: number; start: number };
}

/** A source over bytes in memory. */
export function bufferSource(buf: Buffer): TarSource {
  return {
    size: buf.length,
    read: (offset, length) => Promise.resolve(buf.subarray(offset, offset + length)),
    readInto: (offset, target) =>
      Promise.resolve(buf.copy(target, 0, offset, Math.min(buf.length, offset + target.length))),
    readIntoSync: (offset, target) => buf.copy(target, 0, offset, Math.min(buf.length, offset + target.length)),
  };
}

/** A source over `length` bytes of an open file starting at `start`. */
export function fileSource(fh: FileHandle, start: number, length: number): TarSource {
  const readInto = async (offset: number, target: Buffer): Promise<number> => {
    const n = Math.max(0, Math.min(target.length, length - offset));
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(target, done, n - done, start + offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  };
  const readIntoSync = (offset: number, target: Buffer): number => {
    const n = Math.max(0, Math.min(target.length, length - offset));
    let done = 0;
    while (done < n) {
      const bytesRead = readSync(fh.fd, target, done, n - done, start + offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  };
  return {
    size: length,
    async read(offset, len) {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, length - offset)));
      const done = await readInto(offset, buf);
      return done === buf.length ? buf : buf.subarray(0, done);
    },
    readInto,
    readIntoSync,
    file: { fd: fh.fd, start },
  };
}

/**
 * The bytes `[offset, offset + length)` of `src` in chunks of at most `chunk` bytes: for hashing or copying
 * an entry of any size in bounded memory. `what` names the source in the `ERR_FILE_CHANGED` raised when it
 * ends early (the file was truncated while being read).
 */
export async function* sourceChunks(
  src: TarSource,
  offset: number,
  length: number,
  what = 'the archive',
  chunk = 1 << 20,
): AsyncGenerator<Buffer> {
  for (let done = 0; done < length;) {
    const part = await src.read(offset + done, Math.min(chunk, length - done));
    if (part.length === 0) {
      throw new InputError(
        'ERR_FILE_CHANGED',
        `${what} ends at offset ${offset + done}, before the ${offset + length} bytes it had: it changed while being read`,
        { hint: 'Do not change the files while mse-home reads them, then run the command again.' },
      );
    }
    done += part.length;
    yield part;
  }
}

const BLOCK = 512;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Compare paths by their UTF-8 bytes (what `LC_ALL=C sort` does): -1, 0 or 1. */
export function comparePaths(a: string, b: string): number {
  // Below U+D800, UTF-16 units order as UTF-8 bytes do: compare in place (sorting a directory of thousands
  // of names allocates nothing), and encode only from the first surrogate or unit above it.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x >= 0xd800 || y >= 0xd800) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Canonicalise an entry path or throw `ERR_PACKAGE_UNSAFE_PATH`. */
export function canonicalEntryPath(raw: string, archive: string, isDirectory = false): string {
  const bad = (why: string): InputError =>
    new InputError('ERR_PACKAGE_UNSAFE_PATH', `${archive}: entry ${JSON.stringify(raw)} ${why}`, {
      hint: 'The archive was not written by mse-home or has been tampered with; do not use it.',
    });
  if (raw.length === 0) throw bad('has an empty name');
  if (raw.length > 4096) throw bad('has a name longer than 4096 characters');
  if (raw.includes('\0')) throw bad('contains a NUL byte');
  if (raw.includes('\\')) throw bad('contains a backslash');
  if (raw.startsWith('/')) throw bad('is an absolute path');
  let p = raw.startsWith('./') ? raw.slice(2) : raw;
  if (isDirectory && p.endsWith('/')) p = p.slice(0, -1);
  if (p.length === 0) throw bad('names the archive root');
  // Component by component, in place (no array per entry: layers hold thousands).
  for (let start = 0; start <= p.length;) {
    const slash = p.indexOf('/', start);
    const end = slash < 0 ? p.length : slash;
    const dots = end - start <= 2 && p.charCodeAt(start) === 0x2e ? end - start : 0; // "." → 1, ".." → 2
    if (dots === 2 && p.charCodeAt(start + 1) === 0x2e) throw bad("contains a '..' component");
    if (end === start || dots === 1) throw bad('is not a canonical path (empty or "." component)');
    start = end + 1;
  }
  return p;
}

/** Decode a NUL-terminated header string field. */
function field(block: Buffer, start: number, length: number, archive: string): string {
  let end = start;
  let ascii = true;
  for (; end < start + length && block[end] !== 0; end++) if (block[end]! >= 0x80) ascii = false;
  if (ascii) return block.toString('latin1', start, end); // ASCII is valid UTF-8 and decodes the same
  try {
    return utf8.decode(block.subarray(start, end));
  } catch (cause) {
    throw new InputError('ERR_PACKAGE_UNSAFE_PATH', `${archive}: a tar header holds a name that is not UTF-8`, {
      cause,
    });
  }
}

/** Decode a numeric field: octal text, or GNU base-256 (high bit set). Undefined when malformed. */
export function numericField(raw: Buffer): number | undefined {
  return numberAt(raw, 0, raw.length);
}

/**
 * {@link numericField} of `block[start, start + length)`, read in place (three fields per header of
 * layers holding thousands of entries). Octal text: leading spaces and trailing NULs and spaces are
 * ignored, nothing else but the digits 0-7 is accepted, empty is 0.
 */
function numberAt(block: Buffer, start: number, length: number): number | undefined {
  let n: number;
  if (block[start]! & 0x80) {
    if (block[start]! & 0x40) return undefined; // negative
    n = block[start]! & 0x3f;
    for (let k = start + 1; k < start + length; k++) n = n * 256 + block[k]!;
  } else {
    let end = start + length;
    while (end > start && (block[end - 1] === 0 || block[end - 1] === 0x20)) end--;
    let k = start;
    while (k < end && block[k] === 0x20) k++;
    n = 0;
    for (; k < end; k++) {
      const c = block[k]!;
      if (c < 0x30 || c > 0x37) return undefined;
      n = n * 8 + (c - 0x30); // past 2^53 inexact, but it only grows: still refused below
    }
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

function checksumOk(block: Buffer): boolean {
  const stored = numberAt(block, 148, 8);
  // Sums of the bytes as unsigned and as signed, the checksum field counted as 8 spaces: one pass adding
  // the bytes and counting those above 127 (each 256 less when signed), then the field swapped out.
  let sum = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = block[i]!;
    sum += b;
    high += b >> 7;
  }
  for (let i = 148; i < 156; i++) {
    sum -= block[i]!;
    high -= block[i]! >> 7;
  }
  const unsigned = sum + 8 * 0x20;
  return stored === unsigned || stored === unsigned - 256 * high;
}

/** Parse PAX records `"<len> <key>=<value>\n"` strictly. */
function parsePax(body: Buffer, archive: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const bad = (): InputError => new InputError('ERR_PACKAGE_CORRUPT', `${archive}: malformed PAX extended header`);
  while (i < body.length) {
    if (body[i] === 0) break; // padding
    const space = body.indexOf(0x20, i);
    if (space < 0) throw bad();
    const lenText = body.toString('latin1', i, space);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw bad();
    const len = Number(lenText);
    if (i + len > body.length || body[i + len - 1] !== 0x0a) throw bad();
    let record: string;
    try {
      record = utf8.decode(body.subarray(space + 1, i + len - 1));
    } catch {
      throw bad();
    }
    const eq = record.indexOf('=');
    if (eq <= 0) throw bad();
    const key = record.slice(0, eq);
    if (key.startsWith('GNU.sparse')) {
      throw new InputError('ERR_PACKAGE_SPECIAL_ENTRY', `${archive}: sparse files are not accepted`);
    }
    if (out.has(key)) throw bad();
    out.set(key, record.slice(eq + 1));
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/**
 * One pass of {@link indexTar}: where it is, what it has found, the extended headers waiting for their
 * entry, and the fields of the current header. One object per archive, rewritten per header: the steps
 * below allocate nothing per header beyond what the entry itself needs.
 */
interface TarScan {
  src: TarSource;
  archive: string;
  limits: TarReadLimits;
  entries: TarEntryInfo[];
  seen: Set<string>;
  /** Sum of the entry sizes so far. */
  total: number;
  /** Offset of the current header. */
  pos: number;
  /** Extended headers read for the next entry. */
  pax: Map<string, string> | undefined;
  longName: string | undefined;
  longLink: string | undefined;
  /** The current header: ustar (vs GNU) format, and its size, name and link name once extensions apply. */
  posix: boolean;
  size: number;
  name: string;
  linkname: string;
}

function corruptTar(archive: string, why: string): InputError {
  return new InputError('ERR_PACKAGE_CORRUPT', `${archive} is not a valid tar archive: ${why}`, {
    hint: 'The file is damaged, truncated, compressed or not a tar archive.',
  });
}

/** Is there room for a header at `scan.pos`? (The archive must end with an end-of-archive marker.) */
function checkHeaderRoom(scan: TarScan): void {
  if (scan.pos + BLOCK > scan.src.size) {
    throw corruptTar(
      scan.archive,
      scan.pos === 0 ? 'it is empty or shorter than one tar block' : 'it ends without an end-of-archive marker',
    );
  }
}

/** Is `block` the end-of-archive marker? Refused while extended headers wait for their entry. */
function isEndMarker(scan: TarScan, block: Buffer): boolean {
  if (block.length < BLOCK) throw corruptTar(scan.archive, 'unexpected end of file');
  // Every header has a name, so a first byte other than 0 rules out the end marker without a full scan.
  if (!(block[0] === 0 && block.every((b) => b === 0))) return false;
  if (scan.pax || scan.longName !== undefined || scan.longLink !== undefined) {
    throw corruptTar(scan.archive, 'an extended header has no entry');
  }
  return true;
}

/** Check a header's checksum and format and read its size into `scan`. */
function readHeader(scan: TarScan, block: Buffer): void {
  const { pos } = scan;
  if (!checksumOk(block)) throw corruptTar(scan.archive, `bad header checksum at offset ${pos}`);
  const magic = block.toString('latin1', 257, 265);
  const posix = magic === 'ustar\u000000';
  const gnu = magic === 'ustar  \u0000';
  if (!posix && !gnu) throw corruptTar(scan.archive, `unknown header format at offset ${pos} (not ustar)`);
  scan.posix = posix;
  const size = numberAt(block, 124, 12);
  if (size === undefined) throw corruptTar(scan.archive, `unreadable size at offset ${pos}`);
  scan.size = size;
}

function isExtension(typeflag: string): boolean {
  return typeflag === 'x' || typeflag === 'L' || typeflag === 'K';
}

/** Where an extended header's body starts, once its size is bounded and it lies inside the archive. */
function extensionBody(scan: TarScan): number {
  const { size, pos } = scan;
  if (size > 1 << 20) throw corruptTar(scan.archive, `extended header of ${size} bytes at offset ${pos}`);
  if (pos + BLOCK + Math.ceil(size / BLOCK) * BLOCK > scan.src.size) {
    throw corruptTar(scan.archive, 'truncated extended header');
  }
  return pos + BLOCK;
}

/** Keep a PAX (`x`) or GNU long name (`L`) / long link name (`K`) for the next entry; move past its body. */
function applyExtension(scan: TarScan, typeflag: string, body: Buffer): void {
  if (typeflag === 'x') {
    if (scan.pax) throw corruptTar(scan.archive, 'two PAX headers for one entry');
    scan.pax = parsePax(body, scan.archive);
  } else {
    const nul = body.indexOf(0);
    let text: string;
    try {
      text = utf8.decode(nul >= 0 ? body.subarray(0, nul) : body);
    } catch {
      throw new InputError('ERR_PACKAGE_UNSAFE_PATH', `${scan.archive}: a GNU long name is not UTF-8`);
    }
    if (typeflag === 'L') {
      if (scan.longName !== undefined) throw corruptTar(scan.archive, 'two GNU long names for one entry');
      scan.longName = text;
    } else {
      if (scan.longLink !== undefined) throw corruptTar(scan.archive, 'two GNU long link names for one entry');
      scan.longLink = text;
    }
  }
  scan.pos += BLOCK + Math.ceil(scan.size / BLOCK) * BLOCK;
}

/** The entry type of `typeflag`; global PAX headers and other types are `ERR_PACKAGE_SPECIAL_ENTRY`. */
function entryType(typeflag: string, scan: TarScan): TarEntryType {
  const type = TYPES[typeflag];
  if (typeflag === 'g') {
    throw new InputError('ERR_PACKAGE_SPECIAL_ENTRY', `${scan.archive}: global PAX headers are not accepted`);
  }
  if (!type) {
    throw new InputError(
      'ERR_PACKAGE_SPECIAL_ENTRY',
      `${scan.archive}: entry at offset ${scan.pos} has unsupported type ${JSON.stringify(typeflag)}`,
    );
  }
  return type;
}

/** The entry's name, link name and size: the header's, then the GNU long names', then PAX's; extensions consumed. */
/**
 * An entry named both by a PAX `path`/`linkpath` record and by a GNU long name or link is refused: Go's
 * archive/tar (`docker load`) lets the GNU name win, other readers the PAX record (review L4).
 */
function refuseAmbiguousName(scan: TarScan): void {
  const { pax, longName, longLink } = scan;
  if (pax && (pax.has('path') || pax.has('linkpath')) && (longName !== undefined || longLink !== undefined)) {
    throw new InputError(
      'ERR_PACKAGE_AMBIGUOUS_NAME',
      `${scan.archive}: the entry at offset ${scan.pos} is named twice, by a PAX ${pax.has('path') ? 'path' : 'linkpath'} ` +
        `record and a GNU long ${longName !== undefined ? 'name' : 'link name'}`,
      { hint: 'Tar readers disagree on which name wins (Docker takes the GNU one); the archive is refused.' },
    );
  }
}

function readNames(scan: TarScan, block: Buffer): void {
  const { archive, pax } = scan;
  let name = field(block, 0, 100, archive);
  if (scan.posix) {
    const prefix = field(block, 345, 155, archive);
    if (prefix) name = `${prefix}/${name}`;
  }
  let linkname = field(block, 157, 100, archive);
  if (scan.longName !== undefined) name = scan.longName;
  if (scan.longLink !== undefined) linkname = scan.longLink;
  if (pax) {
    const p = pax.get('path');
    const l = pax.get('linkpath');
    const s = pax.get('size');
    if (p !== undefined) name = p;
    if (l !== undefined) linkname = l;
    if (s !== undefined) {
      if (!/^(0|[1-9][0-9]*)$/.test(s) || !Number.isSafeInteger(Number(s))) throw corruptTar(archive, 'bad PAX size');
      scan.size = Number(s);
    }
  }
  scan.name = name;
  scan.linkname = linkname;
  scan.pax = undefined;
  scan.longName = undefined;
  scan.longLink = undefined;
}

/** Only files have content; devices and FIFOs only where the caller allows them. */
function checkContentAndDevice(scan: TarScan, type: TarEntryType): void {
  const { archive, name, size } = scan;
  if (type !== 'file' && size !== 0) {
    throw corruptTar(archive, `${type} entry ${JSON.stringify(name)} declares ${size} bytes of content`);
  }
  if (
    (type === 'character-device' || type === 'block-device' || type === 'fifo') &&
    !scan.limits.allow.includes(type)
  ) {
    throw new InputError('ERR_PACKAGE_SPECIAL_ENTRY', `${archive}: entry ${JSON.stringify(name)} is a ${type}`, {
      hint: 'Packages hold regular files only; do not use this archive.',
    });
  }
}

/** The entry's type must be allowed (`ERR_PACKAGE_LINK` for links, `ERR_PACKAGE_SPECIAL_ENTRY` otherwise). */
function checkAllowed(scan: TarScan, type: TarEntryType, path: string): void {
  if (scan.limits.allow.includes(type)) return;
  const { linkname } = scan;
  const what = type === 'symlink' ? 'a symbolic link' : type === 'link' ? 'a hard link' : `a ${type}`;
  throw new InputError(
    type === 'symlink' || type === 'link' ? 'ERR_PACKAGE_LINK' : 'ERR_PACKAGE_SPECIAL_ENTRY',
    `${scan.archive}: entry ${path} is ${what}${linkname ? ` to ${JSON.stringify(linkname)}` : ''}, not allowed here`,
    { hint: 'Packages hold regular files only; do not use this archive.' },
  );
}

/** Count the entry: a path seen once, within the entry, size and total limits, its body inside the archive. */
function countEntry(scan: TarScan, path: string, dataStart: number): void {
  const { archive, limits, size } = scan;
  if (scan.seen.has(path)) {
    throw new InputError('ERR_PACKAGE_DUPLICATE_ENTRY', `${archive}: entry ${path} appears more than once`, {
      hint: 'Tar readers disagree on which copy wins; the archive is ambiguous and refused.',
    });
  }
  scan.seen.add(path);
  if (scan.entries.length + 1 > limits.maxEntries) {
    throw new InputError('ERR_PACKAGE_TOO_MANY_ENTRIES', `${archive}: more than ${limits.maxEntries} entries`);
  }
  if (size > limits.maxEntryBytes) {
    throw new InputError(
      'ERR_PACKAGE_ENTRY_TOO_LARGE',
      `${archive}: entry ${path} is ${size} bytes, more than the ${limits.maxEntryBytes} allowed`,
    );
  }
  scan.total += size;
  if (scan.total > limits.maxTotalBytes) {
    throw new InputError(
      'ERR_PACKAGE_TOO_LARGE',
      `${archive}: entries add up to more than the ${limits.maxTotalBytes} bytes allowed`,
    );
  }
  if (dataStart + size > scan.src.size) {
    throw corruptTar(archive, `entry ${path} declares ${size} bytes but the archive ends before`);
  }
}

/**
 * Index every entry of the tar in `src` (see the module comment for the checks). `archive` names it in
 * errors, e.g. `image.tar in package_x.tar`.
 */
export async function indexTar(src: TarSource, archive: string, limits: TarReadLimits): Promise<TarEntryInfo[]> {
  const scan: TarScan = {
    src,
    archive,
    limits,
    entries: [],
    seen: new Set<string>(),
    total: 0,
    pos: 0,
    pax: undefined,
    longName: undefined,
    longLink: undefined,
    posix: false,
    size: 0,
    name: '',
    linkname: '',
  };
  for (;;) {
    checkHeaderRoom(scan);
    const block = await src.read(scan.pos, BLOCK);
    if (isEndMarker(scan, block)) {
      await checkTrailer(src, scan.pos + BLOCK, archive);
      return scan.entries;
    }
    readHeader(scan, block);
    const typeflag = String.fromCharCode(block[156]!);
    if (isExtension(typeflag)) {
      const body = await src.read(extensionBody(scan), scan.size);
      applyExtension(scan, typeflag, body);
      continue;
    }
    const type = entryType(typeflag, scan);
    refuseAmbiguousName(scan);
    readNames(scan, block);
    checkContentAndDevice(scan, type);
    const dataStart = scan.pos + BLOCK;
    if (type === 'directory' && (scan.name === './' || scan.name === '.')) {
      // The archive root, as `tar -C dir .` writes it: nothing to index.
      scan.pos = dataStart;
      continue;
    }
    const path = canonicalEntryPath(scan.name, archive, type === 'directory');
    checkAllowed(scan, type, path);
    countEntry(scan, path, dataStart);
    const info: TarEntryInfo = { path, type, size: scan.size, offset: dataStart, mode: numberAt(block, 100, 8) ?? 0 };
    if (scan.linkname) info.linkname = scan.linkname;
    scan.entries.push(info);
    scan.pos = dataStart + Math.ceil(scan.size / BLOCK) * BLOCK;
  }
}

async function checkTrailer(src: TarSource, from: number, archive: string): Promise<void> {
  const rest = src.size - from;
  const trailing = (): InputError =>
    new InputError('ERR_PACKAGE_TRAILING_DATA', `${archive}: data after the end-of-archive marker`, {
      hint: 'Another tar reader could see different entries; the archive is refused.',
    });
  if (rest > MAX_TRAILER) throw trailing();
  if (rest <= 0) return;
  const tail = await src.read(from, rest);
  if (!tail.every((b) => b === 0)) throw trailing();
}
