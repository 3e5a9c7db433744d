/**
 * mse-home's Gramine enclave manifest, template `mse-home-gramine-manifest-v2` (docs/sgx.md, "The enclave
 * manifest"): the manifest `gramine-sgx-sign` would be given for an app, generated in TypeScript (no
 * Jinja) by a pure function of what the image holds, the app's code and the spawn arguments. `spawn
 * --platform sgx` and `verify` (through `measure`) both call {@link enclaveManifest}, so they finalize and
 * measure the same document.
 *
 * What the enclave runs (the same launcher sequence as the sim platform's container): Gramine starts the
 * single-threaded shell `dash` on the launcher `mse-run` with the argv of the measured args file; the
 * launcher runs the Node bootstrap to completion as a child (a child enclave of the same manifest: keys,
 * quote, configuration server, secrets and code written to mounts sealed to MRENCLAVE), then `exec`s the
 * Python app server in its own, first enclave. Every spawn argument is in the args file, a trusted file
 * whose hash is in the manifest; the code is app.tar, a trusted file, and each of its files is listed
 * with its hash too, so a difference names the file.
 *
 * Any change to the generated document (keys, values, order, paths) is a new template version: the
 * marker file of the image names the version the image was built for, and an unknown one is refused.
 */
import { createHash } from 'node:crypto';
import {
  enclaveArgv,
  MAX_ENCLAVE_MIB,
  measurableArgProblem,
  serializeArgvFile,
  type InputArgs,
} from '../launch/args.js';
import { APP_TAR_FILE, ARGS_FILE, ENCLAVE_DIR, LAUNCHER, LAUNCHER_SHELL } from '../launch/layout.js';
import { InputError } from '../errors.js';
import { dumpToml, type TomlTable, type TomlValue } from '../gramine/index.js';
import {
  GRAMINE_LIBOS,
  GRAMINE_LIBPAL,
  GRAMINE_PKGLIBDIR,
  GRAMINE_RUNTIME,
  MSE_BOOTSTRAP,
  SGX_MANIFEST_TEMPLATE_VERSION,
  SGX_SEALED_DIR,
} from './gramine-paths.js';
import { validateManifest } from '../gramine/manifest-schema.js';

export { APP_TAR_FILE, ARGS_FILE };
/**
 * Where the files of app.tar are listed in `sgx.trusted_files` (each with its SHA-256): the enclave reads
 * app.tar itself; the list is measured so that a mismatch names the file (docs/sgx.md).
 */
export const CODE_DIR = `${ENCLAVE_DIR}/app`;

export const NODE = '/usr/bin/node';
export const MSE_SERVE = '/usr/local/bin/mse-serve';
export const PYTHON = '/usr/bin/python3';
export const ARCH_LIBDIR = '/usr/lib/x86_64-linux-gnu';
/** Debian's directory of Python packages (the ASGI/WSGI stack and the app's dependencies). */
export const PYTHON_DIST_PACKAGES = '/usr/lib/python3';
/** Largest enclave measured (MiB): the spawn arguments' rule (`launch/args.ts`, 64 GiB: `MEASUREMENT_LIMITS`). */
export { MAX_ENCLAVE_MIB };
/**
 * Threads per enclave (TCS slots): Node's main thread, V8's platform workers (4) and delayed-task thread,
 * libuv's pool (4); Python's main thread, uvicorn's, AnyIO's pool for synchronous FastAPI endpoints (40)
 * or the WSGI executor (10); Gramine's IPC, async and pipe helper threads.
 */
export const MAX_THREADS = 64;
/** Stack of each thread: above V8's 984 KiB JavaScript stack limit plus native frames (Gramine's default is 256K). */
export const THREAD_STACK_SIZE = '2M';
/** ISV product ID and SVN of mse-home enclaves (MSE's values; the sim platform's quotes carry the same). */
export const ISV_PROD_ID = 1;
export const ISV_SVN = 10;
/** The encrypted mounts sealed to MRENCLAVE: in-enclave path, host directory under {@link SGX_SEALED_DIR}. */
export const SEALED_MOUNTS: readonly { path: string; dir: string }[] = [
  { path: '/key', dir: 'key' },
  { path: '/root', dir: 'home' },
  { path: '/mse-app', dir: 'app' },
];
/**
 * Files outside the trusted directories that the runtime reads, trusted when the image has them: OpenSSL's
 * configuration (read by Node and Python when TLS starts) and CA bundle (the app's outgoing TLS), the MIME
 * types (Python's mimetypes), the time zone, glibc's resolver and NSS configuration, the user database.
 */
