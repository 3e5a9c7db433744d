/** `mse home scaffold NAME`: create a new app project. */
import path from 'node:path';
import { freshSecrets, planScaffold, readTemplates, writeScaffold } from '../../project/scaffold.js';
import { requiredPositional, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'scaffold',
  summary: 'Create a new app project (Flask example, tests, secrets)',
  description: `Creates NAME/ with mse.toml, Dockerfile (+ .dockerignore keeping the secrets out of the image), mse_src/app.py, mse_src/.mseignore, tests/,
secrets.json and secrets_to_seal.json (fresh random keys, mode 0600) and a README. NAME must not exist.`,
  options: {},
  positionals: [{ name: 'name', description: 'Project directory and app name', required: true }],
  examples: ['mse home scaffold my_app'],
  async run(ctx) {
    const target = requiredPositional(ctx);
    const name = path.basename(target);
    const files = planScaffold(name, await readTemplates(), freshSecrets());
    await writeScaffold(target, files);
    if (ctx.json) printJson(ctx, { directory: target, files: files.map((f) => f.path) });
    else {
      ctx.log.success(`created ${target}/ (${files.length} files)`);
      ctx.log.info(
        `next: edit ${path.join(target, 'mse.toml')} and ${path.join(target, 'mse_src', 'app.py')}, then 'mse home localtest --project ${target}'`,
      );
    }
  },
};
export default spec;
