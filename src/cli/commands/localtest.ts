/**
 * `mse home localtest`: build the app's image, run it outside any enclave on a loopback port, wait for its
 * health check and run its tests against it.
 */
import path from 'node:path';
import { durationOption, integerOption, stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';
import { DockerEngine } from '../../docker/engine.js';
import { DEFAULT_PYTHON, keptImageNote, removeLocaltestImages, runLocaltest } from '../../docker/localtest.js';
import { UsageError } from '../../errors.js';
import { PROJECT_OPTIONS, resolveProjectPaths } from '../../package/project.js';
import { loadMseConfig } from '../../project/config.js';

const spec: CommandSpec = {
  name: 'localtest',
  summary: 'Run the app in its Docker image on localhost and run its tests against it',
  description: `
Builds the image from the project's Dockerfile, runs it with the mse-test entrypoint (plain HTTP, no enclave)
on a free 127.0.0.1 port, with the code as it will be packaged (.mseignore applied) at /mse-app and the
secrets files mounted read-only where the enclave puts them (SECRETS_PATH, SEALED_SECRETS_PATH). Once the
health endpoint answers, runs '/usr/bin/python3 -m <tests_cmd>' in the tests directory with TEST_REMOTE_URL,
TEST_SECRET_JSON and TEST_SEALED_SECRET_JSON set (no .pytest_cache or __pycache__ is written there).
A failing test is error ERR_TESTS_FAILED, exit code 8. The container is always removed, also on Ctrl-C.

The image is tagged mse-home-localtest/<name>:<hash of the build context, Dockerfile and base image> and
kept after the run (also when tests fail), so the next run with the same inputs reuses it without building;
a run with changed inputs builds a new one and drops the old. Remove it with --clean (with --project, or
--config) or 'docker rmi <tag>'.

With --project, the secrets default to DIR/secrets.json and DIR/secrets_to_seal.json when they exist.
--no-tests keeps the app running and streams its logs until Ctrl-C.`,
  options: {
    ...PROJECT_OPTIONS,
    secrets: { type: 'string', placeholder: 'FILE', description: 'Secrets JSON mounted at SECRETS_PATH.' },
    'sealed-secrets': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Plaintext secrets-to-seal JSON mounted at SEALED_SECRETS_PATH.',
    },
    'no-tests': { type: 'boolean', description: 'Do not run the tests; serve until Ctrl-C.' },
    port: { type: 'string', placeholder: 'PORT', description: 'Host port on 127.0.0.1 (default: a free one).' },
    timeout: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'Health check timeout: 60s, 2m (a bare number is seconds; default 60s).',
    },
    clean: {
      type: 'boolean',
      description: "Remove the project's kept localtest images, and run nothing.",
    },
  },
  examples: [
    'mse home localtest --project my_app',
    'mse home localtest --code my_app/mse_src --config my_app/mse.toml --dockerfile my_app/Dockerfile --test my_app/tests --secrets my_app/secrets.json',
    'mse home localtest --project my_app --no-tests --port 5000',
    'mse home localtest --project my_app --clean',
  ],
  async run(ctx) {
    if (ctx.values.clean === true) return clean(ctx);
    const port = integerOption(ctx.values, 'port', 1, 65535);
    const timeoutMs = durationOption(ctx.values, 'timeout', { bare: 's', minMs: 1000, maxMs: 3_600_000 });
    const paths = await resolveProjectPaths(ctx.values, true);
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();
    const result = await runLocaltest({
      engine,
      log: ctx.log,
      paths,
      noTests: ctx.values['no-tests'] === true,
      ...(port !== undefined ? { port } : {}),
      ...(timeoutMs !== undefined ? { healthTimeoutMs: timeoutMs } : {}),
      python: ctx.env.MSE_PYTHON || DEFAULT_PYTHON,
      env: ctx.env,
    });
    if (result.tests === 'passed')
      ctx.log.success(`tests passed${result.testSummary ? `: ${result.testSummary.line}` : ''}`);
    ctx.log.info(keptImageNote(result.image.ref, paths.config));
    if (ctx.json) {
      printJson(ctx, {
        url: result.url,
        image: result.image.ref,
        imageId: result.image.id,
        imageReused: result.image.reused,
        healthyAfterMs: Math.round(result.healthyAfterMs),
        tests: result.tests,
        testSummary: result.testSummary ?? null,
        secrets: paths.secrets ?? null,
        sealedSecrets: paths.sealedSecrets ?? null,
      });
    }
  },
};
export default spec;

/** `--clean`: the project's name from its mse.toml, then its localtest images removed. */
async function clean(ctx: Parameters<CommandSpec['run']>[0]): Promise<void> {
  const others = ['no-tests', 'port', 'timeout', 'secrets', 'sealed-secrets', 'code', 'dockerfile', 'test'];
  const conflicting = others.filter((o) => ctx.values[o] !== undefined);
  if (conflicting.length) {
    throw new UsageError(
      'ERR_CONFLICTING_OPTIONS',
      `--clean runs nothing: it cannot be combined with ${conflicting.map((o) => `--${o}`).join(', ')}`,
      { hint: 'Give --clean with --project DIR, or with --config FILE.' },
    );
  }
  const project = stringOption(ctx.values, 'project');
  const given = stringOption(ctx.values, 'config');
  if (project !== undefined && given !== undefined) {
    throw new UsageError('ERR_CONFLICTING_OPTIONS', 'options --project and --config cannot be used together');
  }
  const configFile = given ?? (project !== undefined ? path.join(project, 'mse.toml') : undefined);
  if (configFile === undefined) {
    throw new UsageError('ERR_MISSING_OPTION', '--clean needs the project: give --project DIR or --config FILE');
  }
  const { config } = await loadMseConfig(configFile);
  const engine = DockerEngine.fromEnv(ctx.env);
  await engine.ping();
  const removed = await removeLocaltestImages(engine, config.name);
  if (ctx.json) printJson(ctx, { removed });
  else if (removed.length) for (const r of removed) ctx.log.success(`removed ${r}`);
  else ctx.log.info(`no localtest image of ${config.name} to remove`);
}
