/**
 * `mse home base build`: build (or check) the local base image `mse-home-base:<VERSION>` that app
 * Dockerfiles build FROM. Reuses what is up to date; `--force` rebuilds the top layer, `--force-rootfs`
 * the Debian root filesystem too. `--platform sgx` builds `mse-home-sgx-base:<VERSION>`: that image plus
 * Gramine from its repository, a folder of its packages, or an operator's image (src/sgx/base-image-build.ts).
 */
import type { CommandSpec, OptionValues } from '../command.js';
import { stringOption } from '../command.js';
import { DockerEngine } from '../../docker/engine.js';
import { BASE_IMAGE, ensureBaseImage, type BaseImageOptions } from '../../docker/base-image.js';
import { withCleanup } from '../../docker/cleanup.js';
import { UsageError } from '../../errors.js';
import { SGX_BASE_IMAGE } from '../../sgx/base-image.js';
import { GRAMINE_VERSION } from '../../sgx/gramine-paths.js';
import { DEFAULT_GRAMINE_SUITE, GRAMINE_REPOSITORY, GRAMINE_SUITES } from '../../sgx/gramine-source.js';

const GRAMINE_OPTIONS = [
  'gramine-debs',
  'gramine-image',
  'gramine-suite',
  'gramine-repo',
  'gramine-key',
  'gramine-fingerprint',
] as const;

function given(values: OptionValues, name: string): boolean {
  const v = values[name];
  return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
}

