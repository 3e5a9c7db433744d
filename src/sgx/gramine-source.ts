/**
 * Where the sgx base image's Gramine comes from, and the proof that it is Gramine's: the plan (a pure
 * function of the options) and, for the two package sources, the verified `.deb` files.
 *
 * - **repository** (default): Gramine's APT repository. The suite's `InRelease` is fetched first, under a
 *   short deadline, so that an unreachable repository fails in seconds, before any image is built.
 * - **debs** (`--gramine-debs DIR`): the same files, downloaded by the operator elsewhere: the suite's
 *   `InRelease` (or `Release` + `Release.gpg`), its `Packages` (or `Packages.gz`), the repository key and
 *   the `.deb`.
 * - **image** (`--gramine-image IMAGE`): an image the operator built FROM this version's base image with
 *   Gramine installed at its packages' paths; checked by the image build (src/sgx/base-image.ts).
 *
 * Both package sources are checked the way apt checks a repository, with no trust on first use: the
 * `InRelease` signature by `gpgv` against a keyring holding only keys whose fingerprint is pinned here (or
 * given by the operator with `--gramine-fingerprint`); the `Packages` index against the SHA-256 the
 * signed `InRelease` lists; the `.deb` against the SHA-256 the index lists. Only the `gramine` package at
 * the pinned version is installed; nothing else in a folder is used.
 *
 * Every input is read exactly once, and only what was read is used: metadata and keys are held in memory
 * (read through the bounded reader, links in the folder not followed); the `.deb` is copied from the folder,
 * or downloaded, into the caller's private work directory, hashed as it is written there, and the image is
 * built from that copy. A file swapped in the folder after it was read therefore changes nothing.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { toHex, sha256 } from '../attestation/bytes.js';
import type { Logger } from '../base/log.js';
import { CryptoError, InputError, isMseError, NetworkError, UsageError } from '../errors.js';
import { copyUserFile, createOutputStream, readUserFile, requireDirectory } from '../fs/files.js';
import { formatBytesExact, INPUT_LIMITS, type InputLimit } from '../fs/limits.js';
import {
  checkDigest,
  checkRelease,
  checkSize,
  debFileName,
  PACKAGES_INDEXES,
  packagesIndexPath,
  parsePackages,
  parseRelease,
  selectPackage,
  type ChecksumEntry,
  type PackageEntry,
  type ReleaseInfo,
} from './apt-metadata.js';
import { verifyClearsigned, verifyDetached, type SignatureCheck } from './gpgv.js';
import { GRAMINE_VERSION } from './gramine-paths.js';
import { formatFingerprint, keyringOf, normalizeFingerprint, readPublicKeys, type PublicKeyInfo } from './openpgp.js';

/** Gramine's APT repository (what `https://gramine.readthedocs.io` installation instructions use). */
export const GRAMINE_REPOSITORY = 'https://packages.gramineproject.io/';
/**
 * Suites of Gramine's repository the image may take Gramine from. `bookworm` is the base image's own
 * Debian release (the default); `jammy` (Ubuntu 22.04) is the fallback where no bookworm build of the
 * pinned version exists: its dependencies resolve on Debian 12, but Gramine does not support that mix.
 */
export const GRAMINE_SUITES = ['bookworm', 'jammy'] as const;
export type GramineSuite = (typeof GRAMINE_SUITES)[number];
export const DEFAULT_GRAMINE_SUITE: GramineSuite = 'bookworm';
/** The one package installed from the source (its Debian dependencies come from Debian's archive). */
export const GRAMINE_PACKAGE = 'gramine';
export const GRAMINE_ARCH = 'amd64';

/** A pinned repository signing key: its fingerprint and where the fingerprint was read. */
export interface PinnedKey {
  fingerprint: string;
  name: string;
  source: string;
}

/**
 * Fingerprints of Gramine's APT signing keys that mse-home trusts without being told. Only fingerprints
 * read from an authoritative source are here: Gramine's own documentation names this key as the one
 * signing its Debian and Ubuntu repositories. Gramine's repository also holds a 2024 key (`keys/
 * gramine-2024.gpg` in its source tree) whose fingerprint no source available to this project states;
 * if a suite is signed with it, the build stops and names the key, and the operator pins it after checking
 * it (`--gramine-fingerprint`).
 */
