/** `mse home status NAME`: what a deployment is doing. */
import { DockerEngine } from '../../docker/engine.js';
import { deploymentStatus, findDeployment } from '../../deploy/deployments.js';
import type { CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'status',
  summary: "Show a deployment's status (initializing, waiting for secrets, running, on error, stopped)",
  description: `The status combines the container's state with a probe of the app's health endpoint over
TLS pinned to the deployment's RA-TLS certificate (the configuration server answers with Mse-Status).`,
  options: {},
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home status my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const { deployment: d, status } = await deploymentStatus(await findDeployment(engine, ctx.positionals[0]!));
    const expires = new Date(d.args.expiration * 1000);
    const days = Math.floor((d.args.expiration * 1000 - Date.now()) / 86_400_000);
    if (ctx.json) {
      printJson(ctx, {
        name: d.name,
        status,
        platform: d.platform,
        state: d.state,
        appId: d.args.appId,
        size: d.args.size,
        san: d.args.san,
        host: d.host,
        port: d.port,
        healthcheck: d.healthcheckEndpoint,
        startedAt: d.startedAt,
        expiresAt: expires.toISOString(),
        workspace: d.outputDir,
      });
      return;
    }
    const rows: [string, string][] = [
      ['App name', d.name],
      ['Status', status],
      ['Platform', d.platform === 'sim' ? 'sim (SIMULATION: no SGX hardware, no confidentiality)' : 'sgx'],
      ['App id', d.args.appId],
      ['Enclave size', `${d.args.size}M`],
      ['Subject alt name', d.args.san],
      ['Address', `${d.host}:${d.port}`],
      ['Healthcheck', d.healthcheckEndpoint],
      ['Started at', d.startedAt],
      ['Expires at', `${expires.toISOString()} (${days >= 0 ? `in ${days} days` : 'expired'})`],
      ['Workspace', d.outputDir],
    ];
    for (const [k, v] of rows) ctx.stdout.write(`${k.padEnd(18)}${v}\n`);
  },
};
export default spec;
