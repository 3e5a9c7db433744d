#!/usr/bin/env node
// Enclave benchmark, with the real Docker engine on the simulated platform (ARCHITECTURE.md §8 budgets):
// - spawn: the package read and its image loaded, then → the configuration server answering (< 3 s);
//   the first spawn also creates the simulated platform and the signer key, and is reported apart;
// - run: the secrets sent → the app answering its health check (< 2 s);
// - `mse home verify --package` / `--mrenclave` and `mse home --help` as full processes: median wall time
//   (< 0.3 s, < 0.2 s) and median CPU time, steadier on a shared machine; `node -e 0` as the floor;
// - requests/s of the scaffolded app (GET / and GET /health) through the enclave's TLS versus the same
//   image, code, certificate and key served by `mse-serve` launched directly in a container with the same
//   host configuration and port publishing (≥ 90 %), with wrk (or a keep-alive Node client when wrk is
//   missing), on loopback only, in interleaved rounds; plus requests per CPU-second of each server
//   container (from its cgroup), which hardly depends on what else runs on the machine.
// spawn and run go through the CLI's own command modules in this process, with a logger that records the
// commands' phases. Everything is made under a temporary directory (MSE_HOME_STATE_DIR included); every
// container is named mse-bench-* and removed at the end, even on failure. Prints a table and one
// `name: value unit` line per figure. Run `npm run build` first. Flags: `--quick` (shorter), `--rounds=N`
// (throughput rounds), `--verbose` (the commands' logs and each round).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { planEnclaveContainer } from '../dist/deploy/container.js';
import { findDeployment, endpointOf } from '../dist/deploy/deployments.js';
import { probe } from '../dist/deploy/enclave-client.js';
import { DockerEngine } from '../dist/docker/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MSE = path.join(root, 'bin', 'mse.js');
const quick = process.argv.includes('--quick');
const verbose = process.argv.includes('--verbose');
const N = {
  spawns: quick ? 2 : 3, // the first one also creates the sim platform identity and the signer key
  cli: quick ? 5 : 9,
  rounds: Number(
    /^--rounds=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--rounds=')) ?? '')?.[1] ?? (quick ? 2 : 5),
  ),
  seconds: quick ? 2 : 3,
};
const CONNECTIONS = 16;
const PREFIX = `mse-bench-${process.pid}`;
const APP = 'mse_bench_app';

const work = mkdtempSync(path.join(os.tmpdir(), 'mse-bench-'));
const env = { ...process.env, MSE_HOME_STATE_DIR: path.join(work, 'state'), NO_COLOR: '1' };
const engine = DockerEngine.fromEnv(env);
const containers = new Set(); // names to remove at the end
const figures = []; // [name, value, unit, budget?]

// ---------------------------------------------------------------------------------------------- helpers

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function figure(name, value, unit, budget) {
  figures.push({ name, value, unit, budget });
}

