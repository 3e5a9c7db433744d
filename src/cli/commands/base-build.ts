/**
 * `mse home base build`: build (or check) the local base image `mse-home-base:<VERSION>` that app
 * Dockerfiles build FROM. Reuses what is up to date; `--force` rebuilds the top layer, `--force-rootfs`
 * the Debian root filesystem too.
 */
import type { CommandSpec } from '../command.js';
import { stringOption } from '../command.js';
import { DockerEngine } from '../../docker/engine.js';
import { BASE_IMAGE, ensureBaseImage } from '../../docker/base-image.js';

const spec: CommandSpec = {
  name: 'base build',
  summary: `Build the local base image ${BASE_IMAGE} (Debian bookworm, Python, Node) if missing or stale`,
  description: `
Builds the base image every mse-home app uses (FROM ${BASE_IMAGE}) from Debian's archive: mmdebstrap makes a
minimal bookworm root filesystem with python3, Flask, FastAPI, uvicorn, cryptography, PyNaCl, Node.js and CA
certificates, which is imported into the Docker engine; a Dockerfile then adds mse-serve, mse-test, mse-run and
the enclave bootstrap. Needs root (mmdebstrap) and a running engine (scripts/setup-docker.sh).

An existing image is reused when the hash of its inputs (package list, archive, scripts, bootstrap) matches.
--snapshot pins the archive on snapshot.debian.org (reproducible rootfs; the host must reach it).`,
  options: {
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
  },
  examples: ['mse home base build', 'mse home base build --force --json'],
  async run(ctx) {
    const engine = DockerEngine.fromEnv(ctx.env);
    await engine.ping();
    const snapshot = stringOption(ctx.values, 'snapshot');
    const mirror = stringOption(ctx.values, 'mirror');
    const status = await ensureBaseImage(engine, ctx.log, {
      ...(ctx.values['force-rootfs'] ? { force: 'rootfs' as const } : ctx.values.force ? { force: true } : {}),
      ...(snapshot !== undefined ? { snapshot } : {}),
      ...(mirror !== undefined ? { mirror } : {}),
      env: ctx.env,
    });
    const mb = (status.size / 1e6).toFixed(0);
    if (status.built) ctx.log.success(`${status.ref} built (${mb} MB, ${status.id.slice(7, 19)})`);
    else ctx.log.success(`${status.ref} is up to date (${mb} MB, ${status.id.slice(7, 19)})`);
    if (ctx.json) {
      ctx.stdout.write(
        JSON.stringify({
          ok: true,
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