export const PINNED_GRAMINE_KEYS: readonly PinnedKey[] = [
  {
    fingerprint: 'EA3C2D624681AC968521587A5EE1171912234070',
    name: 'Gramine Project signing key (2021), ed25519',
    source:
      'gramineproject/gramine Documentation/verify-sig.rst: "APT repositories (for Debian and Ubuntu) are signed with the following GPG key"',
  },
];

export interface GramineSourceOptions {
  /** `--gramine-debs DIR`. */
  debs?: string;
  /** `--gramine-image IMAGE`. */
  image?: string;
  /** `--gramine-suite` (default bookworm). */
  suite?: string;
  /** `--gramine-repo URL` (default Gramine's repository; a mirror of it). */
  repository?: string;
  /** `--gramine-key FILE`: the repository key, instead of the one downloaded or found in the folder. */
  keyFile?: string;
  /** `--gramine-fingerprint FPR` (repeatable): fingerprints trusted beside the pinned ones. */
  keyFingerprints?: string[];
}

interface PackagePlanBase {
  suite: GramineSuite;
  version: string;
  package: string;
  /** Fingerprints whose keys may sign the suite (pinned, then the operator's). */
  trusted: string[];
  keyFile?: string;
}

export type GraminePlan =
  | ({ kind: 'repository'; repository: string } & PackagePlanBase)
  | ({ kind: 'debs'; dir: string } & PackagePlanBase)
  | { kind: 'image'; image: string; version: string };

/**
 * Decide where Gramine comes from. Pure. Throws `ERR_CONFLICTING_OPTIONS` for options of two sources and
 * `ERR_OPTION_VALUE` for a suite, URL or fingerprint that cannot be used.
 */
