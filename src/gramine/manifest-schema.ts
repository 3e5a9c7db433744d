/**
 * Gramine 1.9's manifest rules, checked in TypeScript: the syntax `gramine-manifest` enforces (the
 * voluptuous schema of `python/graminelibos/manifest_check.py`: every key known, of its type, enums, no
 * extra keys) plus the rules Gramine applies when it loads a manifest (mutually exclusive options, mount
 * and trusted-file forms, sizes, settings a production enclave cannot start with), and the keys earlier
 * Gramine releases had and 1.9 no longer has, refused with the key that replaced them. Pure.
 *
 * Where this is stricter than Gramine: an integer must be a TOML integer (Python's `int` also takes a
 * boolean); a mount or `libos.entrypoint` path must be absolute; a `sha256` must be 64 hex digits. With
 * `strict`, settings that undo the enclave's protection (debug enclaves, `insecure__*` keys, host
 * environment passthrough, unhashed `allowed_files`, `allow_all_but_log`, verbose logs) are problems too:
 * mse-home's own manifests must have none. Sources and the open questions about 1.9's exact schema are in
 * docs/sgx.md ("Manifest rules").
 */
import { InputError } from '../errors.js';
import { parseSize } from './manifest.js';
import { isTomlTable, keyPath, type TomlTable, type TomlValue } from './toml.js';

/** The Gramine release whose manifest syntax this checks. */
export const GRAMINE_SCHEMA_VERSION = '1.9';

export type ManifestProblemKind =
  /** A key Gramine 1.9 does not know. */
  | 'unknown-key'
  /** A key (or a value form) an earlier Gramine had and 1.9 removed; the hint names its replacement. */
  | 'removed'
  /** A required key is absent. */
  | 'missing'
  /** The value has the wrong TOML type. */
  | 'type'
  /** The value has the right type but is not allowed. */
  | 'value'
  /** Two settings that cannot go together. */
  | 'conflict'
  /** A setting that undoes the enclave's protection (reported with `strict` only). */
  | 'insecure';

export interface ManifestProblem {
  /** The key path, e.g. `sgx.enclave_size` or `fs.mounts[2].type`. */
  key: string;
  kind: ManifestProblemKind;
  message: string;
  hint?: string;
}

export interface ValidateOptions {
  /** Report insecure settings too (mse-home's own manifests). */
  strict?: boolean;
}

type Path = (string | number)[];
type Report = (at: Path, kind: ManifestProblemKind, message: string, hint?: string) => void;
type Check = (v: TomlValue, at: Path, report: Report) => void;

function show(at: Path): string {
  let out = '';
  for (const p of at) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += (out ? '.' : '') + keyPath([p]);
  }
  return out || '(manifest)';
}

function typeName(v: TomlValue): string {
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'bigint') return 'an integer';
  if (typeof v === 'boolean') return 'a boolean';
  return Array.isArray(v) ? 'an array' : 'a table';
}

const typed =
  (want: string, ok: (v: TomlValue) => boolean, then?: Check): Check =>
  (v, at, report) => {
    if (!ok(v)) report(at, 'type', `must be ${want}, not ${typeName(v)}`);
    else then?.(v, at, report);
  };

const str: Check = typed('a string', (v) => typeof v === 'string');
const bool: Check = typed('a boolean', (v) => typeof v === 'boolean');
const int: Check = typed('an integer', (v) => typeof v === 'bigint');
const intIn = (min: bigint, max: bigint): Check =>
  typed(
    'an integer',
    (v) => typeof v === 'bigint',
    (v, at, report) => {
      const n = v as bigint;
      if (n < min || n > max) report(at, 'value', `must be from ${min} to ${max}, not ${n}`);
    },
  );