// A preloaded one-liner that writes the process's own CPU time (user + system, µs) at exit to the file
// MSE_BENCH_CPU_FILE names: on a busy machine, CPU time is steadier than wall time.
const CPU_PROBE =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>{const u=process.cpuUsage();" +
  'writeFileSync(process.env.MSE_BENCH_CPU_FILE,String(u.user+u.system))})';
const cpuFile = path.join(work, 'cpu-usage');

/** Run the CLI as a full process; throws with its stderr when the exit code is not `expect`. */
function mse(args, { expect = 0, cpu = false } = {}) {
  const node = cpu ? ['--import', CPU_PROBE] : [];
  const t = performance.now();
  const r = spawnSync(process.execPath, [...node, MSE, 'home', ...args], {
    env: cpu ? { ...env, MSE_BENCH_CPU_FILE: cpuFile } : env,
    cwd: work,
    encoding: 'utf8',
  });
  const ms = performance.now() - t;
  if (r.status !== expect) {
    throw new Error(`mse home ${args.join(' ')} exited ${r.status} (expected ${expect}):\n${r.stderr}${r.stdout}`);
  }
  return { ms, cpuMs: cpu ? Number(readFileSync(cpuFile, 'utf8')) / 1000 : NaN, stdout: r.stdout, stderr: r.stderr };
}

/** Median wall and CPU time of a full CLI process over `n` runs (after one unmeasured warm-up run). */
function cliTimes(args, n) {
  mse(args);
  const wall = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    // wall without the CPU probe, CPU with it (interleaved, so both see the same machine load)
    wall.push(mse(args).ms);
    cpu.push(mse(args, { cpu: true }).cpuMs);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

/** Median wall and CPU time of a bare `node -e 0`: the floor under every CLI figure. */
function nodeTimes(n) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    wall.push(performance.now() - t);
    spawnSync(process.execPath, ['--import', CPU_PROBE, '-e', '0'], { env: { ...env, MSE_BENCH_CPU_FILE: cpuFile } });
    cpu.push(Number(readFileSync(cpuFile, 'utf8')) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

/** A logger for the command modules that records their phases (and echoes them with --verbose). */
function recordingLogger() {
  const phases = new Map();
  const echo = (s) => verbose && process.stderr.write(`    ${s}\n`);
  return {
    phases,
    log: {
      info: echo,
      success: echo,
      warn: echo,
      line: echo,
      phase(name) {
        const start = performance.now();
        echo(`→ ${name}…`);
        return (detail) => {
          phases.set(name, { start, end: performance.now() });
          echo(`✓ ${name}${detail ? `: ${detail}` : ''}`);
        };
      },
    },
  };
}

function phase(phases, name) {
  const p = phases.get(name);
  if (!p) throw new Error(`the command did not report its phase '${name}' (renamed? update bench/enclave.js)`);
  return p;
}

async function runCommand(module, values, positionals, rec) {
  const spec = (await import(`../dist/cli/commands/${module}.js`)).default;
  const code = await spec.run({ values, positionals, json: false, log: rec.log, stdout: process.stdout, env });
  if (code) throw new Error(`${module} returned exit code ${code}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function until(what, timeoutMs, fn, intervalMs = 25) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function docker(args) {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------- load

/** Requests/s with wrk: `{ rps, p50 }`; throws on socket errors or non-2xx answers. */
function wrk(url, seconds) {
  const r = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk ${url}: ${r.stderr || r.error}`);
  const out = r.stdout;
  if (/Non-2xx or 3xx responses/.test(out) || /Socket errors/.test(out)) throw new Error(`wrk ${url}:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in /.exec(out)?.[1]);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const scale = { us: 1e-3, ms: 1, s: 1e3 };
  if (!Number.isFinite(rps) || !Number.isFinite(requests)) throw new Error(`cannot read wrk's output:\n${out}`);
  return { rps, requests, p50: p50 ? Number(p50[1]) * scale[p50[2]] : NaN };
}

/** The same with a keep-alive Node https client and bounded concurrency (when wrk is not installed). */
async function nodeLoad(url, seconds) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false });
  const end = performance.now() + seconds * 1000;
  const lat = [];
  let n = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      https
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}`));
            lat.push(performance.now() - t);
            n++;
            resolve();
          });
        })
        .on('error', reject);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  agent.destroy();
  return { rps: n / ((performance.now() - t0) / 1000), requests: n, p50: median(lat) };
}

/**
 * CPU time (ms) a container has used so far, from its cgroup (v1 cgroupfs, v2 cgroupfs or systemd), else
 * from the engine's stats. Requests per CPU-second of the server hardly depend on what else runs on the
 * machine, unlike requests per second.
 */
async function containerCpuMs(id) {
  const v1 = [
    `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`,
    `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`,
  ];
  for (const f of v1) if (existsSync(f)) return Number(readFileSync(f, 'utf8')) / 1e6;
  const v2 = [`/sys/fs/cgroup/docker/${id}/cpu.stat`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`];
  for (const f of v2) {
    if (existsSync(f)) return Number(/usage_usec (\d+)/.exec(readFileSync(f, 'utf8'))?.[1]) / 1e3;
  }
  const stats = await engine.docker.getContainer(id).stats({ stream: false, 'one-shot': true });
  return stats.cpu_stats.cpu_usage.total_usage / 1e6;
}

const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
const load = (url, seconds) => (hasWrk ? wrk(url, seconds) : nodeLoad(url, seconds));

// ---------------------------------------------------------------------------------------------- steps

