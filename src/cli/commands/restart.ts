/** `mse home restart NAME`: start a stopped deployment again; the enclave reuses its keys and secrets. */
import { DockerEngine } from '../../docker/engine.js';
import { restartDeployment } from '../../deploy/restart.js';
import { durationOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'restart',
  summary: 'Restart a stopped deployment (same enclave keys, certificate and secrets)',
  description: `Stops the container if it runs, starts it, and waits until the app (or, for an enclave still
waiting for its secrets, the configuration server) answers over TLS pinned to the deployment's ratls.pem.
A deployment without a ratls.pem (spawn never completed) is refused before anything is touched. An app
that stops again after its configuration is reported as ERR_APP_CRASHED: the enclave is configured once,
so the way out is 'mse home stop --remove NAME' and a new spawn.`,
  options: {
    timeout: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'How long to wait for the app: 60s, 2m (a bare number is seconds; default 60s)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home restart my_app'],
  async run(ctx) {
    const d = await restartDeployment({
      engine: DockerEngine.fromEnv(ctx.env),
      timeoutMs: durationOption(ctx.values, 'timeout', { bare: 's', minMs: 1000, maxMs: 86_400_000 }) ?? 60_000,
      name: ctx.positionals[0]!,
      log: ctx.log,
    });
    if (ctx.json) printJson(ctx, { name: d.name, restarted: true });
    else ctx.log.success(`${d.name} restarted`);
  },
};
export default spec;
