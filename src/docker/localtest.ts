/**
 * `mse home localtest`: run the app in its own image, outside any enclave, and run its tests against it.
 *
 * 1. The image: `mse-home-localtest/<name>:<hash>`, content-addressed by its build inputs (the build
 *    context's deterministic tar, which holds the Dockerfile, and the IDs of the images it builds FROM).
 *    When the engine has that tag, it is reused without building; otherwise it is built and older
 *    localtest images of the project are untagged (and removed when nothing else uses them). The image is
 *    a build cache: kept after success, failed tests and interruptions, so the next run does not rebuild
 *    (`localtest --clean` or `docker rmi` removes it).
 * 2. Copy the code *as it will be packaged* (`.mseignore` applied, dotfiles dropped) to a temporary
 *    directory and mount it at `/mse-app`, so that a file missing from the package fails here too.
 * 3. Run the container with the `mse-test` entrypoint (mse-serve, plain HTTP, port 5000) published on a
 *    free loopback port (or `--port`), secrets mounted read-only where the enclave puts them
 *    (`/root/.cache/mse/secrets.json`, `/root/.cache/mse/sealed_secrets.json`).
 * 4. Wait for the health endpoint to answer 2xx (without an `Mse-Status` header), up to a timeout; fail
 *    early with the container's logs if it exits.
 * 5. Run `/usr/bin/python3 -m <tests_cmd>` in the tests directory with `TEST_REMOTE_URL`,
 *    `TEST_SECRET_JSON`, `TEST_SEALED_SECRET_JSON` (absolute paths), writing nothing into the project; a
 *    failure is `ERR_TESTS_FAILED` (exit 8), as for `mse home test`. With `noTests`, stream the app's logs
 *    until Ctrl-C instead.
 * The container and the temporary copy are always removed (interrupts included).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../base/log.js';
import { DockerError, InputError, NetworkError } from '../errors.js';
import { copyUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { loadMseConfig } from '../project/config.js';
import {
  checkTestRequirements,
  DEFAULT_PYTHON,
  runTests,
  testsFailedError,
  type TestSummary,
} from '../project/tests-runner.js';
import { loadMseignore, selectFiles } from '../package/files.js';
import type { ProjectPaths } from '../package/project.js';
import { buildAppImage, imageRepository, prepareFromImages } from './app-image.js';
import type { BaseImageOptions } from './base-image.js';
import { withCleanup, type CleanupScope } from './cleanup.js';
import { directoryContext } from './context.js';
import type { DockerEngine } from './engine.js';

/** Label on every localtest container (never `mse-home`, which marks deployments). */
export const LOCALTEST_LABEL = 'mse-home.localtest';
export const CONTAINER_SECRETS = '/root/.cache/mse/secrets.json';
export const CONTAINER_SEALED_SECRETS = '/root/.cache/mse/sealed_secrets.json';
export const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;
/** Repository prefix of localtest images: `mse-home-localtest/<name>:<hash>`. */
export const LOCALTEST_REPO_PREFIX = 'mse-home-localtest/';
export { DEFAULT_PYTHON };

/** The repository of a project's localtest images. */
export function localtestRepository(name: string): string {
  return `${LOCALTEST_REPO_PREFIX}${imageRepository(name)}`;
}

/** What a localtest image is built from; equal inputs give an equal tag. */
export interface LocaltestImageInputs {
  /** SHA-256 (hex) of the deterministic build context tar (the Dockerfile is in it). */
  contextSha256: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  /** The images the Dockerfile builds FROM and their IDs (undefined: not in the engine). */
  froms: { image: string; id: string | undefined }[];
}

/** The tag (32 hex digits of a domain-separated SHA-256) of the localtest image for `inputs`. */
export function localtestImageTag(inputs: LocaltestImageInputs): string {
  const h = createHash('sha256');
  h.update('mse-home localtest image v1\0');
  h.update(JSON.stringify([inputs.dockerfile, inputs.froms.map((f) => [f.image, f.id ?? null]), inputs.contextSha256]));
  return h.digest('hex').slice(0, 32);
}

/** The localtest image to use: reused when the engine has the tag for these inputs, else built. */
export interface LocaltestImage {
  ref: string;
  id: string;
  reused: boolean;
}

async function localtestImage(
  engine: DockerEngine,
  log: Logger,
  scope: CleanupScope,
  o: { dockerfile: string; name: string; base?: BaseImageOptions },
): Promise<LocaltestImage> {
  const froms = await prepareFromImages(engine, log, o.dockerfile, o.base);
  const context = await directoryContext(o.dockerfile);
  const hash = createHash('sha256');
  await pipeline(context.stream, hash);
  const repo = localtestRepository(o.name);
  const ref = `${repo}:${localtestImageTag({ contextSha256: hash.digest('hex'), dockerfile: context.dockerfile, froms })}`;
  const existing = await engine.inspectImage(ref);
  if (existing) {
    log.info(`image ${ref}: reused (same Dockerfile, build context and base image)`);
    return { ref, id: existing.Id, reused: true };
  }
  const built = await buildAppImage(engine, log, {
    dockerfile: o.dockerfile,
    tags: [ref],
    prepared: froms,
    signal: scope.signal,
  });
  // Older inputs of this project: untag, and remove unless something still uses the image.
  for (const img of await engine.imagesInRepository(repo)) {
    for (const tag of img.repoTags)
      if (tag !== ref) await engine.removeImage(tag, { noPrune: true }).catch(() => false);
    if (img.id !== built.id) await engine.removeIfDangling(img.id).catch(() => false);
  }
  return { ref, id: built.id, reused: false };
}

