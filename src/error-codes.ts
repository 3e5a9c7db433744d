/**
 * The catalogue of mse-home's error codes: every stable `ERR_…` code the source raises, the exit class it
 * exits with, and one line saying when. Scripts rely on codes (docs/cli.md), so a code is added here when it
 * is created, and never reworded. `src/error-codes.test.ts` checks that every code written in `src/` is
 * here and that docs/cli.md's catalogue table is this one (`node scripts/error-codes.js` rewrites it).
 *
 * A few codes are raised with more than one class today (their `exit` lists each); unifying them changes
 * exit codes, which is a decision of its own (issue 9). Codes with class `http` never reach a process exit:
 * the enclave's configuration server and the simulated quoting service answer them with an HTTP status.
 */
import { ExitCode } from './errors.js';

/** How a code ends a command. */
export type ExitClass =
  | 'internal'
  | 'usage'
  | 'input'
  | 'crypto'
  | 'docker'
  | 'network'
  | 'state'
  | 'testsFailed'
  | 'attestation'
  | 'interrupted'
  | 'http';

/** The exit code(s) of each class, as docs/cli.md writes them. */
export const EXIT_OF_CLASS: Readonly<Record<ExitClass, string>> = {
  internal: String(ExitCode.internal),
  usage: String(ExitCode.usage),
  input: String(ExitCode.input),
  crypto: String(ExitCode.crypto),
  docker: String(ExitCode.docker),
  network: String(ExitCode.network),
  state: String(ExitCode.state),
  testsFailed: String(ExitCode.testsFailed),
  // an AttestationError: 10 when the failed check is a policy check, else 11
  attestation: `${ExitCode.policyRejected}, ${ExitCode.invalidEvidence}`,
  interrupted: `${ExitCode.interrupted}, ${ExitCode.terminated}, ${ExitCode.outputClosed}`,
  http: 'HTTP',
};

export interface ErrorCodeEntry {
  exit: ExitClass | readonly ExitClass[];
  /** When it is raised, in one line. */
  doc: string;
}

/** Codes Node raises that mse-home matches on (not its own; not in the catalogue). */
export const NODE_ERROR_CODES = [
  'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
  'ERR_PARSE_ARGS_UNKNOWN_OPTION',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
] as const;