const oneOf = (...values: (string | boolean)[]): Check => {
  const want = values.map((x) => JSON.stringify(x)).join(', ');
  return (v, at, report) => {
    if (!values.includes(v as string | boolean)) {
      report(at, typeof v === typeof values[0] ? 'value' : 'type', `must be one of ${want}, not ${render(v)}`);
    }
  };
};
/** A size as Gramine reads it: an integer in Python's syntax with an optional K, M or G suffix. */
const size: Check = typed(
  'a size string such as "256M"',
  (v) => typeof v === 'string',
  (v, at, report) => {
    try {
      parseSize(v as string, show(at));
    } catch (error) {
      report(at, 'value', `${JSON.stringify(v)} is not a size`, (error as InputError).hint);
    }
  },
);
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const sha256: Check = typed(
  'a string',
  (v) => typeof v === 'string',
  (v, at, report) => {
    if (!SHA256_HEX.test(v as string)) report(at, 'value', 'must be a SHA-256 in hex (64 digits)');
  },
);
/** A `file:` URI (Gramine's trusted and allowed files, encrypted mounts). */
const fileUri: Check = typed(
  'a string',
  (v) => typeof v === 'string',
  (v, at, report) => {
    if (!(v as string).startsWith('file:') || (v as string).length === 'file:'.length) {
      report(at, 'value', `${JSON.stringify(v)} is not a file: URI`, 'Write "file:PATH".');
    }
  },
);
const absolutePath: Check = typed(
  'a string',
  (v) => typeof v === 'string',
  (v, at, report) => {
    if (!(v as string).startsWith('/')) report(at, 'value', `${JSON.stringify(v)} is not an absolute path`);
  },
);
const arrayOf =
  (item: Check): Check =>
  (v, at, report) => {
    if (!Array.isArray(v)) return report(at, 'type', `must be an array, not ${typeName(v)}`);
    v.forEach((x, i) => item(x, [...at, i], report));
  };
/** A table whose keys are free (names), each value checked by `item`. */
const mapOf =
  (item: Check): Check =>
  (v, at, report) => {
    if (!isTomlTable(v)) return report(at, 'type', `must be a table, not ${typeName(v)}`);
    for (const [k, x] of v) item(x, [...at, k], report);
  };
const anything: Check = () => undefined;

interface TableSpec {
  keys: Record<string, Check>;
  required?: string[];
  /** Keys of earlier Gramine releases: the hint says what replaced them. */
  removed?: Record<string, string>;
}

const tableOf =
  (spec: TableSpec): Check =>
  (v, at, report) => {
    if (!isTomlTable(v)) return report(at, 'type', `must be a table, not ${typeName(v)}`);
    for (const k of spec.required ?? []) {
      if (!v.has(k)) report([...at, k], 'missing', `is required`);
    }
    for (const [k, x] of v) {
      const check = spec.keys[k];
      if (check) check(x, [...at, k], report);
      else if (spec.removed?.[k] !== undefined) {
        report([...at, k], 'removed', `is not a Gramine ${GRAMINE_SCHEMA_VERSION} option`, spec.removed[k]);
      } else report([...at, k], 'unknown-key', `is not a Gramine ${GRAMINE_SCHEMA_VERSION} manifest option`);
    }
  };

function render(v: TomlValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return typeName(v);
}

// ----- fs ----------------------------------------------------------------------------------------------

const MOUNT_TYPES = ['chroot', 'encrypted', 'tmpfs', 'untrusted_shm'];

/** One `fs.mounts` entry (`withPath`) or `fs.root`: the keys each mount type takes (schema variants). */
const mountOf =
  (withPath: boolean): Check =>
  (v, at, report) => {
    if (!isTomlTable(v)) return report(at, 'type', `must be a table, not ${typeName(v)}`);
    const type = v.get('type') ?? 'chroot';
    if (typeof type !== 'string' || !MOUNT_TYPES.includes(type)) {
      report(
        [...at, 'type'],
        'value',
        `must be one of ${MOUNT_TYPES.map((t) => `"${t}"`).join(', ')}, not ${render(type)}`,
      );
      return;
    }
    const keys: Record<string, Check> = { type: str };
    if (withPath) keys.path = absolutePath;
    if (type === 'tmpfs')
      keys.uri = str; // ignored by Gramine
    else if (type === 'encrypted') {
      keys.uri = fileUri;
      keys.key_name = typed(
        'a string',
        (x) => typeof x === 'string',
        (x, p, r) => {
          const name = x as string;
          if (name.startsWith('_') && name !== '_sgx_mrenclave' && name !== '_sgx_mrsigner') {
            r(
              p,
              'value',
              `${JSON.stringify(name)}: key names starting with "_" are Gramine's ("_sgx_mrenclave", "_sgx_mrsigner")`,
            );
          }
        },
      );
    } else {
      keys.uri = typed(
        'a string',
        (x) => typeof x === 'string',
        (x, p, r) => {
          const u = x as string;
          if (!u.startsWith('file:') && !(type === 'chroot' && u.startsWith('dev:'))) {
            r(p, 'value', `${JSON.stringify(u)} is not a file:${type === 'chroot' ? ' or dev:' : ''} URI`);
          }
        },
      );
    }
    const required = [...(withPath ? ['path'] : []), ...(type === 'tmpfs' ? [] : ['uri'])];
    tableOf({ keys, required })(v, at, report);
  };

