/** `mse home list`: every deployment, running or not. */
import { DockerEngine } from '../../docker/engine.js';
import { listDeployments } from '../../deploy/deployments.js';
import type { CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'list',
  summary: 'List the deployments (running or not)',
  options: {},
  examples: ['mse home list', 'mse home list --json'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();
    const all = await listDeployments(engine);
    if (ctx.json) {
      printJson(ctx, {
        deployments: all.map((d) => ({
          name: d.name,
          state: d.state,
          startedAt: d.startedAt,
          image: d.image,
          platform: d.platform,
          host: d.host,
          port: d.port,
        })),
      });
      return;
    }
    if (all.length === 0) {
      ctx.log.info('no deployments');
      return;
    }
    const rows = all.map((d) => [
      d.name,
      d.state,
      d.platform,
      `${d.host}:${d.port}`,
      d.startedAt.replace(/\.\d+Z$/, 'Z'),
      d.image.slice(0, 19),
    ]);
    const header = ['NAME', 'STATE', 'PLATFORM', 'ADDRESS', 'STARTED', 'IMAGE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    for (const r of [header, ...rows])
      ctx.stdout.write(
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd() + '\n',
      );
  },
};
export default spec;
