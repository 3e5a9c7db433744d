/**
 * Host readiness for the two platforms, as a pure function of a snapshot of host facts.
 *
 * {@link checkHost} turns {@link HostFacts} (gathered by `host-facts.ts`, or written by hand in tests) into a
 * {@link HostReport}: one {@link CheckItem} per thing the sgx or sim platform needs (CPU SGX and FLC, SGX
 * device nodes, aesmd, the DCAP quote provider configuration, the PCCS, the Docker engine, base images, the
 * operator's signer key), each `ok`, `warning` or `missing` with a one-line reason and a fix, and a summary
 * per platform. {@link platformReadiness} picks the platform a deployment uses: the one asked for, else sgx
 * where the host is ready for it, else sim only where the host has no SGX device at all. A host with SGX
 * devices that is not ready for sgx never falls back to sim silently: {@link platformUnavailableError}
 * points at `mse home doctor`.
 */
import type { Platform } from '../launch/layout.js';
import { StateError } from '../errors.js';
import type { PccsTarget, QcnlConfig } from '../pccs/config.js';

/** Device nodes an SGX driver creates. The in-kernel driver (Linux ≥ 5.11) makes the first two. */
export const SGX_DEVICES = {
  enclave: '/dev/sgx_enclave',
  provision: '/dev/sgx_provision',
  /** Out-of-tree DCAP driver (and udev symlinks of some distributions). */
  legacyEnclave: '/dev/sgx/enclave',
  legacyProvision: '/dev/sgx/provision',
  /** Out-of-tree "isgx" driver of the pre-FLC (EPID) era. */
  isgx: '/dev/isgx',
} as const;
export type SgxDevice = keyof typeof SGX_DEVICES;

/** aesmd's socket (Intel's architectural enclave service: the quoting enclaves run behind it). */
export const AESMD_SOCKET = '/var/run/aesmd/aesm.socket';
export const CPUINFO_FILE = '/proc/cpuinfo';
export const KERNEL_RELEASE_FILE = '/proc/sys/kernel/osrelease';
/** Where the operator documentation of this report lives. */
export const DOCTOR_DOC = 'docs/sgx.md#host-readiness-mse-home-doctor';

/** What a path is, after following symlinks. */
export type NodeKind = 'character-device' | 'block-device' | 'socket' | 'file' | 'directory' | 'fifo' | 'other';

/** A failure recorded as data (the code and text of an MseError or an errno). */
export interface ErrorFact {
  code: string;
  message: string;
  hint?: string;
}

export type { PccsTarget };

export type PccsProbe = { ok: true; ms: number; endpoints: string[] } | { ok: false; ms: number; error: ErrorFact };

export type SignerKeyFact =
  | { path: string; state: 'absent' }
  | { path: string; state: 'valid'; mrsigner: string; mode: number }
  | { path: string; state: 'invalid'; error: ErrorFact };

/** A snapshot of everything the checks look at. Plain data: tests write it by hand or from fixture trees. */
export interface HostFacts {
  /** `/proc/cpuinfo`'s text, or why it could not be read. */
  cpuinfo: { text: string } | { error: ErrorFact };
  /** `/proc/sys/kernel/osrelease`, when readable. */
  kernelRelease?: string;
  /** The kind of each SGX device node that exists (absent key: no such node). */
  devices: Partial<Record<SgxDevice, NodeKind>>;
  aesmd: {
    path: string;
    /** Absent: no such node. */
    kind?: NodeKind;
    /** Result of connecting to it (only tried on a socket). */
    connect?: { ok: true } | { ok: false; error: ErrorFact };
  };
  /** The DCAP quote provider configuration, read with the project's QCNL reader. */
  qcnl: { path: string; config?: QcnlConfig; error?: ErrorFact };
  /** The PCCS probed (none when no URL is known) and the probe's result. */
  pccs: { target?: PccsTarget; probe?: PccsProbe };
  docker:
    | { ok: true; endpoint: string; version: string; apiVersion: string }
    | { ok: false; endpoint: string; error: ErrorFact };
  /** The base image of each platform; `present` is undefined when the engine could not be asked. */
  images: { platform: Platform; ref: string; present?: boolean; id?: string }[];
  signerKey: SignerKeyFact;
}

export type CheckStatus = 'ok' | 'warning' | 'missing';

export type CheckId =
  | 'cpu-sgx'
  | 'cpu-flc'
  | 'sgx-enclave-device'
  | 'sgx-provision-device'
  | 'aesmd'
  | 'qcnl'
  | 'pccs'
  | 'docker'
  | 'base-image-sim'
  | 'base-image-sgx'
  | 'signer-key';

