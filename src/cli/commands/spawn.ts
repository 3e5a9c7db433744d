/** `mse home spawn NAME`: start a packaged app in an enclave and collect its evidence. */
import { DockerEngine } from '../../docker/engine.js';
import { DEFAULT_SUBJECT } from '../../launch/args.js';
import { SGX_CONTAINER_DEVICES, type SgxHostDevices } from '../../deploy/container.js';
import { defaultSignerKeyPath, dryRunSpawn, spawnDeployment, type SpawnDryRun } from '../../deploy/spawn.js';
import { UsageError } from '../../errors.js';
import { checkHost, platformReadiness, platformUnavailableError, type HostFacts } from '../../sgx/host-checks.js';
import { gatherHostFacts } from '../../sgx/host-facts.js';
import {
  durationOption,
  integerOption,
  requiredInteger,
  requiredPositional,
  requiredString,
  stringOption,
  type CommandContext,
  type CommandSpec,
} from '../command.js';
import { printJson } from '../output.js';

/** The SGX devices and aesmd an sgx container gets: those `doctor` found on this host. Pure. */
export function sgxHostDevices(facts: Pick<HostFacts, 'devices' | 'aesmd'>): SgxHostDevices {
  const kind = { '/dev/sgx_enclave': facts.devices.enclave, '/dev/sgx_provision': facts.devices.provision };
  return {
    devices: SGX_CONTAINER_DEVICES.filter((d) => kind[d] === 'character-device'),
    aesmd: facts.aesmd.kind === 'socket',
  };
}

/** The human form of a dry-run plan (stdout: it is the data asked for). */
export function formatDryRun(p: SpawnDryRun): string {
  const mib = (n: number): string => `${n / 2 ** 20} MiB`;
  const lines = [
    `spawn --dry-run: ${p.name} (platform sgx), nothing started`,
    `image:       ${p.image}${p.imageTags.length ? ` (${p.imageTags.join(', ')})` : ''}`,
    `entrypoint:  ${[...p.entrypoint, ...p.cmd].join(' ')} (gramine-sgx ${p.enclaveFiles.gramineApp}, inside the enclave: the launcher with the args file)`,
    `devices:     ${p.devices.length ? p.devices.join(', ') : 'none'}${p.missingDevices.length ? ` (absent on this host: ${p.missingDevices.join(', ')})` : ''}`,
    'mounts:',
    ...p.mounts.map((m) => `  ${m.host} -> ${m.container}${m.readOnly ? ' (read-only)' : ''}`),
    `ports:       ${p.ports.map((x) => `${x.host} -> ${x.container}`).join(', ')}`,
    `manifest:    ${p.enclaveFiles.manifest} (${p.template}, ${p.trustedFiles} trusted files)`,
    `sigstruct:   ${p.enclaveFiles.sigstruct} (dated ${p.sigstructDate})`,
    `args:        ${p.enclaveFiles.args}`,
    `enclave:     ${mib(p.enclaveSize)}, ${p.maxThreads} threads, EDMM off, production (debug off)`,
    `mrenclave:   ${p.mrenclave}`,
    `mrsigner:    ${p.mrsigner}`,
    `written:     ${p.written.manifest}, ${p.written.sigstruct}, ${p.written.args}`,
  ];
  return lines.join('\n') + '\n';
}

