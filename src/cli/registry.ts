/**
 * The command table: name, one-line summary and a lazy loader per command. Only the summary lives here, so
 * `mse home --help` never imports a command module.
 */
import type { CommandSpec } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  /** Which side of the flow uses it; groups the help listing. */
  role: 'provider' | 'operator' | 'tools';
  load: () => Promise<{ default: CommandSpec }>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'scaffold',
    role: 'provider',
    summary: 'Create a new app project (Flask example, tests, secrets)',
    load: () => import('./commands/scaffold.js'),
  },
  {
    name: 'localtest',
    role: 'provider',
    summary: 'Run the app in its Docker image on localhost and run its tests against it',
    load: () => import('./commands/localtest.js'),
  },
  {
    name: 'package',
    role: 'provider',
    summary: 'Package the app (code, tests, Docker image, mse.toml) for the SGX operator',
    load: () => import('./commands/package.js'),
  },
  {
    name: 'verify',
    role: 'provider',
    summary: "Verify an enclave's evidence.json offline (RA-TLS, DCAP, identity, policy)",
    load: () => import('./commands/verify.js'),
  },
  {
    name: 'seal',
    role: 'provider',
    summary: 'Seal a secrets file to an enclave X25519 key (libsodium sealed box)',
    load: () => import('./commands/seal.js'),
  },
  {
    name: 'decrypt',
    role: 'provider',
    summary: "Decrypt an app's result (Fernet token or AES-GCM)",
    load: () => import('./commands/decrypt.js'),
  },
  {
    name: 'doctor',
    role: 'operator',
    summary: 'Check what this host needs for the sgx and sim platforms, with the fixes',
    load: () => import('./commands/doctor.js'),
  },
  {
    name: 'spawn',
    role: 'operator',
    summary: 'Start a packaged app in an enclave; collect evidence.json and ratls.pem',
    load: () => import('./commands/spawn.js'),
  },
  {
    name: 'evidence',
    role: 'operator',
    summary: "Collect a deployment's evidence.json again",
    load: () => import('./commands/evidence.js'),
  },
  {
    name: 'run',
    role: 'operator',
    summary: 'Send the secrets to a waiting enclave and start the app',
    load: () => import('./commands/run.js'),
  },
  {
    name: 'test',
    role: 'operator',
    summary: "Run the app's tests against its running enclave",
    load: () => import('./commands/test.js'),
  },
  {
    name: 'list',
    role: 'operator',
    summary: 'List the deployments (running or not)',
    load: () => import('./commands/list.js'),
  },
  {
    name: 'logs',
    role: 'operator',
    summary: "Print a deployment's logs",
    load: () => import('./commands/logs.js'),
  },
  {
    name: 'status',
    role: 'operator',
    summary: "Show a deployment's status",
    load: () => import('./commands/status.js'),
  },
  {
    name: 'stop',
    role: 'operator',
    summary: 'Stop a deployment (and remove it with --remove)',
    load: () => import('./commands/stop.js'),
  },
  {
    name: 'restart',
    role: 'operator',
    summary: 'Restart a stopped deployment (same enclave keys and secrets)',
    load: () => import('./commands/restart.js'),
  },
  {
    name: 'quote show',
    role: 'tools',
    summary: 'Decode an SGX DCAP quote (header, reports, PCK chain)',
    load: () => import('./commands/quote-show.js'),
  },
  {
    name: 'quote verify',
    role: 'tools',
    summary: 'Appraise an SGX DCAP quote against Intel collateral and a policy',
    load: () => import('./commands/quote-verify.js'),
  },
  {
    name: 'measure',
    role: 'tools',
    summary: 'Compute MRENCLAVE: of an SGX package before spawn, or of a Gramine manifest and libpal',
    load: () => import('./commands/measure.js'),
  },
  {
    name: 'sigstruct show',
    role: 'tools',
    summary: 'Decode an SGX SIGSTRUCT (.sig): fields, MRENCLAVE, MRSIGNER, signature check',
    load: () => import('./commands/sigstruct-show.js'),
  },
  {
    name: 'keygen',
    role: 'tools',
    summary: 'Generate a Fernet, X25519 or AES key file',
    load: () => import('./commands/keygen.js'),
  },
  {
    name: 'encrypt',
    role: 'tools',
    summary: 'Encrypt a file as a Fernet token',
    load: () => import('./commands/encrypt.js'),
  },
  {
    name: 'unseal',
    role: 'tools',
    summary: 'Open a sealed box with an X25519 private key',
    load: () => import('./commands/unseal.js'),
  },
  {
    name: 'base build',
    role: 'tools',
    summary: 'Build the local base image mse-home-base (Debian), or with --platform sgx mse-home-sgx-base (+ Gramine)',
    load: () => import('./commands/base-build.js'),
  },
];

/** Find the entry matching the longest prefix of `words` (commands may have two words, e.g. `quote show`). */
export function findCommand(words: string[]): { entry: CommandEntry; consumed: number } | undefined {
  let best: { entry: CommandEntry; consumed: number } | undefined;
  for (const entry of COMMANDS) {
    const parts = entry.name.split(' ');
    if (parts.length <= words.length && parts.every((p, i) => words[i] === p)) {
      if (!best || parts.length > best.consumed) best = { entry, consumed: parts.length };
    }
  }
  return best;
}
