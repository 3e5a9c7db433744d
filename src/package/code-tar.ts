/**
 * What both the package reader and the enclave read: the package's members and their size limits, and the
 * reader of a code or tests tar (`app.tar`, `tests.tar`) by random access, with the strict tar reader of
 * `./tar-read.ts`. The enclave bootstrap reads `app.tar` with it and applies the same limits as
 * `readPackage`; it loads neither `./read.ts` (mse.toml, image.tar) nor a TOML parser.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { formatBytes, formatBytesExact, INPUT_LIMITS } from '../fs/limits.js';
import { indexTar, sourceChunks, type TarSource } from './tar-read.js';

/** The four members, in the order mse-home writes them (sorted). */
export const PACKAGE_MEMBERS = ['app.tar', 'image.tar', 'mse.toml', 'tests.tar'] as const;
export type PackageMember = (typeof PACKAGE_MEMBERS)[number];

/** Size limits of a package; the defaults are the named limits of `src/fs/limits.ts`. */
export interface PackageLimits {
  /** mse.toml. Default 1 MiB (`INPUT_LIMITS.config`). */
  maxConfigBytes: number;
  /** app.tar. Default 512 MiB (`INPUT_LIMITS.appTar`), the same bound the enclave applies. */
  maxAppTarBytes: number;
  /** tests.tar. Default 256 MiB (`INPUT_LIMITS.testsTar`). */
  maxTestsTarBytes: number;
  /** image.tar. Default 32 GiB (`INPUT_LIMITS.imageTar`). */
  maxImageTarBytes: number;
  /** Files in app.tar / tests.tar, each. Default 100 000. */
  maxFiles: number;
  /** Entries in image.tar. Default 100 000. */
  maxImageEntries: number;
  /** A JSON document inside image.tar (manifest, config). Default 16 MiB. */
  maxImageJsonBytes: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxConfigBytes: INPUT_LIMITS.config.maxBytes,
  maxAppTarBytes: INPUT_LIMITS.appTar.maxBytes,
  maxTestsTarBytes: INPUT_LIMITS.testsTar.maxBytes,
  maxImageTarBytes: INPUT_LIMITS.imageTar.maxBytes,
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

/**
 * Refuse a package member above its limit (`ERR_PACKAGE_MEMBER_TOO_LARGE`): `readPackage`, `package` (as
 * it makes them) and the enclave (for the app.tar it is given) apply the same limits.
 */
export function checkMemberSize(
  member: PackageMember,
  size: number,
  where: string,
  limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
): void {
  const max = memberLimit(member, limits);
  if (size <= max) return;
  throw new InputError(
    'ERR_PACKAGE_MEMBER_TOO_LARGE',
    `${where}: ${member} is ${formatBytesExact(size)}, more than the ${formatBytes(max)} allowed`,
    {
      hint:
        `mse-home accepts at most ${formatBytes(max)} for ${member} (docs/cli.md, "Input limits")` +
        (member === 'app.tar' ? ': the enclave holds the code in memory; move data out of the code directory.' : '.'),
    },
  );
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

/**
 * Read a code or tests tar by random access: regular files and directories only; returns the files sorted
 * by path, each hashed by streaming its bytes (memory stays bounded unless `withData` keeps them). A path
 * used both as a file and as a directory is refused.
 */
export async function readCodeTar(
  src: TarSource,
  where: string,
  limits: Pick<PackageLimits, 'maxFiles' | 'maxAppTarBytes'>,
  withData: boolean,
): Promise<CodeFile[]> {
  const entries = await indexTar(src, where, {
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
    if (withData) {
      const chunks: Buffer[] = [];
      for await (const c of sourceChunks(src, e.offset, e.size, where)) chunks.push(c);
      const data = Buffer.concat(chunks, e.size); // a copy: never a view of a larger buffer
      files.push({ path: e.path, sha256: createHash('sha256').update(data).digest('hex'), size: e.size, data });
    } else {
      files.push({ path: e.path, sha256: await sha256Hex(src, e.offset, e.size, where), size: e.size });
    }
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

export async function sha256Hex(src: TarSource, offset: number, length: number, where?: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of sourceChunks(src, offset, length, where)) hash.update(c);
  return hash.digest('hex');
}