export interface CheckItem {
  /** Stable identifier (JSON, scripts). */
  id: CheckId;
  title: string;
  status: CheckStatus;
  /** One line: what was found and why it matters. */
  reason: string;
  /** What to do about it (a command or a doc link); empty when there is nothing to do. */
  fix: string;
  /** The platforms this item concerns: a `missing` item makes each of them not ready. */
  platforms: Platform[];
}

export interface PlatformSummary {
  platform: Platform;
  ready: boolean;
  /** The `missing` items that make it not ready. */
  blockers: CheckId[];
  /** `<title>: <reason>` of each blocker. */
  reasons: string[];
  /** `<title>: <reason>` of each warning that concerns it. */
  warnings: string[];
}

export interface HostReport {
  items: CheckItem[];
  platforms: Record<Platform, PlatformSummary>;
  /** Some SGX device node exists (in-kernel or legacy driver): the host is meant for sgx. */
  sgxDevicePresent: boolean;
}

const BOTH: Platform[] = ['sgx', 'sim'];
const SGX: Platform[] = ['sgx'];
const KERNEL_FIX = 'boot Linux ≥ 5.11 built with CONFIG_X86_SGX=y (the in-kernel SGX driver)';

/** The flags every processor in `/proc/cpuinfo` reports (intersection), and the CPU vendor. */
export function parseCpuinfo(text: string): { vendor?: string; flags?: Set<string> } {
  let flags: Set<string> | undefined;
  let vendor: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'vendor_id') vendor ??= value.trim();
    else if (key === 'flags') {
      const here = new Set(value.split(/\s+/).filter(Boolean));
      // Conservative: a flag counts only if every processor reports it.
      flags = flags ? new Set([...flags].filter((f) => here.has(f))) : here;
    }
  }
  return { ...(vendor ? { vendor } : {}), ...(flags ? { flags } : {}) };
}

/** `[major, minor]` of a kernel release string such as `6.1.0-18-amd64`, or undefined. */
export function kernelVersion(release: string | undefined): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function kernelPredatesSgx(release: string | undefined): boolean {
  const v = kernelVersion(release);
  return v !== undefined && (v[0] < 5 || (v[0] === 5 && v[1] < 11));
}

function describeKind(kind: NodeKind): string {
  return kind.replace('-', ' ');
}

function item(
  id: CheckId,
  title: string,
  platforms: Platform[],
  status: CheckStatus,
  reason: string,
  fix = '',
): CheckItem {
  return { id, title, status, reason, fix, platforms };
}

