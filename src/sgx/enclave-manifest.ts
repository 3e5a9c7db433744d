/**
 * mse-home's Gramine enclave manifest, template `mse-home-gramine-manifest-v1` (docs/sgx.md): the manifest
 * `gramine-sgx-sign` would be given for an app, generated in TypeScript (no Jinja) by a pure function of
 * what the image holds, the app's code files and the spawn arguments. `spawn --platform sgx` and `verify`
 * (through `measure`) both call {@link enclaveManifest}, so they finalize and measure the same document.
 *
 * What the enclave runs: Gramine's LibOS starts `/usr/bin/node` with our bootstrap; the bootstrap starts
 * the app with `mse-serve` (Python) as a child process. Every spawn argument reaches the bootstrap through
 * a trusted argv file (`loader.argv_src_file`), so each one is measured; the code files are trusted files
 * listed one by one with the SHA-256 they have in app.tar, so a difference names the file.
 *
 * Any change to the generated document (keys, values, order, paths) is a new template version: the
 * marker file of the image names the version the image was built for, and an unknown one is refused.
 */
import { createHash } from 'node:crypto';
import { serializeArgvFile, toEnclaveArgv, type InputArgs } from '../launch/args.js';
import { ENCLAVE_PORT } from '../launch/layout.js';
import { InputError } from '../errors.js';
import { formatBytes, MEASUREMENT_LIMITS } from '../fs/limits.js';
import { dumpToml, type TomlTable, type TomlValue } from '../gramine/index.js';
import {
  GRAMINE_LIBOS,
  GRAMINE_LIBPAL,
  GRAMINE_RUNTIME,
  MSE_BOOTSTRAP,
  SGX_ENCLAVE_DIR,
  SGX_MANIFEST_TEMPLATE_VERSION,
  SGX_SEALED_DIR,
} from './gramine-paths.js';

/** The serialized argv (`gramine-argv-serializer` format). */
export const ARGS_FILE = `${SGX_ENCLAVE_DIR}/args`;
/** The code of app.tar, as stored there (`.enc` files stay encrypted; the bootstrap decrypts them). */
export const CODE_DIR = `${SGX_ENCLAVE_DIR}/app`;

export const NODE = '/usr/bin/node';
export const MSE_SERVE = '/usr/local/bin/mse-serve';
export const PYTHON = '/usr/bin/python3';
export const ARCH_LIBDIR = '/usr/lib/x86_64-linux-gnu';
/** Debian's directory of Python packages (the ASGI/WSGI stack and the app's dependencies). */
export const PYTHON_DIST_PACKAGES = '/usr/lib/python3';
/** Host address the bootstrap serves on inside the container (fixed, hence measured). */
export const ENCLAVE_HOST = '0.0.0.0';
/** Largest enclave size (MiB): the measured enclave limit (64 GiB, `MEASUREMENT_LIMITS` in src/fs/limits.ts). */
export const MAX_ENCLAVE_MIB = MEASUREMENT_LIMITS.maxEnclaveBytes / 2 ** 20;
/** Threads per enclave: Node's main thread, libuv's pool (4), V8's platform workers and Gramine's helpers. */
export const MAX_THREADS = 32;

/** What the generator needs to know about the image (an `ImageFs` provides it). */
export interface ImageListing {
  stat(path: string): { kind: string } | undefined;
  lstat(path: string): { kind: string } | undefined;
  realpath(path: string): string;
}

export interface EnclaveManifestInput {
  image: ImageListing;
  /** First line of {@link SGX_TEMPLATE_MARKER} in the image. */
  templateVersion: string;
  /** Every file of app.tar: relative path and SHA-256 (lowercase hex) of its bytes as stored. */
  codeFiles: readonly { path: string; sha256: string }[];
  args: InputArgs;
}

export interface EnclaveManifest {
  version: string;
  /** The manifest to finalize (the input of `gramine-sgx-sign`): directories are expanded at finalization. */
  manifest: TomlTable;
  /** `manifest` as Gramine's TOML writer prints it. */
  text: string;
  /** The enclave's argv: `node bootstrap.mjs` and every spawn argument. */
  argv: string[];
  /** {@link ARGS_FILE}'s content: each argument followed by a NUL byte (`serializeArgvFile`, Gramine's format). */
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
 * The enclave's argv for spawn arguments `args` (MSE's `mse-run` order, then the fixed host and port).
 * Throws `ERR_SGX_ARGUMENT` for an argument no enclave can run with: a string with a NUL character (argv
 * strings end at NUL) or not well-formed Unicode, a size that is not a power of two of MiB (SGX) or is
 * more than {@link MAX_ENCLAVE_MIB}, an expiration that is not a positive integer.
 */
