/**
 * Harness of the end-to-end tests (`src/deploy/*.e2e.test.ts`): an isolated world per test file (a temp
 * directory holding the operator's state directory, the signer key, the provider's and the operator's
 * files), the real CLI run in it, unique deployment names and free ports, a TLS client pinned to an
 * RA-TLS certificate, and the clean-up of every container the tests created. Tests only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { BASE_IMAGE } from '../docker/base-image.js';
import { DockerEngine } from '../docker/engine.js';
import { fileSource, indexTar, type TarReadLimits } from '../package/tar-read.js';
import { runMse, type CliResult } from './cli.js';
import { REPO_ROOT } from './vectors.js';

/**
 * `package` builds the base image first when it is missing or stale (mmdebstrap from Debian's archive on a
 * fresh CI machine: minutes); other commands get the default 3 minutes.
 */
export const PACKAGE_TIMEOUT_MS = 20 * 60_000;

/** Every deployment the e2e tests create is named `mse-e2e-…`, so leftovers are easy to spot. */
export const E2E_PREFIX = 'mse-e2e-';

export interface World {
  /** The temp directory everything lives in. */
  root: string;
  /** `MSE_HOME_STATE_DIR`: the sim platform identity and the quoting sockets. */
  stateDir: string;
  /** The operator's enclave signer key (created by the first spawn). */
  signerKey: string;
  /** Environment of every CLI run. */
  env: NodeJS.ProcessEnv;
  engine: DockerEngine;
  /** Run `mse home ...args` in `root` with the world's environment. */
  mse(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  /** A fresh deployment name, removed again by {@link World.cleanup}. */
  deploymentName(label: string): string;
  /** An image reference to untag at clean-up (the tag a package carries). */
  trackImage(ref: string): void;
  /** `stop --remove` every deployment (then force-removes what is left), untag images, delete `root`. */
  cleanup(): Promise<void>;
}

/** Create a world; `MSE_E2E_KEEP=1` keeps its directory after the tests for inspection. */
export async function createWorld(label: string): Promise<World> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `${E2E_PREFIX}${label}-`));
  const stateDir = path.join(root, 'state');
  const signerKey = path.join(root, 'signer', 'enclave-key.pem');
  await fs.mkdir(path.join(root, 'home'));
  const env: NodeJS.ProcessEnv = {
    MSE_HOME_STATE_DIR: stateDir,
    // default paths (~/.config/gramine/enclave-key.pem, ~/.local/state) stay inside the world too
    HOME: path.join(root, 'home'),
    // keep pytest from writing caches into the projects' tests directories
    PYTHONDONTWRITEBYTECODE: '1',
    PYTEST_ADDOPTS: '-p no:cacheprovider',
  };
  const engine = DockerEngine.fromEnv();
  const names = new Set<string>();
  const images = new Set<string>();
  const world: World = {
    root,
    stateDir,
    signerKey,
    env,
    engine,
    mse: (args, options = {}) =>
      runMse(['home', ...args], {
        cwd: root,
        env: { ...env, ...options.env },
        timeoutMs: options.timeoutMs ?? 180_000,
      }),
    deploymentName(l) {
      const name = `${E2E_PREFIX}${l}-${process.pid}-${randomBytes(3).toString('hex')}`;
      names.add(name);
      return name;
    },
    trackImage: (ref) => void images.add(ref),
    async cleanup() {
      for (const name of names) {
        const r = await world.mse(['stop', '--remove', name]).catch(() => undefined);
        if (r?.code !== 0) await engine.removeContainer(name, { force: true }).catch(() => undefined);
      }
      for (const ref of images) await engine.removeImage(ref, { noPrune: true }).catch(() => undefined);
      if (!process.env.MSE_E2E_KEEP) await fs.rm(root, { recursive: true, force: true });
    },
  };
  return world;
}

/**
 * Steps of one story, run in order: once a step fails, the later ones are skipped (naming it) instead of
 * failing for want of its results. `independent` steps (checks nothing later depends on) do not stop the
 * story when they fail.
 */
