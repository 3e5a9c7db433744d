/**
 * APT repository metadata, as apt checks it before installing: a suite's `Release` (the text inside
 * `InRelease` once its signature is verified) lists the SHA-256 and size of its `Packages` index, and the
 * index lists the SHA-256 and size of every `.deb`. This module parses both (deb822 format) and selects the
 * pinned package; checking a file against an entry is a comparison of digests. Pure: the signature check is
 * `gpgv`'s (src/sgx/gpgv.ts) and the I/O is the caller's.
 */
import { CryptoError, InputError } from '../errors.js';

/** One deb822 paragraph: field names lowercased (they are case-insensitive), values without the leading space. */
export type Deb822Paragraph = Map<string, string>;

function metadataError(what: string, why: string): InputError {
  return new InputError('ERR_SGX_GRAMINE_METADATA_INVALID', `${what}: ${why}`, {
    hint: 'Use the InRelease and Packages files of the Gramine repository suite, unmodified (see docs/sgx.md).',
  });
}

/** Parse deb822 text into paragraphs. Throws `ERR_SGX_GRAMINE_METADATA_INVALID` on malformed lines. */
export function parseDeb822(text: string, what: string): Deb822Paragraph[] {
  const paragraphs: Deb822Paragraph[] = [];
  let current: Deb822Paragraph | undefined;
  let last: string | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      if (current) paragraphs.push(current);
      current = undefined;
      last = undefined;
      return;
    }
    if (line.startsWith('#')) return;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!current || last === undefined) throw metadataError(what, `line ${i + 1} continues no field`);
      current.set(last, `${current.get(last)}\n${line.trim()}`);
      return;
    }
    const m = /^([!-9;-~][!-9;-~]*):(.*)$/.exec(line);
    if (!m) throw metadataError(what, `line ${i + 1} is not "Field: value"`);
    const name = m[1]!.toLowerCase();
    current ??= new Map();
    if (current.has(name)) throw metadataError(what, `field ${m[1]} appears twice in one paragraph (line ${i + 1})`);
    current.set(name, m[2]!.trim());
    last = name;
  });
  if (current) paragraphs.push(current);
  return paragraphs;
}

export interface ChecksumEntry {
  sha256: string;
  size: number;
}

/** What a suite's Release file says. */
export interface ReleaseInfo {
  suite?: string;
  codename?: string;
  date?: Date;
  validUntil?: Date;
  architectures?: string[];
  components?: string[];
  /** Relative path (e.g. `main/binary-amd64/Packages`) → digest and size. */
  sha256: Map<string, ChecksumEntry>;
}

function parseDate(value: string | undefined, field: string, what: string): Date | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw metadataError(what, `${field} '${value}' is not a date`);
  return new Date(t);
}

/** Parse the (verified) text of a Release/InRelease file. It must list SHA-256 digests, as apt requires. */
export function parseRelease(text: string, what: string): ReleaseInfo {
  const paragraphs = parseDeb822(text, what);
  if (paragraphs.length !== 1) throw metadataError(what, `expected one paragraph, found ${paragraphs.length}`);
  const p = paragraphs[0]!;
  const sha256 = new Map<string, ChecksumEntry>();
  const list = p.get('sha256');
  if (list === undefined) throw metadataError(what, 'it has no SHA256 field (apt refuses such a repository)');
  for (const line of list.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64})\s+([0-9]+)\s+(\S+)$/.exec(line.trim());
    if (!m) throw metadataError(what, `SHA256 line '${line.trim()}' is not "<sha256> <size> <path>"`);
    sha256.set(m[3]!, { sha256: m[1]!.toLowerCase(), size: Number(m[2]) });
  }
  const words = (field: string): string[] | undefined => p.get(field)?.split(/\s+/).filter(Boolean);
  const info: ReleaseInfo = { sha256 };
  if (p.has('suite')) info.suite = p.get('suite')!;
  if (p.has('codename')) info.codename = p.get('codename')!;
  const date = parseDate(p.get('date'), 'Date', what);
  if (date) info.date = date;
  const validUntil = parseDate(p.get('valid-until'), 'Valid-Until', what);
  if (validUntil) info.validUntil = validUntil;
  const architectures = words('architectures');
  if (architectures) info.architectures = architectures;
  const components = words('components');
  if (components) info.components = components;
  return info;
}