/**
 * `localtest --clean`: remove the project's localtest images (untag each; an image is deleted when no other
 * tag or container uses it). Returns the tags removed.
 */
export async function removeLocaltestImages(engine: DockerEngine, name: string): Promise<string[]> {
  const removed: string[] = [];
  for (const img of await engine.imagesInRepository(localtestRepository(name))) {
    for (const tag of img.repoTags) if (await engine.removeImage(tag)) removed.push(tag);
  }
  return removed;
}

export interface LocaltestOptions {
  engine: DockerEngine;
  log: Logger;
  paths: ProjectPaths;
  /** Do not run the tests: serve until Ctrl-C, streaming the app's logs. */
  noTests?: boolean;
  /** Host port on 127.0.0.1 (default: a free one). */
  port?: number;
  healthTimeoutMs?: number;
  /** Python running the tests (default Debian's /usr/bin/python3). */
  python?: string;
  /** Where the tests' and the app's output go (default: stderr). */
  output?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  base?: BaseImageOptions;
  /** Called once the app answers its health check (e.g. to print the URL). */
  onReady?: (url: string) => void;
}

export interface LocaltestResult {
  url: string;
  port: number;
  image: LocaltestImage;
  containerName: string;
  /** From `docker start` to the first healthy answer, milliseconds. */
  healthyAfterMs: number;
  tests: 'passed' | 'skipped';
  testSummary?: TestSummary;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Throws `ERR_PORT_IN_USE` (with `hint`, default localtest's) when something listens on 127.0.0.1:`port`. */
export function checkPortFree(
  port: number,
  hint = 'Choose another --port, or leave it out to use a free one.',
  host = '127.0.0.1',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES'
          ? new DockerError(
              'ERR_PORT_IN_USE',
              `port ${port} on ${host} is ${error.code === 'EACCES' ? 'not allowed' : 'already in use'}`,
              { hint },
            )
          : error,
      );
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

interface Probe {
  ready: boolean;
  detail: string;
}

/** One GET of the health endpoint. Ready on 2xx without `Mse-Status` (a configuration server says that). */
export function probeHealth(url: string, timeoutMs = 2000): Promise<Probe> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const mseStatus = res.headers['mse-status'];
      resolve({
        ready: status >= 200 && status < 300 && mseStatus === undefined,
        detail: mseStatus !== undefined ? `Mse-Status: ${String(mseStatus)}` : `HTTP ${status}`,
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ready: false, detail: error.code ?? error.message }));
  });
}

/** Run localtest. Throws typed errors; see the module comment. */
export async function runLocaltest(options: LocaltestOptions): Promise<LocaltestResult> {
  const { engine, log, paths } = options;
  const out = options.output ?? process.stderr;
  const { config, warnings } = await loadMseConfig(paths.config);
  for (const w of warnings) log.warn(w);
  if (options.port !== undefined) await checkPortFree(options.port);

  return withCleanup(
    async (scope) => {
      // code as packaged
      const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-localtest-'));
      scope.always(() => fs.rm(work, { recursive: true, force: true }));
      const appDir = path.join(work, 'mse-app');
      const files = await selectFiles(paths.code, { rules: await loadMseignore(paths.code), what: 'code directory' });
      await fs.mkdir(appDir, { mode: 0o755 });
      for (const f of files) {
        const dest = path.join(appDir, ...f.rel.split('/'));
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await copyUserFile(f.abs, dest, `code file ${f.rel}`, INPUT_LIMITS.appTar);
      }
      log.info(`code: ${files.length} files as they will be packaged (.mseignore applied)`);

      const image = await localtestImage(engine, log, scope, {
        dockerfile: paths.dockerfile,
        name: config.name,
        ...(options.base ? { base: options.base } : {}),
      });
      const repo = imageRepository(config.name);

      const { id, port, name, startedAt } = await startContainer(engine, scope, {
        image: image.id,
        name: `${repo}_test-${randomBytes(3).toString('hex')}`,
        projectName: config.name,
        application: config.pythonApplication,
        appDir,
        paths,
        ...(options.port !== undefined ? { port: options.port } : {}),
      });
      const url = `http://127.0.0.1:${port}`;
      const done = log.phase(`waiting for ${url}${config.healthcheckEndpoint}`);
      const healthyAfterMs = await waitHealthy(engine, log, id, `${url}${config.healthcheckEndpoint}`, {
        timeoutMs: options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
        startedAt,
        signal: scope.signal,
      });
      done(`healthy after ${(healthyAfterMs / 1000).toFixed(2)} s`);
      options.onReady?.(url);

      if (options.noTests) {
        log.info(`the app answers at ${url} (container ${name}); Ctrl-C stops and removes it`);
        await Promise.race([engine.followLogs(id, (t) => out.write(t), scope.signal), scope.interrupted]);
        return { url, port, image, containerName: name, healthyAfterMs, tests: 'skipped' as const };
      }

      const python = options.python ?? DEFAULT_PYTHON;
      const env = {
        ...(options.env ?? process.env),
        TEST_REMOTE_URL: url,
        ...(paths.secrets ? { TEST_SECRET_JSON: paths.secrets } : {}),
        ...(paths.sealedSecrets ? { TEST_SEALED_SECRET_JSON: paths.sealedSecrets } : {}),
      };
      await checkTestRequirements(python, config.testsRequirements, log, { cwd: paths.tests, env });
      const testsDone = log.phase(`tests: ${config.testsCmd}`);
      const run = await runTests({
        python,
        testsCmd: config.testsCmd,
        cwd: paths.tests,
        env,
        output: out,
        signal: scope.signal,
      });
      scope.signal.throwIfAborted();
      if (run.code !== 0) {
        log.line('container logs (last 50 lines):');
        log.line(indent(await engine.containerLogs(id, { tail: 50 }).catch(() => '(unavailable)')));
        log.info(keptImageNote(image.ref, paths.config));
        throw testsFailedError(config.testsCmd, run, { url, image: image.ref, imageId: image.id });
      }
      testsDone(run.summary?.line ?? 'passed');
      return {
        url,
        port,
        image,
        containerName: name,
        healthyAfterMs,
        tests: 'passed' as const,
        ...(run.summary ? { testSummary: run.summary } : {}),
      };
    },
    { exitOnSignal: !options.noTests },
  );
}

