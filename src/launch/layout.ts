/**
 * The layout a deployment's container is launched with, shared by the operator's host (spawn, evidence,
 * run, status) and the platforms (the sgx enclave manifest): where the private input directory and its argv
 * file are mounted, where the sim quoting socket is, which port the enclave serves (the bootstrap's own
 * paths, `enclave/paths.ts` and `enclave/quote.ts`, name the same places). Pure constants; the Engine API
 * body that uses them is `deploy/container.ts`.
 */

/** The platform a deployment runs on: the simulated one, or Gramine-SGX on SGX hardware. */
export type Platform = 'sim' | 'sgx';

/**
 * Where the deployment's private input directory is mounted (read-only): `app.tar` (the code exactly as
 * measured) and `argv` (the arguments, with the deployment UUID).
 */
export const INPUT_DIR = '/opt/input';
/** The argv file inside the container (also Gramine's `loader.argv_src_file` on sgx). */
export const ARGV_FILE_IN_CONTAINER = `${INPUT_DIR}/argv`;
/** Where the sim quoting service's socket directory is mounted. */
export const SIM_SOCKET_DIR = '/var/run/mse-sim';
/** Port the enclave serves on inside the container. */
export const ENCLAVE_PORT = 443;
