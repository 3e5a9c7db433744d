#!/usr/bin/env node
// SGX package verification benchmark (ARCHITECTURE.md §8: `verify` of a Gramine package with its ≈ 230 MB
// image hashed, under 1 s wall, peak RSS under 200 MB, no Docker): the scaffolded Flask app packaged FROM the
// Gramine-shaped test image (test-fixtures/gramine-test-image: the base image plus Gramine's stand-in PAL),
// its MRENCLAVE computed by `mse home measure --package`, then `mse home verify --package` as a full CLI
// process on honest test evidence for that MRENCLAVE (quote signed by the simulated quoting machinery;
// src/testing/sgx-evidence.ts), accepted with --allow-simulation. Reports the median wall and CPU time and
// peak RSS over N runs (after one warm-up run that fills the page cache), files hashed and the hashing rate.
//
//   node bench/sgx.js [--quick] [--runs=N]
//
// Needs a running engine and `npm run build`. Everything is made under a temporary directory; the images
// are tagged mse-bench-sgx-* and removed at the end. Prints a table and one `name: value unit` line each.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomUUID } from 'node:crypto';
import { serializeEvidence } from '../dist/attestation/evidence.js';
import { createLogger } from '../dist/base/log.js';
import { ensureBaseImage } from '../dist/docker/base-image.js';
import { DockerEngine } from '../dist/docker/engine.js';
import { parseArgvFile } from '../dist/launch/args.js';
import { loadOrCreateSimPlatform } from '../dist/sim/platform.js';
import { buildGramineTestImage } from '../dist/testing/gramine-image.js';
import { sgxTestEvidence } from '../dist/testing/sgx-evidence.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MSE = path.join(root, 'bin', 'mse.js');
const quick = process.argv.includes('--quick');
const runs = Number(
  /^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? (quick ? 3 : 7),
);
const TAG = `mse-bench-sgx-${process.pid}`;
const GRAMINE_IMAGE = `${TAG}-gramine:1`;
const APP = `${TAG.replaceAll('-', '_')}_app`;

