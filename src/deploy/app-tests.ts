/**
 * `mse home test`'s flow: run the app's tests (`python3 -m <tests_cmd>` from its mse.toml) against its
 * running enclave, with TLS pinned to the deployment's RA-TLS certificate.
 */
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { withCleanup } from '../docker/cleanup.js';
import { DockerEngine } from '../docker/engine.js';
import { StateError } from '../errors.js';
import { requireDirectory } from '../fs/files.js';
import { loadMseConfig } from '../project/config.js';
import {
  checkTestRequirements,
  DEFAULT_PYTHON,
  runTests,
  testsFailedError,
  type TestRun,
} from '../project/tests-runner.js';
import type { Deployment } from './container.js';
import { deploymentStatus, findDeployment, RATLS_FILE } from './deployments.js';
import { pinProblemError } from './pinning.js';

export interface AppTestsInput {
  /** The deployment's name. */
  name: string;
  /** The app's tests directory and its mse.toml. */
  testDir: string;
  configFile: string;
  /** The secrets sent with run (TEST_SECRET_JSON). */
  secretsFile?: string | undefined;
  /** TEST_REMOTE_URL, already checked (default https://<san>:<port>). */
  url?: string | undefined;
  /** The environment: the Docker engine's address, MSE_PYTHON, and the tests' own. */
  env: NodeJS.ProcessEnv;
  /** Where the tests' output goes. */
  output: NodeJS.WritableStream;
  log: Logger;
}

export interface AppTestsResult {
  deployment: Deployment;
  url: string;
  run: TestRun;
}

/** The deployment presents its pinned certificate and runs (configured, its app up). */
async function runningDeployment(engine: DockerEngine, name: string): Promise<Deployment> {
  const report = await deploymentStatus(await findDeployment(engine, name));
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
  return d;
}

/** https://<san>:<port>, an IPv6 SAN in brackets. */
function deploymentUrl(d: Deployment): string {
  return `https://${d.args.san.includes(':') ? `[${d.args.san}]` : d.args.san}:${d.port}`;
}

/**
 * Run the app's tests against its running enclave: TEST_REMOTE_URL, TEST_CA_BUNDLE (the deployment's
 * ratls.pem) and, with secrets, TEST_SECRET_JSON. A failing test is ERR_TESTS_FAILED.
 */
export async function testDeployment(input: AppTestsInput): Promise<AppTestsResult> {
  const { testDir, log } = input;
  await requireDirectory(testDir, 'tests directory');
  const { config, warnings } = await loadMseConfig(input.configFile);
  for (const w of warnings) log.warn(w);
  const d = await runningDeployment(DockerEngine.fromEnv(input.env), input.name);
  const url = input.url ?? deploymentUrl(d);
  const python = input.env.MSE_PYTHON ?? DEFAULT_PYTHON;
  const env = {
    ...input.env,
    TEST_REMOTE_URL: url,
    TEST_CA_BUNDLE: path.join(d.outputDir, RATLS_FILE),
    ...(input.secretsFile ? { TEST_SECRET_JSON: path.resolve(input.secretsFile) } : {}),
  };
  await checkTestRequirements(python, config.testsRequirements, log, { cwd: testDir, env });
  log.info(`running 'python3 -m ${config.testsCmd}' in ${testDir} against ${url}`);
  // A scope only to stop the tests on Ctrl-C (ERR_INTERRUPTED); the flow creates nothing.
  const run = await withCleanup((scope) =>
    runTests({ python, testsCmd: config.testsCmd, cwd: testDir, env, output: input.output, signal: scope.signal }),
  );
  if (run.code !== 0) throw testsFailedError(config.testsCmd, run, { name: d.name, url });
  return { deployment: d, url, run };
}
