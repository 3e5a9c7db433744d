/** `mse home stop NAME [--remove]`. */
import { DockerEngine } from '../../docker/engine.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EVIDENCE_FILE, findDeploymentSummary, RATLS_FILE, removeDeploymentState } from '../../deploy/deployments.js';
import { DockerError } from '../../errors.js';
import { requiredPositional, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'stop',
  summary: 'Stop a deployment (and remove it with --remove)',
  description: `A stopped deployment keeps its enclave state (keys, certificate, secrets) and can be restarted.
--remove deletes for good what the deployment made: the container (with the enclave's keys and secrets),
its private state in the operator's state directory (the code copy, the argv file, the quoting socket
directory) and the image tags spawn created by loading the package (an image another container still uses
is kept). The name, the port and the --output directory can then be reused.
Kept on purpose: OUTPUT/evidence.json and OUTPUT/ratls.pem (the operator may still need them, e.g. to
answer the code provider or to check a result), and images that were on the engine before spawn.`,
  options: { remove: { type: 'boolean', description: 'Also remove the container, its state and its image tags' } },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home stop my_app', 'mse home stop --remove my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    // the summary only: a deployment whose arguments are unreadable can still be stopped and removed
    const d = await findDeploymentSummary(engine, requiredPositional(ctx));
    await engine.stopContainer(d.id, 3);
    const removed = { container: false, state: false, imageTags: [] as string[], keptImageTags: [] as string[] };
    if (ctx.values.remove) {
      removed.container = await engine.removeContainer(d.id, { force: true });
      removed.state = await removeDeploymentState(d, ctx.env);
      for (const tag of d.loadedTags) {
        try {
          if (await engine.removeImage(tag)) removed.imageTags.push(tag);
        } catch (error) {
          // in use by another container (another deployment of the same package): keep it
          if (!(error instanceof DockerError && error.code === 'ERR_DOCKER_CONFLICT')) throw error;
          removed.keptImageTags.push(tag);
        }
      }
    }
    if (ctx.json) {
      printJson(ctx, {
        name: d.name,
        removed: ctx.values.remove === true,
        ...(ctx.values.remove ? { removedImageTags: removed.imageTags, keptImageTags: removed.keptImageTags } : {}),
      });
      return;
    }
    if (!ctx.values.remove) {
      ctx.log.success(`${d.name} stopped`);
      return;
    }
    ctx.log.success(
      `${d.name} stopped and removed` + (removed.imageTags.length ? ` (image ${removed.imageTags.join(', ')})` : ''),
    );
    for (const tag of removed.keptImageTags) ctx.log.info(`kept image ${tag}: another container uses it`);
    const kept = [EVIDENCE_FILE, RATLS_FILE].filter((f) => existsSync(path.join(d.outputDir, f)));
    if (kept.length) ctx.log.info(`kept ${kept.map((f) => path.join(d.outputDir, f)).join(' and ')}`);
  },
};
export default spec;