async function spawnOnce(i, pkg) {
  const name = `${PREFIX}-${i}`;
  const out = path.join(work, `deploy-${i}`);
  const port = await freePort();
  containers.add(name);
  const rec = recordingLogger();
  const t0 = performance.now();
  await runCommand(
    'spawn',
    {
      package: pkg,
      output: out,
      san: 'localhost',
      size: '2048',
      port: String(port),
      'signer-key': path.join(work, 'signer-key.pem'),
      platform: 'sim',
    },
    [name],
    rec,
  );
  const total = performance.now() - t0;
  const read = phase(rec.phases, 'reading the package');
  const loaded = phase(rec.phases, 'loading the image');
  const started = phase(rec.phases, 'starting the enclave');
  const config = phase(rec.phases, 'waiting for the configuration server');
  return {
    name,
    out,
    port,
    readMs: read.end - read.start,
    loadImageMs: loaded.end - loaded.start,
    prepareMs: started.start - loaded.end, // signer key, sim platform, MRENCLAVE, quoting service
    startMs: started.end - started.start, // create + start the container
    waitConfigMs: config.end - config.start,
    toConfigMs: config.end - loaded.end,
    totalMs: total,
  };
}

/** `run` as the CLI does it, plus a 25 ms poller that sees the first health answer of the app. */
async function runOnce(dep, project) {
  const sealedDir = path.join(dep.out, 'provider');
  mkdirSync(sealedDir);
  mse([
    'seal',
    '--secrets',
    path.join(project, 'secrets_to_seal.json'),
    '--cert',
    path.join(dep.out, 'ratls.pem'),
    '--output',
    sealedDir,
  ]);
  const d = await findDeployment(engine, dep.name);
  const pem = readFileSync(path.join(dep.out, 'ratls.pem'), 'utf8');
  // The poller runs until it sees the app (it may lose the race to the command's own probe: the app was
  // then ready by the time the command returned).
  let firstHealth;
  let failed = false;
  const t0 = performance.now();
  const poller = (async () => {
    while (!failed && firstHealth === undefined && performance.now() - t0 < 60_000) {
      const p = await probe(endpointOf(d), pem, d.healthcheckEndpoint, 2_000);
      if (p.kind === 'answer' && p.status === 200 && !p.waiting) firstHealth = performance.now() - t0;
      else await sleep(25);
    }
  })();
  const rec = recordingLogger();
  try {
    await runCommand(
      'run',
      {
        secrets: path.join(project, 'secrets.json'),
        'sealed-secrets': path.join(sealedDir, 'secrets_to_seal.json.sealed'),
      },
      [dep.name],
      rec,
    );
  } catch (error) {
    failed = true;
    throw error;
  }
  const total = performance.now() - t0;
  await poller;
  const send = phase(rec.phases, 'sending the secrets to the configuration server');
  return { cliMs: total, postMs: send.end - send.start, appReadyMs: Math.min(firstHealth ?? Infinity, total) };
}

/** `mse-serve` started directly (no bootstrap) in the same image, with the enclave's code, cert and key. */
async function startDirect(dep) {
  const d = await findDeployment(engine, dep.name);
  const dir = path.join(work, 'direct');
  mkdirSync(path.join(dir, 'tls'), { recursive: true });
  // the enclave's own files: the code as configured, and its RA-TLS certificate and key
  docker(['cp', `${dep.name}:/mse-app`, path.join(dir, 'mse-app')]);
  docker(['cp', `${dep.name}:/key/cert.ratls.pem`, path.join(dir, 'tls', 'cert.pem')]);
  docker(['cp', `${dep.name}:/key/key.ratls.pem`, path.join(dir, 'tls', 'key.pem')]);
  const port = await freePort();
  const name = `${PREFIX}-direct`;
  containers.add(name);
  // the enclave container's host configuration (capabilities, limits), port publishing as the enclave's
  const enclaveSpec = planEnclaveContainer({
    name,
    image: d.image,
    healthcheckEndpoint: d.healthcheckEndpoint,
    platform: 'sim',
    enclaveDir: dir,
    outputDir: dir,
    host: '127.0.0.1',
    port,
    signerKeyPath: '',
    simSocketDir: dir,
  });
  const directId = await engine.runContainer({
    name,
    image: d.image,
    entrypoint: ['mse-serve'],
    cmd: [
      '--application',
      d.args.application,
      '--app-dir',
      '/mse-app',
      '--host',
      '0.0.0.0',
      '--port',
      '443',
      '--certfile',
      '/tls/cert.pem',
      '--keyfile',
      '/tls/key.pem',
    ],
    binds: [
      { host: path.join(dir, 'mse-app'), container: '/mse-app' },
      { host: path.join(dir, 'tls'), container: '/tls', readOnly: true },
    ],
    ports: enclaveSpec.ports,
    extra: enclaveSpec.extra,
  });
  const pem = readFileSync(path.join(dep.out, 'ratls.pem'), 'utf8');
  const endpoint = { address: '127.0.0.1', port, san: d.args.san };
  await until('the direct server', 30_000, async () => {
    const p = await probe(endpoint, pem, d.healthcheckEndpoint, 2_000);
    return p.kind === 'answer' && p.status === 200;
  });
  return { enclave: { port: d.port, id: d.id }, direct: { port, id: directId } };
}

