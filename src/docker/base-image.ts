/**
 * The base image `mse-home-base:<VERSION>`: our counterpart of MSE's `mse-base`, built locally because no
 * registry is reachable.
 *
 * Two layers of work, each reused when its inputs have not changed:
 *
 * 1. **rootfs** — `mmdebstrap` builds a minimal Debian bookworm root filesystem (variant `apt`, merged
 *    /usr, no man pages/docs/locales) with Debian's python3, Flask, FastAPI, uvicorn, cryptography, PyNaCl,
 *    Node.js 18 and CA certificates, straight from Debian's archive; the tarball is `docker import`ed as
 *    `mse-home-rootfs:<hash of the rootfs inputs>`. With a snapshot date (`--snapshot 20250520T000000Z`)
 *    the sources are pinned on snapshot.debian.org and `SOURCE_DATE_EPOCH` is that date, which makes the
 *    tarball bit-for-bit reproducible; without one, deb.debian.org is used and `SOURCE_DATE_EPOCH` is the
 *    newest `Date:` of the suites' Release files, so rebuilds are reproducible as long as the archive
 *    has not moved (it moves on point releases and security updates).
 * 2. **base** — a Dockerfile (`base-image/Dockerfile`) adds `mse-serve`, `mse-test`, `mse-run` and, when it
 *    has been built, the enclave bootstrap `dist/enclave/bootstrap.mjs` as `/opt/mse/bootstrap.mjs`.
 *
 * The image carries the label `org.mse-home.base.inputs` = SHA-256 over every input (rootfs
 * configuration, scripts, Dockerfile, bootstrap); {@link ensureBaseImage} rebuilds when it differs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../base/log.js';
import { DockerError, InputError } from '../errors.js';
import { readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { VERSION } from '../version.js';
import { entriesContext } from './context.js';
import type { DockerEngine } from './engine.js';
import type { TarEntrySource } from '../package/tar-write.js';

export const BASE_IMAGE_REPO = 'mse-home-base';
/** `mse-home-base:<VERSION>`: what scaffolded Dockerfiles build FROM. */
export const BASE_IMAGE = `${BASE_IMAGE_REPO}:${VERSION}`;
export const ROOTFS_REPO = 'mse-home-rootfs';
export const LABEL_INPUTS = 'org.mse-home.base.inputs';
export const LABEL_ROOTFS = 'org.mse-home.base.rootfs';
export const LABEL_VERSION = 'org.mse-home.version';
export const LABEL_BOOTSTRAP = 'org.mse-home.base.bootstrap';

/** Debian packages of the image (their dependencies come along; recommends do not). */
export const BASE_PACKAGES = [
  'ca-certificates',
  'nodejs',
  'python3',
  'python3-cryptography',
  'python3-fastapi',
  'python3-flask',
  'python3-nacl',
  'python3-uvicorn',
] as const;

/** The default Debian mirror (the only archive host reachable from the project's machines). */
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
const SNAPSHOT_BASE = 'http://snapshot.debian.org/archive';
const SUITE = 'bookworm';

/** Paths excluded from the rootfs by dpkg (documentation, manuals, translations). */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/lintian/*',
];

/** What determines the root filesystem. Recorded on the image so that a rebuild keeps the same choice. */
export interface RootfsConfig {
  suite: string;
  variant: 'apt';
  packages: string[];
  /** Debian archive URL, or empty when `snapshot` is set. */
  mirror: string;
  securityMirror: string;
  /** snapshot.debian.org timestamp, `YYYYMMDDTHHMMSSZ`, when pinned. */
  snapshot?: string;
  dpkgExcludes: string[];
}

export interface BaseImageOptions {
  /** Pin the Debian archive to this snapshot.debian.org timestamp (`YYYYMMDDTHHMMSSZ`). */
  snapshot?: string;
  /** Debian mirror (default deb.debian.org). Ignored with `snapshot`. */
  mirror?: string;
  /** Rebuild even when an up-to-date image exists (`rootfs` rebuilds the Debian root filesystem too). */
  force?: boolean | 'rootfs';
  /** Where downloaded .deb files are kept between builds (default `$XDG_CACHE_HOME/mse-home/debs`). */
  debCacheDir?: string;
  /** Repository root holding `base-image/` and `dist/enclave/` (default: this installation). */
  repoRoot?: string;
  env?: NodeJS.ProcessEnv;
}

