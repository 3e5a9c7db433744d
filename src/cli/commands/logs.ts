/** `mse home logs NAME [-f]`: the enclave container's output. */
import { DockerEngine } from '../../docker/engine.js';
import { findDeploymentSummary } from '../../deploy/deployments.js';
import { requiredPositional, type CommandSpec } from '../command.js';

const spec: CommandSpec = {
  name: 'logs',
  summary: "Print a deployment's logs",
  options: {
    follow: {
      type: 'boolean',
      short: 'f',
      description: 'Keep printing new lines (from the last 10) until interrupted',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home logs my_app', 'mse home logs -f my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const d = await findDeploymentSummary(engine, requiredPositional(ctx));
    if (!ctx.values.follow) {
      ctx.stdout.write(await engine.containerLogs(d.id));
      return;
    }
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    try {
      await engine.followLogs(d.id, (text) => ctx.stdout.write(text), abort.signal);
    } finally {
      process.off('SIGINT', stop);
    }
  },
};
export default spec;