const spec: CommandSpec = {
  name: 'base build',
  summary: `Build the local base image ${BASE_IMAGE} (Debian bookworm, Python, Node), or with --platform sgx ${SGX_BASE_IMAGE} (plus Gramine ${GRAMINE_VERSION})`,
  description: `
Builds the base image every mse-home app uses (FROM ${BASE_IMAGE}) from Debian's archive: mmdebstrap makes a
minimal bookworm root filesystem with python3, Flask, FastAPI, uvicorn, cryptography, PyNaCl, Node.js and CA
certificates, which is imported into the Docker engine; a Dockerfile then adds mse-serve, mse-test, mse-run and
the enclave bootstrap. Needs root (mmdebstrap) and a running engine (scripts/setup-docker.sh).

An existing image is reused when the hash of its inputs (package list, archive, scripts, bootstrap) matches.
--snapshot pins the archive on snapshot.debian.org (reproducible rootfs; the host must reach it).

--platform sgx builds ${SGX_BASE_IMAGE}: the image above plus Gramine ${GRAMINE_VERSION} (the version mse-home
measures enclaves for) and mse-home's enclave launcher. Gramine comes from one of:
  - Gramine's apt repository (${GRAMINE_REPOSITORY}, suite ${DEFAULT_GRAMINE_SUITE} by default): its InRelease is
    checked with gpgv against a key pinned by fingerprint, the package index and the .deb against the SHA-256
    the signed metadata lists. The repository is probed first: unreachable, the command fails within seconds.
  - --gramine-debs DIR: the same files downloaded elsewhere (InRelease, Packages, the .deb, the repository key),
    checked the same way.
  - --gramine-image IMAGE: an image built FROM ${BASE_IMAGE} with Gramine ${GRAMINE_VERSION} installed at its
    packages' paths (checked: layers, paths, version).
No Intel package goes into the image: quotes come from the host's aesmd (see docs/sgx.md).`,
  options: {
    platform: {
      type: 'string',
      placeholder: 'sim|sgx',
      description: `Which base image: sim (${BASE_IMAGE}, default) or sgx (${SGX_BASE_IMAGE}).`,
    },
    force: { type: 'boolean', description: 'Rebuild the image even if it is up to date (reuses the rootfs).' },
    'force-rootfs': { type: 'boolean', description: 'Also rebuild the Debian root filesystem (runs mmdebstrap).' },
    snapshot: {
      type: 'string',
      placeholder: 'YYYYMMDDTHHMMSSZ',
      description: 'Use snapshot.debian.org at this time instead of deb.debian.org.',
    },
    mirror: {
      type: 'string',
      placeholder: 'URL',
      description: 'Debian mirror (default http://deb.debian.org/debian).',
    },
    'gramine-debs': {
      type: 'string',
      placeholder: 'DIR',
      description: "sgx: take Gramine from this folder (InRelease, Packages, the .deb, the repository's key).",
    },
    'gramine-image': {
      type: 'string',
      placeholder: 'IMAGE',
      description: `sgx: take Gramine from this local image (built FROM ${BASE_IMAGE}).`,
    },
    'gramine-suite': {
      type: 'string',
      placeholder: 'SUITE',
      description: `sgx: suite of Gramine's repository: ${GRAMINE_SUITES.join(' or ')} (default ${DEFAULT_GRAMINE_SUITE}).`,
    },
    'gramine-repo': {
      type: 'string',
      placeholder: 'URL',
      description: `sgx: a mirror of Gramine's repository (default ${GRAMINE_REPOSITORY}).`,
    },
    'gramine-key': {
      type: 'string',
      placeholder: 'FILE',
      description: "sgx: the repository's signing key (used only if its fingerprint is trusted).",
    },
    'gramine-fingerprint': {
      type: 'string',
      multiple: true,
      placeholder: 'FPR',
      description: 'sgx: also trust this full key fingerprint (one you checked; repeatable).',
    },
  },
  examples: [
    'mse home base build',
    'mse home base build --force --json',
    'mse home base build --platform sgx',
    'mse home base build --platform sgx --gramine-debs ./gramine-debs',
    'mse home base build --platform sgx --gramine-image my-gramine-base:1.9',
  ],
  async run(ctx) {
    const platform = stringOption(ctx.values, 'platform') ?? 'sim';
    if (platform !== 'sim' && platform !== 'sgx') {
      throw new UsageError('ERR_OPTION_VALUE', `--platform must be sim or sgx, got '${platform}'`);
    }
    const snapshot = stringOption(ctx.values, 'snapshot');
    const mirror = stringOption(ctx.values, 'mirror');
    const baseOptions: BaseImageOptions = {
      ...(snapshot !== undefined ? { snapshot } : {}),
      ...(mirror !== undefined ? { mirror } : {}),
      env: ctx.env,
    };
    if (platform === 'sim') {
      const stray = GRAMINE_OPTIONS.filter((o) => given(ctx.values, o));
      if (stray.length > 0) {
        throw new UsageError(
          'ERR_CONFLICTING_OPTIONS',
          `${stray.map((o) => `--${o}`).join(', ')} ${stray.length > 1 ? 'apply' : 'applies'} to --platform sgx only`,
        );
      }
    }
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();

    if (platform === 'sgx') {
      const { ensureSgxBaseImage } = await import('../../sgx/base-image-build.js');
      const fingerprints = ctx.values['gramine-fingerprint'];
      const debs = stringOption(ctx.values, 'gramine-debs');
      const image = stringOption(ctx.values, 'gramine-image');
      const suite = stringOption(ctx.values, 'gramine-suite');
      const repository = stringOption(ctx.values, 'gramine-repo');
      const keyFile = stringOption(ctx.values, 'gramine-key');
      const status = await withCleanup((scope) =>
        ensureSgxBaseImage(engine, ctx.log, {
          ...(debs !== undefined ? { debs } : {}),
          ...(image !== undefined ? { image } : {}),
          ...(suite !== undefined ? { suite } : {}),
          ...(repository !== undefined ? { repository } : {}),
          ...(keyFile !== undefined ? { keyFile } : {}),
          ...(Array.isArray(fingerprints) ? { keyFingerprints: fingerprints } : {}),
          force: Boolean(ctx.values.force || ctx.values['force-rootfs']),
          base: { ...baseOptions, ...(ctx.values['force-rootfs'] ? { force: 'rootfs' as const } : {}) },
          scope,
        }),
      );
      const mb = (status.size / 1e6).toFixed(0);
      const from =
        status.gramine.source.kind === 'image'
          ? `image ${status.gramine.source.image}`
          : `${status.gramine.source.location} (${status.gramine.source.suite}, signed by ${status.gramine.source.signedBy})`;
      ctx.log.success(
        `${status.ref} ${status.built ? 'built' : 'is up to date'} (${mb} MB, ${status.id.slice(7, 19)}): Gramine ${status.gramine.version} from ${from}`,
      );
      if (ctx.json) {
        ctx.stdout.write(
          JSON.stringify({
            ok: true,
            platform: 'sgx',
            image: status.ref,
            id: status.id,
            built: status.built,
            size: status.size,
            inputsHash: status.inputsHash,
            base: status.base,
            gramine: status.gramine,
          }) + '\n',
        );
      }
      return;
    }

    const status = await ensureBaseImage(engine, ctx.log, {
      ...(ctx.values['force-rootfs'] ? { force: 'rootfs' as const } : ctx.values.force ? { force: true } : {}),
      ...baseOptions,
    });
    const mb = (status.size / 1e6).toFixed(0);
    if (status.built) ctx.log.success(`${status.ref} built (${mb} MB, ${status.id.slice(7, 19)})`);
    else ctx.log.success(`${status.ref} is up to date (${mb} MB, ${status.id.slice(7, 19)})`);
    if (ctx.json) {
      ctx.stdout.write(
        JSON.stringify({
          ok: true,
          platform: 'sim',
          image: status.ref,
          id: status.id,
          built: status.built,
          rootfsBuilt: status.rootfsBuilt,
          size: status.size,
          inputsHash: status.inputsHash,
          bootstrapSha256: status.bootstrapSha256 ?? null,
          rootfs: status.rootfs,
        }) + '\n',
      );
    }
  },
};
export default spec;
