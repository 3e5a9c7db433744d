/**
 * Building a project's image from its Dockerfile (used by `package` and `localtest`).
 *
 * The build context is the Dockerfile's directory, sent as a deterministic tar (see `context.ts`). When
 * the Dockerfile builds FROM this version's base image, that image is built first if missing or stale;
 * FROM another `mse-home-base` version that is not present gets a clear error instead of a failed pull.
 */
import type { Logger } from '../cli/log.js';
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
  const out: string[] = [];
  // Join continuation lines, drop comments.
  const text = dockerfile.replace(/\\\r?\n/g, ' ');
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(line);
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

export interface AppImageOptions {
  dockerfile: string;
  tags: string[];
  base?: BaseImageOptions;
  /** Labels added to the image (changes its config digest: keep them deterministic). */
  labels?: Record<string, string>;
}

/** Build the app image; progress on `log`. Throws `ERR_DOCKER_BUILD_FAILED` with the failing output. */
export async function buildAppImage(engine: DockerEngine, log: Logger, options: AppImageOptions): Promise<BuildResult> {
  const text = await readUserText(options.dockerfile, 'Dockerfile', INPUT_LIMITS.config);
  for (const from of fromImages(text)) {
    if (from === BASE_IMAGE) {
      await ensureBaseImage(engine, log, options.base);
    } else if (from.startsWith(`${BASE_IMAGE_REPO}:`) && !(await engine.inspectImage(from))) {
      throw new DockerError(
        'ERR_BASE_IMAGE_VERSION',
        `${options.dockerfile} builds FROM ${from}, which is not in the engine (this mse-home makes ${BASE_IMAGE})`,
        { hint: `Change the FROM line to ${BASE_IMAGE}.` },
      );
    }
  }
  const context = await directoryContext(options.dockerfile);
  const tail: string[] = [];
  const done = log.phase(`building image ${options.tags[0]} (context ${context.files} files, ${kb(context.bytes)})`);
  try {
    const result = await engine.build({
      context: context.stream,
      dockerfile: context.dockerfile,
      tags: options.tags,
      ...(options.labels ? { labels: options.labels } : {}),
      onProgress: (line) => {
        tail.push(line);
        if (tail.length > 25) tail.shift();
        if (/^Step \d+\/\d+ : /.test(line)) log.line(`  ${line}`);
      },
    });
    done(`${result.id.slice(7, 19)}${result.reused ? ', from cache' : ''}`);
    return result;
  } catch (error) {
    if (error instanceof DockerError && error.code === 'ERR_DOCKER_BUILD_FAILED') {
      log.line(tail.map((l) => `  | ${l}`).join('\n'));
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
  const built = await buildAppImage(engine, log, {
    dockerfile: options.dockerfile,
    tags: [...extra, options.stableRef],
    ...(options.base ? { base: options.base } : {}),
  });
  for (const t of extra) scope.always(() => engine.removeImage(t, { noPrune: true }));
  scope.onFailure(async () => {
    if (previous && previous.Id !== built.id) await engine.tagImage(previous.Id, options.stableRef);
    if (!built.reused) await engine.removeImage(built.id, { force: true });
  });
  if (previous && previous.Id !== built.id) {
    // Now untagged: drop it unless something (a container, another tag, a child image) still uses it.
    scope.onSuccess(() => engine.removeIfDangling(previous.Id));
  }
  return built;
}
