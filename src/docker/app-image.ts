/**
 * Building a project's image from its Dockerfile (used by `package` and `localtest`).
 *
 * The build context is the Dockerfile's directory, sent as a deterministic tar (see `context.ts`). When
 * the Dockerfile builds FROM this version's base image, that image is built first if missing or stale;
 * FROM another `mse-home-base` version that is not present gets a clear error instead of a failed pull.
 */
import type { Logger } from '../base/log.js';
import { DockerError } from '../errors.js';
import { readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { BASE_IMAGE, BASE_IMAGE_REPO, ensureBaseImage, type BaseImageOptions } from './base-image.js';
import { directoryContext } from './context.js';
import type { CleanupScope } from './cleanup.js';
import type { BuildResult, DockerEngine } from './engine.js';

/** Docker repository name for an app name: lowercase, separators Docker accepts. */
export function imageRepository(name: string): string {
  const lower = name.toLowerCase();
  if (/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(lower)) return lower;
  const cleaned = lower
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[._-]{2,}/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '');
  return cleaned || 'app';
}

/** Images named in FROM lines (build args left unexpanded). */
export function fromImages(dockerfile: string): string[] {
  return fromLines(dockerfile).map((f) => f.image);
}

/** FROM lines: the image and the stage name (`AS name`). Continuation lines joined, comments dropped. */
function fromLines(dockerfile: string): { image: string; stage?: string }[] {
  const out: { image: string; stage?: string }[] = [];
  const text = dockerfile.replace(/\\\r?\n/g, ' ');
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (m?.[1]) out.push({ image: m[1], ...(m[2] ? { stage: m[2].toLowerCase() } : {}) });
  }
  return out;
}

/**
 * The images a Dockerfile needs from the engine (or a registry): FROM lines minus earlier stages, `scratch`
 * and references to build arguments (which cannot be resolved here).
 */
export function externalFromImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const f of fromLines(dockerfile)) {
    const ref = f.image;
    if (!stages.has(ref.toLowerCase()) && ref !== 'scratch' && !ref.includes('$') && !out.includes(ref)) {
      out.push(ref);
    }
    if (f.stage) stages.add(f.stage);
  }
  return out;
}

export interface AppImageOptions {
  dockerfile: string;
  tags: string[];
  base?: BaseImageOptions;
  /** Labels added to the image (changes its config digest: keep them deterministic). */
  labels?: Record<string, string>;
  /** Cancels the build (Ctrl-C). */
  signal?: AbortSignal;
  /** {@link prepareFromImages} already ran for this Dockerfile: its result. */
  prepared?: { image: string; id: string | undefined }[];
}

/** Read a project's Dockerfile (`ERR_FILE_NOT_FOUND` when it is not there). */
function readDockerfile(dockerfile: string): Promise<string> {
  return readUserText(dockerfile, 'Dockerfile', INPUT_LIMITS.config);
}

/**
 * Make sure the images the Dockerfile builds FROM can be used: this version's base image is built when
 * missing or stale, another `mse-home-base` version must be present (it cannot be built or pulled).
 * Returns `{ image: ref, id }` for each external FROM image, `id` undefined when the engine does not have it
 * (the build will then try a registry).
 */
export async function prepareFromImages(
  engine: DockerEngine,
  log: Logger,
  dockerfile: string,
  base?: BaseImageOptions,
): Promise<{ image: string; id: string | undefined }[]> {
  const text = await readDockerfile(dockerfile);
  const out: { image: string; id: string | undefined }[] = [];
  for (const from of externalFromImages(text)) {
    if (from === BASE_IMAGE) {
      await ensureBaseImage(engine, log, base);
    } else if (from.startsWith(`${BASE_IMAGE_REPO}:`) && !(await engine.inspectImage(from))) {
      throw new DockerError(
        'ERR_BASE_IMAGE_VERSION',
        `${dockerfile} builds FROM ${from}, which is not in the engine (this mse-home makes ${BASE_IMAGE})`,
        { hint: `Change the FROM line to ${BASE_IMAGE}.` },
      );
    }
    out.push({ image: from, id: (await engine.inspectImage(from))?.Id });
  }
  return out;
}

