/**
 * `mse home run`'s flow: check that a deployment waits for its configuration, send the configuration to its
 * configuration server over TLS pinned to its RA-TLS certificate, and wait for the app.
 */
import type { DockerEngine } from '../docker/engine.js';
import type { Logger } from '../base/log.js';
import { NetworkError } from '../errors.js';
import { readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { buildConfigurationBody } from './configure.js';
import { endpointOf, findDeployment } from './deployments.js';
import { pinnedRequest, type HttpAnswer } from './enclave-client.js';
import { alreadyConfiguredError, expiredError } from './lifecycle.js';
import { checkPinnedCertificate, pinProblemError } from './pinning.js';
import type { Deployment } from './container.js';
import { assertRunning, lifecycleFacts, waitForApp } from './wait.js';

export interface RunInput {
  engine: DockerEngine;
  /** The deployment's name. */
  name: string;
  /** Plaintext secrets (JSON), sealed secrets, code key: files, each optional. */
  secretsFile?: string | undefined;
  sealedSecretsFile?: string | undefined;
  keyFile?: string | undefined;
  /** How long to wait for the configuration server, then for the app (each). */
  timeoutMs: number;
  log: Logger;
}

export interface RunResult {
  deployment: Deployment;
  /** https://<san>:<port> */
  url: string;
}

/** The configuration request's body, from the operator's files (read bounded, in this order). */
async function configurationBody(d: Deployment, input: RunInput): Promise<string> {
  const { secretsFile, sealedSecretsFile, keyFile } = input;
  return buildConfigurationBody({
    appId: d.args.appId,
    ...(secretsFile ? { secrets: await readUserFile(secretsFile, 'secrets file', INPUT_LIMITS.secrets) } : {}),
    ...(sealedSecretsFile
      ? { sealedSecrets: await readUserFile(sealedSecretsFile, 'sealed secrets file', INPUT_LIMITS.secrets) }
      : {}),
    ...(keyFile ? { codeKey: await readUserFile(keyFile, 'code key file', INPUT_LIMITS.key) } : {}),
  });
}

/**
 * The deployment runs, is not configured, has not expired, and presents the certificate pinned in its
 * workspace: from the engine alone, the app is never contacted before it has its configuration. Returns
 * the pinned certificate (PEM).
 */
async function checkWaitingForConfiguration(engine: DockerEngine, d: Deployment): Promise<string> {
  await assertRunning(engine, d);
  if ((await lifecycleFacts(engine, d))?.configured) throw alreadyConfiguredError(d.name);
  if (Date.now() / 1000 > d.args.expiration) throw expiredError(d.name, d.args.expiration);
  const pin = await checkPinnedCertificate(d, endpointOf(d));
  if (pin.problem) throw pinProblemError(pin.problem);
  return pin.pem;
}

/** ERR_CONFIGURATION_REFUSED with the configuration server's reason (its JSON `error`, else its text). */
export function configurationRefusedError(answer: HttpAnswer): NetworkError {
  let reason = answer.body.toString('utf8').slice(0, 300);
  try {
    reason = (JSON.parse(reason) as { error?: string }).error ?? reason;
  } catch {
    // not JSON: keep the text
  }
  return new NetworkError(
    'ERR_CONFIGURATION_REFUSED',
    `the enclave refused the configuration (HTTP ${answer.status}): ${reason}`,
    { hint: 'Check the secrets files; sealed secrets must be sealed for this enclave (from its evidence).' },
  );
}

/** Send the configuration to a waiting enclave and wait until its app answers. */
export async function runDeployment(input: RunInput): Promise<RunResult> {
  const { engine, log, timeoutMs } = input;
  const d = await findDeployment(engine, input.name);
  const body = await configurationBody(d, input);
  const pinnedPem = await checkWaitingForConfiguration(engine, d);

  // Not configured: whatever answers on the port now is the configuration server (or nothing yet).
  const ready = log.phase('waiting for the configuration server');
  const first = await waitForApp(engine, d, { timeoutMs, expect: 'any-ready', pinnedPem });
  if (first.kind === 'answer' && !first.waiting) throw alreadyConfiguredError(d.name); // configured meanwhile
  ready();
  const send = log.phase('sending the secrets to the configuration server');
  const answer = await pinnedRequest(endpointOf(d), pinnedPem, {
    method: 'POST',
    path: '/',
    body,
    headers: { 'content-type': 'application/json' },
    timeoutMs: 60_000,
  });
  if (answer.status !== 200) throw configurationRefusedError(answer);
  send();
  const wait = log.phase('waiting for the app');
  await waitForApp(engine, d, { timeoutMs, expect: 'app', pinnedPem });
  wait();
  return { deployment: d, url: `https://${d.args.san}:${d.port}` };
}
