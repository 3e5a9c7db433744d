#!/usr/bin/env node
// Gramine measurement benchmark: MRENCLAVE of 256 MiB and 4 GiB enclaves with EDMM off (every heap page is
// one EADD record: ~1 million records at 4 GiB), against the cost of SHA-256 alone over the same number of
// bytes on this machine; plus `gramine-sgx-sign`'s whole flow on a vector case (finalize, measure, sign)
// and one `mse home measure` process. Prints a table and one `name: value unit` line per figure.
// Run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gramineSign, HostFileSource, measureEnclave } from '../dist/gramine/index.js';
import { readVector, readVectorText, vectorPath } from '../dist/testing/vectors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 7;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function time(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

const CASE = 'case04_4G_t4_prod_cpufeat';
const manifest = readVector('gramine', CASE, 'expected', 'app.manifest.sgx');
const libpal = readVector('gramine', CASE, 'input', 'libpal.so');

const rows = [];
const lines = [];
for (const [name, size] of [
  ['256m', 2 ** 28],
  ['4g', 2 ** 32],
]) {
  let bytes = 0;
  const ms = await time(RUNS, () => {
    bytes = measureEnclave(manifest, libpal, { enclaveSize: size, maxThreads: 4, edmm: false }).bytesHashed;
  });
  // SHA-256 alone over as many bytes, in 1 MiB updates: the floor for this measurement.
  const chunk = Buffer.alloc(1 << 20);
  const shaMs = await time(RUNS, () => {
    const h = createHash('sha256');
    for (let left = bytes; left > 0; left -= chunk.length)
      h.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
    h.digest();
  });
  rows.push([`MRENCLAVE ${name.toUpperCase()}, EDMM off`, ms, bytes, shaMs]);
  lines.push(`gramine.mrenclave_${name}_edmm_off_ms: ${ms.toFixed(1)} ms`);
  lines.push(`gramine.mrenclave_${name}_records_mb: ${(bytes / 2 ** 20).toFixed(1)} MB`);
  lines.push(`gramine.mrenclave_${name}_over_sha256: ${(ms / shaMs).toFixed(2)} x`);
}

const params = JSON.parse(readVectorText('gramine', CASE, 'input', 'params.json'));
const key = createPrivateKey(readVectorText('gramine', CASE, 'input', 'enclave-key.pem'));
const input = readVector('gramine', CASE, 'input', 'app.manifest');
const source = new HostFileSource(vectorPath('gramine', CASE, 'input'));
const signMs = await time(RUNS, () => gramineSign(input, source, libpal, { key, date: params.date }));
rows.push([`gramine-sgx-sign flow (${CASE})`, signMs, undefined, undefined]);
lines.push(`gramine.sign_flow_4g_ms: ${signMs.toFixed(1)} ms`);

const proc = await time(quick ? 1 : 3, () => {
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'bin', 'mse.js'),
      'home',
      'measure',
      '--manifest',
      vectorPath('gramine', CASE, 'input', 'app.manifest'),
      '--libpal',
      vectorPath('gramine', CASE, 'input', 'libpal.so'),
      '--json',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
});
rows.push(['mse home measure --manifest (process)', proc, undefined, undefined]);
lines.push(`gramine.measure_process_ms: ${proc.toFixed(0)} ms`);

console.log('| what | median | records hashed | SHA-256 alone |');
console.log('| --- | --- | --- | --- |');
for (const [what, ms, bytes, sha] of rows) {
  console.log(
    `| ${what} | ${ms.toFixed(1)} ms | ${bytes ? `${(bytes / 2 ** 20).toFixed(1)} MB` : ''} | ${sha ? `${sha.toFixed(1)} ms` : ''} |`,
  );
}
console.log('');
for (const l of lines) console.log(l);