function cpuItems(facts: HostFacts): CheckItem[] {
  if ('error' in facts.cpuinfo) {
    const why = `cannot read ${CPUINFO_FILE}: ${facts.cpuinfo.error.message}`;
    const fix = 'Run `mse home doctor` on the Linux host itself, with /proc mounted.';
    return [
      item('cpu-sgx', 'CPU SGX', SGX, 'missing', why, fix),
      item('cpu-flc', 'CPU Flexible Launch Control', SGX, 'missing', why, fix),
    ];
  }
  const { vendor, flags } = parseCpuinfo(facts.cpuinfo.text);
  const elsewhere = 'run sgx deployments on an Intel host with SGX and FLC; on this host use --platform sim';
  if (!flags) {
    const why = `${CPUINFO_FILE} lists no x86 CPU flags: not an x86 CPU, so no SGX`;
    return [
      item('cpu-sgx', 'CPU SGX', SGX, 'missing', why, cap(elsewhere) + '.'),
      item('cpu-flc', 'CPU Flexible Launch Control', SGX, 'missing', 'no SGX, hence no FLC', cap(elsewhere) + '.'),
    ];
  }
  const kernel = facts.kernelRelease ? ` (kernel ${facts.kernelRelease})` : '';
  let sgx: CheckItem;
  if (flags.has('sgx')) {
    sgx = item('cpu-sgx', 'CPU SGX', SGX, 'ok', `the CPU reports SGX, enabled (cpuinfo flag sgx)${kernel}`);
  } else if (vendor !== undefined && vendor !== 'GenuineIntel') {
    sgx = item(
      'cpu-sgx',
      'CPU SGX',
      SGX,
      'missing',
      `${vendor} CPU: SGX is an Intel technology (no sgx flag in ${CPUINFO_FILE})`,
      cap(elsewhere) + '.',
    );
  } else if (flags.has('hypervisor')) {
    sgx = item(
      'cpu-sgx',
      'CPU SGX',
      SGX,
      'missing',
      `no sgx flag in ${CPUINFO_FILE}: this is a virtual machine (cpuinfo flag hypervisor) whose hypervisor does not expose SGX${kernel}`,
      'Use a VM type whose hypervisor exposes SGX (with EPC memory), or a bare-metal SGX host; on this host use --platform sim.',
    );
  } else {
    const old = kernelPredatesSgx(facts.kernelRelease);
    sgx = item(
      'cpu-sgx',
      'CPU SGX',
      SGX,
      'missing',
      old
        ? `no sgx flag in ${CPUINFO_FILE}: kernel ${facts.kernelRelease} predates 5.11, which added SGX support`
        : `no sgx flag in ${CPUINFO_FILE}: this CPU has no SGX, or SGX is disabled in the BIOS/UEFI${kernel}`,
      old
        ? `${cap(KERNEL_FIX)}.`
        : 'Enable SGX in the BIOS/UEFI ("Enabled", not "Software Controlled"), or use a CPU with SGX; check with `grep -ow sgx /proc/cpuinfo`.',
    );
  }
  let flc: CheckItem;
  if (flags.has('sgx_lc')) {
    flc = item(
      'cpu-flc',
      'CPU Flexible Launch Control',
      SGX,
      'ok',
      'FLC available (cpuinfo flag sgx_lc): the kernel may launch enclaves signed with the operator’s own key',
    );
  } else if (!flags.has('sgx')) {
    flc = item(
      'cpu-flc',
      'CPU Flexible Launch Control',
      SGX,
      'missing',
      'no SGX, hence no Flexible Launch Control (no sgx_lc flag)',
      'See CPU SGX above.',
    );
  } else {
    flc = item(
      'cpu-flc',
      'CPU Flexible Launch Control',
      SGX,
      'missing',
      'SGX without Flexible Launch Control (no sgx_lc flag): Linux’s SGX driver and DCAP attestation need FLC, which lets the kernel (not Intel’s launch enclave) accept enclaves signed with the operator’s own key',
      'Enable "SGX Launch Control" / "Flexible Launch Control" (unlocked) in the BIOS/UEFI; a CPU without FLC cannot run the sgx platform (use another host, or --platform sim).',
    );
  }
  return [sgx, flc];
}

function deviceItem(facts: HostFacts, which: 'enclave' | 'provision'): CheckItem {
  const id = which === 'enclave' ? 'sgx-enclave-device' : 'sgx-provision-device';
  const node = SGX_DEVICES[which];
  const legacy = which === 'enclave' ? SGX_DEVICES.legacyEnclave : SGX_DEVICES.legacyProvision;
  const title = node;
  const role =
    which === 'enclave'
      ? 'Gramine creates and runs the enclave through it'
      : 'aesmd’s provisioning and quoting enclaves need it for DCAP quotes';
  const kind = facts.devices[which];
  if (kind === 'character-device') return item(id, title, SGX, 'ok', `present (character device): ${role}`);
  if (kind !== undefined) {
    return item(
      id,
      title,
      SGX,
      'missing',
      `${node} exists but is a ${describeKind(kind)}, not a character device`,
      `Remove it and ${KERNEL_FIX}; the driver creates the node.`,
    );
  }
  const kernel = facts.kernelRelease ? ` (kernel ${facts.kernelRelease})` : '';
  const removeLegacy = `${cap(KERNEL_FIX)} and unload the out-of-tree driver.`;
  if (facts.devices[which === 'enclave' ? 'legacyEnclave' : 'legacyProvision'] !== undefined) {
    return item(
      id,
      title,
      SGX,
      'missing',
      `only the legacy out-of-tree DCAP driver’s ${legacy} exists${kernel}: mse-home passes the in-kernel driver’s ${node} to the enclave container`,
      removeLegacy,
    );
  }
  if (facts.devices.isgx !== undefined) {
    return item(
      id,
      title,
      SGX,
      'missing',
      `only ${SGX_DEVICES.isgx} exists: the legacy out-of-tree driver of the pre-FLC era, which Gramine and DCAP do not use${kernel}`,
      removeLegacy,
    );
  }
  if (which === 'provision' && facts.devices.enclave !== undefined) {
    return item(
      id,
      title,
      SGX,
      'missing',
      `absent although ${SGX_DEVICES.enclave} exists: ${role}`,
      'The in-kernel driver creates both nodes: check udev rules, and when running inside a container pass both (--device /dev/sgx_enclave --device /dev/sgx_provision).',
    );
  }
  const old = kernelPredatesSgx(facts.kernelRelease);
  return item(
    id,
    title,
    SGX,
    'missing',
    old
      ? `absent: kernel ${facts.kernelRelease} predates the in-kernel SGX driver (5.11)`
      : `absent: no SGX driver is loaded (no SGX or FLC on this CPU, SGX disabled in the BIOS, or a kernel without CONFIG_X86_SGX)${kernel}`,
    `${cap(KERNEL_FIX)} on a CPU with SGX and FLC enabled; check with \`ls -l ${node}\`.`,
  );
}

