/**
 * The layout a deployment's container is launched with, shared by the operator's host (spawn, evidence,
 * run, status) and the platforms (the sgx enclave manifest): where the enclave's inputs and its args file are
 * mounted, which launcher runs, where the sim quoting socket is, which port the enclave serves (the bootstrap's own
 * paths, `enclave/paths.ts` and `enclave/quote.ts`, name the same places). Pure constants; the Engine API
 * body that uses them is `deploy/container.ts`.
 */

/** The platform a deployment runs on: the simulated one, or Gramine-SGX on SGX hardware. */
export type Platform = 'sim' | 'sgx';

/**
 * The enclave's inputs inside its container, on both platforms: the args file, `app.tar` and, on sgx, the
 * final manifest and SIGSTRUCT (mounted read-only from the deployment's private state directory).
 */
export const ENCLAVE_DIR = '/opt/mse/enclave';
/** The args file (Gramine's `loader.argv_src_file` on sgx). */
export const ARGS_FILE = `${ENCLAVE_DIR}/args`;
/** The code exactly as measured (the package's app.tar). */
export const APP_TAR_FILE = `${ENCLAVE_DIR}/app.tar`;
/** The single-threaded shell that runs the launcher (Debian's /bin/sh), Gramine's `libos.entrypoint`. */
export const LAUNCHER_SHELL = '/usr/bin/dash';
/** The enclave's launcher script (base-image/mse-run): the bootstrap to completion, then `exec` the app. */
export const LAUNCHER = '/usr/local/bin/mse-run';
/** argv[0] and argv[1] of the args file: what Gramine starts in the enclave, and the sim container's command. */
export const LAUNCHER_ARGV: readonly string[] = [LAUNCHER_SHELL, LAUNCHER];
/** Host address and port the enclave serves on inside the container (fixed, hence measured). */
export const ENCLAVE_HOST = '0.0.0.0';
export const ENCLAVE_PORT = 443;
/** Where the sim quoting service's socket directory is mounted. */
export const SIM_SOCKET_DIR = '/var/run/mse-sim';