/**
 * Build the app image; progress on `log` (each step's header as it starts). A failed build shows the failing
 * step's output once and throws `ERR_DOCKER_BUILD_FAILED`; when the Dockerfile builds FROM an image the
 * engine does not have, the hint says why that cannot work here (no registry) and what to build FROM.
 */
export async function buildAppImage(engine: DockerEngine, log: Logger, options: AppImageOptions): Promise<BuildResult> {
  const froms = options.prepared ?? (await prepareFromImages(engine, log, options.dockerfile, options.base));
  const context = await directoryContext(options.dockerfile);
  // Output of the step running now: shown on failure (the step headers were already printed).
  let stepOutput: string[] = [];
  const done = log.phase(`building image ${options.tags[0]} (context ${context.files} files, ${kb(context.bytes)})`);
  try {
    const result = await engine.build({
      context: context.stream,
      dockerfile: context.dockerfile,
      tags: options.tags,
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (line) => {
        if (/^Step \d+\/\d+ : /.test(line)) {
          log.line(`  ${line}`);
          stepOutput = [];
        } else {
          stepOutput.push(line);
          if (stepOutput.length > 25) stepOutput.shift();
        }
      },
    });
    done(`${result.id.slice(7, 19)}${result.reused ? ', from cache' : ''}`);
    return result;
  } catch (error) {
    if (error instanceof DockerError && error.code === 'ERR_DOCKER_BUILD_FAILED') {
      if (stepOutput.length) log.line(stepOutput.map((l) => `  | ${l}`).join('\n'));
      const missing: string[] = [];
      for (const f of froms) if (!(await engine.inspectImage(f.image).catch(() => undefined))) missing.push(f.image);
      if (missing.length) {
        throw new DockerError('ERR_DOCKER_BUILD_FAILED', error.message, {
          hint:
            `${options.dockerfile} builds FROM ${missing.join(', ')}, which the Docker engine does not have and ` +
            `could not pull (mse-home assumes no registry is reachable). Build FROM ${BASE_IMAGE}, the local base ` +
            `image, and install Python dependencies from Debian in the Dockerfile (apt-get install python3-…).`,
          cause: error,
        });
      }
    }
    throw error;
  }
}

function kb(n: number): string {
  return n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Build the app image tagged `stableRef` (plus `extraTags`) inside a clean-up scope: if the scope fails,
 * `stableRef` goes back to the image it named before and an image this build created is removed; if it
 * succeeds, the image `stableRef` named before is removed when nothing else uses it. Extra tags are always
 * removed at the end (they only name the image for `docker save`).
 */
export async function buildAppImageScoped(
  engine: DockerEngine,
  log: Logger,
  scope: CleanupScope,
  options: { dockerfile: string; stableRef: string; extraTags?: string[]; base?: BaseImageOptions },
): Promise<BuildResult> {
  const previous = await engine.inspectImage(options.stableRef);
  const extra = options.extraTags ?? [];
  // Registered before the build: an interrupted build may have tagged the image before it was cut off.
  for (const t of extra) scope.always(() => engine.removeImage(t, { noPrune: true }));
  const made: { build?: BuildResult } = {};
  scope.onFailure(async () => {
    if (made.build && !made.build.reused) await engine.removeImage(made.build.id, { force: true });
    const now = await engine.inspectImage(options.stableRef);
    if (previous && now?.Id !== previous.Id) await engine.tagImage(previous.Id, options.stableRef);
    if (!previous && now) await engine.removeImage(options.stableRef, { noPrune: true });
  });
  const built = await buildAppImage(engine, log, {
    dockerfile: options.dockerfile,
    tags: [...extra, options.stableRef],
    signal: scope.signal,
    ...(options.base ? { base: options.base } : {}),
  });
  made.build = built;
  if (previous && previous.Id !== built.id) {
    // Now untagged: drop it unless something (a container, another tag, a child image) still uses it.
    scope.onSuccess(() => engine.removeIfDangling(previous.Id));
  }
  return built;
}
