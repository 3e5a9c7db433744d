/** `mse home restart NAME`: start a stopped deployment again; the enclave reuses its keys and secrets. */
import { DockerEngine } from '../../docker/engine.js';
import { findDeployment } from '../../deploy/deployments.js';
import { pinnedCertificate, pinProblemError } from '../../deploy/pinning.js';
import { waitForApp } from '../../deploy/wait.js';
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
    const engine = DockerEngine.fromEnv(ctx.env);
    const timeoutMs = durationOption(ctx.values, 'timeout', { bare: 's', minMs: 1000, maxMs: 86_400_000 }) ?? 60_000;
    const d = await findDeployment(engine, ctx.positionals[0]!);
    const pinned = await pinnedCertificate(d);
    if ('code' in pinned) throw pinProblemError(pinned);
    await engine.stopContainer(d.id, 3);
    await engine.startContainer(d.id);
    const done = ctx.log.phase(`restarting ${d.name}`);
    await waitForApp(engine, d, { timeoutMs, expect: 'any-ready', pinnedPem: pinned.pem });
    done();
    if (ctx.json) printJson(ctx, { name: d.name, restarted: true });
    else ctx.log.success(`${d.name} restarted`);
  },
};
export default spec;
