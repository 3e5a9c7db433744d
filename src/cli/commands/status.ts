/** `mse home status NAME`: what a deployment is doing, and what to do next when it is not serving. */
import { DockerEngine } from '../../docker/engine.js';
import { deploymentStatus, findDeployment } from '../../deploy/deployments.js';
import { expiredError, notRunningError } from '../../deploy/lifecycle.js';
import { lifecycleFacts } from '../../deploy/wait.js';
import { requiredPositional, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'status',
  summary: "Show a deployment's status (waiting for secrets, running, stopped, on error, ...)",
  description: `The status combines the container's state with a probe of the app's health endpoint over
TLS pinned to the deployment's RA-TLS certificate (the configuration server answers with Mse-Status).
Statuses: created, initializing, waiting for secrets, running, paused, unverified (the enclave's
certificate is not the pinned ratls.pem, or that file is missing: the reason is shown), on error, stopped,
expired. When the deployment is not serving, the reason and the next command are shown. The deployment
UUID is not shown (it is a credential; the code provider finds it in evidence.json).`,
  options: {},
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home status my_app'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    const report = await deploymentStatus(await findDeployment(engine, requiredPositional(ctx)));
    const { deployment: d, status } = report;
    const facts = d.state === 'running' ? undefined : await lifecycleFacts(engine, d);
    const detail =
      report.problem ??
      (facts ? notRunningError(facts) : undefined) ??
      (status === 'expired' ? expiredError(d.name, d.args.expiration) : undefined);
    const expires = new Date(d.args.expiration * 1000);
    const days = Math.floor((d.args.expiration * 1000 - Date.now()) / 86_400_000);
    if (ctx.json) {
      printJson(ctx, {
        name: d.name,
        status,
        platform: d.platform,
        state: d.state,
        ...(facts ? { configured: facts.configured, exitCode: facts.exitCode } : {}),
        size: d.args.size,
        san: d.args.san,
        host: d.host,
        port: d.port,
        healthcheck: d.healthcheckEndpoint,
        startedAt: d.startedAt,
        expiresAt: expires.toISOString(),
        workspace: d.outputDir,
        ...(detail ? { detail: { code: detail.code, message: detail.message, hint: detail.hint } } : {}),
      });
      return;
    }
    const rows: [string, string][] = [
      ['App name', d.name],
      ['Status', status],
      ...(detail
        ? ([
            ['Reason', `${detail.message} (${detail.code})`],
            ['Next', detail.hint],
          ] as [string, string][])
        : []),
      ['Platform', d.platform === 'sim' ? 'sim (SIMULATION: no SGX hardware, no confidentiality)' : 'sgx'],
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