export interface BaseImageStatus {
  ref: string;
  /** Image ID (`sha256:…`). */
  id: string;
  /** True when this call built it. */
  built: boolean;
  /** True when the rootfs was rebuilt by this call (mmdebstrap ran). */
  rootfsBuilt: boolean;
  inputsHash: string;
  /** Image size as reported by the engine, bytes. */
  size: number;
  /** SHA-256 of the bundled enclave bootstrap, or undefined when the image has none. */
  bootstrapSha256?: string;
  rootfs: RootfsConfig;
}

/** Inputs of the base image, hashed. */
export interface BaseInputs {
  rootfs: RootfsConfig;
  rootfsHash: string;
  rootfsRef: string;
  files: { path: string; sha256: string; data: Buffer; executable: boolean }[];
  bootstrap?: { file: string; sha256: string; size: number };
  hash: string;
}

/** The repository root of this installation (holds `base-image/`, `dist/`). */
export function defaultRepoRoot(): string {
  // dist/docker/base-image.js → repo root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

const SNAPSHOT_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Resolve the rootfs configuration from options (and, failing those, what the existing image used). */
export function rootfsConfig(options: BaseImageOptions, previous?: RootfsConfig): RootfsConfig {
  if (options.snapshot !== undefined && !SNAPSHOT_RE.test(options.snapshot)) {
    throw new InputError('ERR_BASE_SNAPSHOT', `snapshot '${options.snapshot}' is not a YYYYMMDDTHHMMSSZ timestamp`, {
      hint: 'Example: --snapshot 20250520T000000Z',
    });
  }
  const explicit = options.snapshot !== undefined || options.mirror !== undefined;
  if (!explicit && previous) return previous;
  const snapshot = options.snapshot;
  return {
    suite: SUITE,
    variant: 'apt',
    packages: [...BASE_PACKAGES],
    mirror: snapshot ? '' : (options.mirror ?? DEFAULT_MIRROR).replace(/\/+$/, ''),
    securityMirror: snapshot ? '' : DEFAULT_SECURITY_MIRROR,
    ...(snapshot ? { snapshot } : {}),
    dpkgExcludes: DPKG_EXCLUDES,
  };
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hash everything the image is made from. Fast: reads four small files and the bootstrap bundle. */
export async function baseImageInputs(options: BaseImageOptions = {}, previous?: RootfsConfig): Promise<BaseInputs> {
  const root = options.repoRoot ?? defaultRepoRoot();
  const dir = path.join(root, 'base-image');
  const rootfs = rootfsConfig(options, previous);
  const rootfsHash = sha256(JSON.stringify({ format: 1, rootfs }));
  const files: BaseInputs['files'] = [];
  for (const [name, target, executable] of [
    ['Dockerfile', 'Dockerfile', false],
    ['mse-serve', 'bin/mse-serve', true],
    ['mse-test', 'bin/mse-test', true],
    ['mse-run', 'bin/mse-run', true],
  ] as const) {
    let data: Buffer;
    try {
      data = await fs.readFile(path.join(dir, name));
    } catch (cause) {
      throw new InputError('ERR_BASE_FILES_MISSING', `base image file ${path.join(dir, name)} is missing`, {
        hint: 'Reinstall mse-home: its base-image/ directory is incomplete.',
        cause,
      });
    }
    files.push({ path: target, sha256: sha256(data), data, executable });
  }
  let bootstrap: BaseInputs['bootstrap'];
  const bootstrapFile = path.join(root, 'dist', 'enclave', 'bootstrap.mjs');
  if (existsSync(bootstrapFile)) {
    const data = await fs.readFile(bootstrapFile);
    bootstrap = { file: bootstrapFile, sha256: sha256(data), size: data.length };
  }
  const hash = sha256(
    JSON.stringify({
      format: 1,
      version: VERSION,
      rootfsHash,
      files: files.map((f) => [f.path, f.sha256, f.executable]),
      bootstrap: bootstrap?.sha256 ?? null,
    }),
  );
  return { rootfs, rootfsHash, rootfsRef: `${ROOTFS_REPO}:${rootfsHash.slice(0, 16)}`, files, bootstrap, hash };
}

function parseRootfsLabel(value: string | undefined): RootfsConfig | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value) as RootfsConfig;
    return typeof v === 'object' && v !== null && typeof v.suite === 'string' && Array.isArray(v.packages)
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Make sure `mse-home-base:<VERSION>` exists and matches its inputs; build what is missing or stale.
 * Reuses the rootfs configuration (mirror/snapshot) the existing image was built with unless the options
 * give one. Logs phases on `log`.
 */
export async function ensureBaseImage(
  engine: DockerEngine,
  log: Logger,
  options: BaseImageOptions = {},
): Promise<BaseImageStatus> {
  // Fast path without the lock: up to date.
  const quick = await checkBaseImage(engine, options);
  if (quick) return quick;
  // Serialise builds between processes (parallel commands or test files would each run mmdebstrap).
  return withBuildLock(log, async () => (await checkBaseImage(engine, options)) ?? buildIfNeeded(engine, log, options));
}

/**
 * The status of `mse-home-base:<VERSION>` when it exists and matches its inputs, else undefined. Builds
 * nothing and contacts nothing but the engine (the sgx base image uses it to tell whether it is current).
 */
export async function currentBaseImage(
  engine: DockerEngine,
  options: BaseImageOptions = {},
): Promise<BaseImageStatus | undefined> {
  return checkBaseImage(engine, { ...options, force: false });
}

/** The status of an up-to-date base image, or undefined when it must be (re)built. */
async function checkBaseImage(engine: DockerEngine, options: BaseImageOptions): Promise<BaseImageStatus | undefined> {
  if (options.force) return undefined;
  const existing = await engine.inspectImage(BASE_IMAGE);
  if (!existing) return undefined;
  const inputs = await baseImageInputs(options, parseRootfsLabel(existing.Config?.Labels?.[LABEL_ROOTFS]));
  if (existing.Config?.Labels?.[LABEL_INPUTS] !== inputs.hash) return undefined;
  return {
    ref: BASE_IMAGE,
    id: existing.Id,
    built: false,
    rootfsBuilt: false,
    inputsHash: inputs.hash,
    size: existing.Size,
    ...(inputs.bootstrap ? { bootstrapSha256: inputs.bootstrap.sha256 } : {}),
    rootfs: inputs.rootfs,
  };
}

/** Hold a lock directory in the temp dir while building; a lock left by a dead process is taken over. */
async function withBuildLock<T>(log: Logger, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), `mse-home-base-build.lock`);
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      await fs.mkdir(lock, { mode: 0o700 });
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // The lock lives in the shared temp directory: read its pid through the bound (no FIFO can block us).
      const pid = Number(
        await readUserText(path.join(lock, 'pid'), 'lock pid file', INPUT_LIMITS.state).catch(() => ''),
      );
      if (pid > 0 && !processAlive(pid)) {
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DockerError('ERR_BASE_LOCKED', `another process (pid ${pid || '?'}) is building the base image`, {
          hint: `Wait for it, or remove ${lock} if no build is running.`,
        });
      }
      if (!told) log.info(`waiting for another process (pid ${pid || '?'}) building ${BASE_IMAGE}`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildIfNeeded(engine: DockerEngine, log: Logger, options: BaseImageOptions): Promise<BaseImageStatus> {
  const existing = await engine.inspectImage(BASE_IMAGE);
  const previous = parseRootfsLabel(existing?.Config?.Labels?.[LABEL_ROOTFS]);
  const inputs = await baseImageInputs(options, previous);
  if (existing) log.info(`${BASE_IMAGE} is out of date (${options.force ? 'rebuild forced' : 'its inputs changed'})`);
  else log.info(`${BASE_IMAGE} is not built yet: building it (once; about a minute or two)`);
  return buildBase(engine, log, inputs, options, existing?.Id);
}

async function buildBase(
  engine: DockerEngine,
  log: Logger,
  inputs: BaseInputs,
  options: BaseImageOptions,
  previousId: string | undefined,
): Promise<BaseImageStatus> {
  let rootfsBuilt = false;
  const rootfsImage = await engine.inspectImage(inputs.rootfsRef);
  const previousRootfsId = rootfsImage?.Id;
  if (!rootfsImage || options.force === 'rootfs') {
    await buildRootfs(engine, log, inputs, options);
    rootfsBuilt = true;
  } else {
    log.info(`reusing Debian root filesystem ${inputs.rootfsRef}`);
  }

  const entries: TarEntrySource[] = inputs.files.map((f) => ({
    path: f.path,
    type: 'file' as const,
    data: f.data,
    executable: f.executable,
  }));
  entries.push({ path: 'bin', type: 'directory' }, { path: 'opt', type: 'directory' });
  if (inputs.bootstrap) {
    entries.push({ path: 'opt/bootstrap.mjs', type: 'file', file: inputs.bootstrap.file, size: inputs.bootstrap.size });
  } else {
    log.warn('dist/enclave/bootstrap.mjs not found: the image gets no enclave bootstrap (mse-run will refuse)');
  }
  const done = log.phase(`building ${BASE_IMAGE}`);
  const result = await engine.build({
    context: entriesContext(entries),
    tags: [BASE_IMAGE],
    buildArgs: { ROOTFS: inputs.rootfsRef },
    labels: {
      [LABEL_INPUTS]: inputs.hash,
      [LABEL_ROOTFS]: JSON.stringify(inputs.rootfs),
      [LABEL_VERSION]: VERSION,
      [LABEL_BOOTSTRAP]: inputs.bootstrap?.sha256 ?? 'none',
    },
    onProgress: (line) => {
      if (/^Step \d+\/\d+/.test(line) || /^mse-serve: ok/.test(line)) log.line(`  ${line}`);
    },
  });
  const info = await engine.inspectImage(result.id);
  done(`${((info?.Size ?? 0) / 1e6).toFixed(0)} MB`);
  if (previousId && previousId !== result.id) {
    // The old image lost its tag; drop it unless another tag or something else still uses it.
    await engine.removeIfDangling(previousId).catch(() => undefined);
  }
  if (rootfsBuilt && previousRootfsId && previousRootfsId !== (await engine.inspectImage(inputs.rootfsRef))?.Id) {
    // A rebuilt rootfs took the tag; the old one goes once no base image builds on it.
    await engine.removeIfDangling(previousRootfsId).catch(() => undefined);
  }
  return {
    ref: BASE_IMAGE,
    id: result.id,
    built: true,
    rootfsBuilt,
    inputsHash: inputs.hash,
    size: info?.Size ?? 0,
    ...(inputs.bootstrap ? { bootstrapSha256: inputs.bootstrap.sha256 } : {}),
    rootfs: inputs.rootfs,
  };
}

/** APT sources for mmdebstrap. */
export function aptSources(rootfs: RootfsConfig): string[] {
  if (rootfs.snapshot) {
    return [
      `deb ${SNAPSHOT_BASE}/debian/${rootfs.snapshot} ${rootfs.suite} main`,
      `deb ${SNAPSHOT_BASE}/debian/${rootfs.snapshot} ${rootfs.suite}-updates main`,
      `deb ${SNAPSHOT_BASE}/debian-security/${rootfs.snapshot} ${rootfs.suite}-security main`,
    ];
  }
  return [
    `deb ${rootfs.mirror} ${rootfs.suite} main`,
    `deb ${rootfs.mirror} ${rootfs.suite}-updates main`,
    `deb ${rootfs.securityMirror} ${rootfs.suite}-security main`,
  ];
}

/** `SOURCE_DATE_EPOCH` for the rootfs: the snapshot time, or the newest Release date of the suites. */
export async function sourceDateEpoch(rootfs: RootfsConfig): Promise<number | undefined> {
  if (rootfs.snapshot) {
    const m = SNAPSHOT_RE.exec(rootfs.snapshot)!;
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  }
  const urls = [
    `${rootfs.mirror}/dists/${rootfs.suite}/Release`,
    `${rootfs.mirror}/dists/${rootfs.suite}-updates/Release`,
    `${rootfs.securityMirror}/dists/${rootfs.suite}-security/Release`,
  ];
  let newest: number | undefined;
  for (const url of urls) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return undefined;
      const text = await res.text();
      const m = /^Date: (.+)$/m.exec(text);
      const t = m ? Date.parse(m[1]!) : NaN;
      if (!Number.isFinite(t)) return undefined;
      newest = Math.max(newest ?? 0, Math.floor(t / 1000));
    } catch {
      return undefined;
    }
  }
  return newest;
}

