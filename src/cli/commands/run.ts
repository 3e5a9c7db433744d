/** `mse home run NAME`: send the secrets to the enclave's configuration server, then wait for the app. */
import { DockerEngine } from '../../docker/engine.js';
import { buildConfigurationBody } from '../../deploy/configure.js';
import { endpointOf, findDeployment } from '../../deploy/deployments.js';
import { pinnedRequest } from '../../deploy/enclave-client.js';
import { alreadyConfiguredError, expiredError } from '../../deploy/lifecycle.js';
import { checkPinnedCertificate, pinProblemError } from '../../deploy/pinning.js';
import { assertRunning, lifecycleFacts, waitForApp } from '../../deploy/wait.js';
import { NetworkError } from '../../errors.js';
import { readUserFile } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { durationOption, stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'run',
  summary: 'Send the secrets to a waiting enclave and start the app',
  description: `Sends {uuid, app_secrets, app_sealed_secrets, code_secret_key} to the configuration server over TLS
pinned to the deployment's RA-TLS certificate (ratls.pem in its workspace), then waits for the app's
health check. The sealed secrets are forwarded as they are: only the enclave can open them.
Before sending anything, run checks the deployment's state without contacting the app: a stopped, paused,
crashed or already configured deployment, a missing ratls.pem or an enclave presenting another
certificate each get their own error and the next command to type (docs/user-guide.md, "Deployment states").`,
  options: {
    secrets: { type: 'string', placeholder: 'FILE', description: 'Plaintext secrets (JSON), readable by the operator' },
    'sealed-secrets': {
      type: 'string',
      placeholder: 'FILE',
      description: "Sealed secrets from the provider's 'mse home seal'",
    },
    key: { type: 'string', placeholder: 'FILE', description: "Code key from 'package --encrypt' (32 raw bytes)" },
    timeout: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'How long to wait for the app: 5m, 90s (a bare number is minutes; default 5m)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home run my_app --secrets my_app/secrets.json --sealed-secrets secrets_to_seal.json.sealed'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const timeoutMs = durationOption(ctx.values, 'timeout', { bare: 'm', minMs: 1000, maxMs: 86_400_000 }) ?? 300_000;
    const d = await findDeployment(engine, ctx.positionals[0]!);
    const secretsFile = stringOption(ctx.values, 'secrets');
    const sealedFile = stringOption(ctx.values, 'sealed-secrets');
    const keyFile = stringOption(ctx.values, 'key');
    const body = buildConfigurationBody({
      appId: d.args.appId,
      ...(secretsFile ? { secrets: await readUserFile(secretsFile, 'secrets file', INPUT_LIMITS.secrets) } : {}),
      ...(sealedFile
        ? { sealedSecrets: await readUserFile(sealedFile, 'sealed secrets file', INPUT_LIMITS.secrets) }
        : {}),
      ...(keyFile ? { codeKey: await readUserFile(keyFile, 'code key file', INPUT_LIMITS.key) } : {}),
    });

    // The state, from the engine alone: the app is never contacted before it has its configuration.
    await assertRunning(engine, d);
    if ((await lifecycleFacts(engine, d))?.configured) throw alreadyConfiguredError(d.name);
    if (Date.now() / 1000 > d.args.expiration) throw expiredError(d.name, d.args.expiration);
    const pin = await checkPinnedCertificate(d, endpointOf(d));
    if (pin.problem) throw pinProblemError(pin.problem);

    // Not configured: whatever answers on the port now is the configuration server (or nothing yet).
    const ready = ctx.log.phase('waiting for the configuration server');
    const first = await waitForApp(engine, d, { timeoutMs, expect: 'any-ready', pinnedPem: pin.pem });
    if (first.kind === 'answer' && !first.waiting) throw alreadyConfiguredError(d.name); // configured meanwhile
    ready();
    const send = ctx.log.phase('sending the secrets to the configuration server');
    const answer = await pinnedRequest(endpointOf(d), pin.pem, {
      method: 'POST',
      path: '/',
      body,
      headers: { 'content-type': 'application/json' },
      timeoutMs: 60_000,
    });
    if (answer.status !== 200) {
      let reason = answer.body.toString('utf8').slice(0, 300);
      try {
        reason = (JSON.parse(reason) as { error?: string }).error ?? reason;
      } catch {
        // not JSON: keep the text
      }
      throw new NetworkError(
        'ERR_CONFIGURATION_REFUSED',
        `the enclave refused the configuration (HTTP ${answer.status}): ${reason}`,
        {
          hint: 'Check the secrets files; sealed secrets must be sealed for this enclave (from its evidence).',
        },
      );
    }
    send();
    const wait = ctx.log.phase('waiting for the app');
    await waitForApp(engine, d, { timeoutMs, expect: 'app', pinnedPem: pin.pem });
    wait();
    if (ctx.json) printJson(ctx, { name: d.name, url: `https://${d.args.san}:${d.port}`, status: 'running' });
    else ctx.log.success(`application ready at https://${d.args.san}:${d.port} (verify with ${d.outputDir}/ratls.pem)`);
  },
};
export default spec;
