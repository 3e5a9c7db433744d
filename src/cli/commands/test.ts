/** `mse home test NAME`: run the app's tests against its live enclave, TLS pinned to its certificate. */
import path from 'node:path';
import { DockerEngine } from '../../docker/engine.js';
import { deploymentStatus, findDeployment, RATLS_FILE } from '../../deploy/deployments.js';
import { pinProblemError } from '../../deploy/pinning.js';
import { ExitCode, StateError } from '../../errors.js';
import { requireDirectory } from '../../fs/files.js';
import { loadMseConfig } from '../../project/config.js';
import { checkTestRequirements, DEFAULT_PYTHON, runTests } from '../../project/tests-runner.js';
import { stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'test',
  summary: "Run the app's tests against its running enclave",
  description: `Runs \`python3 -m <tests_cmd>\` (from --config) in --test with TEST_REMOTE_URL=https://<san>:<port>
and TEST_CA_BUNDLE=<workspace>/ratls.pem, so the tests verify TLS against the enclave's certificate.
--secrets passes TEST_SECRET_JSON for the tests that need the plaintext secrets. Exit code 8 when a test fails.`,
  options: {
    test: { type: 'string', placeholder: 'DIR', description: "The app's tests directory", required: true },
    config: { type: 'string', placeholder: 'FILE', description: "The app's mse.toml", required: true },
    secrets: { type: 'string', placeholder: 'FILE', description: 'The secrets sent with run (TEST_SECRET_JSON)' },
    url: { type: 'string', placeholder: 'URL', description: 'Override TEST_REMOTE_URL (default https://<san>:<port>)' },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home test my_app --test my_app/tests --config my_app/mse.toml'],
  async run(ctx) {
    const testDir = stringOption(ctx.values, 'test')!;
    await requireDirectory(testDir, 'tests directory');
    const { config, warnings } = await loadMseConfig(stringOption(ctx.values, 'config')!);
    for (const w of warnings) ctx.log.warn(w);
    const engine = DockerEngine.fromEnv(ctx.env);
    const report = await deploymentStatus(await findDeployment(engine, ctx.positionals[0]!));
    const d = report.deployment;
    if (report.problem) throw pinProblemError(report.problem); // ratls.pem missing, or another certificate
    if (report.status !== 'running') {
      throw new StateError('ERR_NOT_RUNNING', `${d.name} is ${report.status}, not running`, {
        hint:
          report.status === 'waiting for secrets'
            ? `Send the secrets first: 'mse home run ${d.name} …'.`
            : `See 'mse home status ${d.name}'.`,
      });
    }
    const url =
      stringOption(ctx.values, 'url') ??
      `https://${d.args.san.includes(':') ? `[${d.args.san}]` : d.args.san}:${d.port}`;
    const secrets = stringOption(ctx.values, 'secrets');
    const python = ctx.env.MSE_PYTHON ?? DEFAULT_PYTHON;
    await checkTestRequirements(python, config.testsRequirements, ctx.log);
    ctx.log.info(`running 'python3 -m ${config.testsCmd}' in ${testDir} against ${url}`);
    const code = await runTests({
      python,
      testsCmd: config.testsCmd,
      cwd: testDir,
      env: {
        ...ctx.env,
        TEST_REMOTE_URL: url,
        TEST_CA_BUNDLE: path.join(d.outputDir, RATLS_FILE),
        ...(secrets ? { TEST_SECRET_JSON: path.resolve(secrets) } : {}),
      },
      output: ctx.json ? process.stderr : ctx.stdout,
      signal: new AbortController().signal,
    });
    if (ctx.json) printJson(ctx, { name: d.name, url, passed: code === 0, exitCode: code });
    if (code !== 0) {
      ctx.log.warn(`tests failed (exit code ${code})`);
      return ExitCode.testsFailed;
    }
    ctx.log.success('tests passed');
  },
};
export default spec;
