/**
 * `mse home localtest`: build the app's image, run it outside any enclave on a loopback port, wait for its
 * health check and run its tests against it.
 */
import { integerOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';
import { DockerEngine } from '../../docker/engine.js';
import { DEFAULT_PYTHON, runLocaltest } from '../../docker/localtest.js';
import { PROJECT_OPTIONS, resolveProjectPaths } from '../../package/project.js';

const spec: CommandSpec = {
  name: 'localtest',
  summary: 'Run the app in its Docker image on localhost and run its tests against it',
  description: `
Builds the image from the project's Dockerfile, runs it with the mse-test entrypoint (plain HTTP, no enclave)
on a free 127.0.0.1 port, with the code as it will be packaged (.mseignore applied) at /mse-app and the
secrets files mounted read-only where the enclave puts them (SECRETS_PATH, SEALED_SECRETS_PATH). Once the
health endpoint answers, runs '/usr/bin/python3 -m <tests_cmd>' in the tests directory with TEST_REMOTE_URL,
TEST_SECRET_JSON and TEST_SEALED_SECRET_JSON set. Exits with code 8 when a test fails. The container is
always removed, also on Ctrl-C.

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
    timeout: { type: 'string', placeholder: 'SECONDS', description: 'Health check timeout (default 60).' },
  },
  examples: [
    'mse home localtest --project my_app',
    'mse home localtest --code my_app/mse_src --config my_app/mse.toml --dockerfile my_app/Dockerfile --test my_app/tests --secrets my_app/secrets.json',
    'mse home localtest --project my_app --no-tests --port 5000',
  ],
  async run(ctx) {
    const port = integerOption(ctx.values, 'port', 1, 65535);
    const timeout = integerOption(ctx.values, 'timeout', 1, 3600);
    const paths = await resolveProjectPaths(ctx.values, true);
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();
    const result = await runLocaltest({
      engine,
      log: ctx.log,
      paths,
      noTests: ctx.values['no-tests'] === true,
      ...(port !== undefined ? { port } : {}),
      ...(timeout !== undefined ? { healthTimeoutMs: timeout * 1000 } : {}),
      python: ctx.env.MSE_PYTHON || DEFAULT_PYTHON,
      env: ctx.env,
    });
    if (result.tests === 'passed') ctx.log.success('tests passed');
    if (ctx.json) {
      printJson(ctx, {
        url: result.url,
        image: result.imageId,
        healthyAfterMs: Math.round(result.healthyAfterMs),
        tests: result.tests,
        secrets: paths.secrets ?? null,
        sealedSecrets: paths.sealedSecrets ?? null,
      });
    }
  },
};
export default spec;
