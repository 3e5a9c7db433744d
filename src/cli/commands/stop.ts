/** `mse home stop NAME [--remove]`. */
import { DockerEngine } from '../../docker/engine.js';
import { findDeployment, removeDeploymentState } from '../../deploy/deployments.js';
import type { CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'stop',
  summary: 'Stop a deployment (and remove it with --remove)',
  description: `A stopped deployment keeps its enclave state (keys, certificate, secrets) and can be restarted.
--remove deletes the container and that state for good: the name and port can then be reused.`,
  options: { remove: { type: 'boolean', description: 'Also remove the container and its enclave state' } },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home stop my_app', 'mse home stop --remove my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const d = await findDeployment(engine, ctx.positionals[0]!);
    await engine.stopContainer(d.id, 3);
    if (ctx.values.remove) {
      await engine.removeContainer(d.id, { force: true });
      await removeDeploymentState(d, ctx.env);
    }
    if (ctx.json) printJson(ctx, { name: d.name, removed: ctx.values.remove === true });
    else ctx.log.success(`${d.name} ${ctx.values.remove ? 'stopped and removed' : 'stopped'}`);
  },
};
export default spec;