function aesmdItem(facts: HostFacts): CheckItem {
  const { path, kind, connect } = facts.aesmd;
  const title = 'aesmd (quoting enclave service)';
  const install =
    'Install Intel’s sgx-aesm-service with libsgx-aesm-ecdsa-plugin, libsgx-aesm-quote-ex-plugin and libsgx-dcap-default-qpl, then start aesmd (systemctl start aesmd); see docs/sgx.md.';
  if (kind === undefined) {
    return item(
      'aesmd',
      title,
      SGX,
      'missing',
      `no socket at ${path}: aesmd, whose quoting enclave signs DCAP quotes, is not running`,
      install,
    );
  }
  if (kind !== 'socket') {
    return item('aesmd', title, SGX, 'missing', `${path} is a ${describeKind(kind)}, not a socket`, install);
  }
  if (!connect || connect.ok) {
    return item(
      'aesmd',
      title,
      SGX,
      'ok',
      `aesmd accepts connections at ${path} (mounted into sgx enclave containers)`,
    );
  }
  const e = connect.error;
  if (e.code === 'ECONNREFUSED') {
    return item(
      'aesmd',
      title,
      SGX,
      'missing',
      `${path} exists but nothing listens on it: aesmd has stopped (stale socket)`,
      'Restart aesmd (systemctl restart aesmd) and read its log (journalctl -u aesmd).',
    );
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return item(
      'aesmd',
      title,
      SGX,
      'missing',
      `permission denied connecting to ${path}`,
      'Run as root or as a member of the group that owns /var/run/aesmd.',
    );
  }
  return item(
    'aesmd',
    title,
    SGX,
    'missing',
    `cannot connect to ${path}: ${e.message}`,
    'Restart aesmd (systemctl restart aesmd) and read its log (journalctl -u aesmd).',
  );
}

function qcnlItem(facts: HostFacts): CheckItem {
  const { path, config, error } = facts.qcnl;
  const title = 'DCAP quote provider config';
  const setUrl = `Set "pccs_url" in ${path} to your PCCS (https://HOST:8081/sgx/certification/v4/).`;
  if (error || !config) {
    if (error?.code === 'ERR_FILE_NOT_FOUND') {
      return item(
        'qcnl',
        title,
        SGX,
        'missing',
        `no ${path}: Intel’s DCAP quote provider library (libsgx-dcap-default-qpl) is not installed or not configured`,
        `Install libsgx-dcap-default-qpl from Intel’s SGX repository, then ${setUrl.charAt(0).toLowerCase()}${setUrl.slice(1)}`,
      );
    }
    return item(
      'qcnl',
      title,
      SGX,
      'missing',
      error?.message ?? `${path} could not be read`,
      error?.hint || `Fix ${path} (JSON with comments).`,
    );
  }
  if (!config.pccsUrl) {
    return item(
      'qcnl',
      title,
      SGX,
      'missing',
      `${path} has no pccs_url: the quote provider has no PCCS to fetch PCK certificates from`,
      setUrl,
    );
  }
  const extra = config.collateralService ? `; collateral_service ${config.collateralService}` : '';
  if (config.pccsUrl.startsWith('http:')) {
    return item(
      'qcnl',
      title,
      SGX,
      'warning',
      `pccs_url ${config.pccsUrl} is plain http: anyone on the network path can impersonate the PCCS (collateral stays Intel-signed, but stale CRLs and TCB info, or refusals, can be served)${extra}`,
      'Serve the PCCS over https and set "pccs_url" to its https URL.',
    );
  }
  if (!config.useSecureCert) {
    return item(
      'qcnl',
      title,
      SGX,
      'warning',
      `insecure TLS to the PCCS: "use_secure_cert": false, so ${config.pccsUrl}’s certificate is not verified and anyone on the network path can impersonate it (collateral stays Intel-signed, but stale CRLs and TCB info, or refusals, can be served)${extra}`,
      `Install the PCCS’s CA certificate on this host and set "use_secure_cert": true in ${path}.`,
    );
  }
  return item('qcnl', title, SGX, 'ok', `pccs_url ${config.pccsUrl}, TLS certificate verified${extra}`);
}