export function gramineSourcePlan(options: GramineSourceOptions): GraminePlan {
  const given = (name: string, v: unknown): string[] =>
    v === undefined || (Array.isArray(v) && v.length === 0) ? [] : [name];
  if (options.debs !== undefined && options.image !== undefined) {
    throw new UsageError(
      'ERR_CONFLICTING_OPTIONS',
      'options --gramine-debs and --gramine-image cannot be used together',
    );
  }
  if (options.image !== undefined) {
    const extra = [
      ...given('--gramine-suite', options.suite),
      ...given('--gramine-repo', options.repository),
      ...given('--gramine-key', options.keyFile),
      ...given('--gramine-fingerprint', options.keyFingerprints),
    ];
    if (extra.length > 0) {
      throw new UsageError(
        'ERR_CONFLICTING_OPTIONS',
        `option --gramine-image cannot be used with ${extra.join(', ')}: they concern Gramine's packages`,
      );
    }
    return { kind: 'image', image: options.image, version: GRAMINE_VERSION };
  }
  const suite = options.suite ?? DEFAULT_GRAMINE_SUITE;
  if (!(GRAMINE_SUITES as readonly string[]).includes(suite)) {
    throw new UsageError(
      'ERR_OPTION_VALUE',
      `--gramine-suite must be one of ${GRAMINE_SUITES.join(', ')}, got '${suite}'`,
      {
        hint: 'The image is Debian 12 (bookworm); jammy is the Ubuntu 22.04 build of the same release.',
      },
    );
  }
  const trusted = PINNED_GRAMINE_KEYS.map((k) => k.fingerprint);
  for (const raw of options.keyFingerprints ?? []) {
    const fpr = normalizeFingerprint(raw);
    if (!fpr) {
      throw new UsageError(
        'ERR_OPTION_VALUE',
        `--gramine-fingerprint '${raw}' is not a full OpenPGP v4 fingerprint (40 hex digits)`,
        { hint: 'Give the whole fingerprint (gpg --show-keys --with-fingerprint KEYFILE), never a short key ID.' },
      );
    }
    if (!trusted.includes(fpr)) trusted.push(fpr);
  }
  const base: PackagePlanBase = {
    suite: suite as GramineSuite,
    version: GRAMINE_VERSION,
    package: GRAMINE_PACKAGE,
    trusted,
    ...(options.keyFile !== undefined ? { keyFile: path.resolve(options.keyFile) } : {}),
  };
  if (options.debs !== undefined) {
    if (options.repository !== undefined) {
      throw new UsageError(
        'ERR_CONFLICTING_OPTIONS',
        'options --gramine-debs and --gramine-repo cannot be used together',
      );
    }
    return { kind: 'debs', dir: path.resolve(options.debs), ...base };
  }
  const raw = options.repository ?? GRAMINE_REPOSITORY;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('ERR_OPTION_VALUE', `--gramine-repo '${raw}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError('ERR_OPTION_VALUE', `--gramine-repo must be an http(s) URL, got '${raw}'`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(
      'ERR_OPTION_VALUE',
      `--gramine-repo must be a plain base URL (no query, fragment or credentials)`,
    );
  }
  const repository = url.href.endsWith('/') ? url.href : `${url.href}/`;
  return { kind: 'repository', repository, ...base };
}

/** One verified package file. */
export interface VerifiedDeb {
  /** Absolute path of the verified copy in the private work directory (never the operator's folder). */
  file: string;
  /** Its file name (as listed by the index). */
  name: string;
  package: string;
  version: string;
  sha256: string;
  size: number;
}

/** What a package source was, once verified: recorded on the image. */
export interface VerifiedGramineDebs {
  kind: 'repository' | 'debs';
  /** Repository URL, or the folder. */
  location: string;
  suite: string;
  /** The key that signed the suite's metadata. */
  signedBy: SignatureCheck;
  /** SHA-256 of the signed metadata file (InRelease, or Release) and its Date field. */
  release: { file: string; sha256: string; date?: string };
  debs: VerifiedDeb[];
}

export interface AcquireOptions {
  /**
   * A private directory (mode 0700, this user's) for the verified package, downloads and gpgv's files; the
   * caller creates and removes it. The package is built from there, so no one else may write to it.
   */
  workDir: string;
  log: Logger;
  /** The time metadata must still be valid at (default now). */
  now?: Date;
  /** Deadline of the first request to the repository (default 10 s): how fast an unreachable one fails. */
  probeTimeoutMs?: number;
  /** Deadline of each later metadata download (default 30 s) and of the package (default 600 s). */
  metadataTimeoutMs?: number;
  debTimeoutMs?: number;
  gpgv?: string;
}

const MAX_RELEASE = INPUT_LIMITS.aptRelease.maxBytes;
const MAX_PACKAGES = INPUT_LIMITS.aptPackages.maxBytes;
const MAX_DEB = INPUT_LIMITS.deb.maxBytes;

function alternativesHint(plan: { suite: string }): string {
  return (
    `Without access to it: --gramine-debs DIR (Gramine's .deb with the ${plan.suite} suite's InRelease, Packages and ` +
    `repository key, downloaded elsewhere) or --gramine-image IMAGE (an image built FROM the base image with ` +
    `Gramine ${GRAMINE_VERSION} installed); see docs/sgx.md#the-sgx-base-image. Intel's repository is not needed: ` +
    `the image holds no Intel package (quotes come from the host's aesmd).`
  );
}

/** Why a fetch failed, in one line (`getaddrinfo ENOTFOUND host`, `timed out after 10 s`, …). */
function fetchFailure(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = e.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return e.message ?? String(error);
}

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** An answer larger than allowed: its declared length, or (`declared` false) more bytes than allowed arrived. */
class HttpTooLargeError extends Error {
  constructor(
    readonly maxBytes: number,
    readonly size: number,
    readonly declared: boolean,
  ) {
    super(
      declared
        ? `the answer is ${size} bytes, more than the ${maxBytes} allowed`
        : `the answer exceeds ${maxBytes} bytes (stopped there)`,
    );
  }
}