export function story(): (name: string, fn: () => Promise<void>, options?: { independent?: boolean }) => void {
  let failed: string | undefined;
  return (name, fn, options = {}) =>
    void it(name, async (t) => {
      if (failed) {
        t.skip(`skipped: the step "${failed}" failed`);
        return;
      }
      try {
        await fn();
      } catch (error) {
        if (!options.independent) failed = name;
        throw error;
      }
    });
}

/** A TCP port nobody listens on right now (on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Assert a CLI run exited with `code` (default 0), showing its output when it did not. */
export function expectExit(r: CliResult, what: string, code = 0): CliResult {
  assert.equal(
    r.code,
    code,
    `${what}: exit ${r.code}, expected ${code}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`,
  );
  return r;
}

/** The JSON document a `--json` run printed on stdout. */
export function jsonOf<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`not JSON on stdout (exit ${r.code}):\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
}

export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** DER of the certificate the server presented. */
  peerDer: Buffer;
}

/**
 * One HTTPS request to 127.0.0.1:`port` trusting only `pem` (the RA-TLS certificate, self-signed) and
 * checking the server name `san` against it: Node's own verification, independent of the product's client.
 */
export function pinnedHttps(
  port: number,
  pem: string,
  request: { method?: string; path: string; body?: string | Buffer; headers?: Record<string, string>; san?: string },
): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: request.san ?? 'localhost',
        ca: pem,
        agent: false,
        method: request.method ?? 'GET',
        path: request.path,
        headers: request.headers,
        timeout: 30_000,
      },
      (res) => {
        const peerDer = (res.socket as TLSSocket).getPeerCertificate().raw;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), peerDer }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** DER bytes of a one-certificate PEM. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  assert.ok(m, 'no certificate in PEM');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** PEM of a DER certificate. */
export function derToPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Directory of the fixture projects. */
export const FIXTURES = path.join(REPO_ROOT, 'test-fixtures');

/** Copy fixture project `name` to `dest`, its Dockerfile building FROM this build's base image. */
export async function copyFixture(name: string, dest: string): Promise<void> {
  await fs.cp(path.join(FIXTURES, name), dest, {
    recursive: true,
    filter: (src) => path.basename(src) !== '__pycache__',
  });
  const dockerfile = path.join(dest, 'Dockerfile');
  const text = await fs.readFile(dockerfile, 'utf8');
  await fs.writeFile(dockerfile, text.replace(/^FROM mse-home-base:\S+/m, `FROM ${BASE_IMAGE}`));
}

/**
 * The provider's side for one fixture: copy fixture project `name` to `<world>/provider/<dir>` and package
 * it with the real CLI into `<world>/provider`; the images it tags are removed at clean-up. Returns the
 * package file.
 */
export async function packageFixture(w: World, name: string, dir: string): Promise<string> {
  const project = path.join(w.root, 'provider', dir);
  await copyFixture(name, project);
  return packageInWorld(w, project, path.join(w.root, 'provider'));
}

/**
 * `spawn NAME --package F --san localhost --size 2048 --port P --output DIR --signer-key <world's> --json`:
 * the operator's spawn every e2e story uses (simulated platform by default on this machine).
 */
export function spawnDeployment(
  w: World,
  d: { name: string; packageFile: string; port: number; workspace: string },
): Promise<CliResult> {
  return w.mse([...spawnArgv(w, d), '--json']);
}

/** The command line of {@link spawnDeployment} (without `--json`), for runs that add to it or signal it. */
export function spawnArgv(
  w: World,
  d: { name: string; packageFile: string; port: number; workspace: string },
): string[] {
  return [
    'spawn',
    d.name,
    '--package',
    d.packageFile,
    '--san',
    'localhost',
    '--size',
    '2048',
    '--port',
    String(d.port),
    '--output',
    d.workspace,
    '--signer-key',
    w.signerKey,
  ];
}

