/**
 * A minimal, strict, in-memory reader for the app archive (`/opt/input/app.tar`).
 *
 * TODO(docker): replace with the package component's tar reader once it is on main; this one exists so
 * the enclave does not depend on unmerged work. It accepts ustar (with the prefix field), pax `x` headers
 * (`path`, `size`) and GNU `L` long names; regular files and directories only. Archives are untrusted:
 * links, devices and FIFOs, absolute paths, `..` components, duplicate paths, a file used as a directory,
 * bad checksums, non-octal numbers, truncation and anything after the end-of-archive blocks but zero
 * padding are rejected with `InputError` `ERR_APP_TAR`, naming the entry.
 */
import { InputError } from '../errors.js';

export interface TarEntry {
  /** Normalized relative path (`a/b.py`), no leading `./`, no trailing `/`. */
  path: string;
  type: 'file' | 'directory';
  /** File content (empty for directories). */
  data: Uint8Array;
}

export interface TarLimits {
  /** Most entries accepted. Default 100 000. */
  maxEntries?: number;
  /** Longest path accepted, in bytes. Default 4096. */
  maxPathBytes?: number;
}

const BLOCK = 512;

function tarError(message: string): InputError {
  return new InputError('ERR_APP_TAR', `app.tar: ${message}`, {
    hint: 'Build the package again with `mse home package`; the archive is damaged or was not made by it.',
  });
}

function field(header: Uint8Array, offset: number, length: number): Uint8Array {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return nul < 0 ? raw : raw.subarray(0, nul);
}

function text(bytes: Uint8Array, what: string): string {
  const s = Buffer.from(bytes).toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(Buffer.from(bytes))) throw tarError(`${what} is not valid UTF-8`);
  return s;
}

function octal(header: Uint8Array, offset: number, length: number, what: string): number {
  const raw = header.subarray(offset, offset + length);
  if (raw[0]! & 0x80) throw tarError(`${what} uses base-256 encoding, which is not supported`);
  const s = Buffer.from(raw)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw tarError(`${what} is not an octal number`);
  const n = parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw tarError(`${what} is too large`);
  return n;
}

/** Normalize an archive path; throws for anything that could escape the extraction directory. */
export function safeRelativePath(name: string): string {
  if (name.includes('\0')) throw tarError(`entry ${JSON.stringify(name)} has a NUL byte in its path`);
  if (name.startsWith('/')) throw tarError(`entry ${JSON.stringify(name)} has an absolute path`);
  if (name.includes('\\')) throw tarError(`entry ${JSON.stringify(name)} has a backslash in its path`);
  const parts = name.split('/').filter((p, i, all) => !(p === '.' && i === 0) && !(p === '' && i === all.length - 1));
  if (parts.length === 0) return '';
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..')
      throw tarError(`entry ${JSON.stringify(name)} has an unsafe path component "${p}"`);
  }
  return parts.join('/');
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) throw tarError('malformed pax header');
    const lenText = Buffer.from(data.subarray(i, space)).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lenText)) throw tarError('malformed pax record length');
    const len = Number(lenText);
    if (i + len > data.length || data[i + len - 1] !== 0x0a) throw tarError('malformed pax record');
    const record = text(data.subarray(space + 1, i + len - 1), 'pax record');
    const eq = record.indexOf('=');
    if (eq <= 0) throw tarError('malformed pax record');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Read every entry of an uncompressed tar archive held in memory. */
export function readTar(archive: Uint8Array, limits: TarLimits = {}): TarEntry[] {
  const maxEntries = limits.maxEntries ?? 100_000;
  const maxPathBytes = limits.maxPathBytes ?? 4096;
  const entries: TarEntry[] = [];
  const kinds = new Map<string, 'file' | 'directory'>();
  let offset = 0;
  let pending: { path?: string; size?: number } = {};
  let ended = false;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) {
      ended = true;
      break;
    }
    // checksum: the sum of the header bytes with the checksum field read as spaces
    const stored = octal(header, 148, 8, 'header checksum');
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : header[k]!;
    if (sum !== stored) throw tarError(`bad header checksum at offset ${offset}`);
    const magic = Buffer.from(header.subarray(257, 265)).toString('latin1');
    if (magic !== 'ustar\u000000' && magic !== 'ustar  \u0000')
      throw tarError(`unknown header format at offset ${offset}`);
    const typeflag = String.fromCharCode(header[156]!);
    const headerSize = octal(header, 124, 12, 'entry size');
    const size = pending.size ?? headerSize;
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > archive.length) throw tarError(`entry at offset ${offset} is truncated`);
    const data = archive.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === 'x') {
      const pax = parsePax(data);
      pending = {};
      if (pax.path !== undefined) pending.path = pax.path;
      if (pax.size !== undefined) {
        if (!/^(0|[1-9][0-9]*)$/.test(pax.size)) throw tarError('malformed pax size');
        pending.size = Number(pax.size);
      }
      continue;
    }
    if (typeflag === 'g') continue; // global pax header: nothing in it matters here
    if (typeflag === 'L') {
      pending = { ...pending, path: text(field(data, 0, data.length), 'GNU long name') };
      continue;
    }
    const name = text(field(header, 0, 100), 'entry name');
    const prefix = text(field(header, 345, 155), 'entry prefix');
    const rawPath = pending.path ?? (prefix ? `${prefix}/${name}` : name);
    pending = {};
    if (Buffer.byteLength(rawPath) > maxPathBytes) throw tarError(`entry path is longer than ${maxPathBytes} bytes`);
    let type: 'file' | 'directory';
    if (typeflag === '0' || typeflag === '\0') type = 'file';
    else if (typeflag === '5') type = 'directory';
    else {
      const what = {
        '1': 'a hard link',
        '2': 'a symbolic link',
        '3': 'a character device',
        '4': 'a block device',
        '6': 'a FIFO',
      }[typeflag];
      throw tarError(
        `entry ${JSON.stringify(rawPath)} is ${what ?? `of unsupported type "${typeflag}"`}; only files and directories are allowed`,
      );
    }
    const rel = safeRelativePath(rawPath);
    if (rel === '') {
      if (type === 'directory') continue; // the archive root itself
      throw tarError('a file entry has an empty path');
    }
    if (type === 'directory' && size !== 0) throw tarError(`directory ${rel} has a size`);
    const previous = kinds.get(rel);
    if (previous) {
      if (previous === 'directory' && type === 'directory') continue;
      throw tarError(`entry ${rel} appears twice`);
    }
    // every parent must be (or become) a directory, never a file
    const parts = rel.split('/');
    for (let k = 1; k < parts.length; k++) {
      const parent = parts.slice(0, k).join('/');
      const kind = kinds.get(parent);
      if (kind === 'file') throw tarError(`entry ${rel} is inside ${parent}, which is a file`);
      if (!kind) kinds.set(parent, 'directory');
    }
    kinds.set(rel, type);
    entries.push({ path: rel, type, data: type === 'file' ? data : new Uint8Array(0) });
    if (entries.length > maxEntries) throw tarError(`more than ${maxEntries} entries`);
  }
  if (!ended) throw tarError('no end-of-archive marker (truncated archive)');
  if (!archive.subarray(offset).every((b) => b === 0)) throw tarError('data after the end-of-archive marker');
  if (pending.path !== undefined || pending.size !== undefined) throw tarError('extended header without an entry');
  // a directory entry that comes after a file of the same name was caught above; the reverse case too
  return entries;
}
