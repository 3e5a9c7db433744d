/** `mse home restart NAME`: start a stopped deployment again; the enclave reuses its keys and secrets. */
import { DockerEngine } from '../../docker/engine.js';
import { findDeployment } from '../../deploy/deployments.js';
import { waitForApp } from '../../deploy/wait.js';
import { integerOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'restart',
  summary: 'Restart a stopped deployment (same enclave keys, certificate and secrets)',
  options: {
    timeout: { type: 'string', placeholder: 'SECONDS', description: 'How long to wait for the app (default 60)' },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home restart my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const d = await findDeployment(engine, ctx.positionals[0]!);
    await engine.stopContainer(d.id, 3);
    await engine.startContainer(d.id);
    const done = ctx.log.phase(`restarting ${d.name}`);
    await waitForApp(engine, d, {
      timeoutMs: (integerOption(ctx.values, 'timeout', 1, 86_400) ?? 60) * 1000,
      expect: 'any-ready',
    });
    done();
    if (ctx.json) printJson(ctx, { name: d.name, restarted: true });
    else ctx.log.success(`${d.name} restarted`);
  },
};
export default spec;