/** Where the kept image is and how to remove it (printed after a run). */
export function keptImageNote(ref: string, configFile: string): string {
  return `image ${ref} is kept for the next run; remove it with 'mse home localtest --clean --config ${configFile}' or 'docker rmi ${ref}'`;
}

async function startContainer(
  engine: DockerEngine,
  scope: CleanupScope,
  o: {
    image: string;
    name: string;
    projectName: string;
    application: string;
    appDir: string;
    paths: ProjectPaths;
    port?: number;
  },
): Promise<{ id: string; port: number; name: string; startedAt: number }> {
  // A chosen-by-us port can be taken between the check and `docker start`: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = o.port ?? (await freeLoopbackPort());
    const id = await engine.createContainer({
      name: o.name,
      image: o.image,
      entrypoint: ['mse-test'],
      cmd: ['--application', o.application],
      labels: { [LOCALTEST_LABEL]: '1', 'mse-home.localtest.project': o.projectName },
      binds: [
        { host: o.appDir, container: '/mse-app' },
        ...(o.paths.secrets ? [{ host: o.paths.secrets, container: CONTAINER_SECRETS, readOnly: true }] : []),
        ...(o.paths.sealedSecrets
          ? [{ host: o.paths.sealedSecrets, container: CONTAINER_SEALED_SECRETS, readOnly: true }]
          : []),
      ],
      ports: [{ container: '5000/tcp', hostIp: '127.0.0.1', hostPort: port }],
    });
    scope.always(() => engine.removeContainer(id, { force: true }));
    const startedAt = performance.now();
    try {
      await engine.startContainer(id);
      return { id, port, name: o.name, startedAt };
    } catch (error) {
      await engine.removeContainer(id, { force: true });
      if (error instanceof DockerError && error.code === 'ERR_PORT_IN_USE' && o.port === undefined && attempt < 3) {
        continue;
      }
      throw error;
    }
  }
}

async function waitHealthy(
  engine: DockerEngine,
  log: Logger,
  id: string,
  url: string,
  o: { timeoutMs: number; startedAt: number; signal: AbortSignal },
): Promise<number> {
  let last: string;
  for (;;) {
    const info = await engine.inspectContainer(id);
    if (!info || !info.State.Running) {
      const code = info?.State.ExitCode;
      log.line('container logs:');
      log.line(indent(await engine.containerLogs(id, { tail: 80 }).catch(() => '(unavailable)')));
      throw new InputError(
        'ERR_LOCALTEST_APP_EXITED',
        `the app's container stopped before answering its health check (exit code ${code ?? 'unknown'})`,
        {
          hint:
            code === 3 ? 'The app could not be imported: see the traceback above.' : 'See the container logs above.',
        },
      );
    }
    const probe = await probeHealth(url);
    if (probe.ready) return performance.now() - o.startedAt;
    last = probe.detail;
    if (performance.now() - o.startedAt > o.timeoutMs) {
      log.line('container logs (last 50 lines):');
      log.line(indent(await engine.containerLogs(id, { tail: 50 }).catch(() => '(unavailable)')));
      throw new NetworkError(
        'ERR_LOCALTEST_HEALTH_TIMEOUT',
        `${url} did not answer 2xx within ${(o.timeoutMs / 1000).toFixed(0)} s (last: ${last})`,
        { hint: "Check healthcheck_endpoint in mse.toml and the app's logs above." },
      );
    }
    o.signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 200));
  }
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  | ${l}`)
    .join('\n');
}