/**
 * GET `url` under an overall deadline, reading at most `maxBytes`. The body is returned, or, with `file`,
 * written to that new file (exclusive create: `file` is in the private work directory), hashed as it is
 * written. Throws {@link HttpStatusError} for a non-200 answer, {@link HttpTooLargeError} past the bound,
 * an `MseError` when the file cannot be written, and the raw error otherwise.
 */
function httpGet(url: string, timeoutMs: number, maxBytes: number): Promise<{ data: Buffer; digest: ChecksumEntry }>;
function httpGet(url: string, timeoutMs: number, maxBytes: number, file: string): Promise<{ digest: ChecksumEntry }>;
async function httpGet(
  url: string,
  timeoutMs: number,
  maxBytes: number,
  file?: string,
): Promise<{ data?: Buffer; digest: ChecksumEntry }> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'follow',
    headers: { 'user-agent': 'mse-home' },
  });
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new HttpStatusError(res.status);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new HttpTooLargeError(maxBytes, declared, true);
  }
  const hash = createHash('sha256');
  let size = 0;
  // Leaving the loop early (a throw) cancels the body: nothing more is received.
  async function* bounded(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > maxBytes) throw new HttpTooLargeError(maxBytes, size, false);
      hash.update(chunk);
      yield Buffer.from(chunk);
    }
  }
  const body = bounded(res.body);
  if (file) {
    await pipeline(Readable.from(body), createOutputStream(file, { mode: 0o600, what: 'download' }));
    return { digest: { sha256: hash.digest('hex'), size } };
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return { data: Buffer.concat(chunks), digest: { sha256: hash.digest('hex'), size } };
}

function digestOf(data: Uint8Array): ChecksumEntry {
  return { sha256: toHex(sha256(data)), size: data.length };
}

/**
 * Keep, among the keys of the candidate files, those whose primary fingerprint is trusted. Throws
 * `ERR_SGX_GRAMINE_KEY_UNTRUSTED` naming every key found when none is.
 */
export function trustedKeys(
  candidates: readonly { what: string; data: Uint8Array }[],
  trusted: readonly string[],
): { keys: PublicKeyInfo[]; found: { what: string; key: PublicKeyInfo }[] } {
  const found = candidates.flatMap((c) => readPublicKeys(c.data, c.what).map((key) => ({ what: c.what, key })));
  const keys = found.filter((f) => trusted.includes(f.key.fingerprint)).map((f) => f.key);
  if (keys.length === 0) {
    const list = found.map(
      (f) => `${formatFingerprint(f.key.fingerprint)} (${f.key.userIds[0] ?? 'no user ID'}, in ${f.what})`,
    );
    throw new CryptoError(
      'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
      `no trusted key: found ${list.join('; ')}; trusted: ${trusted.map(formatFingerprint).join('; ')}`,
      {
        hint: 'mse-home never trusts a key on first use. Check the fingerprint through a channel you trust (Gramine’s documentation, its maintainers), then pass it with --gramine-fingerprint.',
      },
    );
  }
  return { keys, found };
}