function pccsItem(facts: HostFacts): CheckItem {
  const title = 'PCCS reachable';
  const { target, probe } = facts.pccs;
  if (!target) {
    return item(
      'pccs',
      title,
      SGX,
      'missing',
      'no PCCS URL to probe (no --pccs, no pccs_url in the quote provider config): quotes and evidence need collateral from a PCCS',
      'Run a PCCS (Intel’s sgx-dcap-pccs with a PCS API key, or your cloud’s) and set "pccs_url", or pass --pccs URL.',
    );
  }
  if (!probe) return item('pccs', title, SGX, 'missing', `${target.url} was not probed`, 'Rerun `mse home doctor`.');
  const tls = target.secureCert ? '' : ', TLS not verified';
  if (probe.ok) {
    return item(
      'pccs',
      title,
      SGX,
      'ok',
      `${target.url} (${target.from}) answered ${probe.endpoints.join(' and ')} in ${Math.round(probe.ms)} ms${tls}`,
    );
  }
  return item(
    'pccs',
    title,
    SGX,
    'missing',
    `${target.url} (${target.from}): ${probe.error.message}`,
    probe.error.hint || 'Check that the PCCS runs and that this host reaches it.',
  );
}

function dockerItem(facts: HostFacts): CheckItem {
  const d = facts.docker;
  if (d.ok) return item('docker', 'Docker engine', BOTH, 'ok', `${d.version} (API ${d.apiVersion}) at ${d.endpoint}`);
  return item(
    'docker',
    'Docker engine',
    BOTH,
    'missing',
    d.error.message,
    d.error.hint || 'Start a Docker engine (scripts/setup-docker.sh).',
  );
}

function imageItem(facts: HostFacts, platform: Platform): CheckItem {
  const id = platform === 'sim' ? 'base-image-sim' : 'base-image-sgx';
  const title = `base image (${platform})`;
  const image = facts.images.find((i) => i.platform === platform);
  if (!image) return item(id, title, [platform], 'warning', 'not checked', 'Rerun `mse home doctor`.');
  const { ref } = image;
  const what = `needed to build and package ${platform === 'sgx' ? 'Gramine ' : ''}apps (localtest, package); spawn runs the package’s own image`;
  if (image.present === undefined) {
    return item(
      id,
      title,
      [platform],
      'warning',
      `${ref} not checked (no Docker engine): ${what}`,
      'See Docker engine.',
    );
  }
  if (image.present) {
    return item(id, title, [platform], 'ok', `${ref} present${image.id ? ` (${image.id.slice(7, 19)})` : ''}`);
  }
  const fix =
    platform === 'sim'
      ? 'mse home base build'
      : 'mse home base build --platform sgx (needs Gramine’s repository, or --gramine-debs / --gramine-image: docs/sgx.md#the-sgx-base-image)';
  return item(id, title, [platform], 'warning', `${ref} absent: ${what}`, fix);
}

