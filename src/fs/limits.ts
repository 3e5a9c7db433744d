/**
 * The size limit of every kind of input mse-home reads, in one table (mirrored by docs/cli.md, "Input
 * limits"; a unit test keeps the two equal). Every file is read through `src/fs/files.ts`, which refuses a
 * file above its limit before reading it, and stops reading a stream (stdin, a file that grows) one byte past
 * the limit. Packages are read by random access, not whole: their limit bounds the file and each member.
 */

export interface InputLimit {
  /** Name of the limit, as in docs/cli.md's table and in error hints. */
  readonly name: string;
  /** Largest accepted size, in bytes. */
  readonly maxBytes: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The limits of the members of a package. */
const APP_TAR = 512 * MiB;
const TESTS_TAR = 256 * MiB;
const IMAGE_TAR = 32 * GiB;
const CONFIG = 1 * MiB;

/** Every named input limit. */
export const INPUT_LIMITS = {
  /** `quote show`, `quote verify --quote`: a DCAP quote is ~5 KiB, an RA-TLS certificate a bit more. */
  quote: { name: 'quote', maxBytes: 1 * MiB },
  /** `quote verify --collateral`: CRLs, TCB info and QE identity as JSON. */
  collateral: { name: 'collateral', maxBytes: 16 * MiB },
  /** `verify --evidence`: evidence.json. */
  evidence: { name: 'evidence', maxBytes: 16 * MiB },
  /** Certificates: `seal --cert`, `--trusted-root`, a deployment's `ratls.pem`, Docker TLS files. */
  certificate: { name: 'certificate', maxBytes: 1 * MiB },
  /** Key files: Fernet, X25519, code key, enclave signer key. */
  key: { name: 'key', maxBytes: 64 * KiB },
  /**
   * Secrets: `seal --input`, `run --secrets/--sealed-secrets`, `localtest`/`test` secrets. The enclave takes
   * a configuration request of at most 1 MiB, so larger secrets could never be delivered.
   */
  secrets: { name: 'secrets', maxBytes: 1 * MiB },
  /** Data held in memory by `encrypt`, `decrypt`, `unseal`. */
  data: { name: 'data', maxBytes: 64 * MiB },
  /** Configuration and project files: `mse.toml`, QCNL configuration, Dockerfile, `.dockerignore`, `.mseignore`. */
  config: { name: 'configuration', maxBytes: CONFIG },
  /** Gramine files: `measure --manifest` and `--libpal` (a libpal is well under 1 MiB, a manifest that lists files a few MiB at most), `sigstruct show`. */
  gramine: { name: 'gramine', maxBytes: 64 * MiB },
  /** Host facts `doctor` reads: `/proc/cpuinfo` (well under 1 MiB on a large server), the kernel release. */
  host: { name: 'host information', maxBytes: 4 * MiB },
  /** mse-home's own state: the simulated platform's identity and collateral, the enclave's keys. */
  state: { name: 'state', maxBytes: 1 * MiB },
  /**
   * `measure --manifest`: the trusted files a manifest names, added up (each file is refused before it is
   * read when it would go over): as much as an `image.tar` may hold.
   */
  trustedFiles: { name: 'trusted files', maxBytes: IMAGE_TAR },
  /** Gramine's APT metadata and keys (`base build --platform sgx`): `InRelease`, `Release(.gpg)`, key files. */
  aptRelease: { name: 'APT release', maxBytes: 1 * MiB },
  /** An APT `Packages` index (its gzip-decompressed text may be up to 4 times this). */
  aptPackages: { name: 'APT package index', maxBytes: 32 * MiB },
  /** A Gramine `.deb` (downloaded or from `--gramine-debs`). */
  deb: { name: 'Debian package', maxBytes: 512 * MiB },
  /** The enclave's argv file (spawn arguments, Gramine's `loader.argv_src_file` format). */
  argvFile: { name: 'argv file', maxBytes: 64 * KiB },
  /** `app.tar` in a package, on the host and in the enclave (which holds the code in memory). */
  appTar: { name: 'app.tar', maxBytes: APP_TAR },
  /** `tests.tar` in a package. */
  testsTar: { name: 'tests.tar', maxBytes: TESTS_TAR },
  /** `image.tar` in a package, and each file of a Docker build context. */
  imageTar: { name: 'image.tar', maxBytes: IMAGE_TAR },
  /** A package file: room for its members at their limits (32.75 GiB) and the tar framing. */
  package: { name: 'package', maxBytes: 33 * GiB },
} as const satisfies Record<string, InputLimit>;

/**
 * Bounds on what measuring an enclave may cost (docs/cli.md, "Input limits"), applied wherever a Gramine
 * manifest is measured (`measure --manifest`, `verify --package` with the evidence's manifest) and to
 * `spawn --size` and `input_args.size`, so that nothing spawned is beyond what `verify` measures.
 */
export const MEASUREMENT_LIMITS = {
  /**
   * Largest enclave measured without EDMM (`sgx.enclave_size`, `--size`): 64 GiB. Without EDMM every page
   * of the enclave is added at its start, so the verifier hashes a 64-byte record per 4 KiB page (1 GiB of
   * records here, 1 to 3 s); such an enclave must also fit the EPC, 64 to 512 GiB on today's SGX servers.
   * With EDMM the heap is not measured and the size is not bounded.
   */
  maxEnclaveBytes: 64 * GiB,
  /** Most threads measured (`sgx.max_threads`): each adds 360 KiB of measured pages (4096: 1.9 GB hashed). */
  maxThreads: 4096,
} as const;

/** `n` bytes for humans: `512 MiB`, `32 GiB`, `286.1 MiB`, `1234 bytes`. */
export function formatBytes(n: number): string {
  if (n >= GiB && n % (GiB / 4) === 0) return `${n / GiB} GiB`;
  if (n >= MiB) return n % MiB === 0 ? `${n / MiB} MiB` : `${(n / MiB).toFixed(1)} MiB`;
  if (n >= KiB) return n % KiB === 0 ? `${n / KiB} KiB` : `${(n / KiB).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** `n` bytes for humans with the exact count: `1 MiB (1048576 bytes)`, `10 bytes`. */
export function formatBytesExact(n: number): string {
  const short = formatBytes(n);
  return short === `${n} bytes` ? short : `${short} (${n} bytes)`;
}