const FS: TableSpec = {
  keys: {
    mounts: arrayOf(mountOf(true)),
    root: mountOf(false),
    start_dir: str,
    insecure__keys: mapOf(
      typed(
        'a string',
        (v) => typeof v === 'string',
        (v, at, report) => {
          if (!/^[0-9a-fA-F]{32}$/.test(v as string)) report(at, 'value', 'must be a 128-bit key in hex (32 digits)');
        },
      ),
    ),
  },
  required: ['mounts'],
  removed: {
    mount: 'Gramine 1.4 replaced the fs.mount.<name> tables with the fs.mounts array: [[fs.mounts]] path = … uri = ….',
    experimental__enable_sysfs_topology: 'Removed: Gramine always provides the sysfs topology.',
  },
};

// ----- libos, loader -----------------------------------------------------------------------------------

const LIBOS: TableSpec = {
  keys: {
    entrypoint: typed(
      'a string',
      (v) => typeof v === 'string',
      (v, at, report) => {
        const e = v as string;
        if (e.startsWith('file:')) {
          report(
            at,
            'removed',
            `${JSON.stringify(e)}: the file: URI form was removed in Gramine 1.9`,
            `Write the path inside Gramine: "${e.slice(5)}".`,
          );
        } else if (!e.startsWith('/')) report(at, 'value', `${JSON.stringify(e)} is not an absolute path`);
      },
    ),
    check_invalid_pointers: bool,
  },
  required: ['entrypoint'],
};

const envValue: Check = (v, at, report) => {
  if (typeof v === 'string') return;
  if (!isTomlTable(v))
    return report(at, 'type', `must be a string, { value = "…" } or { passthrough = true }, not ${typeName(v)}`);
  if (v.has('value') && v.has('passthrough')) {
    return report(at, 'conflict', 'has both value and passthrough', 'Keep one of them.');
  }
  tableOf({ keys: { value: str, passthrough: oneOf(true) } })(v, at, report);
  if (v.size === 0)
    report(at, 'value', 'is an empty table', 'Write a string, { value = "…" } or { passthrough = true }.');
};

const loaderEntrypoint: Check = (v, at, report) => {
  if (typeof v === 'string') {
    return report(
      at,
      'removed',
      'the string form of loader.entrypoint was removed in Gramine 1.9',
      `Write loader.entrypoint.uri = ${JSON.stringify(v)}.`,
    );
  }
  tableOf({ keys: { uri: fileUri, sha256 }, required: ['uri'] })(v, at, report);
};

const LOADER: TableSpec = {
  keys: {
    entrypoint: loaderEntrypoint,
    argv: arrayOf(str),
    argv_src_file: fileUri,
    env: mapOf(envValue),
    env_src_file: fileUri,
    gid: int,
    uid: int,
    insecure__use_cmdline_argv: bool,
    insecure__use_host_env: bool,
    insecure__disable_aslr: bool,
    log_file: str,
    log_level: oneOf('none', 'error', 'warning', 'debug', 'trace', 'all'),
  },
  required: ['entrypoint'],
  removed: {
    preload: 'Gramine 1.4 replaced loader.preload with loader.entrypoint (the LibOS), which the signer fills in.',
    debug_type: 'Removed in Gramine 1.4: use loader.log_level.',
    argv0_override: 'Removed in Gramine 1.4: put the whole argv in loader.argv or loader.argv_src_file.',
    pal_internal_mem_size: 'Removed in Gramine 1.4: the PAL sizes its own memory.',
    syscall_symbol: 'Removed: Gramine patches its own glibc.',
  },
};

// ----- sgx ---------------------------------------------------------------------------------------------

const trustedFile: Check = (v, at, report) => {
  if (typeof v === 'string') return fileUri(v, at, report);
  tableOf({ keys: { uri: fileUri, sha256 }, required: ['uri'] })(v, at, report);
};

