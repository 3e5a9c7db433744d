/**
 * `mse home package`: code, tests, image and configuration of a project in one deterministic tar, ready
 * to hand to the SGX operator.
 */
import path from 'node:path';
import { stringOption, type CommandSpec } from '../command.js';
import { checkOutputDirectory } from '../../fs/files.js';
import { printJson } from '../output.js';
import { DockerEngine } from '../../docker/engine.js';
import { createPackage } from '../../provider/create-package.js';
import { PROJECT_OPTIONS, resolveProjectPaths } from '../../package/project.js';

const spec: CommandSpec = {
  name: 'package',
  summary: 'Package the app (code, tests, Docker image, mse.toml) for the SGX operator',
  description: `
Writes OUTPUT/package_<name>_<time_ns>.tar holding app.tar (the code directory minus .mseignore'd names and
dotfiles), tests.tar, image.tar (the image built from the project's Dockerfile, saved by the Docker engine)
and mse.toml. Tars are deterministic (sorted entries, fixed mtime/owner/mode): the same inputs give the same
app.tar and tests.tar bytes and, with the engine's build cache, the same image config digest.

--encrypt encrypts each code file (except requirements.txt) as <file>.enc with a fresh key (NaCl secretbox,
as MSE) written raw beside the package as package_<name>_<time_ns>.key (mode 0600); keep it to give to
'mse home run --key'.

Nothing partial is ever kept. On a failure, or an interrupt (Ctrl-C, SIGTERM, the output closing) before
the package is complete, everything this run made is removed (package, key, staging files, an output
directory it created, an image it built) and it exits 130 (SIGINT), 143 (SIGTERM) or 141; an interrupt
after that lets it finish (exit 0). A full disk is ERR_DISK_FULL, an unwritable output ERR_FILE_UNWRITABLE.`,
  options: {
    ...PROJECT_OPTIONS,
    output: {
      type: 'string',
      placeholder: 'DIR',
      description: 'Directory for the package (created if missing).',
      required: true,
    },
    encrypt: { type: 'boolean', description: 'Encrypt the code files; writes the key file beside the package.' },
  },
  examples: [
    'mse home package --project my_app --output out/',
    'mse home package --code my_app/mse_src --config my_app/mse.toml --dockerfile my_app/Dockerfile --test my_app/tests --output out/ --encrypt',
  ],
  async run(ctx) {
    const paths = await resolveProjectPaths(ctx.values);
    await checkOutputDirectory(stringOption(ctx.values, 'output')!);
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();
    const result = await createPackage({
      engine,
      log: ctx.log,
      paths,
      outputDir: stringOption(ctx.values, 'output')!,
      encrypt: ctx.values.encrypt === true,
    });
    ctx.log.success(`package ready to be shared: ${path.relative(process.cwd(), result.file) || result.file}`);
    if (result.keyFile) {
      ctx.log.info(`code key (keep it secret; the operator needs it for 'run --key'): ${result.keyFile}`);
    }
    if (ctx.json) {
      printJson(ctx, {
        package: result.file,
        keyFile: result.keyFile ?? null,
        name: result.name,
        image: result.imageRef,
        imageConfigDigest: result.imageConfigDigest,
        size: result.size,
        appFiles: result.appFiles,
        testFiles: result.testFiles,
        appTarSha256: result.appTarSha256,
        testsTarSha256: result.testsTarSha256,
        encrypted: result.encrypted,
        timingsMs: result.timings,
      });
    }
  },
};
export default spec;
