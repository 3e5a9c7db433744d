/**
 * `mse home measure`: an enclave's identity before it runs. `--manifest FILE --libpal FILE` is
 * `gramine-sgx-sign` without Python or Gramine: the manifest is finalized (defaults, trusted files hashed,
 * `file:` URIs relative to the manifest's folder), measured with the PAL, and optionally signed.
 *
 * `--package FILE --evidence FILE` (or the spawn options) is the MRENCLAVE an mse-home SGX package gets
 * when spawned with the evidence's input_args (the UUID among them, a credential: masked in output): our
 * enclave manifest over the package's image, code and arguments, finalized and measured natively from
 * image.tar (src/sgx/package-measurement.ts); with `--output DIR` the manifest, the final manifest, the
 * args file (0600) and the image's libpal are written there, all or none, so that Gramine's own
 * `gramine-sgx-sign` can reproduce the value (docs/measurement.md).
 */
import path from 'node:path';
import { maskArgv, parseEvidence, type Evidence } from '../../launch/evidence.js';
import { withCleanup } from '../../docker/cleanup.js';
import { UsageError } from '../../errors.js';
import { readUserFile, readUserText, writeFileAtomic, writeFilesAtomic, requireDirectory } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import {
  gramineSign,
  GRAMINE_SCHEMA_VERSION,
  HostFileSource,
  localSigstructDate,
  parseManifestToml,
  parsePalElf,
  validateManifest,
  sigstructDate,
  type EnclaveAttributes,
} from '../../gramine/index.js';
import { checkInputArgs, DEFAULT_SUBJECT, spawnArgsOfEvidence, type InputArgs } from '../../launch/args.js';
import { measureGramineImage, withPackageImage } from '../../sgx/package-measurement.js';
import { loadSignerKey } from '../../launch/signer.js';
import {
  integerOption,
  requiredString,
  requireOneOf,
  stringOption,
  type CommandContext,
  type CommandSpec,
} from '../command.js';
import { printJson } from '../output.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function sizeText(bytes: number): string {
  for (const [unit, scale] of [
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return `${bytes}`;
}

export interface MeasurementReport {
  mrenclave: Uint8Array;
  mrsigner?: Uint8Array;
  attributes: EnclaveAttributes;
  trustedFiles: number;
  outputManifest?: string;
  sigfile?: string;
  date?: string;
  /** More facts for `--json` (e.g. what `--package` read and wrote). */
  details?: Record<string, unknown>;
}

/** Print a measurement: `mrenclave`/`mrsigner` lines on stdout, or the JSON envelope with `--json`. */
export function reportMeasurement(ctx: CommandContext, r: MeasurementReport): void {
  const a = r.attributes;
  if (ctx.json) {
    printJson(ctx, {
      mrenclave: hex(r.mrenclave),
      ...(r.mrsigner ? { mrsigner: hex(r.mrsigner) } : {}),
      enclaveSize: a.enclaveSize,
      maxThreads: a.maxThreads,
      edmm: a.edmm,
      debug: a.debug,
      isvProdId: a.isvProdId,
      isvSvn: a.isvSvn,
      trustedFiles: r.trustedFiles,
      ...(r.outputManifest ? { outputManifest: r.outputManifest } : {}),
      ...(r.sigfile ? { sigfile: r.sigfile, date: r.date } : {}),
      ...r.details,
    });
    return;
  }
  ctx.log.info(
    `enclave: ${sizeText(a.enclaveSize)}, ${a.maxThreads} threads, EDMM ${a.edmm ? 'on' : 'off'}, ` +
      `${a.debug ? 'DEBUG' : 'production'}, ISV prod ID ${a.isvProdId}, SVN ${a.isvSvn}, ${r.trustedFiles} trusted files`,
  );
  ctx.stdout.write(`mrenclave: ${hex(r.mrenclave)}\n`);
  if (r.mrsigner) ctx.stdout.write(`mrsigner:  ${hex(r.mrsigner)}\n`);
}

/** An output must not replace an input or the other output. */
function checkOutputs(outputs: [string, string | undefined][], all: [string, string | undefined][]): void {
  for (const [flag, file] of outputs) {
    if (file === undefined) continue;
    const clash = all.find(([other, f]) => other !== flag && f !== undefined && path.resolve(f) === path.resolve(file));
    if (clash) {
      throw new UsageError('ERR_CONFLICTING_OPTIONS', `--${flag} and --${clash[0]} name the same file ${file}`, {
        hint: 'Write the final manifest and the SIGSTRUCT to files of their own.',
      });
    }
  }
}

async function measureManifest(ctx: CommandContext, manifestFile: string): Promise<void> {
  const libpalFile = stringOption(ctx.values, 'libpal');
  if (libpalFile === undefined) {
    throw new UsageError('ERR_MISSING_OPTION', 'missing --libpal for measure --manifest', {
      hint: 'Pass Gramine’s SGX PAL, e.g. --libpal /usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so.',
    });
  }
  const outputManifest = stringOption(ctx.values, 'output-manifest');
  const keyFile = stringOption(ctx.values, 'key');
  const sigfile = stringOption(ctx.values, 'sigfile');
  const dateOption = stringOption(ctx.values, 'date');
  if (keyFile === undefined && (sigfile !== undefined || dateOption !== undefined)) {
    throw new UsageError('ERR_MISSING_OPTION', `--${sigfile !== undefined ? 'sigfile' : 'date'} needs --key`, {
      hint: 'Give --key PEM to sign a SIGSTRUCT.',
    });
  }
  if (keyFile !== undefined && sigfile === undefined) {
    throw new UsageError('ERR_MISSING_OPTION', '--key needs --sigfile FILE (where the SIGSTRUCT goes)', {
      hint: 'Add --sigfile app.sig.',
    });
  }
  const outputs: [string, string | undefined][] = [
    ['output-manifest', outputManifest],
    ['sigfile', sigfile],
  ];
  checkOutputs(outputs, [['manifest', manifestFile], ['libpal', libpalFile], ['key', keyFile], ...outputs]);
  for (const out of [outputManifest, sigfile]) {
    if (out !== undefined) await requireDirectory(path.dirname(path.resolve(out)), 'output directory');
  }

  // Everything cheap is checked before files are hashed: key, PAL, then the manifest itself.
  const key = keyFile === undefined ? undefined : await loadSignerKey(keyFile);
  const date = keyFile === undefined ? undefined : (dateOption ?? localSigstructDate());
  if (date !== undefined) sigstructDate(date);
  const libpal = await readUserFile(libpalFile, 'libpal', INPUT_LIMITS.gramine);
  parsePalElf(libpal, libpalFile);
  const manifest = await readUserFile(manifestFile, 'Gramine manifest', INPUT_LIMITS.gramine);
  const source = new HostFileSource(path.dirname(path.resolve(manifestFile)));
  // Gramine's rules are reported, not enforced: the signer measures what it is given (see docs/sgx.md).
  const problems = validateManifest(parseManifestToml(manifest, manifestFile));
  for (const p of problems) ctx.log.warn(`manifest: ${p.message}${p.hint ? ` (${p.hint})` : ''}`);

  const done = ctx.log.phase('finalizing and measuring the manifest');
  const r = await gramineSign(manifest, source, libpal, { ...(key ? { key: key.privateKey, date } : {}) });
  const hashed = r.manifest.trustedFiles.filter((t) => t.hashed).length + (r.manifest.entrypoint.hashed ? 1 : 0);
  done(`${hashed} files hashed`);

  if (outputManifest !== undefined) {
    await writeFileAtomic(outputManifest, r.manifest.bytes);
    ctx.log.success(`final manifest written to ${outputManifest}`);
  }
  if (sigfile !== undefined && r.sigstruct) {
    await writeFileAtomic(sigfile, r.sigstruct);
    ctx.log.success(`SIGSTRUCT (date ${date}) written to ${sigfile}`);
  }
  reportMeasurement(ctx, {
    mrenclave: r.measurement.mrenclave,
    ...(r.mrsigner ? { mrsigner: r.mrsigner } : {}),
    attributes: r.manifest.attributes,
    trustedFiles: r.manifest.trustedFiles.length,
    ...(outputManifest ? { outputManifest } : {}),
    // --sigfile needs --key, which sets the date
    ...(sigfile && date !== undefined ? { sigfile, date } : {}),
    details: { gramineVersion: GRAMINE_SCHEMA_VERSION, manifestProblems: problems },
  });
}

/** Options of one mode that the other mode does not take. */
const MANIFEST_ONLY = ['libpal', 'output-manifest', 'key', 'date', 'sigfile'];
const SPAWN_ARGUMENTS = ['size', 'san', 'subject', 'app-id', 'expiration'];
const PACKAGE_ONLY = ['evidence', ...SPAWN_ARGUMENTS, 'output'];

function refuseOptions(ctx: CommandContext, names: string[], mode: string): void {
  const given = names.find((n) => ctx.values[n] !== undefined);
  if (given) {
    throw new UsageError('ERR_CONFLICTING_OPTIONS', `--${given} does not apply to measure ${mode}`, {
      hint: "Run 'mse home measure --help' for the options of each mode.",
    });
  }
}

/** Files `measure --package --output DIR` writes. */
export const PACKAGE_OUTPUTS = {
  manifest: 'enclave.manifest',
  finalManifest: 'enclave.manifest.sgx',
  args: 'args',
  libpal: 'libpal.so',
} as const;

/**
 * The spawn arguments of `measure --package`: evidence.json's input_args with `--evidence` (as verify
 * --package reads them; the UUID then never goes on a command line), else the spawn options, checked as
 * spawn checks them (before any spawn: the MRENCLAVE an enclave would get with that UUID).
 */
async function packageSpawnArgs(
  ctx: CommandContext,
): Promise<{ args: (application: string) => InputArgs; evidence?: Evidence }> {
  const evidenceFile = stringOption(ctx.values, 'evidence');
  if (evidenceFile !== undefined) {
    const given = SPAWN_ARGUMENTS.find((n) => ctx.values[n] !== undefined);
    if (given) {
      throw new UsageError('ERR_CONFLICTING_OPTIONS', `--${given} and --evidence both give the spawn arguments`, {
        hint: "With --evidence the spawn arguments are the evidence's input_args: drop the spawn options.",
      });
    }
    const evidence = parseEvidence(await readUserText(evidenceFile, 'evidence file', INPUT_LIMITS.evidence));
    const args = spawnArgsOfEvidence(evidence.inputArgs);
    return { args: () => args, evidence };
  }
  const need = (name: string): string => {
    const v = stringOption(ctx.values, name);
    if (v === undefined) {
      throw new UsageError('ERR_MISSING_OPTION', `missing --${name} for measure --package`, {
        hint:
          "MRENCLAVE covers every spawn argument: give the deployment's --evidence evidence.json, or --size, " +
          '--san, --app-id and --expiration (and --subject).',
      });
    }
    return v;
  };
  const size = integerOption(ctx.values, 'size', 1, 1 << 30) ?? Number(need('size'));
  const san = need('san');
  const appId = need('app-id');
  const expiration = integerOption(ctx.values, 'expiration', 1, 2 ** 40) ?? Number(need('expiration'));
  const subject = stringOption(ctx.values, 'subject') ?? DEFAULT_SUBJECT;
  return { args: (application) => checkInputArgs({ size, san, subject, appId, application, expiration }) };
}

async function measurePackageMode(ctx: CommandContext, packageFile: string): Promise<void> {
  const output = stringOption(ctx.values, 'output');
  if (output !== undefined) await requireDirectory(output, 'output directory');
  const started = performance.now();
  const spawnArgs = await packageSpawnArgs(ctx);
  // The image is measured through the descriptor the package was checked through (never reopened).
  const { pkg, m, seconds } = await withPackageImage(packageFile, async (pkg, image) => {
    const args = spawnArgs.args(pkg.config.pythonApplication);
    if (args.application !== pkg.config.pythonApplication) {
      ctx.log.warn(
        `input_args.application "${args.application}" is not the package's python_application ` +
          `"${pkg.config.pythonApplication}": verify --package rejects this evidence for this package`,
      );
    }
    if (spawnArgs.evidence?.platform === 'sim') {
      ctx.log.warn('the evidence is from the simulated platform: this is the MRENCLAVE the package gets on SGX');
    }
    const done = ctx.log.phase('reading the image, finalizing and measuring the enclave manifest');
    const m = await measureGramineImage(image, { files: pkg.appFiles, appTarSha256: pkg.appTarSha256 }, args);
    const seconds = (performance.now() - started) / 1000;
    const mbPerSecond = (m.stats.fileBytes + m.stats.layerBytes) / 1e6 / seconds;
    done(
      `${m.stats.filesHashed} files hashed (${(m.stats.fileBytes / 1e6).toFixed(1)} MB), ` +
        `${(m.stats.layerBytes / 1e6).toFixed(1)} MB of layers checked, ${mbPerSecond.toFixed(0)} MB/s`,
    );
    return { pkg, m, seconds };
  });

  const written: Record<string, string> = {};
  if (output !== undefined) {
    const contents: Record<keyof typeof PACKAGE_OUTPUTS, { data: Uint8Array | string; mode?: number }> = {
      manifest: { data: m.enclave.text },
      finalManifest: { data: m.final.bytes },
      // the enclave's argv, with the deployment UUID: the operator's only (as evidence.json)
      args: { data: m.enclave.argsFile, mode: 0o600 },
      libpal: { data: m.libpal },
    };
    const files = (Object.entries(PACKAGE_OUTPUTS) as [keyof typeof PACKAGE_OUTPUTS, string][]).map(([key, name]) => {
      written[key] = path.join(output, name);
      return { file: written[key], ...contents[key] };
    });
    // All four or none: staged, renamed at the end, undone on a failure or an interrupt.
    await withCleanup(async (scope) => writeFilesAtomic(files, scope));
    ctx.log.success(`manifest, final manifest, args file (mode 0600) and libpal written to ${output}`);
  }
  reportMeasurement(ctx, {
    mrenclave: m.mrenclave,
    attributes: m.final.attributes,
    trustedFiles: m.stats.trustedFiles,
    details: {
      template: m.enclave.version,
      imageConfigDigest: pkg.imageConfigDigest,
      // the UUID is a credential: masked here, whole in evidence.json and in OUTPUT/args
      args: maskArgv(m.enclave.argv),
      filesHashed: m.stats.filesHashed,
      bytesHashed: m.stats.fileBytes,
      layerBytesChecked: m.stats.layerBytes,
      seconds: Number(seconds.toFixed(3)),
      ...(output !== undefined ? { written } : {}),
    },
  });
}

const spec: CommandSpec = {
  name: 'measure',
  summary: "Compute an enclave's MRENCLAVE: of an SGX package before spawn, or of a Gramine manifest and libpal",
  description: `--package FILE computes the MRENCLAVE the package gets on SGX when spawned with the given spawn
arguments, from the package alone (no Docker, no Gramine): mse-home's enclave manifest for the package's
image, code and arguments, finalized over image.tar (every layer checked against the image config) and
measured with the image's Gramine PAL. The arguments are the input_args of --evidence FILE (a
deployment's evidence.json: the value verify --package compares with the quote; the deployment UUID, a
credential, then stays off the command line), or --size, --san, --app-id, --expiration and --subject
(default as spawn's). The UUID is shown masked. --output DIR writes enclave.manifest, enclave.manifest.sgx
(the final manifest), args (mode 0600: it holds the UUID) and libpal.so there, all four or none, for
Gramine's own gramine-sgx-sign to reproduce the value (docs/measurement.md).

--manifest FILE --libpal FILE does what Gramine's gramine-sgx-sign does, with no Python and no
Gramine: the manifest is finalized (Gramine's defaults, loader.entrypoint and every trusted file hashed,
directories expanded), written with --output-manifest exactly as Gramine writes it, and measured with the
PAL. file: URIs that are relative are resolved from the manifest's folder; absolute ones are host paths.
With --key (RSA-3072, public exponent 3), the SIGSTRUCT is signed and written to --sigfile, dated --date
(default: today). MRENCLAVE (and MRSIGNER) are printed on stdout. The manifest is also checked against
Gramine 1.9's manifest rules (unknown, removed or mistyped keys, conflicting settings): each problem is
reported as a warning (and in --json as manifestProblems), and the manifest is measured all the same, as
gramine-sgx-sign would. See docs/measurement.md and docs/sgx.md.`,
  options: {
    package: { type: 'string', placeholder: 'FILE', description: 'An mse-home package built FROM the SGX base image' },
    evidence: {
      type: 'string',
      placeholder: 'FILE',
      description: "--package: the deployment's evidence.json, whose input_args are the spawn arguments",
    },
    size: { type: 'string', placeholder: 'MiB', description: '--package: enclave size, as given to spawn' },
    san: { type: 'string', placeholder: 'NAME', description: '--package: certificate SAN, as given to spawn' },
    subject: { type: 'string', placeholder: 'DN', description: `--package: certificate subject (default: spawn's)` },
    'app-id': {
      type: 'string',
      placeholder: 'UUID',
      description: '--package: the deployment UUID (input_args.app_id); prefer --evidence',
    },
    expiration: {
      type: 'string',
      placeholder: 'UNIX',
      description: '--package: certificate expiry, Unix seconds (input_args.expiration_date)',
    },
    output: { type: 'string', placeholder: 'DIR', description: '--package: write the manifests, args and libpal here' },
    manifest: { type: 'string', placeholder: 'FILE', description: 'Gramine manifest (TOML, already rendered)' },
    libpal: { type: 'string', placeholder: 'FILE', description: 'Gramine’s SGX PAL, libpal.so' },
    'output-manifest': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Write the final manifest (.manifest.sgx) here',
    },
    key: { type: 'string', placeholder: 'PEM', description: 'Enclave signing key: also sign a SIGSTRUCT' },
    date: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'SIGSTRUCT date (with --key; default today)' },
    sigfile: { type: 'string', placeholder: 'FILE', description: 'Write the SIGSTRUCT here (with --key)' },
  },
  examples: [
    'mse home measure --package package_my_app_1700000000.tar --evidence evidence.json --output audit',
    'mse home measure --package package_my_app_1700000000.tar --size 4096 --san app.example.com --app-id 63322f85-1ff8-4483-91ae-f18d7398d157 --expiration 1735689600',
    'mse home measure --manifest app.manifest --libpal /usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so',
    'mse home measure --manifest app.manifest --libpal libpal.so --output-manifest app.manifest.sgx --key enclave-key.pem --date 2025-01-15 --sigfile app.sig --json',
  ],
  async run(ctx) {
    const mode = requireOneOf(ctx.values, ['manifest', 'package']);
    if (mode === 'package') {
      refuseOptions(ctx, MANIFEST_ONLY, '--package');
      await measurePackageMode(ctx, requiredString(ctx.values, 'package'));
      return;
    }
    refuseOptions(ctx, PACKAGE_ONLY, '--manifest');
    await measureManifest(ctx, requiredString(ctx.values, 'manifest'));
  },
};
export default spec;
