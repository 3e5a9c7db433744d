/**
 * `mse home localtest`: run the app in its own image, outside any enclave, and run its tests against it.
 *
 * 1. Build the image from the project's Dockerfile (tag `<name>_test:latest`).
 * 2. Copy the code *as it will be packaged* (`.mseignore` applied, dotfiles dropped) to a temporary
 *    directory and mount it at `/mse-app`, so that a file missing from the package fails here too.
 * 3. Run the container with the `mse-test` entrypoint (mse-serve, plain HTTP, port 5000) published on a
 *    free loopback port (or `--port`), secrets mounted read-only where the enclave puts them
 *    (`/root/.cache/mse/secrets.json`, `/root/.cache/mse/sealed_secrets.json`).
 * 4. Wait for the health endpoint to answer 2xx (without an `Mse-Status` header), up to a timeout; fail
 *    early with the container's logs if it exits.
 * 5. Run `/usr/bin/python3 -m <tests_cmd>` in the tests directory with `TEST_REMOTE_URL`,
 *    `TEST_SECRET_JSON`, `TEST_SEALED_SECRET_JSON` (absolute paths); a failure is `ERR_TESTS_FAILED`
 *    (exit code 8). With `noTests`, stream the app's logs until Ctrl-C instead.
 * The container and the temporary copy are always removed (Ctrl-C included); on failure, an image this run
 * created is removed too.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../cli/log.js';
import { DockerError, ExitCode, InputError, MseError, NetworkError } from '../errors.js';
import { copyUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { loadMseConfig } from '../project/config.js';
import { checkTestRequirements, DEFAULT_PYTHON, runTests } from '../project/tests-runner.js';
import { loadMseignore, selectFiles } from '../package/files.js';
import type { ProjectPaths } from '../package/project.js';
import { buildAppImageScoped, imageRepository } from './app-image.js';
import type { BaseImageOptions } from './base-image.js';
import { withCleanup, type CleanupScope } from './cleanup.js';
import type { DockerEngine } from './engine.js';

/** Label on every localtest container (never `mse-home`, which marks deployments). */
export const LOCALTEST_LABEL = 'mse-home.localtest';
export const CONTAINER_SECRETS = '/root/.cache/mse/secrets.json';
export const CONTAINER_SEALED_SECRETS = '/root/.cache/mse/sealed_secrets.json';
export const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;
export { DEFAULT_PYTHON };

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
  imageId: string;
  containerName: string;
  /** From `docker start` to the first healthy answer, milliseconds. */
  healthyAfterMs: number;
  tests: 'passed' | 'skipped';
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

      const repo = imageRepository(config.name);
      const built = await buildAppImageScoped(engine, log, scope, {
        dockerfile: paths.dockerfile,
        stableRef: `${repo}_test:latest`,
        ...(options.base ? { base: options.base } : {}),
      });

      const { id, port, name, startedAt } = await startContainer(engine, scope, {
        image: built.id,
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
        return { url, port, imageId: built.id, containerName: name, healthyAfterMs, tests: 'skipped' as const };
      }

      await checkTestRequirements(options.python ?? DEFAULT_PYTHON, config.testsRequirements, log);
      const testsDone = log.phase(`tests: ${config.testsCmd}`);
      const code = await runTests({
        python: options.python ?? DEFAULT_PYTHON,
        testsCmd: config.testsCmd,
        cwd: paths.tests,
        env: {
          ...(options.env ?? process.env),
          TEST_REMOTE_URL: url,
          ...(paths.secrets ? { TEST_SECRET_JSON: paths.secrets } : {}),
          ...(paths.sealedSecrets ? { TEST_SEALED_SECRET_JSON: paths.sealedSecrets } : {}),
        },
        output: out,
        signal: scope.signal,
      });
      if (code !== 0) {
        log.line('container logs (last 50 lines):');
        log.line(indent(await engine.containerLogs(id, { tail: 50 }).catch(() => '(unavailable)')));
        throw new MseError(
          'ERR_TESTS_FAILED',
          `tests failed: python3 -m ${config.testsCmd} exited with ${code}`,
          ExitCode.testsFailed,
          {
            hint: code === 5 ? 'pytest collected no tests: check the tests directory.' : 'See the test output above.',
          },
        );
      }
      testsDone('passed');
      return { url, port, imageId: built.id, containerName: name, healthyAfterMs, tests: 'passed' as const };
    },
    { exitOnSignal: !options.noTests },
  );
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
    if (o.signal.aborted) throw new MseError('ERR_INTERRUPTED', 'interrupted', ExitCode.internal);
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