export const SYSTEM_FILES: readonly string[] = [
  '/usr/lib/ssl/openssl.cnf',
  '/usr/lib/ssl/cert.pem',
  '/etc/mime.types',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/passwd',
  '/etc/group',
];

/** What the generator needs to know about the image (an `ImageFs` provides it). */
export interface ImageListing {
  stat(path: string): { kind: string } | undefined;
  lstat(path: string): { kind: string } | undefined;
  realpath(path: string): string;
  readdir(path: string): string[];
}

export interface EnclaveManifestInput {
  image: ImageListing;
  /** First line of the template marker in the image. */
  templateVersion: string;
  /** Every file of app.tar: relative path and SHA-256 (lowercase hex) of its bytes as stored. */
  codeFiles: readonly { path: string; sha256: string }[];
  /** SHA-256 (lowercase hex) of app.tar itself: the enclave reads it. */
  appTarSha256: string;
  args: InputArgs;
}

export interface EnclaveManifest {
  version: string;
  /** The manifest to finalize (the input of `gramine-sgx-sign`): directories are expanded at finalization. */
  manifest: TomlTable;
  /** `manifest` as Gramine's TOML writer prints it. */
  text: string;
  /** The enclave's argv: the launcher and every spawn argument. */
  argv: string[];
  /** {@link ARGS_FILE}'s content: each argument followed by a NUL byte (Gramine's format). */
  argsFile: Uint8Array;
  /** Python's version directory in the image, e.g. `python3.11`. */
  python: string;
}

function imageError(message: string): InputError {
  return new InputError('ERR_SGX_IMAGE_INCOMPLETE', message, {
    hint: 'Build the app image FROM the mse-home SGX base image (see docs/sgx.md).',
  });
}

function argError(field: string, message: string): InputError {
  return new InputError('ERR_MEASUREMENT_INPUT', `measurement input ${field}: ${message}`, {
    hint: 'The package or the spawn arguments are malformed; check the package and evidence.json input_args.',
  });
}

function spawnArgError(field: string, message: string): InputError {
  return new InputError('ERR_SGX_ARGUMENT', `spawn argument ${field} ${message}: no enclave can run with it`, {
    hint: 'The spawn arguments (evidence.json input_args) are malformed or were altered.',
  });
}

/**
 * The enclave's argv for spawn arguments `args` ({@link enclaveArgv}: the launcher, MSE's `mse-run` order,
 * the fixed host and port), checked. Throws `ERR_SGX_ARGUMENT` for an argument no enclave can run with
 * ({@link measurableArgProblem} of `launch/args.ts`: a NUL character, which ends an argv string, or not
 * well-formed Unicode; a size that is not a power of two of MiB or is more than {@link MAX_ENCLAVE_MIB}; an
 * expiration that is not positive). Values spawn would refuse but an enclave could run with are measured,
 * so a verdict names them.
 */
export function measuredArgv(args: InputArgs): string[] {
  for (const key of ['subject', 'san', 'appId', 'application', 'size', 'expiration'] as const) {
    const problem = measurableArgProblem(key, args[key]);
    if (problem) throw spawnArgError(key, problem);
  }
  return enclaveArgv(args);
}

/** A canonical relative POSIX path: no leading '/', no empty, '.' or '..' segment, no NUL. */
function canonicalRelative(p: unknown): p is string {
  return (
    typeof p === 'string' &&
    p.length > 0 &&
    !p.includes('\0') &&
    !/[\uD800-\uDFFF]/u.test(p) &&
    p.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  );
}

const uri = (path: string): string => `file:${path}`;
const table = (entries: [string, TomlValue][]): TomlTable => new Map(entries);
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Debian's library directory without Gramine's own tree: each entry of {@link ARCH_LIBDIR} but
 * `gramine/` (Gramine's PAL, loader and tools are not the enclave's to read; its glibc is trusted on its
 * own), a directory as `DIR/`, a file (or a link to one) as itself; links to directories are skipped, as
 * Gramine's signer skips them in a trusted directory.
 */
function libdirEntries(image: ImageListing): string[] {
  const gramine = GRAMINE_PKGLIBDIR.slice(ARCH_LIBDIR.length + 1);
  const out: string[] = [];
  for (const name of image.readdir(ARCH_LIBDIR)) {
    if (name === gramine) continue;
    const p = `${ARCH_LIBDIR}/${name}`;
    const target = image.stat(p)?.kind;
    if (target === 'file') out.push(uri(p));
    else if (target === 'directory' && image.lstat(p)?.kind === 'directory') out.push(uri(`${p}/`));
  }
  return out;
}

/** A trusted file entry with its hash (files spawn writes: Gramine cannot hash them at signing time). */
const hashed = (path: string, sha256: string): TomlTable =>
  table([
    ['uri', uri(path)],
    ['sha256', sha256],
  ]);

