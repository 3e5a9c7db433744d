#!/usr/bin/env node
// Docker runtime benchmark: base image build (time, size), `package` of the scaffolded Flask app (time,
// size, compared with MSE's full-image packages), `localtest` time to healthy.
//
//   node bench/docker.js            full: rebuilds the Debian rootfs (mmdebstrap; .debs cached between runs)
//   node bench/docker.js --quick    rebuilds only the base image's top layer
//
// Needs a running engine (scripts/setup-docker.sh), root (mmdebstrap), `npm run build` first. Prints a table,
// then one `name: value unit` line per figure.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../dist/base/log.js';
import { ensureBaseImage } from '../dist/docker/base-image.js';
import { DockerEngine } from '../dist/docker/engine.js';
import { runLocaltest } from '../dist/docker/localtest.js';
import { createPackage } from '../dist/provider/create-package.js';
import { resolveProjectPaths } from '../dist/package/project.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const log = createLogger({ quiet: true, env: { NO_COLOR: '1' } });
// MSE ships the whole app image in every package; its mse-base image alone is about a gigabyte (spec §4, §16).
const MSE_PACKAGE_BYTES = 1e9;

const engine = DockerEngine.fromEnv();
await engine.ping();
const figures = [];
const add = (name, value, unit, label) => figures.push({ name, value, unit, label });
const seconds = (ms) => ms / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Base image.
let t = performance.now();
const base = await ensureBaseImage(engine, log, { force: quick ? true : 'rootfs' });
const baseMs = performance.now() - t;
add(
  'docker.base_build_s',
  seconds(baseMs),
  's',
  quick ? 'base image build (top layer only)' : 'base image build (mmdebstrap + import + layer)',
);
add('docker.base_size_mb', base.size / 1e6, 'MB', 'base image size');

// A scaffolded Flask project.
const work = mkdtempSync(path.join(os.tmpdir(), 'mse-bench-docker-'));
try {
  const dir = path.join(work, 'mse-bench-flask');
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'mse.js'), 'home', 'scaffold', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  const paths = await resolveProjectPaths({ project: dir }, true);

  const pkgTimes = [];
  let pkg;
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    pkg = await createPackage({ engine, log, paths, outputDir: path.join(work, `out${i}`) });
    pkgTimes.push(performance.now() - t);
  }
  add('docker.package_s', seconds(median(pkgTimes)), 's', 'package (median of 3)');
  add('docker.package_save_s', seconds(pkg.timings.save), 's', '  of which docker save');
  add('docker.package_write_s', seconds(pkg.timings.write), 's', '  of which writing the tar');
  add('docker.package_size_mb', pkg.size / 1e6, 'MB', 'package size');
  add('docker.package_vs_mse_ratio', pkg.size / MSE_PACKAGE_BYTES, 'x', 'package size / MSE package (~1 GB)');

  const healthy = [];
  const total = [];
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    const lt = await runLocaltest({ engine, log, paths, output: { write: () => true } });
    total.push(performance.now() - t);
    healthy.push(lt.healthyAfterMs);
  }
  add('docker.localtest_healthy_s', seconds(median(healthy)), 's', 'localtest: docker start → healthy (median of 3)');
  add('docker.localtest_total_s', seconds(median(total)), 's', 'localtest: whole command with tests (median of 3)');

  for (const repo of ['mse-bench-flask', 'mse-bench-flask_test'])
    await engine.removeImage(`${repo}:latest`).catch(() => undefined);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const width = Math.max(...figures.map((f) => f.label.length));
console.log('\nDocker runtime');
for (const f of figures)
  console.log(`  ${f.label.padEnd(width)}  ${f.value.toFixed(f.unit === 'x' ? 2 : 2).padStart(8)} ${f.unit}`);
console.log('');
for (const f of figures) console.log(`${f.name}: ${f.value.toFixed(3)} ${f.unit}`);