function debCacheDir(options: BaseImageOptions): string {
  if (options.debCacheDir) return options.debCacheDir;
  const env = options.env ?? process.env;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mse-home', 'debs');
}

/** The mmdebstrap command line for `rootfs`, writing `outFile`. */
export function mmdebstrapArgs(rootfs: RootfsConfig, outFile: string, cacheDir: string): string[] {
  const mergedUsrHooks = '/usr/share/mmdebstrap/hooks/merged-usr';
  // Special hooks are split on blanks by mmdebstrap: quote only when needed.
  const q = (s: string): string => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [
    `--variant=${rootfs.variant}`,
    '--format=tar',
    // Merged /usr without the usrmerge package (which pulls in perl).
    ...(existsSync(mergedUsrHooks) ? [`--hook-dir=${mergedUsrHooks}`] : []),
    `--include=${rootfs.packages.join(',')}`,
    ...rootfs.dpkgExcludes.map((o) => `--dpkgopt=${o}`),
    '--aptopt=Acquire::Retries "3"',
    ...(rootfs.snapshot ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : []),
    // Keep downloaded .debs between builds (the cache never reaches the image: mmdebstrap cleans it).
    '--skip=essential/unlink',
    '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
    `--setup-hook=sync-in ${q(cacheDir)} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${q(cacheDir)}`,
    // What is installed, for audits: /opt/mse/packages.txt.
    '--customize-hook=mkdir -p "$1"/opt/mse && chroot "$1" dpkg-query -W -f=\'${Package} ${Version}\\n\' > "$1"/opt/mse/packages.txt',
    rootfs.suite,
    outFile,
    ...aptSources(rootfs),
  ];
}