function signerItem(facts: HostFacts): CheckItem {
  const k = facts.signerKey;
  const title = 'operator signer key';
  if (k.state === 'absent') {
    return item(
      'signer-key',
      title,
      BOTH,
      'ok',
      `${k.path} does not exist yet: spawn creates it (RSA-3072, e=3, mode 0600)`,
    );
  }
  if (k.state === 'invalid') {
    return item(
      'signer-key',
      title,
      BOTH,
      'missing',
      k.error.message,
      k.error.hint || `Fix ${k.path} or pass another --signer-key.`,
    );
  }
  if ((k.mode & 0o077) !== 0) {
    return item(
      'signer-key',
      title,
      BOTH,
      'warning',
      `${k.path} (MRSIGNER ${k.mrsigner.slice(0, 16)}…) is accessible to other users (mode ${(k.mode & 0o777).toString(8).padStart(4, '0')}): whoever reads it can sign enclaves under this MRSIGNER`,
      `chmod 600 ${k.path}`,
    );
  }
  return item('signer-key', title, BOTH, 'ok', `${k.path}: RSA-3072 e=3, MRSIGNER ${k.mrsigner}`);
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function summary(items: CheckItem[], platform: Platform): PlatformSummary {
  const concerns = items.filter((i) => i.platforms.includes(platform));
  const blocking = concerns.filter((i) => i.status === 'missing');
  return {
    platform,
    ready: blocking.length === 0,
    blockers: blocking.map((i) => i.id),
    reasons: blocking.map((i) => `${i.title}: ${i.reason}`),
    warnings: concerns.filter((i) => i.status === 'warning').map((i) => `${i.title}: ${i.reason}`),
  };
}

/** Pure: the readiness report for a snapshot of host facts. */
export function checkHost(facts: HostFacts): HostReport {
  const items = [
    ...cpuItems(facts),
    deviceItem(facts, 'enclave'),
    deviceItem(facts, 'provision'),
    aesmdItem(facts),
    qcnlItem(facts),
    pccsItem(facts),
    dockerItem(facts),
    imageItem(facts, 'sim'),
    imageItem(facts, 'sgx'),
    signerItem(facts),
  ];
  return {
    items,
    platforms: { sgx: summary(items, 'sgx'), sim: summary(items, 'sim') },
    sgxDevicePresent: Object.values(facts.devices).some((k) => k !== undefined),
  };
}

/** The platform a deployment uses, and whether the host can run it. */
export interface PlatformReadiness {
  platform: Platform;
  ready: boolean;
  /** Why it is not ready (`<item>: <reason>`); empty when ready. */
  reasons: string[];
  /**
   * How it was chosen: asked for; sgx because the host is ready for it; sim because the host has no SGX
   * device; or sgx (not ready) because the host has SGX devices but is misconfigured.
   */
  choice: 'requested' | 'sgx-ready' | 'no-sgx-device' | 'sgx-misconfigured';
  /** One line for logs: `platform: sim (no SGX device on this host)`. */
  why: string;
}

/**
 * Pure: the platform to use. `requested` wins (ready or not). Without it: sgx when the host is ready for
 * sgx; sim only when the host has no SGX device node at all (the documented default); a host with SGX
 * devices that is not ready gets sgx, not ready, so the caller reports what to fix instead of silently
 * running a simulated enclave.
 */
export function platformReadiness(report: HostReport, requested?: Platform): PlatformReadiness {
  const of = (p: Platform) => ({ platform: p, ready: report.platforms[p].ready, reasons: report.platforms[p].reasons });
  if (requested) return { ...of(requested), choice: 'requested', why: `--platform ${requested}` };
  if (report.platforms.sgx.ready) return { ...of('sgx'), choice: 'sgx-ready', why: 'the host is ready for sgx' };
  if (!report.sgxDevicePresent) {
    return {
      ...of('sim'),
      choice: 'no-sgx-device',
      why: 'no SGX device on this host: sim is the default',
    };
  }
  return {
    ...of('sgx'),
    choice: 'sgx-misconfigured',
    why: 'this host has SGX devices but is not ready for sgx',
  };
}

/**
 * The error for a platform that is not ready: `ERR_SGX_UNAVAILABLE` or `ERR_SIM_UNAVAILABLE` (a
 * {@link StateError}, exit 7), naming the missing items and pointing at `mse home doctor`.
 */
export function platformUnavailableError(r: PlatformReadiness, report: HostReport): StateError {
  const missing = report.platforms[r.platform].blockers
    .map((id) => report.items.find((i) => i.id === id)!.title)
    .join(', ');
  const doctor = `Run 'mse home doctor --platform ${r.platform}' for each item's reason and fix (${DOCTOR_DOC})`;
  if (r.platform === 'sim') {
    return new StateError('ERR_SIM_UNAVAILABLE', `the sim platform is not ready on this host: missing ${missing}`, {
      hint: `${doctor}.`,
    });
  }
  const message =
    r.choice === 'sgx-misconfigured'
      ? `this host has SGX devices but is not ready for sgx: missing ${missing}`
      : `the sgx platform is not ready on this host: missing ${missing}`;
  const alternative =
    r.choice === 'sgx-misconfigured'
      ? '; mse-home does not fall back to sim on a host with SGX devices: pass --platform sim to run a simulated enclave on purpose'
      : report.sgxDevicePresent
        ? ''
        : '; on a host without SGX, --platform sim runs a simulated enclave (no protection against this host)';
  return new StateError('ERR_SGX_UNAVAILABLE', message, { hint: `${doctor}${alternative}.` });
}