export function enclaveArgv(args: InputArgs): string[] {
  for (const [field, value] of Object.entries(args)) {
    if (typeof value === 'string' && (value.includes('\0') || /[\uD800-\uDFFF]/u.test(value))) {
      throw spawnArgError(field, 'holds a NUL character or is not well-formed Unicode');
    }
  }
  const size = args.size;
  if (!Number.isSafeInteger(size) || size < 1 || (size & (size - 1)) !== 0) {
    throw spawnArgError('size', `= ${size} MiB is not a power of two`);
  }
  if (size > MAX_ENCLAVE_MIB) {
    // Measuring it would hash 64 bytes per page: a bound on what untrusted input_args can cost a verifier.
    throw spawnArgError(
      'size',
      `= ${size} MiB is more than ${MAX_ENCLAVE_MIB} MiB (${formatBytes(MEASUREMENT_LIMITS.maxEnclaveBytes)}), the largest enclave mse-home spawns and measures`,
    );
  }
  if (!Number.isSafeInteger(args.expiration) || args.expiration < 1) {
    throw spawnArgError('expiration', `= ${args.expiration} is not a positive Unix time`);
  }
  return [NODE, MSE_BOOTSTRAP, ...toEnclaveArgv(args), '--host', ENCLAVE_HOST, '--port', String(ENCLAVE_PORT)];
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

/**
 * The enclave manifest (template {@link SGX_MANIFEST_TEMPLATE_VERSION}) for `codeFiles` run with `args` in
 * `image`. Pure. Throws `ERR_SGX_TEMPLATE_VERSION` for an image built for another template,
 * `ERR_SGX_IMAGE_INCOMPLETE` naming the first missing piece, `ERR_SGX_IMAGE_LAYOUT` when the image
 * already holds {@link SGX_ENCLAVE_DIR}, `ERR_SGX_ARGUMENT` for spawn arguments no enclave can run with
 * ({@link enclaveArgv}), `ERR_MEASUREMENT_INPUT` for code paths that cannot be written into the manifest.
 */
export function enclaveManifest(input: EnclaveManifestInput): EnclaveManifest {
  if (input.templateVersion !== SGX_MANIFEST_TEMPLATE_VERSION) {
    throw new InputError(
      'ERR_SGX_TEMPLATE_VERSION',
      `the image was built for manifest template '${input.templateVersion}'; this mse-home generates '${SGX_MANIFEST_TEMPLATE_VERSION}'`,
      { hint: 'Use the mse-home version that matches the image’s base image, or rebuild the image.' },
    );
  }
  const { image } = input;
  const need = (path: string, kind: 'file' | 'directory'): void => {
    if (image.stat(path)?.kind !== kind) throw imageError(`the image has no ${kind} ${path}`);
  };
  for (const p of [GRAMINE_LIBPAL, GRAMINE_LIBOS, NODE, MSE_BOOTSTRAP, MSE_SERVE]) need(p, 'file');
  need(PYTHON, 'file');
  const python = /^\/usr\/bin\/(python3\.[0-9]+)$/.exec(image.realpath(PYTHON))?.[1];
  if (!python) throw imageError(`${PYTHON} leads to ${image.realpath(PYTHON)}, not /usr/bin/python3.N`);
  const stdlib = `/usr/lib/${python}`;
  for (const d of [ARCH_LIBDIR, stdlib, PYTHON_DIST_PACKAGES]) need(d, 'directory');
  for (const p of [SGX_ENCLAVE_DIR, SGX_SEALED_DIR]) {
    if (image.lstat(p) !== undefined) {
      throw new InputError('ERR_SGX_IMAGE_LAYOUT', `the image already holds ${p}, which spawn creates`, {
        hint: `Remove ${p} from the image: the enclave's files there are written at spawn time.`,
      });
    }
  }

  const seen = new Set<string>();
  const code = [...input.codeFiles]
    .map((f, i) => {
      if (!canonicalRelative(f.path)) {
        throw argError(`codeFiles[${i}].path`, `${JSON.stringify(f.path)} is not a canonical relative path`);
      }
      if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw argError(`codeFiles[${i}].sha256`, 'must be 64 lowercase hex digits');
      if (seen.has(f.path)) throw argError('codeFiles', `${JSON.stringify(f.path)} is listed twice`);
      seen.add(f.path);
      return f;
    })
    .sort((a, b) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8')));

  const argv = enclaveArgv(input.args);
  const argsFile = new Uint8Array(serializeArgvFile(argv));
  const argsSha256 = createHash('sha256').update(argsFile).digest('hex');
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

  const manifest: TomlTable = table([
    ['libos', table([['entrypoint', NODE]])],
    [
      'loader',
      table([
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
      ]),
    ],
    ['sys', table([['enable_extra_runtime_domain_names_conf', true]])],
    [
      'fs',
      table([
        [
          'mounts',
          [
            mount('/lib', GRAMINE_RUNTIME),
            mount('/usr', '/usr'),
            mount('/etc', '/etc'),
            mount(MSE_BOOTSTRAP, MSE_BOOTSTRAP),
            mount(SGX_ENCLAVE_DIR, SGX_ENCLAVE_DIR),
            table([
              ['type', 'tmpfs'],
              ['path', '/tmp'],
            ]),
            sealed('/key', 'key'),
            sealed('/root', 'home'),
            sealed('/mse-app', 'app'),
          ],
        ],
      ]),
    ],
    [
      'sgx',
      table([
        ['debug', false],
        ['edmm_enable', false],
        ['enclave_size', `${input.args.size}M`],
        ['max_threads', BigInt(MAX_THREADS)],
        ['remote_attestation', 'dcap'],
        ['isvprodid', 0n],
        ['isvsvn', 0n],
        [
          'trusted_files',
          [
            uri(NODE),
            uri(PYTHON),
            uri(`/usr/bin/${python}`),
            uri(MSE_SERVE),
            uri(MSE_BOOTSTRAP),
            uri(`${ARCH_LIBDIR}/`),
            uri(`${stdlib}/`),
            uri(`${PYTHON_DIST_PACKAGES}/`),
            table([
              ['uri', uri(ARGS_FILE)],
              ['sha256', argsSha256],
            ]),
            ...code.map((f) =>
              table([
                ['uri', uri(`${CODE_DIR}/${f.path}`)],
                ['sha256', f.sha256],
              ]),
            ),
          ],
        ],
      ]),
    ],
  ]);
  return { version: SGX_MANIFEST_TEMPLATE_VERSION, manifest, text: dumpToml(manifest), argv, argsFile, python };
}