const SGX: TableSpec = {
  keys: {
    allowed_files: arrayOf(fileUri),
    cpu_features: tableOf({
      keys: {
        avx: oneOf('unspecified', 'disabled', 'required'),
        avx512: oneOf('unspecified', 'disabled', 'required'),
        amx: oneOf('unspecified', 'disabled', 'required'),
        mpx: oneOf('disabled', 'required'),
        pkru: oneOf('disabled', 'required'),
      },
    }),
    debug: bool,
    edmm_enable: bool,
    enable_stats: bool,
    enclave_size: (v, at, report) => {
      size(v, at, report);
      if (typeof v !== 'string') return;
      try {
        const n = BigInt(parseSize(v, show(at)));
        if ((n & (n - 1n)) !== 0n || n < 8192n)
          report(
            at,
            'value',
            `${JSON.stringify(v)} is not a power of two`,
            'SGX enclaves have a power-of-two size, such as "1G".',
          );
      } catch {
        // reported by `size`
      }
    },
    file_check_policy: oneOf('strict', 'allow_all_but_log'),
    insecure__allow_memfaults_without_exinfo: bool,
    insecure__rpc_thread_num: intIn(0n, 4096n),
    isvprodid: intIn(0n, 0xffffn),
    isvsvn: intIn(0n, 0xffffn),
    max_threads: intIn(1n, 1n << 20n),
    preheat_enclave: bool,
    profile: tableOf({
      keys: {
        enable: oneOf('none', 'main', 'all'),
        mode: oneOf('aex', 'ocall_inner', 'ocall_outer'),
        with_stack: bool,
        frequency: int,
      },
    }),
    remote_attestation: (v, at, report) => {
      if (typeof v === 'boolean') {
        return report(
          at,
          'removed',
          'the boolean form was removed',
          `Write sgx.remote_attestation = "${v ? 'dcap' : 'none'}".`,
        );
      }
      if (v === 'epid')
        return report(at, 'removed', '"epid" was removed in Gramine 1.9 (EPID attestation is gone)', 'Use "dcap".');
      oneOf('none', 'dcap')(v, at, report);
    },
    seal_key: tableOf({ keys: { flags_mask: str, xfrm_mask: str, misc_mask: str } }),
    trusted_files: arrayOf(trustedFile),
    use_exinfo: bool,
    vtune_profile: bool,
  },
  removed: {
    thread_num: 'Renamed sgx.max_threads in Gramine 1.4.',
    nonpie_binary: 'Removed in Gramine 1.5: Gramine loads non-PIE binaries without it.',
    protected_files: 'Replaced by encrypted mounts: [[fs.mounts]] type = "encrypted".',
    protected_mrenclave_files: 'Replaced by encrypted mounts with key_name = "_sgx_mrenclave".',
    protected_mrsigner_files: 'Replaced by encrypted mounts with key_name = "_sgx_mrsigner".',
    insecure__protected_files_key: 'Replaced by fs.insecure__keys.<name>.',
    require_avx: 'Replaced by sgx.cpu_features.avx = "required".',
    require_avx512: 'Replaced by sgx.cpu_features.avx512 = "required".',
    require_mpx: 'Replaced by sgx.cpu_features.mpx = "required".',
    require_pkru: 'Replaced by sgx.cpu_features.pkru = "required".',
    require_amx: 'Replaced by sgx.cpu_features.amx = "required".',
    require_exinfo: 'Replaced by sgx.use_exinfo.',
    sigfile: 'Removed: gramine-sgx finds the SIGSTRUCT beside the manifest.',
    ra_client_spid: 'Removed in Gramine 1.9 with EPID attestation: use sgx.remote_attestation = "dcap".',
    ra_client_linkable: 'Removed in Gramine 1.9 with EPID attestation: use sgx.remote_attestation = "dcap".',
    allowed_ioctls: 'Moved to sys.allowed_ioctls.',
    ioctl_structs: 'Moved to sys.ioctl_structs.',
  },
};

// ----- sys ---------------------------------------------------------------------------------------------

const SYS: TableSpec = {
  keys: {
    allowed_ioctls: arrayOf(tableOf({ keys: { request_code: int, struct: str }, required: ['request_code'] })),
    brk: tableOf({ keys: { max_size: size } }),
    disallow_subprocesses: bool,
    enable_extra_runtime_domain_names_conf: bool,
    enable_sigterm_injection: bool,
    experimental__enable_flock: bool,
    insecure__allow_eventfd: bool,
    ioctl_structs: mapOf(anything),
    debug__mock_syscalls: arrayOf(tableOf({ keys: { name: str, return: int }, required: ['name'] })),
    stack: tableOf({ keys: { size } }),
    fds: tableOf({ keys: { limit: intIn(1n, 1n << 31n) } }),
  },
};

const MANIFEST: TableSpec = {
  keys: { fs: tableOf(FS), libos: tableOf(LIBOS), loader: tableOf(LOADER), sgx: tableOf(SGX), sys: tableOf(SYS) },
  required: ['fs', 'libos', 'loader'],
};

const get = (t: TomlTable, ...keys: string[]): TomlValue | undefined => {
  let v: TomlValue | undefined = t;
  for (const k of keys) v = isTomlTable(v) ? v.get(k) : undefined;
  return v;
};