function decodePackages(data: Buffer, compression: 'none' | 'gzip', what: string): string {
  if (compression === 'none') return data.toString('utf8');
  try {
    return gunzipSync(data, { maxOutputLength: 4 * MAX_PACKAGES }).toString('utf8');
  } catch (cause) {
    throw new InputError(
      'ERR_SGX_GRAMINE_METADATA_INVALID',
      `${what} does not decompress: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * Fetch (repository) or read (folder) and verify the pinned Gramine package. Throws specific errors (see
 * docs/cli.md): `ERR_SGX_BASE_SOURCE_UNREACHABLE` first of all when the repository does not answer.
 */
export async function acquireGramineDebs(
  plan: Extract<GraminePlan, { kind: 'repository' | 'debs' }>,
  options: AcquireOptions,
): Promise<VerifiedGramineDebs> {
  return plan.kind === 'repository' ? fromRepository(plan, options) : fromFolder(plan, options);
}

async function readKeyFile(file: string): Promise<{ what: string; data: Uint8Array }> {
  return { what: file, data: await readUserFile(file, 'Gramine repository key', INPUT_LIMITS.aptRelease) };
}

/** A repository's `dists/<suite>/` URL and its `InRelease`, and the deadlines of its requests. */
interface RepositoryRun {
  plan: Extract<GraminePlan, { kind: 'repository' }>;
  options: AcquireOptions;
  dists: string;
  inReleaseUrl: string;
  probeMs: number;
  metaMs: number;
}

/**
 * The probe: `InRelease`, the first request, under a short deadline, before anything else is done.
 * `ERR_SGX_GRAMINE_SUITE_UNAVAILABLE` on a 404, `ERR_SGX_BASE_SOURCE_UNREACHABLE` on anything else.
 */
async function probeRepository(run: RepositoryRun): Promise<Buffer> {
  const { plan, inReleaseUrl, probeMs } = run;
  const started = Date.now();
  let inRelease: Buffer;
  try {
    inRelease = (await httpGet(inReleaseUrl, probeMs, MAX_RELEASE)).data;
  } catch (error) {
    if (error instanceof HttpStatusError && error.status === 404) {
      throw new NetworkError(
        'ERR_SGX_GRAMINE_SUITE_UNAVAILABLE',
        `Gramine's repository ${plan.repository} has no suite ${plan.suite} (GET ${inReleaseUrl}: HTTP 404)`,
        { hint: `Try --gramine-suite ${plan.suite === 'bookworm' ? 'jammy' : 'bookworm'}. ${alternativesHint(plan)}` },
      );
    }
    const why = error instanceof HttpStatusError ? `HTTP ${error.status}` : fetchFailure(error, probeMs);
    throw new NetworkError(
      'ERR_SGX_BASE_SOURCE_UNREACHABLE',
      `cannot reach Gramine's apt repository: tried ${plan.repository} (suite ${plan.suite}): GET ${inReleaseUrl}: ${why} (after ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      { hint: alternativesHint(plan) },
    );
  }
  run.options.log.info(`Gramine's repository answered: ${inReleaseUrl}`);
  return inRelease;
}

/**
 * A download after the probe (`ERR_SGX_GRAMINE_DOWNLOAD_FAILED`); with `listed`, an answer longer than the
 * listed size is refused as not that file (`ERR_SGX_GRAMINE_CHECKSUM_MISMATCH`).
 */
function download(
  run: RepositoryRun,
  url: string,
  what: string,
  max: number,
): Promise<{ data: Buffer; digest: ChecksumEntry }>;
function download(
  run: RepositoryRun,
  url: string,
  what: string,
  max: number,
  file: string,
  timeoutMs?: number,
  listed?: ChecksumEntry,
): Promise<{ digest: ChecksumEntry }>;
async function download(
  run: RepositoryRun,
  url: string,
  what: string,
  max: number,
  file?: string,
  timeoutMs = run.metaMs,
  listed?: ChecksumEntry,
): Promise<{ data?: Buffer; digest: ChecksumEntry }> {
  try {
    return file === undefined ? await httpGet(url, timeoutMs, max) : await httpGet(url, timeoutMs, max, file);
  } catch (error) {
    if (isMseError(error)) throw error;
    if (listed && error instanceof HttpTooLargeError) {
      if (error.declared) checkSize(error.size, listed, `GET ${url}`);
      throw new CryptoError(
        'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
        `GET ${url}: the answer is longer than the ${listed.size} bytes the signed repository metadata lists: it is not that file (the download stopped there)`,
        { hint: 'The mirror serves another file: use the repository itself, or --gramine-debs.' },
      );
    }
    const why =
      error instanceof HttpStatusError
        ? `HTTP ${error.status}`
        : error instanceof HttpTooLargeError
          ? error.message
          : fetchFailure(error, timeoutMs);
    throw new NetworkError('ERR_SGX_GRAMINE_DOWNLOAD_FAILED', `downloading ${what} failed: GET ${url}: ${why}`, {
      hint: `Retry, or use --gramine-debs DIR with the files downloaded another way. ${alternativesHint(run.plan)}`,
    });
  }
}

/** The candidate keys: the operator's file, else the repository's keyring files (those that download). */
async function repositoryKeyCandidates(run: RepositoryRun): Promise<{ what: string; data: Uint8Array }[]> {
  const { plan, metaMs } = run;
  if (plan.keyFile) return [await readKeyFile(plan.keyFile)];
  const candidates: { what: string; data: Uint8Array }[] = [];
  for (const name of [`gramine-keyring-${plan.suite}.gpg`, 'gramine-keyring.gpg']) {
    const url = `${plan.repository}${name}`;
    try {
      candidates.push({ what: url, data: (await httpGet(url, metaMs, MAX_RELEASE)).data });
    } catch (error) {
      if (!(error instanceof HttpStatusError && error.status === 404)) {
        const why = error instanceof HttpStatusError ? `HTTP ${error.status}` : fetchFailure(error, metaMs);
        run.options.log.warn(`could not download ${url}: ${why}`);
      }
    }
  }
  if (candidates.length === 0) {
    throw new NetworkError(
      'ERR_SGX_GRAMINE_DOWNLOAD_FAILED',
      `the repository's keyring could not be downloaded (${plan.repository}gramine-keyring-${plan.suite}.gpg, ${plan.repository}gramine-keyring.gpg)`,
      { hint: 'Pass the key with --gramine-key FILE.' },
    );
  }
  return candidates;
}

/** `InRelease` checked: signed by a pinned key (gpgv), for the suite, still valid. */
async function verifyInRelease(run: RepositoryRun, inRelease: Buffer) {
  const { plan, options, inReleaseUrl } = run;
  const { keys } = trustedKeys(await repositoryKeyCandidates(run), plan.trusted);
  const check = await verifyClearsigned(inRelease, keyringOf(keys), new Set(plan.trusted), `${inReleaseUrl}`, {
    workDir: options.workDir,
    ...(options.gpgv ? { gpgv: options.gpgv } : {}),
  });
  const release = parseRelease(check.text, inReleaseUrl);
  checkRelease(release, plan.suite, options.now ?? new Date(), inReleaseUrl);
  return { check, release };
}

/** The pinned package's entry in the suite's package index, the index checked against the signed digests. */
async function packageEntry(run: RepositoryRun, release: ReleaseInfo): Promise<PackageEntry> {
  const { plan, dists, inReleaseUrl } = run;
  const indexPath = packagesIndexPath();
  const index = PACKAGES_INDEXES.map((i) => ({ ...i, listed: release.sha256.get(`${indexPath}${i.suffix}`) })).find(
    (i) => i.listed,
  );
  if (!index?.listed) {
    throw new InputError('ERR_SGX_GRAMINE_METADATA_INVALID', `${inReleaseUrl} lists no ${indexPath} (or .gz)`);
  }
  const indexUrl = `${dists}${indexPath}${index.suffix}`;
  const got = await download(run, indexUrl, `the ${plan.suite} package index`, MAX_PACKAGES);
  checkDigest(got.digest, index.listed, indexUrl);
  return selectPackage(
    parsePackages(decodePackages(got.data, index.compression, indexUrl), indexUrl),
    plan.package,
    GRAMINE_ARCH,
    plan.version,
    `Gramine's repository (suite ${plan.suite})`,
  );
}

/** The `.deb` downloaded into the private work directory and checked against its index entry. */
async function downloadDeb(run: RepositoryRun, entry: PackageEntry): Promise<string> {
  const { plan, options } = run;
  const name = debFileName(entry);
  const debUrl = `${plan.repository}${entry.filename}`;
  checkDebLimit(entry, debUrl);
  const file = await privateDebPath(options.workDir, name);
  const done = options.log.phase(`downloading ${name} (${(entry.size / 1e6).toFixed(1)} MB)`);
  const deb = await download(run, debUrl, name, entry.size, file, options.debTimeoutMs ?? 600_000, entry);
  checkDigest(deb.digest, entry, debUrl);
  done();
  return file;
}

/** Gramine's repository: probe, key, signed metadata, package index, package. */
async function fromRepository(
  plan: Extract<GraminePlan, { kind: 'repository' }>,
  options: AcquireOptions,
): Promise<VerifiedGramineDebs> {
  const dists = `${plan.repository}dists/${plan.suite}/`;
  const run: RepositoryRun = {
    plan,
    options,
    dists,
    inReleaseUrl: `${dists}InRelease`,
    probeMs: options.probeTimeoutMs ?? 10_000,
    metaMs: options.metadataTimeoutMs ?? 30_000,
  };
  const inRelease = await probeRepository(run);
  const { check, release } = await verifyInRelease(run, inRelease);
  const entry = await packageEntry(run, release);
  const file = await downloadDeb(run, entry);
  return verifiedResult(
    'repository',
    plan.repository,
    plan.suite,
    check,
    run.inReleaseUrl,
    inRelease,
    release,
    file,
    entry,
  );
}

/** The record of a verified source: who signed its metadata, which metadata, which package file. */
function verifiedResult(
  kind: VerifiedGramineDebs['kind'],
  location: string,
  suite: string,
  signature: SignatureCheck,
  releaseFile: string,
  releaseBytes: Uint8Array,
  release: { date?: Date },
  file: string,
  entry: PackageEntry,
): VerifiedGramineDebs {
  const { primaryFingerprint, signingFingerprint, signedAt } = signature;
  return {
    kind,
    location,
    suite,
    signedBy: { primaryFingerprint, signingFingerprint, signedAt },
    release: {
      file: releaseFile,
      ...digestOf(releaseBytes),
      ...(release.date ? { date: release.date.toISOString() } : {}),
    },
    debs: [
      {
        file,
        name: debFileName(entry),
        package: entry.package,
        version: entry.version,
        sha256: entry.sha256,
        size: entry.size,
      },
    ],
  };
}

function incomplete(dir: string, what: string): InputError {
  return new InputError('ERR_SGX_GRAMINE_DEBS_INCOMPLETE', `${dir} has no ${what}`, {
    hint:
      'The folder needs, from one suite of Gramine’s repository: InRelease (or Release and Release.gpg), ' +
      'main/binary-amd64/Packages (or Packages.gz), the gramine .deb it lists, and the repository key ' +
      '(gramine-keyring-<suite>.gpg, or --gramine-key). See docs/sgx.md#offline-and-air-gapped-hosts.',
  });
}

/**
 * A file of the folder, read once through the bounded reader without following a link (the folder may be
 * writable by others: a link there could point mse-home at a device); undefined when it does not exist.
 */
async function readFolderFile(dir: string, name: string, what: string, limit: InputLimit): Promise<Buffer | undefined> {
  try {
    return await readUserFile(path.join(dir, name), what, limit, { noFollow: true });
  } catch (error) {
    if (isMseError(error) && error.code === 'ERR_FILE_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Refuse an index entry whose package is larger than the `.deb` limit, before anything is read. */
function checkDebLimit(entry: PackageEntry, what: string): void {
  if (entry.size > MAX_DEB) {
    throw new InputError(
      'ERR_FILE_TOO_LARGE',
      `${what}: the signed index lists ${entry.package} ${entry.version} at ${formatBytesExact(entry.size)}, more than the ${INPUT_LIMITS.deb.name} limit of ${formatBytesExact(MAX_DEB)}`,
      { hint: 'Gramine’s package is a few MiB: this index does not describe it (docs/cli.md, "Input limits").' },
    );
  }
}

/** Where the verified package goes: `debs/` in the private work directory. */
async function privateDebPath(workDir: string, name: string): Promise<string> {
  const dir = path.join(workDir, 'debs');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, name);
}

async function fromFolder(
  plan: Extract<GraminePlan, { kind: 'debs' }>,
  options: AcquireOptions,
): Promise<VerifiedGramineDebs> {
  const { dir } = plan;
  await requireDirectory(dir, '--gramine-debs folder');
  const names = await fs.readdir(dir);

  let candidates: { what: string; data: Uint8Array }[];
  if (plan.keyFile) candidates = [await readKeyFile(plan.keyFile)];
  else {
    const keyNames = names.filter((n) => /^gramine-keyring[\w.-]*\.(?:gpg|asc)$/.test(n)).sort();
    if (keyNames.length === 0) throw incomplete(dir, 'repository key (gramine-keyring-<suite>.gpg)');
    candidates = [];
    for (const n of keyNames) {
      const data = await readFolderFile(dir, n, 'Gramine repository key', INPUT_LIMITS.aptRelease);
      if (data) candidates.push({ what: path.join(dir, n), data });
    }
    if (candidates.length === 0) throw incomplete(dir, 'repository key (gramine-keyring-<suite>.gpg)');
  }
  const { keys } = trustedKeys(candidates, plan.trusted);
  const gpgvOptions = { workDir: options.workDir, ...(options.gpgv ? { gpgv: options.gpgv } : {}) };
  const trusted = new Set(plan.trusted);

  // Each file is read once; only the bytes read are checked and used.
  let releaseText: string;
  let releaseFile: string;
  let releaseBytes: Buffer;
  let signedBy: SignatureCheck;
  const inRelease = await readFolderFile(dir, 'InRelease', 'InRelease', INPUT_LIMITS.aptRelease);
  if (inRelease) {
    releaseFile = path.join(dir, 'InRelease');
    releaseBytes = inRelease;
    const check = await verifyClearsigned(releaseBytes, keyringOf(keys), trusted, releaseFile, gpgvOptions);
    releaseText = check.text;
    signedBy = check;
  } else {
    const release = await readFolderFile(dir, 'Release', 'Release', INPUT_LIMITS.aptRelease);
    const signature = release && (await readFolderFile(dir, 'Release.gpg', 'Release.gpg', INPUT_LIMITS.aptRelease));
    if (!release || !signature) throw incomplete(dir, 'InRelease (or Release with Release.gpg)');
    releaseFile = path.join(dir, 'Release');
    releaseBytes = release;
    signedBy = await verifyDetached(releaseBytes, signature, keyringOf(keys), trusted, releaseFile, gpgvOptions);
    releaseText = releaseBytes.toString('utf8');
  }
  const release = parseRelease(releaseText, releaseFile);
  checkRelease(release, plan.suite, options.now ?? new Date(), releaseFile);

  const indexPath = packagesIndexPath();
  let index: { file: string; data: Buffer; compression: 'none' | 'gzip'; listed: ChecksumEntry } | undefined;
  for (const i of PACKAGES_INDEXES) {
    const listed = release.sha256.get(`${indexPath}${i.suffix}`);
    if (!listed) continue;
    const name = `Packages${i.suffix}`;
    const data = await readFolderFile(dir, name, 'Packages index', INPUT_LIMITS.aptPackages);
    if (data) {
      index = { file: path.join(dir, name), data, compression: i.compression, listed };
      break;
    }
  }
  if (!index)
    throw incomplete(dir, `package index (Packages or Packages.gz, as listed in ${path.basename(releaseFile)})`);
  checkDigest(digestOf(index.data), index.listed, index.file);
  const entry = selectPackage(
    parsePackages(decodePackages(index.data, index.compression, index.file), index.file),
    plan.package,
    GRAMINE_ARCH,
    plan.version,
    `${index.file} (suite ${plan.suite})`,
  );
  const name = debFileName(entry);
  const file = path.join(dir, name);
  checkDebLimit(entry, index.file);
  // The package is copied into the private work directory, hashed as it is written there; the image is
  // built from that copy, so the folder's file is never opened again.
  const copy = await privateDebPath(options.workDir, name);
  let copied: ChecksumEntry;
  try {
    copied = await copyUserFile(file, copy, 'Gramine package', INPUT_LIMITS.deb, {
      noFollow: true,
      mode: 0o600,
      checkSize: (size) => checkSize(size, entry, file),
    });
  } catch (error) {
    if (isMseError(error) && error.code === 'ERR_FILE_NOT_FOUND') {
      throw incomplete(dir, `${name} (the ${entry.package} ${entry.version} package the index lists)`);
    }
    throw error;
  }
  checkDigest(copied, entry, file);
  return verifiedResult('debs', dir, plan.suite, signedBy, releaseFile, releaseBytes, release, copy, entry);
}