/** Fresh secrets in the scaffold's shape: `aes_key` (hex, plaintext secrets) and `result_sk` (Fernet key). */
export function freshSecrets(): { secrets: { aes_key: string }; sealed: { result_sk: string } } {
  return {
    secrets: { aes_key: randomBytes(32).toString('hex') },
    sealed: { result_sk: randomBytes(32).toString('base64').replace(/\+/g, '-').replace(/\//g, '_') },
  };
}

/** Every file under `roots` (recursively, symlinks not followed) containing one of `needles`. */
export async function findInFiles(roots: string[], needles: string[]): Promise<{ file: string; needle: string }[]> {
  const wanted = needles.map((n) => Buffer.from(n, 'utf8'));
  const overlap = Math.max(...wanted.map((n) => n.length));
  const hits: { file: string; needle: string }[] = [];
  const scan = async (file: string): Promise<void> => {
    const fh = await fs.open(file, 'r');
    try {
      const chunk = Buffer.alloc(8 * 1024 * 1024);
      let carry = Buffer.alloc(0);
      let position = 0;
      const found = new Set<number>();
      for (;;) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const window = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
        wanted.forEach((n, i) => {
          if (!found.has(i) && window.includes(n)) found.add(i);
        });
        carry = Buffer.from(window.subarray(Math.max(0, window.length - overlap)));
      }
      for (const i of found) hits.push({ file, needle: needles[i]! });
    } finally {
      await fh.close();
    }
  };
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) for (const n of await fs.readdir(p)) await walk(path.join(p, n));
    else if (st.isFile()) await scan(p);
  };
  for (const r of roots) await walk(r);
  return hits;
}

const TAR_LIMITS: TarReadLimits = {
  maxEntryBytes: 4 * 1024 ** 3,
  maxTotalBytes: 8 * 1024 ** 3,
  maxEntries: 100_000,
  allow: ['file', 'directory'],
};

/**
 * Copy `packageFile` to `dest` with exactly one byte of code file `codePath` (inside app.tar) changed:
 * every other byte of app.tar and every other member are kept.
 */
export async function tamperPackageCode(packageFile: string, dest: string, codePath: string): Promise<void> {
  await fs.copyFile(packageFile, dest);
  const fh = await fs.open(dest, 'r+');
  try {
    const size = (await fh.stat()).size;
    const app = (await indexTar(fileSource(fh, 0, size), 'package', TAR_LIMITS)).find((e) => e.path === 'app.tar');
    assert.ok(app, 'the package has no app.tar');
    const inner = await indexTar(fileSource(fh, app.offset, app.size), 'app.tar', TAR_LIMITS);
    const file = inner.find((e) => e.path === codePath);
    assert.ok(file && file.size > 0, `app.tar has no file ${codePath}`);
    await flipByte(fh, app.offset + file.offset + Math.floor(file.size / 2), 0x01);
  } finally {
    await fh.close();
  }
}

/** XOR the byte at `at` of the open file with `mask`. */
export async function flipByte(fh: FileHandle, at: number, mask: number): Promise<void> {
  const byte = Buffer.alloc(1);
  await fh.read(byte, 0, 1, at);
  byte[0] = byte[0]! ^ mask;
  await fh.write(byte, 0, 1, at);
}

/** Paths the container added or changed in its own filesystem (the engine's `docker diff`). */
export async function containerChanges(engine: DockerEngine, name: string): Promise<string[]> {
  const changes = (await engine.docker.getContainer(name).changes()) as { Path: string }[] | null;
  return (changes ?? []).map((c) => c.Path);
}

/** Wait until the container is no longer running (after a kill). */
export async function waitStopped(engine: DockerEngine, name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await engine.inspectContainer(name))?.State?.Running) {
    if (Date.now() > deadline) assert.fail(`${name} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `mse home package --project PROJECT --output OUTPUT` in the world; its image tags are untagged at
 * clean-up. Returns the package file.
 */
export async function packageInWorld(w: World, project: string, output: string): Promise<string> {
  const p = jsonOf<{ package: string; image: string; name: string }>(
    expectExit(
      await w.mse(['package', '--project', project, '--output', output, '--json'], { timeoutMs: PACKAGE_TIMEOUT_MS }),
      'package',
    ),
  );
  w.trackImage(p.image);
  w.trackImage(`${p.name}:latest`);
  return p.package;
}
