/**
 * Helpers for end-to-end tests against the real Docker engine: the engine, the base image (built once per
 * test run, then reused through its input-hash label), throw-away projects, and clean-up of exactly what a
 * test created (the engine is shared with other test suites). Tests only.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../base/log.js';
import { BASE_IMAGE, ensureBaseImage, type BaseImageStatus } from '../docker/base-image.js';
import { DockerEngine } from '../docker/engine.js';
import { runMse } from './cli.js';
import { REPO_ROOT } from './vectors.js';

/** Prefix of every project name (hence image and container name) the docker tests create. */
export const TEST_PREFIX = 'mse-test-docker-';

let engine: DockerEngine | undefined;
const tempDirs: string[] = [];

/** A temp directory removed by {@link removeTestDirs}. */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Remove every temp directory made by these helpers. */
export function removeTestDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
let base: Promise<BaseImageStatus> | undefined;

/** The engine, checked to answer (a clear failure otherwise). */
export async function testEngine(): Promise<DockerEngine> {
  engine ??= DockerEngine.fromEnv();
  await engine.ping();
  return engine;
}

/** Make sure the base image exists (built at most once per run; later calls reuse it). */
export async function testBaseImage(): Promise<BaseImageStatus> {
  base ??= (async () =>
    ensureBaseImage(await testEngine(), createLogger({ stream: process.stderr, env: { NO_COLOR: '1' } })))();
  return base;
}

export interface TestProject {
  dir: string;
  name: string;
}

/**
 * A fresh copy of a project in a temp dir, named `mse-test-docker-<kind>-<random>`: `flask` is what
 * `mse home scaffold` makes, `fastapi` is `test-fixtures/fastapi`. The Dockerfile builds FROM this
 * version's base image.
 */
export async function testProject(kind: 'flask' | 'fastapi'): Promise<TestProject> {
  const parent = testTempDir('mse-e2e-');
  const name = `${TEST_PREFIX}${kind}-${randomBytes(3).toString('hex')}`;
  const dir = path.join(parent, name);
  if (kind === 'flask') {
    const r = await runMse(['home', 'scaffold', dir]);
    if (r.code !== 0) throw new Error(`scaffold failed: ${r.stderr}`);
  } else {
    cpSync(path.join(REPO_ROOT, 'test-fixtures', 'fastapi'), dir, { recursive: true });
  }
  edit(path.join(dir, 'mse.toml'), (t) => t.replace(/^name = ".*"$/m, `name = "${name}"`));
  edit(path.join(dir, 'Dockerfile'), (t) => t.replace(/^FROM mse-home-base:\S+/m, `FROM ${BASE_IMAGE}`));
  return { dir, name };
}

/** Rewrite a text file in place. */
export function edit(file: string, fn: (text: string) => string): void {
  writeFileSync(file, fn(readFileSync(file, 'utf8')));
}

/**
 * Remove the images tagged `<repo>:*` for the given repositories (only ours: TEST_PREFIX, also under
 * localtest's `mse-home-localtest/`).
 */
export async function removeTestImages(repos: string[]): Promise<void> {
  const e = await testEngine();
  const images = await e.docker.listImages();
  const ours = (repo: string): boolean => repo.replace(/^mse-home-localtest\//, '').startsWith(TEST_PREFIX);
  for (const img of images) {
    for (const tag of img.RepoTags ?? []) {
      const repo = tag.slice(0, tag.lastIndexOf(':'));
      if (repos.includes(repo) && ours(repo)) await e.removeImage(tag).catch(() => undefined);
    }
  }
}

/** Containers made by localtest for a project name. */
export async function localtestContainers(name: string): Promise<string[]> {
  const list = await (await testEngine()).listContainers({ 'mse-home.localtest.project': name });
  return list.map((c) => c.names[0] ?? c.id);
}

/** Images (intermediate ones included) carrying `label=value`. */
export async function imagesWithLabel(label: string, value: string): Promise<string[]> {
  const list = await (
    await testEngine()
  ).docker.listImages({
    all: true,
    filters: JSON.stringify({ label: [`${label}=${value}`] }),
  });
  return list.map((i) => i.Id);
}
