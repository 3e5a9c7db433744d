/** `mse home run NAME`: send the secrets to the enclave's configuration server, then wait for the app. */
import { DockerEngine } from '../../docker/engine.js';
import { runDeployment } from '../../deploy/run.js';
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
    const { deployment: d, url } = await runDeployment({
      engine: DockerEngine.fromEnv(ctx.env),
      timeoutMs: durationOption(ctx.values, 'timeout', { bare: 'm', minMs: 1000, maxMs: 86_400_000 }) ?? 300_000,
      name: ctx.positionals[0]!,
      secretsFile: stringOption(ctx.values, 'secrets'),
      sealedSecretsFile: stringOption(ctx.values, 'sealed-secrets'),
      keyFile: stringOption(ctx.values, 'key'),
      log: ctx.log,
    });
    if (ctx.json) printJson(ctx, { name: d.name, url, status: 'running' });
    else ctx.log.success(`application ready at ${url} (verify with ${d.outputDir}/ratls.pem)`);
  },
};
export default spec;