/** An encrypted mount of the sealed directory `dir`, keyed to the MRENCLAVE. */
const sealed = (path: string, dir: string): TomlTable =>
  table([
    ['type', 'encrypted'],
    ['path', path],
    ['uri', uri(`${SGX_SEALED_DIR}/${dir}`)],
    ['key_name', '_sgx_mrenclave'],
  ]);

const mount = (path: string, host: string): TomlTable =>
  table([
    ['path', path],
    ['uri', uri(host)],
  ]);

/** Throws `ERR_SGX_TEMPLATE_VERSION` for an image built for another template. */
function checkTemplateVersion(templateVersion: string): void {
  if (templateVersion !== SGX_MANIFEST_TEMPLATE_VERSION) {
    throw new InputError(
      'ERR_SGX_TEMPLATE_VERSION',
      `the image was built for manifest template '${templateVersion}'; this mse-home generates '${SGX_MANIFEST_TEMPLATE_VERSION}'`,
      { hint: 'Use the mse-home version that matches the image’s base image, or rebuild the image.' },
    );
  }
}

/**
 * The image's Python (`python3.N`), once every piece the manifest names is there (`ERR_SGX_IMAGE_INCOMPLETE`
 * naming the first missing one) and the enclave's directories are not (`ERR_SGX_IMAGE_LAYOUT`).
 */
function checkImage(image: ImageListing): string {
  const need = (path: string, kind: 'file' | 'directory'): void => {
    if (image.stat(path)?.kind !== kind) throw imageError(`the image has no ${kind} ${path}`);
  };
  for (const p of [GRAMINE_LIBPAL, GRAMINE_LIBOS, LAUNCHER_SHELL, LAUNCHER, NODE, MSE_BOOTSTRAP, MSE_SERVE]) {
    need(p, 'file');
  }
  need(PYTHON, 'file');
  const python = /^\/usr\/bin\/(python3\.[0-9]+)$/.exec(image.realpath(PYTHON))?.[1];
  if (!python) throw imageError(`${PYTHON} leads to ${image.realpath(PYTHON)}, not /usr/bin/python3.N`);
  const stdlib = `/usr/lib/${python}`;
  for (const d of [GRAMINE_RUNTIME, ARCH_LIBDIR, stdlib, PYTHON_DIST_PACKAGES]) need(d, 'directory');
  for (const p of [ENCLAVE_DIR, SGX_SEALED_DIR]) {
    if (image.lstat(p) !== undefined) {
      throw new InputError('ERR_SGX_IMAGE_LAYOUT', `the image already holds ${p}, which spawn creates`, {
        hint: `Remove ${p} from the image: the enclave's files there are written at spawn time.`,
      });
    }
  }
  return python;
}