async function buildRootfs(
  engine: DockerEngine,
  log: Logger,
  inputs: BaseInputs,
  options: BaseImageOptions,
): Promise<void> {
  const env = options.env ?? process.env;
  const cacheDir = debCacheDir(options);
  await fs.mkdir(cacheDir, { recursive: true });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-home-rootfs-'));
  const outFile = path.join(work, 'rootfs.tar');
  try {
    const epoch = await sourceDateEpoch(inputs.rootfs);
    if (epoch === undefined) log.warn('could not read the Debian Release dates; SOURCE_DATE_EPOCH is the current time');
    const where = inputs.rootfs.snapshot ? `snapshot ${inputs.rootfs.snapshot}` : inputs.rootfs.mirror;
    const done = log.phase(`building the Debian ${inputs.rootfs.suite} root filesystem with mmdebstrap (${where})`);
    await runMmdebstrap(
      mmdebstrapArgs(inputs.rootfs, outFile, cacheDir),
      {
        ...env,
        ...(epoch !== undefined ? { SOURCE_DATE_EPOCH: String(epoch) } : {}),
      },
      log,
    );
    const size = (await fs.stat(outFile)).size;
    done(`${(size / 1e6).toFixed(0)} MB`);
    const imported = log.phase(`importing it as ${inputs.rootfsRef}`);
    await engine.importImage(createReadStream(outFile), inputs.rootfsRef);
    imported();
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function runMmdebstrap(args: string[], env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn('mmdebstrap', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (cause) {
      reject(mmdebstrapMissing(cause));
      return;
    }
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (/^[IWE]: /.test(line) && !/^I: (running|sync|creating|removing)/.test(line))
          log.line(`  mmdebstrap ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? mmdebstrapMissing(error) : error);
    });
    child.on('close', (code) => {
      if (code === 0) return resolve();
      log.line(tail.map((l) => `  | ${l}`).join('\n'));
      reject(
        new DockerError('ERR_BASE_ROOTFS_FAILED', `mmdebstrap failed (exit ${code}) building the base image's rootfs`, {
          hint: 'Check that deb.debian.org is reachable and that you are root (see the output above).',
        }),
      );
    });
  });
}

function mmdebstrapMissing(cause: unknown): DockerError {
  return new DockerError('ERR_MMDEBSTRAP_MISSING', 'mmdebstrap is not installed (needed to build the base image)', {
    hint: 'Run scripts/setup-docker.sh (installs it), or apt-get install mmdebstrap.',
    cause,
  });
}