const work = mkdtempSync(path.join(os.tmpdir(), 'mse-bench-sgx-'));
const env = { ...process.env, NO_COLOR: '1', MSE_HOME_STATE_DIR: path.join(work, 'state') };
const engine = DockerEngine.fromEnv();
const figures = [];
const figure = (name, value, unit, budget) => figures.push({ name, value, unit, budget });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Preloaded into each measured CLI process: writes its CPU time (µs) and peak RSS (KiB) at exit.
const PROBE =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>{const r=process.resourceUsage();" +
  'writeFileSync(process.env.MSE_BENCH_PROBE_FILE,JSON.stringify({cpu:r.userCPUTime+r.systemCPUTime,rss:r.maxRSS}))})';
const probeFile = path.join(work, 'probe.json');

function mse(args, { expect = 0, probe = false } = {}) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [...(probe ? ['--import', PROBE] : []), MSE, 'home', ...args], {
    env: probe ? { ...env, MSE_BENCH_PROBE_FILE: probeFile } : env,
    cwd: work,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const ms = performance.now() - t;
  if (r.status !== expect) throw new Error(`mse home ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return { ms, stdout: r.stdout, stderr: r.stderr, ...(probe ? JSON.parse(readFileSync(probeFile, 'utf8')) : {}) };
}

async function main() {
  await engine.ping();
  const log = createLogger({ quiet: true, env: { NO_COLOR: '1' } });
  await ensureBaseImage(engine, log);
  await buildGramineTestImage(engine, GRAMINE_IMAGE);

  // The scaffolded Flask app, FROM the Gramine-shaped image.
  const project = path.join(work, APP);
  mse(['scaffold', project]);
  const dockerfile = path.join(project, 'Dockerfile');
  writeFileSync(dockerfile, readFileSync(dockerfile, 'utf8').replace(/^FROM \S+/m, `FROM ${GRAMINE_IMAGE}`));
  const pkg = JSON.parse(
    mse(['package', '--project', project, '--output', path.join(work, 'out'), '--json']).stdout,
  ).package;
  const pkgBytes = statSync(pkg).size;

  const args = {
    size: 4096,
    subject: 'CN=localhost,O=MyApp Company,C=FR,L=Paris,ST=Ile-de-France',
    san: 'localhost',
    appId: randomUUID(),
    application: 'app:app',
    expiration: Math.floor(Date.now() / 1000) + 30 * 86_400,
  };
  const out = path.join(work, 'measured');
  mkdirSync(out);
  const flags = ['--size', String(args.size), '--san', args.san, '--subject', args.subject];
  flags.push('--app-id', args.appId, '--expiration', String(args.expiration));
  const measureCmd = ['measure', '--package', pkg, ...flags, '--output', out, '--json'];
  mse(measureCmd); // warm-up: page cache
  const measured = mse(measureCmd, { probe: true });
  const m = JSON.parse(measured.stdout);

  const sim = await loadOrCreateSimPlatform({ dir: path.join(work, 'sim') });
  const evidence = sgxTestEvidence({
    sim,
    mrenclave: new Uint8Array(Buffer.from(m.mrenclave, 'hex')),
    args,
    gramineManifest: readFileSync(path.join(out, 'enclave.manifest.sgx'), 'utf8'),
    gramineArgv: parseArgvFile(readFileSync(path.join(out, 'args'))),
  });
  const evidenceFile = path.join(work, 'evidence.json');
  writeFileSync(evidenceFile, serializeEvidence(evidence));
  const verifyCmd = ['verify', '--evidence', evidenceFile, '--package', pkg, '--output', work, '--allow-simulation'];

  mse(verifyCmd); // warm-up
  const wall = [];
  const cpu = [];
  const rss = [];
  let rate = 0;
  for (let i = 0; i < runs; i++) {
    wall.push(mse(verifyCmd).ms);
    const p = mse(verifyCmd, { probe: true });
    cpu.push(p.cpu / 1000);
    rss.push(p.rss / 1024);
    const r =
      /measured the package for SGX in ([0-9.]+) s: (\d+) files hashed \(([0-9.]+) MB\), ([0-9.]+) MB of layers/.exec(
        p.stderr,
      );
    if (!r) throw new Error(`verify did not report its measurement:\n${p.stderr}`);
    rate = Math.max(rate, (Number(r[3]) + Number(r[4])) / Number(r[1])); // bytes hashed per second of measuring
  }

  // This machine's SHA-256 speed right now (one thread), to read the figures above against: verify hashes the
  // layers (for their diff IDs) and the trusted files, so twice most of the image, on two threads.
  const probe = Buffer.alloc(64 << 20, 1);
  const shaRates = [0, 1, 2].map(() => {
    const t = performance.now();
    createHash('sha256').update(probe).digest();
    return probe.length / 1e6 / ((performance.now() - t) / 1000);
  });
  const shaRate = median(shaRates);

  figure('sgx.package_mb', pkgBytes / 1e6, 'MB');
  figure('sgx.files_hashed', m.filesHashed, 'files');
  figure('sgx.trusted_files', m.trustedFiles, 'files');
  figure('sgx.bytes_hashed_mb', m.bytesHashed / 1e6, 'MB');
  figure('sgx.layer_bytes_checked_mb', m.layerBytesChecked / 1e6, 'MB');
  figure('sgx.measure_package_wall_ms', measured.ms, 'ms');
  figure('sgx.verify_package_wall_ms', median(wall), 'ms', 1000);
  figure('sgx.verify_package_cpu_ms', median(cpu), 'ms');
  figure('sgx.verify_package_peak_rss_mb', Math.max(...rss), 'MB', 200);
  figure('sgx.hash_rate_mb_per_s', rate, 'MB/s');
  figure('sgx.machine_sha256_mb_per_s', shaRate, 'MB/s');
  figure('sgx.single_thread_sha256_floor_ms', ((m.bytesHashed + m.layerBytesChecked) / 1e6 / shaRate) * 1000, 'ms');
}

async function cleanup() {
  for (const repo of [GRAMINE_IMAGE, `${APP}:latest`]) await engine.removeImage(repo).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}

function report() {
  const fmt = (f) => f.value.toFixed(f.unit === 'files' ? 0 : 1);
  const verdict = (f) =>
    f.budget === undefined
      ? ''
      : f.value < f.budget
        ? `ok   (< ${f.budget} ${f.unit})`
        : `MISS (< ${f.budget} ${f.unit})`;
  console.log(`SGX package verification (${runs} runs; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
  console.log(`${'figure'.padEnd(34)}${'value'.padStart(10)}  ${'unit'.padEnd(6)}budget`);
  for (const f of figures) console.log(`${f.name.padEnd(34)}${fmt(f).padStart(10)}  ${f.unit.padEnd(6)}${verdict(f)}`);
  console.log('');
  for (const f of figures) console.log(`${f.name}: ${fmt(f)} ${f.unit}`);
}

let exitCode = 0;
const onSignal = async () => {
  await cleanup();
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
try {
  await main();
} catch (error) {
  exitCode = 1;
  process.stderr.write(`bench/sgx.js: ${error?.stack ?? error}\n`);
} finally {
  await cleanup();
}
if (figures.length) report();
process.exitCode = exitCode;