/** The code files, checked (`ERR_MEASUREMENT_INPUT`) and sorted by their UTF-8 path bytes. */
function checkedCodeFiles(codeFiles: EnclaveManifestInput['codeFiles']): EnclaveManifestInput['codeFiles'] {
  const seen = new Set<string>();
  return [...codeFiles]
    .map((f, i) => {
      if (!canonicalRelative(f.path)) {
        throw argError(`codeFiles[${i}].path`, `${JSON.stringify(f.path)} is not a canonical relative path`);
      }
      if (!SHA256.test(f.sha256)) throw argError(`codeFiles[${i}].sha256`, 'must be 64 lowercase hex digits');
      if (seen.has(f.path)) throw argError('codeFiles', `${JSON.stringify(f.path)} is listed twice`);
      seen.add(f.path);
      return f;
    })
    .sort((a, b) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8')));
}

/** The manifest's `loader` table: Gramine's LibOS, the argv file spawn writes, the environment. */
function loaderTable(): TomlTable {
  return table([
    ['entrypoint', table([['uri', uri(GRAMINE_LIBOS)]])],
    ['log_level', 'error'],
    ['argv_src_file', uri(ARGS_FILE)],
    [
      'env',
      table([
        ['LD_LIBRARY_PATH', `/lib:${ARCH_LIBDIR}`],
        ['PATH', '/usr/local/bin:/usr/bin'],
        ['HOME', '/root'],
        ['LANG', 'C.UTF-8'],
        ['LC_ALL', 'C.UTF-8'],
        ['PYTHONDONTWRITEBYTECODE', '1'],
        ['PYTHONUNBUFFERED', '1'],
      ]),
    ],
  ]);
}

/** The manifest's `fs` table: the mounts, the sealed directories encrypted. */
function fsTable(): TomlTable {
  return table([
    [
      'mounts',
      [
        mount('/lib', GRAMINE_RUNTIME),
        mount('/usr', '/usr'),
        mount('/etc', '/etc'),
        mount(MSE_BOOTSTRAP, MSE_BOOTSTRAP),
        mount(ENCLAVE_DIR, ENCLAVE_DIR),
        table([
          ['type', 'tmpfs'],
          ['path', '/tmp'],
        ]),
        ...SEALED_MOUNTS.map((m) => sealed(m.path, m.dir)),
      ],
    ],
  ]);
}

/**
 * The manifest's `sgx.trusted_files`: the runtime and Python trees in `image`, the args file and app.tar
 * with their hashes, then every code file (`code`, sorted).
 */
function trustedFiles(
  image: ImageListing,
  python: string,
  hashes: { argsSha256: string; appTarSha256: string },
  code: EnclaveManifestInput['codeFiles'],
): TomlValue[] {
  const localPackages = `/usr/local/lib/${python}/dist-packages`;
  return [
    ...[LAUNCHER_SHELL, LAUNCHER, NODE, MSE_BOOTSTRAP, PYTHON, `/usr/bin/${python}`, MSE_SERVE].map(uri),
    uri(`${GRAMINE_RUNTIME}/`),
    ...libdirEntries(image),
    uri(`/usr/lib/${python}/`),
    uri(`${PYTHON_DIST_PACKAGES}/`),
    ...(image.lstat(localPackages)?.kind === 'directory' ? [uri(`${localPackages}/`)] : []),
    ...SYSTEM_FILES.filter((p) => image.stat(p)?.kind === 'file').map(uri),
    hashed(ARGS_FILE, hashes.argsSha256),
    hashed(APP_TAR_FILE, hashes.appTarSha256),
    ...code.map((f) => hashed(`${CODE_DIR}/${f.path}`, f.sha256)),
  ];
}

/** The manifest's `sgx` table: the enclave's attributes and identity, and its trusted files. */
function sgxTable(sizeMiB: number, trusted: TomlValue[]): TomlTable {
  return table([
    ['debug', false],
    ['edmm_enable', false],
    ['enclave_size', `${sizeMiB}M`],
    ['max_threads', BigInt(MAX_THREADS)],
    ['remote_attestation', 'dcap'],
    ['file_check_policy', 'strict'],
    ['isvprodid', BigInt(ISV_PROD_ID)],
    ['isvsvn', BigInt(ISV_SVN)],
    ['trusted_files', trusted],
  ]);
}

/**
 * The enclave manifest (template {@link SGX_MANIFEST_TEMPLATE_VERSION}) for the code run with `args` in
 * `image`. Pure. Throws `ERR_SGX_TEMPLATE_VERSION` for an image built for another template,
 * `ERR_SGX_IMAGE_INCOMPLETE` naming the first missing piece, `ERR_SGX_IMAGE_LAYOUT` when the image
 * already holds the enclave's directories, `ERR_SGX_ARGUMENT` for spawn arguments no enclave can run with
 * ({@link measuredArgv}), `ERR_MEASUREMENT_INPUT` for code that cannot be written into the manifest.
 */
export function enclaveManifest(input: EnclaveManifestInput): EnclaveManifest {
  checkTemplateVersion(input.templateVersion);
  const { image } = input;
  const python = checkImage(image);
  if (!SHA256.test(input.appTarSha256)) throw argError('appTarSha256', 'must be 64 lowercase hex digits');
  const code = checkedCodeFiles(input.codeFiles);

  const argv = measuredArgv(input.args);
  const argsFile = new Uint8Array(serializeArgvFile(argv));
  const argsSha256 = createHash('sha256').update(argsFile).digest('hex');
  const manifest: TomlTable = table([
    ['libos', table([['entrypoint', LAUNCHER_SHELL]])],
    ['loader', loaderTable()],
    [
      'sys',
      table([
        ['enable_extra_runtime_domain_names_conf', true],
        ['enable_sigterm_injection', true],
        ['stack', table([['size', THREAD_STACK_SIZE]])],
      ]),
    ],
    ['fs', fsTable()],
    [
      'sgx',
      sgxTable(input.args.size, trustedFiles(image, python, { argsSha256, appTarSha256: input.appTarSha256 }, code)),
    ],
  ]);
  const problems = validateManifest(manifest, { strict: true });
  if (problems.length > 0) {
    // The template is ours: a problem here is a bug, never the package's fault.
    throw new Error(`enclave manifest template breaks Gramine's rules: ${problems.map((p) => p.message).join('; ')}`);
  }
  return { version: SGX_MANIFEST_TEMPLATE_VERSION, manifest, text: dumpToml(manifest), argv, argsFile, python };
}