export const ERROR_CODES = {
  ERR_AES_GCM_AUTH: { exit: 'crypto', doc: 'AES-GCM authentication failed: wrong key, or the data was altered' },
  ERR_AES_GCM_TRUNCATED: { exit: 'crypto', doc: 'AES-GCM data is … bytes, shorter than nonce + tag (28)' },
  ERR_ALREADY_CONFIGURED: {
    exit: 'state',
    doc: '`run` on a configured deployment (decided without contacting the app)',
  },
  ERR_APP_CRASHED: {
    exit: 'state',
    doc: 'the app stopped after the enclave was configured: `stop --remove` and spawn a fixed package',
  },
  ERR_APP_ERROR: { exit: 'state', doc: 'the app answers … with HTTP …' },
  ERR_APP_ID: { exit: 'input', doc: 'the deployment UUID is not a lowercase version 4 UUID' },
  ERR_APP_TAR: { exit: 'input', doc: 'app.tar holds both … and … …' },
  ERR_APP_TAR_MISSING: { exit: 'input', doc: 'cannot read the app code' },
  ERR_APPLICATION: { exit: 'input', doc: 'the entry point (python_application) is not module:variable' },
  ERR_ARGV_FILE: {
    exit: 'input',
    doc: "a deployment's argv file is malformed (not NUL-terminated, not UTF-8, a missing argument)",
  },
  ERR_ARGV_FILE_MISSING: {
    exit: 'state',
    doc: "the deployment's argv file is gone (its private state was deleted): `stop --remove` and spawn again",
  },
  ERR_BAD_BASE64: { exit: 'input', doc: 'a value is not valid base64' },
  ERR_BAD_HEX: { exit: 'input', doc: 'a value is not valid hex' },
  ERR_BASE_FILES_MISSING: {
    exit: 'input',
    doc: "a file of this installation's `base-image/` or `base-image/sgx/` is missing (reinstall mse-home)",
  },
  ERR_BASE_IMAGE_VERSION: { exit: 'docker', doc: 'builds FROM …, which is not in the engine (this mse-home makes …)' },
  ERR_BASE_LOCKED: { exit: 'docker', doc: 'another process (pid …) is building the base image' },
  ERR_BASE_ROOTFS_FAILED: { exit: 'docker', doc: "mmdebstrap failed (exit …) building the base image's rootfs" },
  ERR_BASE_SNAPSHOT: { exit: 'input', doc: "snapshot '…' is not a YYYYMMDDTHHMMSSZ timestamp" },
  ERR_CERTIFICATE_CHANGED: {
    exit: 'state',
    doc: 'the enclave presented a different certificate while the evidence was collected',
  },
  ERR_CERTIFICATE_MISMATCH: {
    exit: 'state',
    doc: 'the enclave presents another certificate than `ratls.pem`; both SHA-256 fingerprints are named and nothing is sent',
  },
  ERR_CERTIFICATE_REFUSED: {
    exit: 'network',
    doc: 'the enclave presents the pinned certificate but TLS refuses it (expired, SAN)',
  },
  ERR_CERTIFICATE_UNREADABLE: { exit: 'state', doc: "the deployment's `ratls.pem` is not a PEM certificate" },
  ERR_CODE_KEY_REQUIRED: { exit: 'input', doc: 'the app code is encrypted (… .enc files) and no code key was given' },
  ERR_CODE_KEY_WRONG: { exit: 'input', doc: 'the code key does not decrypt … …' },
  ERR_COLLATERAL_FORMAT: {
    exit: 'input',
    doc: 'collateral JSON is malformed (one leading UTF-8 byte order mark is ignored; a second is named)',
  },
  ERR_COLLATERAL_MISSING_FIELD: { exit: 'input', doc: 'collateral field … is missing' },
  ERR_CONFIG_BUSY: { exit: 'network', doc: 'the enclave is already receiving a configuration (HTTP 409)' },
  ERR_CONFIG_CODE_KEY: { exit: 'http', doc: 'must be 64 hexadecimal characters (a 32-byte key)' },
  ERR_CONFIG_DONE: { exit: 'network', doc: 'the enclave is already configured' },
  ERR_CONFIG_DUPLICATE_FIELD: { exit: 'http', doc: 'field "…" appears twice' },
  ERR_CONFIG_INVALID_VALUE: { exit: 'input', doc: "'…' must be a string, got …" },
  ERR_CONFIG_JSON: { exit: 'http', doc: 'request body must be a JSON object' },
  ERR_CONFIG_LISTEN: { exit: 'network', doc: 'configuration server cannot listen on …: …' },
  ERR_CONFIG_METHOD: { exit: 'network', doc: 'the configuration server refused the request method' },
  ERR_CONFIG_MISSING_KEY: { exit: 'input', doc: "missing required key '…'" },
  ERR_CONFIG_SEALED_ENCODING: { exit: 'http', doc: 'field "app_sealed_secrets" must be unpadded base64url' },
  ERR_CONFIG_SEALED_JSON: { exit: 'http', doc: 'the sealed secrets do not open to a JSON object' },
  ERR_CONFIG_SEALED_OPEN: {
    exit: 'http',
    doc: 'field "app_sealed_secrets" does not open with this enclave\'s key: sealed for another enclave, or altered',
  },
  ERR_CONFIG_SYNTAX: { exit: 'input', doc: 'mse.toml is not valid TOML' },
  ERR_CONFIG_TIMEOUT: { exit: 'network', doc: 'no valid configuration received within … s' },
  ERR_CONFIG_TOO_LARGE: { exit: ['network', 'http'], doc: 'request body is larger than … bytes' },
  ERR_CONFIG_UNKNOWN_FIELD: { exit: 'http', doc: 'the configuration request has an unknown field' },
  ERR_CONFIG_UNSUPPORTED: { exit: 'http', doc: 'field "ssl_private_key" (custom certificate mode) is not supported' },
  ERR_CONFIG_UUID: { exit: 'http', doc: 'field "uuid" is missing or not a string' },
  ERR_CONFIG_WRITE: { exit: 'network', doc: 'sending the configuration to the enclave failed' },
  ERR_CONFIGURATION_REFUSED: { exit: 'network', doc: 'the enclave refused the configuration (HTTP …)' },
  ERR_CONFIGURATION_TOO_LARGE: {
    exit: 'input',
    doc: "the secrets make a …-byte request, above the enclave's …-byte limit",
  },
  ERR_CONFLICTING_OPTIONS: { exit: 'usage', doc: 'options … cannot be used together' },
  ERR_CONTAINER_FILE: { exit: 'docker', doc: 'in container … is not a file' },
  ERR_CONTAINER_FILE_TOO_LARGE: { exit: 'docker', doc: 'in container … is too large' },
  ERR_DCAP_COLLATERAL_FORMAT: { exit: 'attestation', doc: 'dcap collateral format' },
  ERR_DCAP_CRL_EXPIRED: { exit: 'attestation', doc: 'a CRL is past its nextUpdate at the verification time' },
  ERR_DCAP_CRL_NOT_YET_VALID: { exit: 'attestation', doc: 'dcap crl not yet valid' },
  ERR_DCAP_PCK_CA_REVOKED: {
    exit: 'attestation',
    doc: 'PCK CA certificate "…" (serial …) is revoked by the root CA CRL',
  },
  ERR_DCAP_PCK_CHAIN_EXPIRED: { exit: 'attestation', doc: 'dcap pck chain expired' },
  ERR_DCAP_PCK_CHAIN_FORMAT: {
    exit: 'attestation',
    doc: 'quote PCK chain has … certificates, expected 3 (PCK, PCK CA, root)',
  },
  ERR_DCAP_PCK_CHAIN_NOT_YET_VALID: { exit: 'attestation', doc: 'dcap pck chain not yet valid' },
  ERR_DCAP_PCK_CHAIN_UNTRUSTED: {
    exit: 'attestation',
    doc: 'PCK chain root "…" (SHA-256 …) is not the pinned Intel SGX Root CA',
  },
  ERR_DCAP_PCK_CRL_INVALID: {
    exit: 'attestation',
    doc: 'collateral pck_crl_issuer_chain is not the quote’s PCK CA and root certificates',
  },
  ERR_DCAP_PCK_EXTENSION: { exit: 'attestation', doc: 'the PCK certificate SGX extension is malformed' },
  ERR_DCAP_PCK_INVALID_ISSUER: {
    exit: 'attestation',
    doc: 'PCK leaf certificate may not make digital signatures (keyUsage)',
  },
  ERR_DCAP_PCK_REVOKED: { exit: 'attestation', doc: 'PCK certificate (serial …) is revoked by the PCK CRL' },
  ERR_DCAP_QE_IDENTITY_EXPIRED: { exit: 'attestation', doc: 'dcap qe identity expired' },
  ERR_DCAP_QE_IDENTITY_FORMAT: { exit: 'attestation', doc: 'dcap qe identity format' },
  ERR_DCAP_QE_IDENTITY_MISMATCH: { exit: 'attestation', doc: 'dcap qe identity mismatch' },
  ERR_DCAP_QE_IDENTITY_NOT_YET_VALID: { exit: 'attestation', doc: 'dcap qe identity not yet valid' },
  ERR_DCAP_QE_IDENTITY_SIGNATURE: {
    exit: 'attestation',
    doc: 'signature does not verify over the exact signed bytes (… bytes)',
  },
  ERR_DCAP_QE_IDENTITY_SIGNING_CHAIN: { exit: 'attestation', doc: 'dcap qe identity signing chain' },
  ERR_DCAP_QE_REPORT_DATA: {
    exit: 'attestation',
    doc: 'QE report data is not SHA-256(attestation key ‖ QE authentication data): the attestation key is not bound …',
  },
  ERR_DCAP_QE_REPORT_SIGNATURE: {
    exit: 'attestation',
    doc: 'QE report signature does not verify with the PCK certificate’s key',
  },
  ERR_DCAP_QE_TCB_NOT_SUPPORTED: { exit: 'attestation', doc: 'QE ISVSVN … is below every level of the QE identity' },
  ERR_DCAP_QUOTE_SIGNATURE: {
    exit: 'attestation',
    doc: 'quote signature does not verify with the attestation key over the header and enclave report',
  },
  ERR_DCAP_ROOT_CRL_INVALID: { exit: 'attestation', doc: 'the Intel root CA CRL does not verify' },
  ERR_DCAP_TCB_INFO_EXPIRED: {
    exit: 'attestation',
    doc: 'the TCB info is past its nextUpdate at the verification time',
  },
  ERR_DCAP_TCB_INFO_FORMAT: { exit: 'attestation', doc: 'the TCB info body is malformed' },
  ERR_DCAP_TCB_INFO_MISMATCH: { exit: 'attestation', doc: 'dcap tcb info mismatch' },
  ERR_DCAP_TCB_INFO_NOT_YET_VALID: { exit: 'attestation', doc: 'dcap tcb info not yet valid' },
  ERR_DCAP_TCB_INFO_SIGNATURE: {
    exit: 'attestation',
    doc: 'signature does not verify over the exact signed bytes (… bytes)',
  },
  ERR_DCAP_TCB_INFO_SIGNING_CHAIN: { exit: 'attestation', doc: 'dcap tcb info signing chain' },
  ERR_DCAP_TCB_NOT_SUPPORTED: {
    exit: 'attestation',
    doc: 'the PCK TCB (components …, PCESVN …) is below every level of the TCB info',
  },
  ERR_DCAP_TCB_REVOKED: { exit: 'attestation', doc: 'TCB status is Revoked (…)' },
  ERR_DCAP_TCB_SIGNING_CERT_EXPIRED: { exit: 'attestation', doc: 'dcap tcb signing cert expired' },
  ERR_DCAP_TCB_SIGNING_CERT_NOT_YET_VALID: { exit: 'attestation', doc: 'dcap tcb signing cert not yet valid' },
  ERR_DCAP_TCB_SIGNING_CERT_REVOKED: {
    exit: 'attestation',
    doc: 'TCB signing certificate (serial …) is revoked by the root CA CRL',
  },
  ERR_DEPLOYMENT_EXPIRED: { exit: 'state', doc: "the deployment's RA-TLS certificate is past its notAfter" },
  ERR_DEPLOYMENT_NAME: { exit: 'usage', doc: "invalid deployment name '…'" },
  ERR_DEPLOYMENT_NOT_FOUND: { exit: 'state', doc: "no deployment named '…'" },
  ERR_DEPLOYMENT_NOT_STARTED: { exit: 'state', doc: 'the container was created and never started: `restart`' },
  ERR_DEPLOYMENT_PAUSED: { exit: 'state', doc: 'the container is paused: `docker unpause`' },
  ERR_DEPLOYMENT_STOPPED: {
    exit: 'state',
    doc: 'stopped (or killed): `restart` (then `run` if it was still waiting for its secrets)',
  },
  ERR_DISK_FULL: {
    exit: 'input',
    doc: 'writing an output failed: no space left on the device, or disk quota exceeded; nothing partial kept',
  },
  ERR_DOCKER_API: { exit: 'docker', doc: 'a Docker engine API call failed' },
  ERR_DOCKER_BUILD_FAILED: { exit: 'docker', doc: 'an image build failed' },
  ERR_DOCKER_CONFLICT: { exit: 'docker', doc: 'docker conflict: cannot …' },
  ERR_DOCKER_HOST_INVALID: { exit: 'docker', doc: "DOCKER_HOST '…' is not a valid engine address" },
  ERR_DOCKER_IMPORT_FAILED: { exit: 'docker', doc: 'importing an image into the engine failed' },
  ERR_DOCKER_LOAD_FAILED: { exit: 'docker', doc: 'docker load of … failed' },
  ERR_DOCKER_NOT_FOUND: { exit: 'docker', doc: 'docker not found: cannot …' },
  ERR_DOCKER_TLS_FILES: { exit: 'docker', doc: 'the Docker TLS files (DOCKER_CERT_PATH) cannot be read' },
  ERR_DOCKER_UNREACHABLE: { exit: 'docker', doc: 'no Docker engine answers at … (…)' },
  ERR_EMPTY_OPTION: { exit: 'usage', doc: 'option --… needs a non-empty value' },
  ERR_ENCLAVE_ARGS: { exit: 'usage', doc: 'takes one file and nothing else may follow it' },
  ERR_ENCLAVE_EXITED: {
    exit: 'state',
    doc: "the enclave stopped before its configuration (the bootstrap's error is quoted)",
  },
  ERR_ENCLAVE_EXPIRED: { exit: 'usage', doc: '--expiration … (…) is in the past' },
  ERR_ENCLAVE_FILE_MISSING: { exit: 'state', doc: 'an sgx deployment has no final manifest in its enclave directory' },
  ERR_ENCLAVE_NO_CERT: { exit: 'network', doc: 'the enclave presented no certificate' },
  ERR_ENCLAVE_SIZE: { exit: 'usage', doc: '--size is not a power of two of MiB from 1024 to 64 GiB' },
  ERR_ENCLAVE_STATE_CORRUPT: { exit: 'state', doc: "malformed enclave's X25519 key pair" },
  ERR_ENCLAVE_STATE_MISMATCH: {
    exit: 'state',
    doc: 'stored certificate is for subject … / SAN …, not for this command line',
  },
  ERR_ENCLAVE_STATE_MISSING: { exit: 'state', doc: 'enclave key material is incomplete' },
  ERR_ENCLAVE_UNREACHABLE: { exit: 'network', doc: 'cannot reach the enclave at …' },
  ERR_EVIDENCE_FIELD: {
    exit: 'input',
    doc: "a field of `evidence.json` is missing or malformed, or `input_args` holds a key other than MSE's six (the message names `input_args.<key>`); also `verify --package` on evidence whose `input_args.expiration_date` is null (it exited 2 before)",
  },
  ERR_EVIDENCE_FORMAT: {
    exit: 'input',
    doc: '`evidence.json` is not a JSON object (one leading UTF-8 byte order mark is ignored; a second is named)',
  },
  ERR_EVIDENCE_TCB_CERT_MISMATCH: {
    exit: 'attestation',
    doc: '`tcb_cert` is not the signing certificate of `tcb_info_issuer_chain` / `qe_identity_issuer_chain`',
  },
  ERR_EXPIRATION: { exit: 'input', doc: 'the certificate expiration is not a Unix time it can carry' },
  ERR_FERNET_EXPIRED: { exit: 'crypto', doc: 'Fernet token expired … s ago' },
  ERR_FERNET_FUTURE: { exit: 'crypto', doc: 'Fernet token timestamp is in the future beyond the allowed clock skew' },
  ERR_FERNET_IV: { exit: 'input', doc: 'Fernet IV must be 16 bytes' },
  ERR_FERNET_KEY: { exit: 'input', doc: 'is not URL-safe base64' },
  ERR_FERNET_MAC: { exit: 'crypto', doc: 'Fernet token authentication failed: wrong key, or the token was altered' },
  ERR_FERNET_PADDING: { exit: 'crypto', doc: 'Fernet token has invalid padding after authentication' },
  ERR_FERNET_TOKEN_ENCODING: { exit: 'crypto', doc: 'input is not a Fernet token: not URL-safe base64' },
  ERR_FERNET_TOKEN_MALFORMED: { exit: 'crypto', doc: 'Fernet ciphertext is not a whole number of AES blocks' },
  ERR_FERNET_TOKEN_TRUNCATED: { exit: 'crypto', doc: 'Fernet token is … bytes, too short to hold a ciphertext' },
  ERR_FERNET_TOKEN_VERSION: { exit: 'crypto', doc: 'input is not a Fernet token: wrong version byte' },
  ERR_FILE_CHANGED: {
    exit: 'input',
    doc: 'a file changed size while it was being archived or read (`package`, `localtest`, `readPackage`)',
  },
  ERR_FILE_IO: { exit: 'input', doc: 'any other error reading the file' },
  ERR_FILE_IS_DIRECTORY: { exit: 'input', doc: 'a directory where a file is expected' },
  ERR_FILE_NOT_FOUND: { exit: ['usage', 'state', 'input'], doc: 'nothing at that path (or a dangling symbolic link)' },
  ERR_FILE_NOT_REGULAR: { exit: 'input', doc: 'a FIFO, a device, a socket (or a link to one): never read' },
  ERR_FILE_TOO_LARGE: {
    exit: 'input',
    doc: 'above its limit; the message names the file, its size (or "larger than" for a stream) and the limit, the hint the table above',
  },
  ERR_FILE_UNREADABLE: { exit: 'input', doc: 'a file cannot be read: permission denied' },
  ERR_FILE_UNWRITABLE: {
    exit: 'input',
    doc: 'writing an output failed: permission denied, read-only file system, or larger than the file size limit',
  },
  ERR_GRAMINE_CPU_FEATURE: { exit: 'input', doc: 'an unknown `sgx.cpu_features` key or a value not allowed for it' },
  ERR_GRAMINE_ELF: { exit: 'input', doc: 'libpal is not a well-formed x86-64 ELF64 PAL (the field is named)' },
  ERR_GRAMINE_ENCLAVE_SIZE: {
    exit: 'input',
    doc: '`sgx.enclave_size` is not a size the signer reads, or not a power of two',
  },
  ERR_GRAMINE_ENCLAVE_TOO_SMALL: {
    exit: 'input',
    doc: "the enclave cannot hold the manifest, the threads' areas and the PAL",
  },
  ERR_GRAMINE_FILE_MISSING: { exit: 'input', doc: 'gramine file missing: does not exist' },
  ERR_GRAMINE_FILE_NAME: { exit: 'input', doc: 'a file name in a trusted directory is not UTF-8' },
  ERR_GRAMINE_FILE_READ: { exit: 'input', doc: 'a file the Gramine manifest names cannot be read' },
  ERR_GRAMINE_FILE_TYPE: { exit: 'input', doc: 'a named trusted file is not a regular file (FIFO, device)' },
  ERR_GRAMINE_MEASUREMENT_LIMIT: {
    exit: 'input',
    doc: 'an enclave or trusted files larger than mse-home measures (docs/cli.md, "Input limits")',
  },
  ERR_GRAMINE_MANIFEST_ENCODING: {
    exit: 'input',
    doc: 'the manifest is not UTF-8, starts with a BOM, or a value is not well-formed Unicode',
  },
  ERR_GRAMINE_MANIFEST_INVALID: {
    exit: 'input',
    doc: 'the Gramine manifest breaks the Gramine 1.9 manifest rules (the problems are named)',
  },
  ERR_GRAMINE_MANIFEST_TOML: {
    exit: 'input',
    doc: 'not TOML 1.0 (with line and column; TOML 1.1 syntax is named as such)',
  },
  ERR_GRAMINE_MANIFEST_UNSUPPORTED: {
    exit: 'input',
    doc: 'deprecated `sgx.require_*` options, an integer-like key among others',
  },
  ERR_GRAMINE_MANIFEST_VALUE: {
    exit: 'input',
    doc: 'a key has a value of the wrong type or range (float, date, non-boolean flag, id > 65535, …), named',
  },
  ERR_GRAMINE_TOO_MANY_FILES: { exit: 'input', doc: 'more than 1 000 000 trusted files' },
  ERR_GRAMINE_TRUSTED_FILE: {
    exit: 'input',
    doc: 'a malformed trusted-file entry, a directory/`/` mismatch, conflicting pre-set hashes',
  },
  ERR_GRAMINE_URI: {
    exit: 'input',
    doc: 'a trusted file or `loader.entrypoint` that is not a `file:` URI, or holds a NUL',
  },
  ERR_HOST: { exit: 'usage', doc: "--host must be an IPv4 or IPv6 address, got '…'" },
  ERR_IDENTITY_APPLICATION_MISMATCH: {
    exit: 'attestation',
    doc: "`verify --package`: `input_args.application` (the entry point the enclave runs) is not the package's `mse.toml` `python_application`",
  },
  ERR_IDENTITY_SIGNER_KEY_MISMATCH: { exit: 'attestation', doc: 'quote MRSIGNER … is not the hash of signer_pk (…)' },
  ERR_IMAGE_FILE_TOO_LARGE: { exit: 'input', doc: 'a file of image.tar is over its limit' },
  ERR_IMAGE_HARDLINK: {
    exit: 'input',
    doc: 'a hard link to something other than an earlier regular file of the same layer (Docker would not load it)',
  },
  ERR_IMAGE_LAYER_COMPRESSED: {
    exit: 'input',
    doc: 'a layer of `image.tar` is compressed (layers are read by offset; `docker save` writes plain tars)',
  },
  ERR_IMAGE_MISMATCH: { exit: 'state', doc: "the engine has no image … after loading the package's image.tar" },
  ERR_IMAGE_NOT_A_DIRECTORY: { exit: 'input', doc: 'a path of image.tar is not a directory where one is needed' },
  ERR_IMAGE_NOT_A_FILE: { exit: 'input', doc: 'is a …, not a regular file' },
  ERR_IMAGE_PATH_CONFLICT: { exit: 'input', doc: 'a path that is a file and a directory in one layer' },
  ERR_IMAGE_PATH_INVALID: { exit: 'input', doc: 'image paths are absolute' },
  ERR_IMAGE_PATH_NOT_FOUND: { exit: 'input', doc: 'a path cannot be resolved in image.tar' },
  ERR_IMAGE_SPECIAL_FILE: { exit: 'input', doc: 'a device node or FIFO outside `/dev`' },
  ERR_IMAGE_SYMLINK: {
    exit: 'input',
    doc: 'a symbolic link with an empty target, or a path that needs more than 40 links',
  },
  ERR_IMAGE_WHITEOUT: {
    exit: 'input',
    doc: "a whiteout that is not Docker's, or that deletes a path its own layer writes",
  },
  ERR_INTERNAL: { exit: ['internal', 'http'], doc: 'unexpected failure: a bug in mse-home' },
  ERR_INTERNAL_PLAN: { exit: 'input', doc: 'sim deployment without a quoting socket directory' },
  ERR_INTERRUPTED: { exit: 'interrupted', doc: 'SIGINT/SIGTERM; what the command created was removed' },
  ERR_KEY_LENGTH: { exit: 'input', doc: 'AES key is … bytes, expected 16, 24 or 32' },
  ERR_KEY_WEAK: { exit: 'input', doc: 'recipient X25519 public key is a low-order point' },
  ERR_LOCALTEST_APP_EXITED: {
    exit: 'input',
    doc: "the app's container stopped before answering its health check (exit code …)",
  },
  ERR_LOCALTEST_HEALTH_TIMEOUT: { exit: 'network', doc: 'did not answer 2xx within … s (last: …)' },
  ERR_MEASUREMENT_INPUT: {
    exit: 'input',
    doc: "a code path of `app.tar` that cannot be written into the manifest (also the sim measurement's input errors)",
  },
  ERR_MISSING_ARGUMENT: { exit: 'usage', doc: "missing argument … for 'mse home …'" },
  ERR_MISSING_OPTION: { exit: 'usage', doc: 'a required option is missing' },
  ERR_MMDEBSTRAP_MISSING: { exit: 'docker', doc: 'mmdebstrap is not installed (needed to build the base image)' },
  ERR_NAME_IN_USE: { exit: 'state', doc: '`spawn`: a container of that name exists' },
  ERR_NO_CERTIFICATE: {
    exit: 'state',
    doc: "the deployment's `ratls.pem` is missing (`run`, `restart`, `test`; `status` says `unverified`)",
  },
  ERR_NOT_A_DEPLOYMENT: { exit: 'input', doc: 'container … is not an mse-home deployment' },
  ERR_NOT_A_DIRECTORY: { exit: 'input', doc: '`spawn --output` (or one of its parents) exists and is not a directory' },
  ERR_NOT_RUNNING: { exit: 'state', doc: 'the deployment is not running' },
  ERR_OPTION_VALUE: {
    exit: 'usage',
    doc: "a flag's value is malformed or missing, e.g. `--allow-expired-collateral` without a duration (the hint gives the syntax)",
  },
  ERR_OUTPUT_DIR_MISSING: { exit: 'input', doc: 'cannot write …: directory … does not exist' },
  ERR_OUTPUT_EXISTS: { exit: 'input', doc: 'refusing to overwrite existing file …' },
  ERR_OUTPUT_IN_USE: { exit: 'state', doc: '`spawn --output` is the workspace of an existing deployment (named)' },
  ERR_PACKAGE_BROKEN_LINK: { exit: 'input', doc: 'symbolic link … in the … is broken' },
  ERR_PACKAGE_CONFIG_ENCODING: {
    exit: 'input',
    doc: "`mse.toml` is not UTF-8: `package`, `localtest`, `test` (the project's file), `verify`, `spawn` (the package's)",
  },
  ERR_PACKAGE_CORRUPT: { exit: 'input', doc: 'a layer of the package is truncated or corrupt' },
  ERR_PACKAGE_AMBIGUOUS_NAME: {
    exit: 'input',
    doc: 'a tar entry named both by a PAX `path`/`linkpath` record and a GNU long name or link (docs/docker.md)',
  },
  ERR_PACKAGE_DUPLICATE_ENTRY: { exit: 'input', doc: 'entry … appears more than once' },
  ERR_PACKAGE_EMPTY_CODE: { exit: 'input', doc: 'the code directory … has no file to package' },
  ERR_PACKAGE_ENTRY_TOO_LARGE: { exit: 'input', doc: 'entry … is … bytes, more than the … allowed' },
  ERR_PACKAGE_IMAGE_CONFIG: { exit: 'input', doc: 'image config … does not hash to the digest in its name (sha256:…)' },
  ERR_PACKAGE_IMAGE_LAYER: {
    exit: 'input',
    doc: 'a layer of `image.tar` does not hash to its `rootfs.diff_ids` entry (the image was modified after `docker save`)',
  },
  ERR_PACKAGE_IMAGE_MANIFEST: { exit: 'input', doc: 'the image manifest of the package is too large or malformed' },
  ERR_PACKAGE_IMAGE_MISMATCH: { exit: 'input', doc: 'saved image … is not the built image …' },
  ERR_PACKAGE_IMAGE_TAGS: { exit: 'input', doc: "the package's image.tar would tag … on this engine" },
  ERR_PACKAGE_LINK: {
    exit: 'input',
    doc: 'a link in an archive of the package that is not allowed there, or in `image.tar` one that does not resolve to an entry inside it (see [docker.md](docker.md))',
  },
  ERR_PACKAGE_LINK_LOOP: { exit: 'input', doc: 'symbolic link loop at … in the …' },
  ERR_PACKAGE_LINK_OUTSIDE: { exit: 'input', doc: 'symbolic link … in the … points outside it (…)' },
  ERR_PACKAGE_MEMBER_TOO_LARGE: {
    exit: 'input',
    doc: "the package's `app.tar` is over the enclave's 512 MiB limit (checked by `spawn` on the host)",
  },
  ERR_PACKAGE_MISSING_MEMBER: { exit: 'input', doc: "'…' was not found in the package …" },
  ERR_PACKAGE_NAME_CLASH: { exit: 'input', doc: 'encrypting would give two files the same name (x and x.enc)' },
  ERR_PACKAGE_PATH_CONFLICT: { exit: 'input', doc: 'is both a file and a directory' },
  ERR_PACKAGE_SPECIAL_ENTRY: { exit: 'input', doc: 'sparse files are not accepted' },
  ERR_PACKAGE_SPECIAL_FILE: { exit: 'input', doc: 'in the … is not a regular file' },
  ERR_PACKAGE_TOO_LARGE: { exit: 'input', doc: 'entries add up to more than the … bytes allowed' },
  ERR_PACKAGE_TOO_MANY_ENTRIES: { exit: 'input', doc: 'a tar of the package has more entries than allowed' },
  ERR_PACKAGE_TRAILING_DATA: { exit: 'input', doc: 'data after the end-of-archive marker' },
  ERR_PACKAGE_UNEXPECTED_MEMBER: { exit: 'input', doc: 'the package holds an unexpected member' },
  ERR_PACKAGE_UNSAFE_PATH: { exit: 'input', doc: 'package unsafe path: entry … …' },
  ERR_PCCS_BAD_REQUEST: { exit: 'network', doc: 'the PCCS answered 400 (bad request)' },
  ERR_PCCS_GONE: { exit: 'network', doc: 'the PCCS answered 410 (gone)' },
  ERR_PCCS_HTTP_STATUS: { exit: 'network', doc: 'the PCCS answered an unexpected HTTP status' },
  ERR_PCCS_NOT_FOUND: { exit: 'network', doc: 'the PCCS has no such collateral (404)' },
  ERR_PCCS_RATE_LIMITED: { exit: 'network', doc: 'the PCCS is rate limiting (429)' },
  ERR_PCCS_REQUEST: { exit: 'network', doc: "FMSPC '…' is not 12 hex characters" },
  ERR_PCCS_RESPONSE: { exit: 'network', doc: 'the TCB info issuer chain holds no certificate' },
  ERR_PCCS_RESPONSE_TOO_LARGE: { exit: 'network', doc: 'PCCS … response exceeds … bytes' },
  ERR_PCCS_SERVER_ERROR: { exit: 'network', doc: 'the PCCS failed (5xx)' },
  ERR_PCCS_TIMEOUT: { exit: 'network', doc: 'PCCS did not answer the … request within … ms (…)' },
  ERR_PCCS_TLS: { exit: 'network', doc: 'TLS certificate of … is not trusted (…)' },
  ERR_PCCS_UNAUTHORIZED: { exit: 'network', doc: 'the PCCS refused the API key (401)' },
  ERR_PCCS_UNAVAILABLE: { exit: 'network', doc: 'the PCCS is unavailable (503)' },
  ERR_PCCS_UNREACHABLE: { exit: 'network', doc: 'cannot reach the PCCS at … for the …' },
  ERR_PCCS_URL: { exit: 'input', doc: "PCCS URL '…' is not a valid URL" },
  ERR_PCK_CA_TYPE: { exit: 'network', doc: 'cannot tell the PCK CA type (processor or platform) from the quote' },
  ERR_PGP_KEY_INVALID: {
    exit: 'input',
    doc: 'a key file is not a usable OpenPGP public key (secret key, keybox, non-v4 key, damaged)',
  },
  ERR_POLICY_ADVISORY: { exit: 'attestation', doc: 'advisories not allowed by policy' },
  ERR_POLICY_DEBUG_ENCLAVE: {
    exit: 'attestation',
    doc: 'the enclave runs in DEBUG mode: the host can read and modify its memory',
  },
  ERR_POLICY_ISVPRODID_MISMATCH: { exit: 'attestation', doc: 'ISV product ID is …, expected …' },
  ERR_POLICY_ISVSVN_TOO_LOW: { exit: 'attestation', doc: 'ISV SVN is …, below the minimum …' },
  ERR_POLICY_MRENCLAVE_MISMATCH: { exit: 'attestation', doc: 'policy mrenclave mismatch: MRENCLAVE' },
  ERR_POLICY_MRSIGNER_MISMATCH: { exit: 'attestation', doc: 'policy mrsigner mismatch: MRSIGNER' },
  ERR_POLICY_TCB_EVAL_NUM_TOO_LOW: { exit: 'attestation', doc: 'TCB evaluation data number is …, below the minimum …' },
  ERR_POLICY_TCB_STATUS: { exit: 'attestation', doc: 'policy tcb status: TCB is …' },
  ERR_PORT_IN_USE: { exit: 'docker', doc: 'cannot start container …' },
  ERR_PROJECT_EXISTS: { exit: 'input', doc: 'project exists: already exists' },
  ERR_PROJECT_NAME: { exit: 'input', doc: "invalid project name '…'" },
  ERR_PYTHON_MISSING: { exit: 'input', doc: 'cannot run … to test the app' },
  ERR_QCNL_CONFIG: { exit: 'input', doc: 'is not valid JSON (with comments)' },
  ERR_QUOTE_CERT_DATA_TYPE_UNSUPPORTED: {
    exit: 'attestation',
    doc: 'quote certification data type is …, not 5 (PCK certificate chain)',
  },
  ERR_QUOTE_CONTENT_TYPE: { exit: 'http', doc: 'sim quoting service: the request is not application/json' },
  ERR_QUOTE_FILE: {
    exit: 'input',
    doc: 'a quote file is neither a binary quote (any version: a binary quote of an unsupported version is `ERR_QUOTE_VERSION_UNSUPPORTED`, exit 11), hex, base64 nor an RA-TLS certificate',
  },
  ERR_QUOTE_GRAMINE: { exit: 'attestation', doc: 'cannot read …/attestation_type: not running inside Gramine-SGX' },
  ERR_QUOTE_INTERNAL: { exit: 'http', doc: 'sim quoting service: it failed to sign the quote' },
  ERR_QUOTE_KEY_TYPE_UNSUPPORTED: {
    exit: 'attestation',
    doc: 'quote header field attestationKeyType is …; only 2 (ECDSA-256-with-P-256) is supported',
  },
  ERR_QUOTE_LENGTH: { exit: 'attestation', doc: 'report body is … bytes, expected 384' },
  ERR_QUOTE_METHOD: { exit: 'http', doc: 'sim quoting service: the method is not POST' },
  ERR_QUOTE_NOT_FOUND: { exit: 'http', doc: 'sim quoting service: unknown path' },
  ERR_QUOTE_PCK_CHAIN_ENCODING: {
    exit: 'attestation',
    doc: 'quote PCK certificate chain has a non-PEM byte 0x… at offset …',
  },
  ERR_QUOTE_QE_VENDOR: { exit: 'attestation', doc: "quote QE vendor ID … is not Intel's (…)" },
  ERR_QUOTE_REFUSED: { exit: 'attestation', doc: 'the sim quoting service refused the quote (HTTP …)' },
  ERR_QUOTE_REPORT_DATA: { exit: 'attestation', doc: 'the quote does not carry the report_data the enclave asked for' },
  ERR_QUOTE_REQUEST_ABORTED: { exit: 'http', doc: 'sim quoting service: the request was aborted' },
  ERR_QUOTE_REQUEST_JSON: { exit: 'http', doc: 'sim quoting service: the request is not JSON' },
  ERR_QUOTE_REQUEST_REPORT_DATA: { exit: 'http', doc: 'quote request report data' },
  ERR_QUOTE_REQUEST_SHAPE: { exit: 'http', doc: 'sim quoting service: the request is not {"report_data": …}' },
  ERR_QUOTE_REQUEST_TOO_LARGE: { exit: 'http', doc: 'quote request too large' },
  ERR_QUOTE_SERVICE: { exit: 'network', doc: 'cannot reach the sim quoting service at …' },
  ERR_QUOTE_SERVICE_ANSWER: { exit: 'attestation', doc: 'the sim quoting service answer has no base64 "quote" field' },
  ERR_QUOTE_SIZE: { exit: 'attestation', doc: 'quote is … bytes, expected … to …' },
  ERR_QUOTE_TEE_TYPE_UNSUPPORTED: {
    exit: 'attestation',
    doc: 'quote header field att_key_data_0 is 0x…; it must be 0 in a v3 (SGX) quote',
  },
  ERR_QUOTE_TRAILING_BYTES: {
    exit: 'attestation',
    doc: 'quote has … bytes after the … declared by signatureDataLength',
  },
  ERR_QUOTE_TRUNCATED: {
    exit: 'attestation',
    doc: 'quote truncated: … field … needs … bytes at offset …, only … remain',
  },
  ERR_QUOTE_VERSION_UNSUPPORTED: {
    exit: 'attestation',
    doc: 'quote header field version is …; only SGX DCAP quote versions 3 and 4 are supported',
  },
  ERR_RATLS_CRITICAL_EXTENSION: { exit: 'attestation', doc: 'unknown critical extension …' },
  ERR_RATLS_DATE_INVALID: { exit: 'input', doc: 'a certificate date is not valid' },
  ERR_RATLS_DER: { exit: 'attestation', doc: 'malformed RA-TLS certificate' },
  ERR_RATLS_DUPLICATE_EXTENSION: { exit: 'attestation', doc: 'extension … appears more than once' },
  ERR_RATLS_EXPIRATION_MISMATCH: {
    exit: 'attestation',
    doc: "the RA-TLS certificate's notAfter is not `input_args.expiration_date`",
  },
  ERR_RATLS_EXPIRED: { exit: 'attestation', doc: 'the RA-TLS certificate expired at …' },
  ERR_RATLS_KEY_BINDING: {
    exit: 'attestation',
    doc: 'the quote report_data does not bind the certificate key (SHA-256 of the public key differs from …',
  },
  ERR_RATLS_KEY_MISMATCH: { exit: 'input', doc: 'publicKey does not belong to privateKey' },
  ERR_RATLS_KEY_TYPE: { exit: ['input', 'attestation'], doc: 'privateKey is not a private key' },
  ERR_RATLS_NO_QUOTE: { exit: 'attestation', doc: 'certificate has no SGX quote extension (…)' },
  ERR_RATLS_NOT_SELF_ISSUED: { exit: 'attestation', doc: 'certificate issuer differs from its subject' },
  ERR_RATLS_NOT_YET_VALID: { exit: 'attestation', doc: 'the RA-TLS certificate is not valid before …' },
  ERR_RATLS_PEM: { exit: 'attestation', doc: 'no "-----BEGIN CERTIFICATE-----" block found' },
  ERR_RATLS_QUOTE_SIZE: { exit: ['input', 'attestation'], doc: 'quote is … bytes, expected … to …' },
  ERR_RATLS_SAN: { exit: 'attestation', doc: 'certificate has no subjectAltName extension' },
  ERR_RATLS_SAN_INVALID: { exit: 'input', doc: 'subject alternative name … is neither an IP address nor a DNS name' },
  ERR_RATLS_SAN_MISMATCH: {
    exit: 'attestation',
    doc: 'certificate SAN "…" differs from input_args.subject_alternative_name "…"',
  },
  ERR_RATLS_SERIAL: { exit: 'attestation', doc: 'certificate serial number is not a positive integer' },
  ERR_RATLS_SIGNATURE: {
    exit: 'attestation',
    doc: 'the RA-TLS certificate signature does not verify with its own key',
  },
  ERR_RATLS_SIGNATURE_ALGORITHM: { exit: 'attestation', doc: 'signature algorithm … is not ecdsa-with-SHA256' },
  ERR_RATLS_SUBJECT: { exit: 'attestation', doc: 'certificate subject is empty' },
  ERR_RATLS_SUBJECT_MISMATCH: {
    exit: 'attestation',
    doc: 'certificate subject "…" differs from input_args.subject "…"',
  },
  ERR_RATLS_VERSION: { exit: 'attestation', doc: 'certificate is X.509 v…, expected v3' },
  ERR_SAN: { exit: 'usage', doc: '--san is not one DNS name or IP address' },
  ERR_SEALED_BOX_OPEN: {
    exit: 'crypto',
    doc: 'sealed box does not open with this key: sealed for another key, or altered',
  },
  ERR_SEALED_BOX_TRUNCATED: { exit: 'crypto', doc: 'sealed box is … bytes, shorter than the …-byte minimum' },
  ERR_SEALED_SECRETS: { exit: 'input', doc: 'the sealed secrets file is … bytes, too short for a sealed box' },
  ERR_SECRETBOX_OPEN: { exit: 'crypto', doc: 'does not decrypt with this key: wrong key, or altered' },
  ERR_SECRETBOX_TRUNCATED: { exit: 'crypto', doc: 'is … bytes, shorter than the …-byte minimum' },
  ERR_SECRETS_NOT_JSON: { exit: 'input', doc: 'secrets file … is not valid JSON' },
  ERR_SGX_ARGUMENT: {
    exit: 'input',
    doc: 'a spawn argument no enclave can run with (NUL character, size not a power of two or over 64 GiB); in `verify` it becomes check E12 failing (exit 10)',
  },
  ERR_SGX_BASE_BUILD_FAILED: {
    exit: 'docker',
    doc: 'apt could not install the package in the image (its output is shown)',
  },
  ERR_SGX_BASE_SOURCE_UNREACHABLE: {
    exit: 'network',
    doc: "Gramine's repository (or `--gramine-repo`) does not answer the suite's `InRelease` within 10 s: DNS, connection, TLS, timeout, HTTP error; names the repository and the offline options",
  },
  ERR_SGX_GPGV_MISSING: { exit: 'docker', doc: '`gpgv` is not installed on the host (`apt-get install gpgv`)' },
  ERR_SGX_GRAMINE_CHECKSUM_MISMATCH: {
    exit: 'crypto',
    doc: 'the package index or the `.deb` is not the one the signed metadata lists',
  },
  ERR_SGX_GRAMINE_DEBS_INCOMPLETE: {
    exit: 'input',
    doc: 'the `--gramine-debs` folder lacks InRelease, Packages, the key or the `.deb`',
  },
  ERR_SGX_GRAMINE_DOWNLOAD_FAILED: { exit: 'network', doc: 'a later download (keyring, package index, `.deb`) failed' },
  ERR_SGX_GRAMINE_IMAGE_BASE: {
    exit: 'input',
    doc: 'the `--gramine-image` image is not built FROM the current `mse-home-base:<version>`',
  },
  ERR_SGX_GRAMINE_IMAGE_NOT_FOUND: { exit: 'input', doc: 'the `--gramine-image` image is not on the engine' },
  ERR_SGX_GRAMINE_INCOMPLETE: { exit: 'input', doc: 'a Gramine file is missing at its path (named)' },
  ERR_SGX_GRAMINE_KEY_UNTRUSTED: {
    exit: 'crypto',
    doc: 'no key with a trusted fingerprint, or the metadata is signed by a key that is not trusted (named)',
  },
  ERR_SGX_GRAMINE_LAYOUT: {
    exit: 'input',
    doc: 'Gramine built for another library directory, `libpal.so` not a regular file, or a spawn-owned path in the image',
  },
  ERR_SGX_GRAMINE_METADATA_EXPIRED: { exit: 'crypto', doc: "the Release's `Valid-Until` has passed" },
  ERR_SGX_GRAMINE_METADATA_INVALID: {
    exit: 'input',
    doc: 'malformed Release/Packages, another suite, no amd64/main, no SHA-256, unsafe or ambiguous entry',
  },
  ERR_SGX_GRAMINE_METADATA_NOT_YET_VALID: {
    exit: 'crypto',
    doc: "is dated …, after this host's time … (Date; at most … s ahead is accepted, as apt does)",
  },
  ERR_SGX_GRAMINE_SIGNATURE_INVALID: { exit: 'crypto', doc: 'bad, expired, revoked, SHA-1 or missing signature' },
  ERR_SGX_GRAMINE_SUITE_UNAVAILABLE: { exit: 'network', doc: 'the repository answers 404 for the suite' },
  ERR_SGX_GRAMINE_VERSION_MISMATCH: {
    exit: 'input',
    doc: 'the installed Gramine is not 1.9 (or dpkg did not install the verified version)',
  },
  ERR_SGX_GRAMINE_VERSION_UNAVAILABLE: {
    exit: 'input',
    doc: 'the suite or folder has no `gramine` 1.9 (the message lists what it has)',
  },
  ERR_SGX_IMAGE_INCOMPLETE: {
    exit: 'input',
    doc: 'the image lacks a file or directory the enclave manifest needs (named)',
  },
  ERR_SGX_IMAGE_LAYOUT: {
    exit: 'input',
    doc: 'the image already holds `/opt/mse/enclave` or `/opt/mse/sealed`, which spawn writes',
  },
  ERR_SGX_IMAGE_READ: { exit: 'docker', doc: 'reading a file out of an image failed' },
  ERR_SGX_MEASUREMENT_MISMATCH: {
    exit: 'attestation',
    doc: "check E12 of `verify --package`: the enclave does not run this package with these `input_args`; the message names the differing manifest entries when the evidence's `gramine_manifest` is proven (docs/verification.md)",
  },
  ERR_SGX_NOT_GRAMINE_IMAGE: {
    exit: 'input',
    doc: "the package's image has no Gramine PAL at `/usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so`, or no mse-home template marker (`/opt/mse/sgx-manifest-template`): its MRENCLAVE cannot be recomputed (use `verify --mrenclave`)",
  },
  ERR_SGX_TEMPLATE_VERSION: {
    exit: 'input',
    doc: 'the image was built for another enclave manifest template than this mse-home generates',
  },
  ERR_SGX_UNAVAILABLE: {
    exit: 'state',
    doc: 'the sgx platform is asked for (or is the default because the host has SGX devices) and the host is not ready for it; `mse home doctor --platform sgx` lists each missing item and its fix',
  },
  ERR_SIGNER_KEY_EXPONENT: {
    exit: 'input',
    doc: "a signer key's public exponent is not 3 (the only one EINIT uses; MRSIGNER covers the modulus only)",
  },
  ERR_SIGNER_KEY_MISMATCH: {
    exit: 'state',
    doc: 'signer key … (MRSIGNER …) is not the key … was spawned with (MRSIGNER …)',
  },
  ERR_SIGNER_KEY_NOT_PRIVATE: {
    exit: 'input',
    doc: '`measure --key`: the signing key is a public key (signing needs the private key)',
  },
  ERR_SIGNER_KEY_PARSE: {
    exit: 'input',
    doc: 'a signer key (`signer_pk`, a `--signer-key` file) is not a readable PEM key',
  },
  ERR_SIGNER_KEY_SIZE: {
    exit: 'input',
    doc: "a signer key's modulus is not 3072 bits (SGX's SIGSTRUCT holds 384 bytes)",
  },
  ERR_SIGNER_KEY_TYPE: { exit: 'input', doc: 'a signer key is not RSA' },
  ERR_SIGNER_KEY_WRITE: { exit: 'input', doc: 'cannot write the new signer key …' },
  ERR_SIGSTRUCT_DATE: { exit: 'input', doc: '`--date` is not a real `YYYY-MM-DD` date' },
  ERR_SIGSTRUCT_EXPONENT: { exit: 'input', doc: 'the public exponent is …; SGX requires 3' },
  ERR_SIGSTRUCT_HEADER: { exit: 'input', doc: 'at offset … is …, expected …' },
  ERR_SIGSTRUCT_MODULUS: { exit: 'input', doc: 'the modulus is not an odd 3072-bit integer' },
  ERR_SIGSTRUCT_Q1Q2: { exit: 'input', doc: 'Q1/Q2 are not ⌊s²/n⌋ and ⌊(s² mod n)·s/n⌋ for this signature' },
  ERR_SIGSTRUCT_RESERVED: { exit: 'input', doc: 'reserved bytes …..… are not zero' },
  ERR_SIGSTRUCT_SIGNATURE: { exit: 'input', doc: 'the signature is not smaller than the modulus' },
  ERR_SIGSTRUCT_SIZE: { exit: 'input', doc: 'is … bytes; a SIGSTRUCT is exactly 1808' },
  ERR_SIM_COLLATERAL_OPTIONS: { exit: 'input', doc: 'collateral validity must be positive' },
  ERR_SIM_PCCS_LISTEN: { exit: 'network', doc: 'cannot start the simulated PCCS on …: …' },
  ERR_SIM_QUOTE_INPUT: { exit: 'input', doc: 'sim quote input: quote field …' },
  ERR_SIM_QUOTING_OPTIONS: { exit: 'input', doc: 'must be … hex characters' },
  ERR_SIM_SOCKET_IN_USE: { exit: 'state', doc: 'another quoting service is already listening on …' },
  ERR_SIM_SOCKET_LISTEN: { exit: 'state', doc: 'the sim quoting service cannot listen on its socket' },
  ERR_SIM_SOCKET_PATH: { exit: 'state', doc: 'exists and is not a socket' },
  ERR_SIM_STATE_CORRUPT: { exit: 'state', doc: 'simulated platform identity … is invalid' },
  ERR_SIM_STATE_DIR: { exit: 'state', doc: "cannot use … as the simulated platform's state directory" },
  ERR_SIM_STATE_IO: { exit: 'state', doc: 'cannot read or create the simulated platform identity …' },
  ERR_SIM_UNAVAILABLE: {
    exit: 'state',
    doc: 'the sim platform is asked for (or is the default) and the host is not ready for it (no Docker engine, or an unusable signer key)',
  },
  ERR_SUBJECT: { exit: 'usage', doc: '--subject is not an RFC 4514 name the enclave accepts' },
  ERR_SUBJECT_INVALID: { exit: 'input', doc: 'a certificate subject is invalid' },
  ERR_TESTS_FAILED: {
    exit: 'testsFailed',
    doc: "`test` or `localtest`: the app's tests failed (`tests failed: python3 -m pytest exited with 1 (1 failed, 4 passed in 0.3s)`)",
  },
  ERR_TIMEOUT: { exit: 'network', doc: 'no configuration server after … s (…)' },
  ERR_TRUSTED_ROOT: { exit: 'usage', doc: '--trusted-root … is not one X.509 certificate (PEM or DER)' },
  ERR_UNEXPECTED_ARGUMENT: { exit: 'usage', doc: "unexpected argument '…' for 'mse home …'" },
  ERR_UNKNOWN_COMMAND: { exit: 'usage', doc: "unknown command '…'" },
  ERR_UNKNOWN_OPTION: { exit: 'usage', doc: "unknown option … for 'mse home …'" },
  ERR_USAGE: { exit: 'usage', doc: 'the command line is wrong' },
  ERR_VERIFIER_INTERNAL: { exit: 'attestation', doc: 'internal verifier error' },
  ERR_X25519_KEY_LENGTH: { exit: 'input', doc: 'X25519 public key is … bytes, expected 32' },
} as const satisfies Record<`ERR_${string}`, ErrorCodeEntry>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is in the catalogue. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The exit classes of an entry, as a list. */
export function exitClasses(entry: ErrorCodeEntry): readonly ExitClass[] {
  return typeof entry.exit === 'string' ? [entry.exit] : entry.exit;
}

/** docs/cli.md's catalogue table: one row a code, in the catalogue's order. */
export function errorCodeTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, entry]: [string, ErrorCodeEntry]) => {
    const exit = exitClasses(entry)
      .map((c) => EXIT_OF_CLASS[c])
      .join('; ');
    return `| \`${code}\` | ${exit} | ${entry.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| code | exit | when |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}
