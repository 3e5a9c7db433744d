/** `mse home spawn NAME`: start a packaged app in an enclave and collect its evidence. */
import { DockerEngine } from '../../docker/engine.js';
import { DEFAULT_SUBJECT } from '../../launch/args.js';
import { defaultPlatform, defaultSignerKeyPath, spawnDeployment } from '../../deploy/spawn.js';
import { UsageError } from '../../errors.js';
import { durationOption, integerOption, stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'spawn',
  summary: 'Start a packaged app in an enclave; collect evidence.json and ratls.pem',
  description: `Checks every argument, the engine, the name, the port, the output and the package first; then
loads the package's image (in place, no copy), starts the enclave container and waits for its
configuration server, and writes OUTPUT/evidence.json (mode 0600: it holds the deployment UUID; send it to
the code provider) and OUTPUT/ratls.pem. The deployment's private state (the code as measured, the
arguments) lives in the operator's state directory, never on a command line. A failure or Ctrl-C removes
everything spawn created. The platform is sgx where /dev/sgx_enclave exists, else sim (a simulated
enclave, said so everywhere); --platform overrides.`,
  options: {
    package: { type: 'string', placeholder: 'FILE', description: 'Package from `mse home package`', required: true },
    output: { type: 'string', placeholder: 'DIR', description: 'Workspace for this deployment', required: true },
    san: {
      type: 'string',
      placeholder: 'NAME|IP',
      description: "The RA-TLS certificate's subject alternative name",
      required: true,
    },
    size: {
      type: 'string',
      placeholder: 'MiB',
      description: 'Enclave size: a power of two, at least 1024',
      required: true,
    },
    port: { type: 'string', placeholder: 'PORT', description: 'Host port (default 443)' },
    host: {
      type: 'string',
      placeholder: 'IP',
      description: 'Host address the port is published on (default 127.0.0.1)',
    },
    subject: {
      type: 'string',
      placeholder: 'RFC4514',
      description: `Certificate subject (default ${DEFAULT_SUBJECT})`,
    },
    days: { type: 'string', placeholder: 'N', description: 'Certificate validity in days (default 365)' },
    'signer-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Enclave signer key, RSA-3072 e=3 (created if absent)',
    },
    pccs: { type: 'string', placeholder: 'URL', description: 'PCCS for the collateral (sim: the simulated PCCS)' },
    platform: { type: 'string', placeholder: 'sim|sgx', description: 'Force the platform' },
    timeout: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'How long to wait for the enclave: 10m, 90s, 1h (a bare number is minutes; default 10m)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment (container) name', required: true }],
  examples: [
    'mse home spawn my_app --package workspace/package_my_app_1700000000.tar --san localhost --size 2048 --port 7443 --output deployment',
  ],
  async run(ctx) {
    const platform = stringOption(ctx.values, 'platform') ?? defaultPlatform();
    if (platform !== 'sim' && platform !== 'sgx')
      throw new UsageError('ERR_OPTION_VALUE', `--platform must be sim or sgx, got '${platform}'`);
    if (!ctx.values.platform)
      ctx.log.info(`platform: ${platform} (${platform === 'sgx' ? '/dev/sgx_enclave found' : 'no /dev/sgx_enclave'})`);
    const result = await spawnDeployment({
      engine: DockerEngine.fromEnv(ctx.env),
      log: ctx.log,
      env: ctx.env,
      name: ctx.positionals[0]!,
      packageFile: stringOption(ctx.values, 'package')!,
      outputDir: stringOption(ctx.values, 'output')!,
      san: stringOption(ctx.values, 'san')!,
      size: integerOption(ctx.values, 'size', 1, 1 << 30)!,
      port: integerOption(ctx.values, 'port', 1, 65_535) ?? 443,
      host: stringOption(ctx.values, 'host') ?? '127.0.0.1',
      subject: stringOption(ctx.values, 'subject') ?? DEFAULT_SUBJECT,
      days: integerOption(ctx.values, 'days', 1, 3650) ?? 365,
      signerKeyPath: stringOption(ctx.values, 'signer-key') ?? defaultSignerKeyPath(),
      platform,
      ...(stringOption(ctx.values, 'pccs') ? { pccsUrl: stringOption(ctx.values, 'pccs')! } : {}),
      timeoutMs: durationOption(ctx.values, 'timeout', { bare: 'm', minMs: 1000, maxMs: 86_400_000 }) ?? 600_000,
    });
    const d = result.deployment;
    if (ctx.json) {
      printJson(ctx, {
        name: d.name,
        platform: d.platform,
        mrenclave: result.mrenclave,
        evidence: result.evidenceFile,
        ratls: result.ratlsFile,
      });
      return;
    }
    ctx.log.success(`${d.name} is waiting for its secrets at https://${d.args.san}:${d.port}`);
    ctx.log.info(`evidence: ${result.evidenceFile} (send it to the code provider)`);
    ctx.log.info(`MRENCLAVE: ${result.mrenclave}`);
  },
};
export default spec;
