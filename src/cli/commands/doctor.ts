/**
 * `mse home doctor`: what this host has and lacks for each platform (sgx, sim), item by item with the fix,
 * and whether the requested (or default) platform is ready. Exit 0 when it is, 7 (`ERR_SGX_UNAVAILABLE` /
 * `ERR_SIM_UNAVAILABLE`) when it is not.
 */
import { defaultSignerKeyPath } from '../../deploy/spawn.js';
import { ExitCode, UsageError } from '../../errors.js';
import {
  platformReadiness,
  platformUnavailableError,
  type CheckItem,
  type HostReport,
  type PlatformReadiness,
} from '../../sgx/host-checks.js';
import { inspectHost } from '../../sgx/host-facts.js';
import { stringOption, type CommandSpec } from '../command.js';
import { formatError, useColor } from '../../base/log.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'doctor',
  summary: 'Check what this host needs for the sgx and sim platforms, item by item with the fix',
  description: `Checks, and prints with a one-line reason and the fix for each: the CPU's SGX and Flexible Launch
Control flags (/proc/cpuinfo), the SGX device nodes (/dev/sgx_enclave, /dev/sgx_provision; the legacy
/dev/sgx/* and /dev/isgx are recognised and reported), aesmd's socket, the DCAP quote provider configuration
(/etc/sgx_default_qcnl.conf: pccs_url, use_secure_cert), the PCCS (a bounded GET of its v4 rootcacrl and
qe/identity), the Docker engine, the base images and the operator's signer key. Then says whether sgx and sim
are ready, and which platform spawn would use: sgx where the host is ready for it, sim only where the host has
no SGX device. Nothing is created or changed.
Exit codes: 0 when the platform (--platform, else the default) is ready; 7 when it is not
(ERR_SGX_UNAVAILABLE or ERR_SIM_UNAVAILABLE). See docs/sgx.md.`,
  options: {
    platform: {
      type: 'string',
      placeholder: 'sgx|sim',
      description: 'The platform whose readiness sets the exit code (default: what spawn would pick)',
    },
    pccs: {
      type: 'string',
      placeholder: 'URL',
      description: 'Probe this PCCS instead of pccs_url in /etc/sgx_default_qcnl.conf',
    },
    'signer-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Operator signer key to check (default ~/.config/gramine/enclave-key.pem)',
    },
  },
  examples: ['mse home doctor', 'mse home doctor --platform sgx --pccs https://pccs.example.com:8081 --json'],
  async run(ctx) {
    const requested = stringOption(ctx.values, 'platform');
    if (requested !== undefined && requested !== 'sgx' && requested !== 'sim') {
      throw new UsageError('ERR_OPTION_VALUE', `--platform must be sgx or sim, got '${requested}'`);
    }
    const pccsUrl = stringOption(ctx.values, 'pccs');
    const report = await inspectHost({
      signerKeyPath: stringOption(ctx.values, 'signer-key') ?? defaultSignerKeyPath(),
      env: ctx.env,
      ...(pccsUrl !== undefined ? { pccsUrl } : {}),
    });
    const readiness = platformReadiness(report, requested);
    const error = readiness.ready ? undefined : platformUnavailableError(readiness, report);
    const exitCode = error ? error.exitCode : ExitCode.ok;
    const color = useColor(process.stderr, ctx.env);
    ctx.log.line(formatReport(report, readiness, color));
    // The items above are the hint; `--json` carries the error's own hint (the one spawn shows).
    if (error) ctx.log.line(formatError(error.code, error.message, '', ctx.env, process.stderr));
    if (ctx.json) {
      printJson(ctx, {
        ok: readiness.ready,
        platform: readiness.platform,
        ready: readiness.ready,
        choice: readiness.choice,
        why: readiness.why,
        reasons: readiness.reasons,
        platforms: report.platforms,
        sgxDevicePresent: report.sgxDevicePresent,
        items: report.items,
        ...(error ? { error: error.toJSON() } : {}),
        exitCode,
      });
    }
    return exitCode;
  },
};
export default spec;

/** The human report: one block per item, then a line per platform and the platform spawn would use. */
export function formatReport(report: HostReport, r: PlatformReadiness, color: boolean): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const mark = (i: CheckItem): string =>
    i.status === 'ok'
      ? paint('32', 'ok     ')
      : i.status === 'warning'
        ? paint('33', 'warning')
        : paint('31', 'missing');
  const width = Math.max(...report.items.map((i) => i.title.length));
  const lines = ['Host readiness (mse home doctor)', ''];
  for (const i of report.items) {
    const who = i.platforms.length === 2 ? 'sgx+sim' : i.platforms.join('');
    lines.push(`  ${mark(i)}  ${i.title.padEnd(width)}  [${who}] ${i.reason}`);
    if (i.status !== 'ok' && i.fix) lines.push(`  ${' '.repeat(7)}  ${' '.repeat(width)}  fix: ${i.fix}`);
  }
  lines.push('');
  for (const p of ['sgx', 'sim'] as const) {
    const s = report.platforms[p];
    const state = s.ready ? paint('32', 'ready') : paint('31', 'not ready');
    const detail = s.ready
      ? s.warnings.length
        ? ` (${s.warnings.length} warning${s.warnings.length > 1 ? 's' : ''})`
        : ''
      : `: missing ${s.blockers.map((id) => report.items.find((i) => i.id === id)!.title).join(', ')}`;
    lines.push(`${p}: ${state}${detail}`);
  }
  lines.push(`platform: ${r.platform} (${r.why})${r.ready ? '' : ' — not ready'}`);
  return lines.join('\n');
}