/**
 * How far in the future a Release's `Date` may be (apt's `Acquire::Max-FutureTime` default): more means the
 * host's clock is behind, and a clock behind would also make an expired `Valid-Until` look current.
 */
export const MAX_RELEASE_FUTURE_SECONDS = 10;

/**
 * Check that a Release describes `suite` (its Codename or Suite), is not dated in the future (`Date`, beyond
 * {@link MAX_RELEASE_FUTURE_SECONDS}), still holds at `now` (`Valid-Until`, when present) and covers amd64
 * and `main`, as apt does. Throws `ERR_SGX_GRAMINE_METADATA_INVALID`, `ERR_SGX_GRAMINE_METADATA_NOT_YET_VALID`
 * or `ERR_SGX_GRAMINE_METADATA_EXPIRED`.
 */
export function checkRelease(info: ReleaseInfo, suite: string, now: Date, what: string): void {
  if (info.codename !== suite && info.suite !== suite) {
    throw metadataError(
      what,
      `it describes suite ${info.codename ?? info.suite ?? '(none)'}, not ${suite}: a Release of another suite could serve another Gramine`,
    );
  }
  if (info.date && info.date.getTime() > now.getTime() + MAX_RELEASE_FUTURE_SECONDS * 1000) {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_METADATA_NOT_YET_VALID',
      `${what} is dated ${info.date.toISOString()}, after this host's time ${now.toISOString()} (Date; at most ${MAX_RELEASE_FUTURE_SECONDS} s ahead is accepted, as apt does)`,
      {
        hint: "Check this host's clock (a clock behind would also let expired metadata pass), then run the command again.",
      },
    );
  }
  if (info.validUntil && info.validUntil.getTime() < now.getTime()) {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_METADATA_EXPIRED',
      `${what} expired on ${info.validUntil.toISOString()} (Valid-Until): stale metadata could hold back a fixed Gramine`,
      { hint: 'Download the InRelease and Packages files of the suite again.' },
    );
  }
  if (info.architectures && !info.architectures.includes('amd64')) {
    throw metadataError(what, `it has no amd64 packages (Architectures: ${info.architectures.join(' ')})`);
  }
  if (info.components && !info.components.includes('main')) {
    throw metadataError(what, `it has no main component (Components: ${info.components.join(' ')})`);
  }
}

/** The index files apt reads for `component`/amd64, most preferred first, with how each is decoded. */
export const PACKAGES_INDEXES = [
  { suffix: '', compression: 'none' },
  { suffix: '.gz', compression: 'gzip' },
] as const;

/** `main/binary-amd64/Packages` and its compressed names. */
export function packagesIndexPath(component = 'main', arch = 'amd64'): string {
  return `${component}/binary-${arch}/Packages`;
}

/** A package stanza of a Packages index, with what installing it needs. */
export interface PackageEntry {
  package: string;
  version: string;
  architecture: string;
  /** Path of the .deb relative to the repository root (`pool/main/g/gramine/gramine_1.9_amd64.deb`). */
  filename: string;
  size: number;
  sha256: string;
  depends?: string;
}

/** The `.deb` file name of an entry (the last path component), checked to be a plain file name. */
export function debFileName(entry: PackageEntry): string {
  return entry.filename.slice(entry.filename.lastIndexOf('/') + 1);
}

const SAFE_FILENAME = /^(?:[A-Za-z0-9][A-Za-z0-9._+~-]*\/)*[A-Za-z0-9][A-Za-z0-9._+~:-]*\.deb$/;

/**
 * Parse a Packages index. Every paragraph must name a package; those that describe the pinned package are
 * checked strictly by {@link selectPackage}.
 */
export function parsePackages(text: string, what: string): PackageEntry[] {
  return parseDeb822(text, what).map((p, i) => {
    const name = p.get('package');
    if (!name) throw metadataError(what, `paragraph ${i + 1} has no Package field`);
    const size = p.get('size');
    return {
      package: name,
      version: p.get('version') ?? '',
      architecture: p.get('architecture') ?? '',
      filename: p.get('filename') ?? '',
      size: size !== undefined && /^[0-9]+$/.test(size) ? Number(size) : -1,
      sha256: (p.get('sha256') ?? '').toLowerCase(),
      ...(p.has('depends') ? { depends: p.get('depends')! } : {}),
    };
  });
}

