/**
 * The Docker engine boundary: a thin, typed shell over dockerode (Docker Engine API) that
 *
 * - connects the way the `docker` CLI does (`DOCKER_HOST` = `unix://PATH` | `tcp://HOST:PORT` | `ssh://…`,
 *   `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` for TLS; default `/var/run/docker.sock`);
 * - turns every failure into a {@link DockerError} with a stable code: `ERR_DOCKER_UNREACHABLE` (no engine
 *   answers; the hint names `scripts/setup-docker.sh`), `ERR_DOCKER_NOT_FOUND`, `ERR_DOCKER_CONFLICT`,
 *   `ERR_DOCKER_BUILD_FAILED`, `ERR_DOCKER_API`…;
 * - offers the handful of operations mse-home needs: build (from a tar context stream, with progress),
 *   import, save, load, tag, inspect, remove, list by label, and the container life cycle (create, start,
 *   stop, remove, wait, logs).
 *
 * It never removes anything it was not asked to: the engine is shared with other users.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { DockerError, isMseError, type MseErrorOptions } from '../errors.js';
import { createOutputStream, readUserFileSync, writingOutput } from '../fs/files.js';
import { commitFile } from '../fs/publish.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { bufferSource, indexTar } from '../package/tar-read.js';

/** Hint shown whenever no engine answers. */
export const SETUP_HINT =
  'Start a Docker engine: run scripts/setup-docker.sh (installs docker.io and starts dockerd), or point DOCKER_HOST at a running engine.';

/** Where the engine was looked for, for messages. */
export interface EngineEndpoint {
  /** `unix:///var/run/docker.sock`, `tcp://host:2376`, … */
  url: string;
  options: Docker.DockerOptions;
}

/** Resolve `DOCKER_HOST` (and TLS variables) the way the docker CLI does. */
export function resolveEndpoint(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  const raw = env.DOCKER_HOST?.trim();
  if (!raw) return { url: 'unix:///var/run/docker.sock', options: { socketPath: '/var/run/docker.sock' } };
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length) || '/var/run/docker.sock';
    return { url: `unix://${socketPath}`, options: { socketPath } };
  }
  let url: URL;
  try {
    url = new URL(raw.includes('//') ? raw : `tcp://${raw}`);
  } catch (cause) {
    throw new DockerError('ERR_DOCKER_HOST_INVALID', `DOCKER_HOST '${raw}' is not a valid engine address`, {
      hint: 'Use unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://USER@HOST, or unset DOCKER_HOST.',
      cause,
    });
  }
  const tls = (env.DOCKER_TLS_VERIFY ?? '') !== '' && env.DOCKER_TLS_VERIFY !== '0';
  if (url.protocol === 'ssh:') {
    return {
      url: raw,
      options: {
        protocol: 'ssh',
        host: url.hostname,
        port: url.port || 22,
        username: decodeURIComponent(url.username),
        sshOptions: { agent: env.SSH_AUTH_SOCK },
      },
    };
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DockerError('ERR_DOCKER_HOST_INVALID', `DOCKER_HOST scheme '${url.protocol}' is not supported`, {
      hint: 'Use unix://, tcp:// or ssh://.',
    });
  }
  const https = tls || url.protocol === 'https:' || url.port === '2376';
  const options: Docker.DockerOptions = {
    protocol: https ? 'https' : 'http',
    host: url.hostname,
    port: url.port || (https ? 2376 : 2375),
  };
  if (https && env.DOCKER_CERT_PATH) {
    const dir = env.DOCKER_CERT_PATH;
    options.ca = readCert(path.join(dir, 'ca.pem'));
    options.cert = readCert(path.join(dir, 'cert.pem'));
    options.key = readCert(path.join(dir, 'key.pem'));
  }
  return { url: raw, options };
}

