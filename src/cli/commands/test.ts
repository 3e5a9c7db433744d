/** `mse home test NAME`: run the app's tests against its live enclave, TLS pinned to its certificate. */
import { testDeployment } from '../../deploy/app-tests.js';
import { UsageError } from '../../errors.js';
import { testRunResult } from '../../project/tests-runner.js';
import { stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

/**
 * Check a `--url` override: `https://HOST:PORT` with an optional trailing `/`, nothing else (the tests append
 * their paths to it and verify TLS against the enclave's certificate, so plain http would test nothing).
 */
export function checkTestUrl(raw: string): string {
  const refuse = (why: string): never => {
    throw new UsageError('ERR_OPTION_VALUE', `--url ${raw}: ${why}`, {
      hint: "Give the enclave's address as https://HOST:PORT, e.g. --url https://localhost:7443.",
    });
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not a URL');
  }
  if (url.protocol !== 'https:') refuse(`the scheme must be https (the tests verify the enclave's certificate)`);
  if (!url.hostname) refuse('no host');
  // URL drops a default port (443): look at what was typed.
  if (!/^https:\/\/(?:\[[^\]]*\]|[^/?#@:[\]]+):[0-9]+\/?$/i.test(raw)) {
    if (url.username || url.password) refuse('credentials are not allowed');
    if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
      refuse('only https://HOST:PORT is allowed (no path, query or fragment)');
    }
    refuse('a port is required');
  }
  if (Number(url.port || 443) < 1 || Number(url.port || 443) > 65535) refuse('the port must be 1 to 65535');
  return raw.replace(/\/$/, '');
}

const spec: CommandSpec = {
  name: 'test',
  summary: "Run the app's tests against its running enclave",
  description: `Runs \`python3 -m <tests_cmd>\` (from --config) in --test with TEST_REMOTE_URL=https://<san>:<port>
and TEST_CA_BUNDLE=<workspace>/ratls.pem, so the tests verify TLS against the enclave's certificate.
--secrets passes TEST_SECRET_JSON for the tests that need the plaintext secrets; --url (https://HOST:PORT)
overrides TEST_REMOTE_URL. The tests' output goes to stdout (stderr with --json). A failing test is error
ERR_TESTS_FAILED, exit code 8 (with --json: ok false, the error and the test summary).`,
  options: {
    test: { type: 'string', placeholder: 'DIR', description: "The app's tests directory", required: true },
    config: { type: 'string', placeholder: 'FILE', description: "The app's mse.toml", required: true },
    secrets: { type: 'string', placeholder: 'FILE', description: 'The secrets sent with run (TEST_SECRET_JSON)' },
    url: {
      type: 'string',
      placeholder: 'URL',
      description: 'Override TEST_REMOTE_URL: https://HOST:PORT (default https://<san>:<port>)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home test my_app --test my_app/tests --config my_app/mse.toml'],
  async run(ctx) {
    const urlOverride = stringOption(ctx.values, 'url');
    const {
      deployment: d,
      url,
      run,
    } = await testDeployment({
      url: urlOverride !== undefined ? checkTestUrl(urlOverride) : undefined,
      name: ctx.positionals[0]!,
      testDir: stringOption(ctx.values, 'test')!,
      configFile: stringOption(ctx.values, 'config')!,
      secretsFile: stringOption(ctx.values, 'secrets'),
      env: ctx.env,
      output: ctx.json ? process.stderr : ctx.stdout,
      log: ctx.log,
    });
    if (ctx.json) printJson(ctx, { name: d.name, url, ...testRunResult(run) });
    ctx.log.success(`tests passed${run.summary ? `: ${run.summary.line}` : ''}`);
  },
};
export default spec;