/** Rules across keys (Gramine's loader and PAL), and with `strict` the insecure settings. */
function crossChecks(doc: TomlTable, strict: boolean, report: Report): void {
  const argvSources = (['argv', 'argv_src_file', 'insecure__use_cmdline_argv'] as const).filter((k) =>
    k === 'insecure__use_cmdline_argv' ? get(doc, 'loader', k) === true : get(doc, 'loader', k) !== undefined,
  );
  const [first, second] = argvSources;
  if (first !== undefined && second !== undefined) {
    report(['loader', second], 'conflict', `and loader.${first} are mutually exclusive`, 'Keep one source of argv.');
  }
  const edmm = get(doc, 'sgx', 'edmm_enable') === true;
  if (edmm && get(doc, 'sgx', 'preheat_enclave') === true) {
    report(
      ['sgx', 'preheat_enclave'],
      'conflict',
      'cannot be true with sgx.edmm_enable',
      'Remove sgx.preheat_enclave.',
    );
  }
  const debug = get(doc, 'sgx', 'debug') === true;
  if (!debug) {
    const profiling: [Path, boolean][] = [
      [['sgx', 'enable_stats'], get(doc, 'sgx', 'enable_stats') === true],
      [['sgx', 'profile', 'enable'], ['main', 'all'].includes(get(doc, 'sgx', 'profile', 'enable') as string)],
      [['sgx', 'vtune_profile'], get(doc, 'sgx', 'vtune_profile') === true],
    ];
    for (const [at, on] of profiling) {
      if (on)
        report(
          at,
          'conflict',
          'needs a debug enclave: a production enclave (sgx.debug = false) does not start with it',
          'Turn it off.',
        );
    }
  }
  if (!strict) return;
  if (debug)
    report(
      ['sgx', 'debug'],
      'insecure',
      'is true: the host can read and change the enclave’s memory',
      'Set sgx.debug = false.',
    );
  if (get(doc, 'sgx', 'file_check_policy') === 'allow_all_but_log') {
    report(
      ['sgx', 'file_check_policy'],
      'insecure',
      'is "allow_all_but_log": files that are neither trusted nor allowed are read unchecked',
      'Use "strict".',
    );
  }
  const allowed = get(doc, 'sgx', 'allowed_files');
  if (Array.isArray(allowed) && allowed.length > 0) {
    report(
      ['sgx', 'allowed_files'],
      'insecure',
      'lists files the host can change unseen (they are not hashed)',
      'Trust the files, or write them to an encrypted mount.',
    );
  }
  if (['debug', 'trace', 'all'].includes(get(doc, 'loader', 'log_level') as string)) {
    report(['loader', 'log_level'], 'insecure', 'logs the enclave’s internals to the host', 'Use "error" or "none".');
  }
  const env = get(doc, 'loader', 'env');
  if (isTomlTable(env)) {
    for (const [name, v] of env) {
      if (isTomlTable(v) && v.get('passthrough') === true) {
        report(
          ['loader', 'env', name],
          'insecure',
          'is passed through from the host, unmeasured',
          'Give it a fixed value.',
        );
      }
    }
  }
  const walk = (t: TomlTable, at: Path): void => {
    for (const [k, v] of t) {
      if (k.startsWith('insecure__') && v !== false)
        report([...at, k], 'insecure', 'is an insecure__ option', 'Remove it.');
      else if (isTomlTable(v)) walk(v, [...at, k]);
    }
  };
  walk(doc, []);
}

/**
 * Every problem of the manifest `doc` under Gramine {@link GRAMINE_SCHEMA_VERSION}'s rules (an empty list
 * when it has none), in document order, then the rules across keys. Works on a manifest before or after
 * finalization. See the module comment for what `strict` adds.
 */
export function validateManifest(doc: TomlTable, options: ValidateOptions = {}): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const report: Report = (at, kind, message, hint) =>
    problems.push({ key: show(at), kind, message: `${show(at)} ${message}`, ...(hint ? { hint } : {}) });
  tableOf(MANIFEST)(doc, [], report);
  crossChecks(doc, options.strict ?? false, report);
  return problems;
}

/**
 * Throw `ERR_GRAMINE_MANIFEST_INVALID` (exit 3) when {@link validateManifest} finds problems, naming the
 * first few and carrying all of them in the error's data.
 */
export function checkManifest(doc: TomlTable, what: string, options: ValidateOptions = {}): void {
  const problems = validateManifest(doc, options);
  const [first] = problems;
  if (first === undefined) return;
  const shown = problems
    .slice(0, 3)
    .map((p) => p.message)
    .join('; ');
  throw new InputError(
    'ERR_GRAMINE_MANIFEST_INVALID',
    `${what} breaks Gramine ${GRAMINE_SCHEMA_VERSION}'s manifest rules: ${shown}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
    { hint: first.hint ?? 'See Gramine’s manifest syntax documentation.', data: { manifestProblems: problems } },
  );
}