function readCert(file: string): Buffer {
  try {
    // Synchronous on purpose: happens once, at connection set-up.
    return readUserFileSync(file, 'Docker TLS file', INPUT_LIMITS.certificate);
  } catch (cause) {
    throw new DockerError(
      'ERR_DOCKER_TLS_FILES',
      isMseError(cause) ? cause.message : `cannot read Docker TLS file ${file}`,
      {
        hint: 'Check DOCKER_CERT_PATH (it must hold ca.pem, cert.pem and key.pem).',
        cause,
      },
    );
  }
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
}

/** One line of build/load/import progress, as the engine streamed it. */
export type ProgressHandler = (line: string) => void;

export interface BuildOptions {
  /** The build context as an (uncompressed) tar stream, e.g. from `contextTar()` in `./context.ts`. */
  context: Readable;
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  dockerfile?: string;
  /** Tags to apply, `repo:tag`. */
  tags: string[];
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  /** Use the host network for RUN steps (default: the engine's default bridge). */
  networkHost?: boolean;
  onProgress?: ProgressHandler;
  /** Cancels the build: the connection is closed, which stops the engine's builder. */
  signal?: AbortSignal;
}

export interface BuildResult {
  /** `sha256:<hex>` of the built image (its config digest). */
  id: string;
  /** Image IDs that did not exist before this build (the final one and intermediates). */
  createdIds: string[];
  /** True when the final image already existed (every step came from the build cache). */
  reused: boolean;
}

/** A bind mount: host path → container path. */
export interface BindMount {
  host: string;
  container: string;
  readOnly?: boolean;
}

/** Publish a container port on the host. */
export interface PortBinding {
  /** `5000/tcp` */
  container: string;
  hostIp: string;
  hostPort: number;
}

/** The subset of a container definition mse-home uses; `extra` is merged last for anything else. */
export interface ContainerSpec {
  name?: string;
  image: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  binds?: BindMount[];
  ports?: PortBinding[];
  workingDir?: string;
  user?: string;
  /** Raw Engine API fields merged over the above (HostConfig is merged one level deep). */
  extra?: Docker.ContainerCreateOptions;
}

export interface ImageSummary {
  id: string;
  repoTags: string[];
  labels: Record<string, string>;
  size: number;
  created: Date;
}

export interface ContainerSummary {
  id: string;
  names: string[];
  image: string;
  state: string;
  status: string;
  labels: Record<string, string>;
}