/** Per path: median requests/s, requests per CPU-second of the server container, and p50 latency. */
async function throughput(servers) {
  const result = {};
  for (const p of ['/', '/health']) {
    const url = (k) => `https://127.0.0.1:${servers[k].port}${p}`;
    for (const k of ['enclave', 'direct']) await load(url(k), 1); // warm-up
    const runs = { enclave: [], direct: [] };
    for (let r = 0; r < N.rounds; r++) {
      // interleaved, alternating which goes first, so that noise from the shared machine hits both
      const order = r % 2 ? ['direct', 'enclave'] : ['enclave', 'direct'];
      for (const k of order) {
        const cpu0 = await containerCpuMs(servers[k].id);
        const run = await load(url(k), N.seconds);
        const cpuMs = (await containerCpuMs(servers[k].id)) - cpu0;
        runs[k].push({ ...run, perCpuSecond: run.requests / (cpuMs / 1000) });
        if (verbose) {
          const r = runs[k].at(-1);
          process.stderr.write(
            `  ${k.padEnd(7)} ${p.padEnd(7)} ${r.rps.toFixed(0)} req/s, ${r.perCpuSecond.toFixed(0)} req/CPU-s\n`,
          );
        }
      }
    }
    const med = (k, f) => median(runs[k].map((x) => x[f]));
    result[p] = Object.fromEntries(
      ['enclave', 'direct'].map((k) => [k, { rps: med(k, 'rps'), perCpu: med(k, 'perCpuSecond'), p50: med(k, 'p50') }]),
    );
  }
  return result;
}

