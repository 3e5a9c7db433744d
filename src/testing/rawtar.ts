/**
 * Hand-made tar archives for tests: every header field under control, including the malformed and
 * malicious ones no tar library will write (traversal names, devices, lying sizes, bad checksums, data
 * after the end marker). Also a minimal docker-archive image. Tests only.
 */
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

export interface RawEntry {
  name: string;
  /** Typeflag character (default '0', a regular file). */
  type?: string;
  data?: Buffer;
  /** Size written in the header (default: data length). */
  size?: number;
  linkname?: string;
  /** ustar prefix field. */
  prefix?: string;
  mode?: number;
  /** Header format (default posix ustar). */
  magic?: 'posix' | 'gnu' | 'none';
  /** Write a wrong checksum. */
  badChecksum?: boolean;
  /** Raw name bytes (overrides `name`), e.g. invalid UTF-8. */
  nameBytes?: Buffer;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One 512-byte header. */
export function rawHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  (e.nameBytes ?? Buffer.from(e.name, 'utf8')).copy(h, 0, 0, 100);
  h.write(octal(e.mode ?? 0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(e.size ?? e.data?.length ?? 0, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 'utf8');
  const magic = e.magic ?? 'posix';
  if (magic === 'posix') h.write('ustar\u000000', 257, 'latin1');
  if (magic === 'gnu') h.write('ustar  \u0000', 257, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

/** A PAX extended header body from records. */
export function paxBody(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    out += `${len}${rest}`;
  }
  return Buffer.from(out, 'utf8');
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem ? Buffer.concat([data, Buffer.alloc(512 - rem)]) : data;
}

/** A whole archive: headers, padded bodies, end marker (two zero blocks) and an optional trailer. */
export function rawTar(entries: RawEntry[], options: { trailer?: Buffer; noEnd?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(rawHeader(e));
    if (e.data?.length) parts.push(pad(e.data));
  }
  if (!options.noEnd) parts.push(Buffer.alloc(1024));
  if (options.trailer) parts.push(options.trailer);
  return Buffer.concat(parts);
}

/**
 * Write a tar of possibly huge entries to `file` without writing their bodies: the file is sized with
 * ftruncate (a sparse file: the holes read as zeros) and only the headers and each entry's `head` (the start
 * of its body, e.g. an inner tar header) are written. Returns the file size.
 */
export function writeSparseTar(file: string, entries: { name: string; size: number; head?: Buffer }[]): number {
  const fd = openSync(file, 'wx');
  try {
    let pos = 0;
    for (const e of entries) {
      writeSync(fd, rawHeader({ name: e.name, size: e.size }), 0, 512, pos);
      if (e.head) writeSync(fd, e.head, 0, e.head.length, pos + 512);
      pos += 512 + Math.ceil(e.size / 512) * 512;
    }
    const total = pos + 1024; // end-of-archive marker: zeros
    ftruncateSync(fd, total);
    return total;
  } finally {
    closeSync(fd);
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A minimal docker-archive (what `docker save` writes on Docker 20.10): one layer tar per entry of
 * `layers`, a config naming their diff IDs, a manifest. Returns the archive and the config digest.
 */
export function dockerArchive(
  layers: Buffer[],
  options: { repoTag?: string; configName?: string; extra?: RawEntry[]; config?: object } = {},
): { tar: Buffer; configDigest: string; config: Buffer } {
  const diffIds = layers.map((l) => `sha256:${sha256(l)}`);
  const config = Buffer.from(
    JSON.stringify(
      options.config ?? {
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: diffIds },
      },
    ),
  );
  const digest = sha256(config);
  const layerPaths = layers.map((l, i) => `${sha256(Buffer.from(`layer${i}${sha256(l)}`))}/layer.tar`);
  const configName = options.configName ?? `${digest}.json`;
  const manifest = Buffer.from(
    JSON.stringify([{ Config: configName, RepoTags: [options.repoTag ?? 'app:1'], Layers: layerPaths }]),
  );
  const entries: RawEntry[] = [];
  layers.forEach((l, i) => {
    const dir = layerPaths[i]!.split('/')[0]!;
    entries.push({ name: `${dir}/`, type: '5' });
    entries.push({ name: layerPaths[i]!, data: l });
  });
  entries.push({ name: configName, data: config });
  entries.push(...(options.extra ?? []));
  entries.push({ name: 'manifest.json', data: manifest });
  return { tar: rawTar(entries), configDigest: `sha256:${digest}`, config };
}