/** Client for one Docker engine. Cheap to create; nothing is contacted until the first call. */
export class DockerEngine {
  /** The underlying dockerode client, for anything not wrapped here. */
  readonly docker: Docker;
  readonly endpoint: EngineEndpoint;

  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    this.docker = new Docker(endpoint.options);
  }

  /** Client for the engine `DOCKER_HOST` names (default: the local socket). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): DockerEngine {
    return new DockerEngine(resolveEndpoint(env));
  }

  /**
   * Check the engine answers and return its version. Throws `ERR_DOCKER_UNREACHABLE` otherwise. Commands
   * call this first so that "no engine" is reported before any work is done.
   */
  async ping(): Promise<EngineVersion> {
    const v = await this.call('contact the engine', () => this.docker.version());
    return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch };
  }

  // ----- images ---------------------------------------------------------------------------------------

  /**
   * Build an image from a tar context. Streams progress lines to `onProgress`. On failure every image this
   * build created (intermediate layers of the steps that succeeded) is removed again, so a failed build
   * leaves nothing behind; images that existed before (cache, base image) are never touched.
   */
  async build(options: BuildOptions): Promise<BuildResult> {
    const before = await this.allImageIds();
    const seen: string[] = [];
    let finalId: string | undefined;
    let failure: string | undefined;
    let cancel: (() => void) | undefined;
    try {
      const stream = await this.call('build an image', () =>
        this.docker.buildImage(
          options.context as unknown as NodeJS.ReadableStream,
          {
            t: options.tags,
            dockerfile: options.dockerfile ?? 'Dockerfile',
            labels: options.labels,
            buildargs: options.buildArgs,
            nocache: options.noCache ?? false,
            rm: true,
            forcerm: true,
            pull: false,
            ...(options.networkHost ? { networkmode: 'host' } : {}),
          } as unknown as Docker.ImageBuildOptions,
        ),
      );
      cancel = (): void => {
        (stream as unknown as Readable).destroy(options.signal?.reason as Error);
      };
      if (options.signal?.aborted) cancel();
      options.signal?.addEventListener('abort', cancel, { once: true });
      await readJsonStream(stream as unknown as Readable, (msg) => {
        if (typeof msg.stream === 'string') {
          for (const line of msg.stream.split('\n')) {
            const m = /^\s*---> ([0-9a-f]{12,64})\s*$/.exec(line);
            if (m?.[1]) seen.push(m[1]);
            if (line.trim()) options.onProgress?.(line.replace(/\s+$/, ''));
          }
        }
        if (typeof msg.status === 'string') options.onProgress?.(msg.status);
        const aux = msg.aux as { ID?: string } | undefined;
        if (aux?.ID) finalId = aux.ID;
        if (msg.error !== undefined || msg.errorDetail !== undefined) {
          const detail = msg.errorDetail as { message?: string } | undefined;
          failure = detail?.message ?? streamErrorText(msg.error ?? 'unknown build error');
        }
      });
    } catch (error) {
      await this.removeNewImages(seen, before);
      if (options.signal?.aborted) throw options.signal.reason;
      throw error;
    } finally {
      if (cancel) options.signal?.removeEventListener('abort', cancel);
    }
    if (failure !== undefined || finalId === undefined) {
      await this.removeNewImages(seen, before);
      throw new DockerError(
        'ERR_DOCKER_BUILD_FAILED',
        `image build failed: ${oneLine(failure ?? 'no image produced')}`,
        {
          hint: 'Fix the Dockerfile (the build output above shows the failing step).',
        },
      );
    }
    const createdIds = uniq([...seen.map((s) => resolveShort(s, before, finalId)), finalId]).filter(
      (id): id is string => id !== undefined && !before.has(id),
    );
    return { id: finalId, createdIds, reused: before.has(finalId) };
  }

  /** Remove images named in `seen` (short or long IDs) that were not in `before`. Best effort. */
  private async removeNewImages(seen: string[], before: Set<string>): Promise<void> {
    const after = await this.allImageIds().catch(() => new Set<string>());
    const fresh = [...after].filter((id) => !before.has(id) && seen.some((s) => id.slice(7).startsWith(s)));
    // Children first: later steps were created later.
    for (const id of fresh.reverse()) await this.removeImage(id, { noPrune: true }).catch(() => undefined);
  }

  private async allImageIds(): Promise<Set<string>> {
    const list = await this.call('list images', () => this.docker.listImages({ all: true }));
    return new Set(list.map((i) => i.Id));
  }

  /** `docker import`: create an image from a root filesystem tar stream. Returns its ID. */
  async importImage(rootfs: Readable, ref: string, changes: string[] = []): Promise<string> {
    const [repo, tag] = splitRef(ref);
    const stream = await this.call('import an image', () =>
      this.docker.importImage(rootfs as unknown as NodeJS.ReadableStream, { repo, tag, changes }),
    );
    let failure: string | undefined;
    await readJsonStream(stream as unknown as Readable, (msg) => {
      if (msg.error !== undefined) failure = streamErrorText(msg.error);
    });
    if (failure) throw new DockerError('ERR_DOCKER_IMPORT_FAILED', `docker import failed: ${oneLine(failure)}`);
    const info = await this.inspectImage(ref);
    if (!info) throw new DockerError('ERR_DOCKER_IMPORT_FAILED', `docker import produced no image ${ref}`);
    return info.Id;
  }

  /**
   * `docker save REF > file`, atomically (temp + rename). Write failures are output errors (`ERR_DISK_FULL`,
   * `ERR_FILE_UNWRITABLE`, see `fs/files.ts`) naming `what` at `shownAs` (default: an image archive at
   * `file`); `signal` cancels the transfer (the partial file is removed).
   */
  async saveImage(
    ref: string,
    file: string,
    options: { signal?: AbortSignal; what?: string; shownAs?: string } = {},
  ): Promise<void> {
    const temp = `${file}.${process.pid}.partial`;
    const what = options.what ?? 'image archive';
    const shownAs = options.shownAs ?? file;
    try {
      const stream = await this.call(`save image ${ref}`, () => this.docker.getImage(ref).get());
      await pipeline(stream as unknown as Readable, createOutputStream(temp, { what, shownAs }), {
        ...(options.signal ? { signal: options.signal } : {}),
      });
      await writingOutput(shownAs, what, () => commitFile(temp, file, false));
    } catch (error) {
      await fs.rm(temp, { force: true });
      if (options.signal?.aborted) throw options.signal.reason;
      throw isMseError(error) ? error : translate(error, `save image ${ref}`);
    }
  }

  /**
   * `docker load < file` (a docker-archive tar). Returns what the engine reports as loaded. `region` loads
   * the `size` bytes at `offset` of `file` instead (a member of a package, with no copy).
   */
  async loadImage(
    file: string,
    onProgress?: ProgressHandler,
    region?: { offset: number; size: number },
  ): Promise<string[]> {
    const source = region
      ? createReadStream(file, { start: region.offset, end: region.offset + region.size - 1 })
      : createReadStream(file);
    const stream = await this.call('load an image', () =>
      this.docker.loadImage(source as unknown as NodeJS.ReadableStream, { quiet: true }),
    );
    const loaded: string[] = [];
    let failure: string | undefined;
    await readJsonStream(stream as unknown as Readable, (msg) => {
      if (typeof msg.stream === 'string') {
        const line = msg.stream.trim();
        if (line) onProgress?.(line);
        const m = /^Loaded image(?: ID)?: (.+)$/.exec(line);
        if (m?.[1]) loaded.push(m[1]);
      }
      if (msg.error !== undefined) failure = streamErrorText(msg.error);
    });
    if (failure) {
      throw new DockerError('ERR_DOCKER_LOAD_FAILED', `docker load of ${file} failed: ${oneLine(failure)}`, {
        hint: 'The image archive is damaged or not a docker-archive tar.',
      });
    }
    return loaded;
  }

  /** Image details, or undefined when there is no such image. */
  async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.docker.getImage(ref).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error, `inspect image ${ref}`);
    }
  }

  /** Tag `ref` as `newRef` (`repo:tag`). */
  async tagImage(ref: string, newRef: string): Promise<void> {
    const [repo, tag] = splitRef(newRef);
    await this.call(`tag image ${ref}`, () => this.docker.getImage(ref).tag({ repo, tag }));
  }

  /**
   * Remove an image (or just a tag of it). Returns false when it did not exist. `noPrune` keeps untagged
   * parents. A conflict (in use by a container, has children) throws `ERR_DOCKER_CONFLICT`.
   */
  async removeImage(ref: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<boolean> {
    try {
      await this.docker.getImage(ref).remove({ force: opts.force ?? false, noprune: opts.noPrune ?? false });
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw translate(error, `remove image ${ref}`);
    }
  }

  /**
   * Remove an image only if no tag names it any more (e.g. after its tag moved to a rebuilt image), and
   * nothing uses it. Returns true when it was removed. Never throws for "in use" or "gone".
   */
  async removeIfDangling(id: string): Promise<boolean> {
    const info = await this.inspectImage(id);
    if (!info || (info.RepoTags ?? []).some((t) => t !== '<none>:<none>')) return false;
    try {
      return await this.removeImage(id);
    } catch (error) {
      if (error instanceof DockerError && error.code === 'ERR_DOCKER_CONFLICT') return false;
      throw error;
    }
  }

  /** Images with a tag in repository `repo` (`repo:*`), with their tags in that repository. */
  async imagesInRepository(repo: string): Promise<ImageSummary[]> {
    const list = await this.call('list images', () =>
      this.docker.listImages({ filters: JSON.stringify({ reference: [repo] }) } as Docker.ListImagesOptions),
    );
    return list.map((i) => ({
      id: i.Id,
      repoTags: (i.RepoTags ?? []).filter((t) => t.slice(0, t.lastIndexOf(':')) === repo),
      labels: i.Labels ?? {},
      size: i.Size,
      created: new Date(i.Created * 1000),
    }));
  }

  /** Images carrying all the given labels (`{key: value}`, or `{key: true}` for "label present"). */
  async listImages(labels: Record<string, string | true> = {}): Promise<ImageSummary[]> {
    const list = await this.call('list images', () =>
      this.docker.listImages({ filters: JSON.stringify({ label: labelFilters(labels) }) } as Docker.ListImagesOptions),
    );
    return list.map((i) => ({
      id: i.Id,
      repoTags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      labels: i.Labels ?? {},
      size: i.Size,
      created: new Date(i.Created * 1000),
    }));
  }

  // ----- containers -----------------------------------------------------------------------------------

  /** Create a container (not started). Returns its ID. */
  async createContainer(spec: ContainerSpec): Promise<string> {
    const container = await this.call(`create container${spec.name ? ` ${spec.name}` : ''}`, () =>
      this.docker.createContainer(toCreateOptions(spec)),
    );
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      const message = engineMessage(error);
      if (/port is already allocated|address already in use/i.test(message)) {
        throw new DockerError('ERR_PORT_IN_USE', `cannot start container ${short(id)}: ${oneLine(message)}`, {
          hint: 'Choose another port or stop what is listening on it.',
          cause: error,
        });
      }
      throw translate(error, `start container ${short(id)}`);
    }
  }

  /**
   * Create and start a container; if starting fails, the created container is removed again (so a failed
   * run leaves nothing behind). Returns its ID.
   */
  async runContainer(spec: ContainerSpec): Promise<string> {
    const id = await this.createContainer(spec);
    try {
      await this.startContainer(id);
    } catch (error) {
      await this.removeContainer(id, { force: true }).catch(() => undefined);
      throw error;
    }
    return id;
  }

  /** Stop a container (SIGTERM, then SIGKILL after `timeoutSeconds`). No error if already stopped/gone. */
  async stopContainer(id: string, timeoutSeconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      const status = statusOf(error);
      if (status === 304 || status === 404) return;
      throw translate(error, `stop container ${short(id)}`);
    }
  }

  /** Remove a container (`force` kills it first). Returns false when it did not exist. */
  async removeContainer(id: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<boolean> {
    try {
      await this.docker.getContainer(id).remove({ force: opts.force ?? false, v: opts.volumes ?? true });
      return true;
    } catch (error) {
      const status = statusOf(error);
      // 409 "removal already in progress" counts as gone.
      if (status === 404 || (status === 409 && /already in progress/i.test(engineMessage(error)))) return false;
      throw translate(error, `remove container ${short(id)}`);
    }
  }

  /** Container details, or undefined when there is no such container. */
  async inspectContainer(id: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error, `inspect container ${short(id)}`);
    }
  }

  /**
   * The content of regular file `file` inside container `id` (running or not; bind mounts included), as
   * `docker cp` reads it, refusing more than `maxBytes`. Undefined when there is no such file.
   */
  async readContainerFile(id: string, file: string, maxBytes: number): Promise<Buffer | undefined> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getContainer(id).getArchive({ path: file });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error, `read ${file} in container ${short(id)}`);
    }
    // one file in a tar: its header, its data padded to 512 bytes, the end marker
    const limit = maxBytes + 16 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        (stream as Readable).destroy();
        throw new DockerError('ERR_CONTAINER_FILE_TOO_LARGE', `${file} in container ${short(id)} is too large`);
      }
      chunks.push(chunk);
    }
    const tar = Buffer.concat(chunks);
    const entries = await indexTar(bufferSource(tar), `${file} in container ${short(id)}`, {
      maxEntries: 1,
      maxEntryBytes: maxBytes,
      maxTotalBytes: maxBytes,
      allow: ['file'],
    });
    const entry = entries[0];
    if (!entry) throw new DockerError('ERR_CONTAINER_FILE', `${file} in container ${short(id)} is not a file`);
    return tar.subarray(entry.offset, entry.offset + entry.size);
  }

  /** Paths added, changed or deleted in a container's own filesystem (`docker diff`), running or not. */
  async containerChanges(id: string): Promise<string[]> {
    const changes = (await this.call(`list the changes of container ${short(id)}`, () =>
      this.docker.getContainer(id).changes(),
    )) as { Path: string }[] | null;
    return (changes ?? []).map((c) => c.Path);
  }

  /** Wait for a container to stop; returns its exit code. */
  async waitContainer(id: string): Promise<number> {
    const r = (await this.call(`wait for container ${short(id)}`, () => this.docker.getContainer(id).wait())) as {
      StatusCode: number;
    };
    return r.StatusCode;
  }

  /** The container's output so far (stdout and stderr interleaved), optionally only the last `tail` lines. */
  async containerLogs(id: string, opts: { tail?: number } = {}): Promise<string> {
    const raw = await this.call(`read logs of container ${short(id)}`, () =>
      this.docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        follow: false,
        ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      }),
    );
    const info = await this.inspectContainer(id);
    return info?.Config.Tty ? raw.toString('utf8') : demuxLogs(raw);
  }

  /**
   * Follow a container's output, calling `onData` with each chunk, until the container stops or `signal`
   * aborts. Resolves when following ends.
   */
  async followLogs(id: string, onData: (text: string) => void, signal?: AbortSignal): Promise<void> {
    const stream = (await this.call(`follow logs of container ${short(id)}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true }),
    )) as unknown as Readable;
    const demux = new FrameDemuxer(onData);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        stream.destroy();
        done();
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort);
      stream.on('data', (chunk: Buffer) => demux.push(chunk));
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });
  }

  /** Containers (running or not) carrying all the given labels. */
  async listContainers(labels: Record<string, string | true> = {}): Promise<ContainerSummary[]> {
    const list = await this.call('list containers', () =>
      this.docker.listContainers({ all: true, filters: JSON.stringify({ label: labelFilters(labels) }) }),
    );
    return list.map((c) => ({
      id: c.Id,
      names: c.Names.map((n) => n.replace(/^\//, '')),
      image: c.Image,
      state: c.State,
      status: c.Status,
      labels: c.Labels ?? {},
    }));
  }

  // ----- plumbing -------------------------------------------------------------------------------------

  /** Run an engine call, translating failures into DockerError. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translate(error, what, this.endpoint.url);
    }
  }
}

function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports ?? []) {
    exposed[p.container] = {};
    (portBindings[p.container] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  const base: Docker.ContainerCreateOptions = {
    Image: spec.image,
    ...(spec.name ? { name: spec.name } : {}),
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels ?? {},
    ExposedPorts: exposed,
    HostConfig: {
      Binds: (spec.binds ?? []).map((b) => `${b.host}:${b.container}${b.readOnly ? ':ro' : ''}`),
      PortBindings: portBindings,
    },
  };
  const extra = spec.extra ?? {};
  return { ...base, ...extra, HostConfig: { ...base.HostConfig, ...(extra.HostConfig ?? {}) } };
}

function labelFilters(labels: Record<string, string | true>): string[] {
  return Object.entries(labels).map(([k, v]) => (v === true ? k : `${k}=${v}`));
}

/** Split `repo:tag` (the repo may contain a registry port, `host:5000/x:tag`). */
export function splitRef(ref: string): [string, string] {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}

function resolveShort(s: string, before: Set<string>, finalId: string | undefined): string | undefined {
  if (finalId?.slice(7).startsWith(s)) return finalId;
  for (const id of before) if (id.slice(7).startsWith(s)) return id;
  return undefined;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** The engine's own message (`{"message": "..."}`), else the error's. */
function engineMessage(error: unknown): string {
  const e = error as { json?: { message?: string } | null; reason?: string; message?: string } | undefined;
  return e?.json?.message ?? e?.message ?? e?.reason ?? String(error);
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/** Map a dockerode/docker-modem failure to a DockerError. Already-typed errors pass through. */
export function translate(error: unknown, what: string, url?: string): DockerError {
  if (error instanceof DockerError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const opts = (hint: string): MseErrorOptions => ({ hint, cause: error });
  if (code && UNREACHABLE_CODES.has(code)) {
    const where = url ?? 'the Docker engine';
    const why =
      code === 'EACCES'
        ? 'permission denied on the socket'
        : code === 'ENOENT'
          ? 'no socket there'
          : code.toLowerCase().replace(/^e/, '');
    return new DockerError('ERR_DOCKER_UNREACHABLE', `no Docker engine answers at ${where} (${why})`, opts(SETUP_HINT));
  }
  const status = statusOf(error);
  const message = oneLine(engineMessage(error));
  if (status === 404) return new DockerError('ERR_DOCKER_NOT_FOUND', `cannot ${what}: ${message}`, opts(''));
  if (status === 409) {
    return new DockerError(
      'ERR_DOCKER_CONFLICT',
      `cannot ${what}: ${message}`,
      opts('Another container or image is in the way; remove it or choose another name.'),
    );
  }
  return new DockerError(
    'ERR_DOCKER_API',
    `cannot ${what}: ${message}`,
    opts('See the Docker engine log for details.'),
  );
}

/** A progress stream's `error` field as text: a string as is, anything else as JSON (never `[object Object]`). */
function streamErrorText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
/** Parse a stream of concatenated/newline-separated JSON objects (build, load, import progress). */
async function readJsonStream(stream: Readable, onMessage: (msg: Record<string, unknown>) => void): Promise<void> {
  let buffer = '';
  const flush = (final: boolean): void => {
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0 || (final && buffer.trim())) {
      const line = nl >= 0 ? buffer.slice(0, nl) : buffer;
      buffer = nl >= 0 ? buffer.slice(nl + 1) : '';
      if (!line.trim()) continue;
      try {
        onMessage(JSON.parse(line) as Record<string, unknown>);
      } catch {
        onMessage({ stream: line });
      }
      if (nl < 0) break;
    }
  };
  for await (const chunk of stream) {
    buffer += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    flush(false);
  }
  flush(true);
}

/**
 * Docker multiplexes a non-TTY container's stdout/stderr as frames: 1 byte stream id, 3 zero bytes,
 * 4-byte big-endian length, payload. Returns the payloads concatenated in order.
 */
export function demuxLogs(raw: Buffer): string {
  let out = '';
  const d = new FrameDemuxer((t) => (out += t));
  d.push(raw);
  return out;
}

class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onData: (text: string) => void) {}
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const kind = this.pending[0];
      if ((kind !== 0 && kind !== 1 && kind !== 2) || this.pending.readUIntBE(1, 3) !== 0) {
        // Not framed (TTY container): pass through.
        this.onData(this.pending.toString('utf8'));
        this.pending = Buffer.alloc(0);
        return;
      }
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + len) return;
      this.onData(this.pending.subarray(8, 8 + len).toString('utf8'));
      this.pending = this.pending.subarray(8 + len);
    }
  }
}