const spec: CommandSpec = {
  name: 'spawn',
  summary: 'Start a packaged app in an enclave; collect evidence.json and ratls.pem',
  description: `Checks every argument, the host (as 'mse home doctor' does), the engine, the name, the port, the
output and the package first; then loads the package's image (in place, no copy), starts the enclave
container and waits for its configuration server, and writes OUTPUT/evidence.json (mode 0600: it holds the
deployment UUID; send it to the code provider) and OUTPUT/ratls.pem. The deployment's private state (the
code as measured, the arguments) lives in the operator's state directory, never on a command line. A
failure or Ctrl-C removes everything spawn created.

The platform: --platform, else sgx when this host is ready for it, else sim only when the host has no SGX
device at all; the choice is printed. A host with SGX devices that is not ready fails with
ERR_SGX_UNAVAILABLE (exit 7) naming what is missing (see 'mse home doctor'): never a silent fall back to a
simulated enclave. sim is a simulated enclave, said so everywhere.

sgx: the package's image must be built FROM mse-home-sgx-base. spawn computes the enclave's final Gramine
manifest and MRENCLAVE from the package itself, signs the SIGSTRUCT with --signer-key, and starts the
container with the SGX devices this host has and aesmd's socket; the evidence's collateral comes from
--pccs, else /etc/sgx_default_qcnl.conf (collateral_service, else pccs_url, honouring use_secure_cert).
--dry-run (sgx) does everything up to starting the container, writes OUTPUT/enclave.manifest.sgx,
OUTPUT/enclave.sig and OUTPUT/args, and prints the plan (image, devices, mounts, MRENCLAVE, MRSIGNER); it
runs on a host that is not ready for sgx too.`,
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
    pccs: {
      type: 'string',
      placeholder: 'URL',
      description: 'PCCS for the collateral (sim: the simulated PCCS; sgx: /etc/sgx_default_qcnl.conf)',
    },
    platform: {
      type: 'string',
      placeholder: 'sim|sgx',
      description: 'The platform (default: sgx where ready, sim where no SGX device exists)',
    },
    'dry-run': {
      type: 'boolean',
      description: 'sgx: plan only: write the final manifest, SIGSTRUCT and args file, print the plan',
    },
    timeout: {
      type: 'string',
      placeholder: 'DURATION',
      description: 'How long to wait for the enclave: 10m, 90s, 1h (a bare number is minutes; default 10m)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment (container) name', required: true }],
  examples: [
    'mse home spawn my_app --package workspace/package_my_app_1700000000.tar --san localhost --size 2048 --port 7443 --output deployment',
    'mse home spawn my_app --platform sgx --dry-run --package package_my_app_1700000000.tar --san app.example.com --size 4096 --output plan',
  ],
  async run(ctx) {
    const requested = stringOption(ctx.values, 'platform');
    if (requested !== undefined && requested !== 'sim' && requested !== 'sgx')
      throw new UsageError('ERR_OPTION_VALUE', `--platform must be sim or sgx, got '${requested}'`);
    const dryRun = ctx.values['dry-run'] === true;
    const signerKeyPath = stringOption(ctx.values, 'signer-key') ?? defaultSignerKeyPath();
    const pccsUrl = stringOption(ctx.values, 'pccs');

    // The platform, chosen by doctor's checks: never a silent fall back to sim on a host meant for SGX.
    const facts = await gatherHostFacts({
      signerKeyPath,
      env: ctx.env,
      ...(pccsUrl !== undefined && requested !== 'sim' ? { pccsUrl } : {}),
    });
    const report = checkHost(facts);
    const readiness = platformReadiness(report, requested);
    ctx.log.info(`platform: ${readiness.platform} (${readiness.why})`);
    if (!readiness.ready) {
      const error = platformUnavailableError(readiness, report);
      if (!(dryRun && readiness.platform === 'sgx')) throw error;
      ctx.log.warn(`${error.message}: planning only (--dry-run)`);
    }

    const input = {
      engine: DockerEngine.fromEnv(ctx.env),
      log: ctx.log,
      env: ctx.env,
      name: requiredPositional(ctx),
      packageFile: requiredString(ctx.values, 'package'),
      outputDir: requiredString(ctx.values, 'output'),
      san: requiredString(ctx.values, 'san'),
      size: requiredInteger(ctx.values, 'size', 1, 1 << 30),
      port: integerOption(ctx.values, 'port', 1, 65_535) ?? 443,
      host: stringOption(ctx.values, 'host') ?? '127.0.0.1',
      subject: stringOption(ctx.values, 'subject') ?? DEFAULT_SUBJECT,
      days: integerOption(ctx.values, 'days', 1, 3650) ?? 365,
      signerKeyPath,
      platform: readiness.platform,
      ...(readiness.platform === 'sgx' ? { sgxHost: sgxHostDevices(facts) } : {}),
      ...(pccsUrl !== undefined ? { pccsUrl } : {}),
      dryRun,
      timeoutMs: durationOption(ctx.values, 'timeout', { bare: 'm', minMs: 1000, maxMs: 86_400_000 }) ?? 600_000,
    };
    if (dryRun) return printDryRun(ctx, await dryRunSpawn(input), readiness.ready);
    const result = await spawnDeployment(input);
    const d = result.deployment;
    if (ctx.json) {
      printJson(ctx, {
        name: d.name,
        platform: d.platform,
        mrenclave: result.mrenclave,
        mrsigner: result.mrsigner,
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

function printDryRun(ctx: CommandContext, plan: SpawnDryRun, hostReady: boolean): void {
  if (ctx.json) printJson(ctx, { dryRun: true, hostReady, ...plan });
  else ctx.stdout.write(formatDryRun(plan));
}