async function cleanup() {
  for (const name of containers) await engine.removeContainer(name, { force: true }).catch(() => undefined);
  containers.clear();
  for (const img of await engine.listImages().catch(() => [])) {
    for (const tag of img.repoTags) {
      if (tag.startsWith(`${APP}:`) || tag.startsWith(`${APP}_test:`)) {
        await engine.removeImage(tag, { noPrune: true }).catch(() => undefined);
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const bare = nodeTimes(N.cli);
  figure('node.start_ms', bare.wall, 'ms');
  figure('node.start_cpu_ms', bare.cpu, 'ms');
  const help = cliTimes(['--help'], N.cli);
  figure('cli.help_ms', help.wall, 'ms', 200);
  figure('cli.help_cpu_ms', help.cpu, 'ms');

  await engine.ping();
  const project = path.join(work, APP);
  mse(['scaffold', APP]);
  const pkgDir = path.join(work, 'provider');
  const packaged = mse(['package', '--project', project, '--output', pkgDir]);
  const pkg = path.join(
    pkgDir,
    readdirSync(pkgDir).find((f) => /^package_.*\.tar$/.test(f)),
  );
  figure('setup.package_ms', packaged.ms, 'ms');

  const spawns = [];
  const runs = [];
  for (let i = 0; i < N.spawns; i++) {
    const s = await spawnOnce(i, pkg);
    spawns.push(s);
    runs.push(await runOnce(s, project));
    if (verbose) process.stderr.write(`  spawn ${i}: ${JSON.stringify(s)}\n  run ${i}: ${JSON.stringify(runs[i])}\n`);
    if (i < N.spawns - 1) {
      await engine.removeContainer(s.name, { force: true });
      containers.delete(s.name);
    }
  }
  const warm = spawns.slice(1);
  const last = spawns[spawns.length - 1];
  figure('enclave.spawn_read_package_ms', median(warm.map((s) => s.readMs)), 'ms');
  figure('enclave.spawn_load_image_ms', median(warm.map((s) => s.loadImageMs)), 'ms');
  figure('enclave.spawn_prepare_ms', median(warm.map((s) => s.prepareMs)), 'ms');
  figure('enclave.spawn_start_container_ms', median(warm.map((s) => s.startMs)), 'ms');
  figure('enclave.spawn_wait_config_ms', median(warm.map((s) => s.waitConfigMs)), 'ms');
  figure('enclave.spawn_to_config_ms', median(warm.map((s) => s.toConfigMs)), 'ms', 3000);
  figure('enclave.spawn_to_config_first_ms', spawns[0].toConfigMs, 'ms');
  figure('enclave.spawn_total_ms', median(warm.map((s) => s.totalMs)), 'ms');
  figure('enclave.run_post_ms', median(runs.map((r) => r.postMs)), 'ms');
  figure('enclave.run_app_ready_ms', median(runs.map((r) => r.appReadyMs)), 'ms');
  figure('enclave.run_to_health_ms', median(runs.map((r) => r.cliMs)), 'ms', 2000);

  const evidence = path.join(last.out, 'evidence.json');
  const verifyOut = path.join(work, 'verified');
  mkdirSync(verifyOut);
  const base = ['verify', '--evidence', evidence, '--output', verifyOut, '--allow-simulation'];
  const mrenclave = JSON.parse(mse([...base, '--package', pkg, '--json']).stdout);
  const mr = mrenclave?.enclave?.mrenclave ?? mrenclave?.mrenclave ?? findHex(mrenclave);
  const byPackage = cliTimes([...base, '--package', pkg], N.cli);
  const byMrenclave = cliTimes([...base, '--mrenclave', mr], N.cli);
  figure('verify.package_wall_ms', byPackage.wall, 'ms', 300);
  figure('verify.package_cpu_ms', byPackage.cpu, 'ms');
  figure('verify.mrenclave_wall_ms', byMrenclave.wall, 'ms', 300);
  figure('verify.mrenclave_cpu_ms', byMrenclave.cpu, 'ms');

  const tp = await throughput(await startDirect(last));
  for (const [p, suffix] of [
    ['/', ''],
    ['/health', '_health'],
  ]) {
    const { enclave, direct } = tp[p];
    figure(`enclave.rps${suffix}`, enclave.rps, 'req/s');
    figure(`direct.rps${suffix}`, direct.rps, 'req/s');
    figure(`enclave.rps${suffix}_ratio`, enclave.rps / direct.rps, 'x', 0.9);
    figure(`enclave.req_per_cpu_s${suffix}`, enclave.perCpu, 'req');
    figure(`direct.req_per_cpu_s${suffix}`, direct.perCpu, 'req');
    figure(`enclave.req_per_cpu${suffix}_ratio`, enclave.perCpu / direct.perCpu, 'x');
    figure(`enclave.p50${suffix}_ms`, enclave.p50, 'ms');
    figure(`direct.p50${suffix}_ms`, direct.p50, 'ms');
  }
}

/** The 64-hex MRENCLAVE anywhere in verify's JSON report. */
function findHex(obj) {
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (typeof v === 'string' && /mrenclave/i.test(k) && /^[0-9a-f]{64}$/.test(v)) return v;
    if (v && typeof v === 'object') {
      const got = findHex(v);
      if (got) return got;
    }
  }
  return undefined;
}

function report() {
  const fmt = (f) => (f.unit === 'x' ? f.value.toFixed(2) : f.value >= 100 ? f.value.toFixed(0) : f.value.toFixed(1));
  const verdict = (f) => {
    if (f.budget === undefined) return '';
    const ok = f.unit === 'x' ? f.value >= f.budget : f.value < f.budget;
    return `${ok ? 'ok  ' : 'MISS'} (${f.unit === 'x' ? '≥' : '<'} ${f.budget} ${f.unit})`;
  };
  console.log(
    `enclave benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; ` +
      `load generator: ${hasWrk ? `wrk -t1 -c${CONNECTIONS}` : `node https keep-alive x${CONNECTIONS}`}, ` +
      `${N.rounds}×${N.seconds} s per server and path)`,
  );
  console.log(`${'figure'.padEnd(36)}${'value'.padStart(10)}  ${'unit'.padEnd(6)}budget`);
  for (const f of figures) console.log(`${f.name.padEnd(36)}${fmt(f).padStart(10)}  ${f.unit.padEnd(6)}${verdict(f)}`);
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
  process.stderr.write(`bench/enclave.js: ${error?.stack ?? error}\n`);
} finally {
  await cleanup();
}
if (figures.length) report();
if (!existsSync(work)) process.exitCode = exitCode;
else process.exitCode = exitCode || 1;