/**
 * True when the Debian version `debVersion` is upstream release `upstream` exactly, with or without an
 * epoch and a Debian revision: `1.9`, `1.9-1`, `1:1.9-1~bookworm1` match `1.9`; `1.9.1`, `1.9~rc2`, `1.90`
 * do not.
 */
export function matchesUpstreamVersion(debVersion: string, upstream: string): boolean {
  const escaped = upstream.replace(/[.+~]/g, (c) => `\\${c}`);
  return new RegExp(`^(?:[0-9]+:)?${escaped}(?:-[A-Za-z0-9.+~]+)?$`).test(debVersion);
}

/**
 * The entry for package `name`, architecture `arch`, upstream version `upstream` (an exact Debian version
 * equal to `upstream` wins over revisions of it). Throws `ERR_SGX_GRAMINE_VERSION_UNAVAILABLE` naming
 * what the index has, or `ERR_SGX_GRAMINE_METADATA_INVALID` for an entry that cannot be checked.
 */
export function selectPackage(
  entries: readonly PackageEntry[],
  name: string,
  arch: string,
  upstream: string,
  what: string,
): PackageEntry {
  const named = entries.filter((e) => e.package === name && (e.architecture === arch || e.architecture === 'all'));
  const matching = named.filter((e) => matchesUpstreamVersion(e.version, upstream));
  if (matching.length === 0) {
    const have = [...new Set(named.map((e) => e.version))].sort();
    throw new InputError(
      'ERR_SGX_GRAMINE_VERSION_UNAVAILABLE',
      `${what} has no ${name} ${upstream} for ${arch} (it has: ${have.length ? have.join(', ') : 'no ' + name + ' at all'})`,
      {
        hint: `mse-home pins Gramine ${upstream}. Try another suite (--gramine-suite), or supply the packages (--gramine-debs) or an image (--gramine-image); see docs/sgx.md.`,
      },
    );
  }
  const exact = matching.filter((e) => e.version === upstream);
  const pool = exact.length > 0 ? exact : matching;
  const distinct = new Map(pool.map((e) => [`${e.version} ${e.sha256}`, e]));
  if (distinct.size > 1) {
    throw metadataError(
      what,
      `it lists ${distinct.size} different ${name} packages for ${upstream} (${[...distinct.values()].map((e) => e.version).join(', ')}): which one to install is ambiguous`,
    );
  }
  const entry = pool[0]!;
  if (!/^[0-9a-f]{64}$/.test(entry.sha256)) throw metadataError(what, `${name} ${entry.version} has no SHA256`);
  if (entry.size < 0) throw metadataError(what, `${name} ${entry.version} has no Size`);
  if (!SAFE_FILENAME.test(entry.filename) || entry.filename.split('/').some((s) => s === '..' || s === '.')) {
    throw metadataError(what, `${name} ${entry.version} has an unsafe Filename '${entry.filename}'`);
  }
  return entry;
}

/**
 * Throw `ERR_SGX_GRAMINE_CHECKSUM_MISMATCH` unless a file of `size` bytes and digest `sha256` is what the
 * signed metadata lists.
 */
export function checkDigest(actual: ChecksumEntry, expected: ChecksumEntry, what: string): void {
  if (actual.size !== expected.size || actual.sha256 !== expected.sha256) {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
      `${what} is not the file the signed repository metadata lists (SHA-256 ${actual.sha256.slice(0, 16)}…, ${actual.size} bytes; expected ${expected.sha256.slice(0, 16)}…, ${expected.size} bytes)`,
      { hint: 'The file was altered, truncated or comes from another suite or release: download it again.' },
    );
  }
}

/**
 * Throw `ERR_SGX_GRAMINE_CHECKSUM_MISMATCH` unless a file of `size` bytes can be the one the signed metadata
 * lists: checked on the opened file before a byte of it is read, so a file of another size (a huge sparse
 * one, say) is never hashed.
 */
export function checkSize(size: number, expected: ChecksumEntry, what: string): void {
  if (size !== expected.size) {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
      `${what} is ${size} bytes, not the ${expected.size} bytes the signed repository metadata lists: it is not that file`,
      { hint: 'The file was altered, truncated or comes from another suite or release: download it again.' },
    );
  }
}
