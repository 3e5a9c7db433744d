// Snapshots of the CLI's outputs, run through the real `mse` process (bin/mse.js): every command's --help,
// the top help, the error line and hint of representative bad invocations, `verify` (table and --json) on
// simulated evidence made by the test helpers and on MSE's real evidence at a fixed --at, `quote show` /
// `quote verify` on Intel DCAP vectors, `sigstruct show` and `measure --manifest` on a Gramine vector,
// `doctor --json`'s shape, and the keygen/seal/unseal/encrypt/decrypt messages. They pin behaviour across
// refactors: a change of output is a change of behaviour and shows up here as a diff.
//
// The snapshots live in test-fixtures/cli-snapshots/<name>.txt. After an intended output change:
//   npm run build && UPDATE_SNAPSHOTS=1 node scripts/run-tests.js snapshots
// and review the diff (git diff test-fixtures/cli-snapshots). Only what is genuinely variable is replaced,
// by the named normalisers below (temporary paths, the version, values derived from fresh random keys).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseEvidence, serializeEvidence, type Evidence, type InputArgs } from '../attestation/evidence.js';
import { parseQuote } from '../attestation/quote.js';
import { readPackage } from '../package/read.js';
import { readRatlsCertificate } from '../ratls/read.js';
import { simMrenclaveOfEvidence } from '../sim/package-measurement.js';
import { loadOrCreateSimPlatform, type SimPlatform } from '../sim/platform.js';
import { PHALA_CLI } from '../testing/dcap.js';
import { runMse, type CliResult, type RunMseOptions } from '../testing/cli.js';
import { gramineCases } from '../testing/gramine.js';
import { minimalPackage } from '../testing/packages.js';
import { pccsHandler, serve } from '../testing/pccs-server.js';
import { makeSimEvidence } from '../testing/sim-evidence.js';
import { REPO_ROOT, readVectorText, vectorPath } from '../testing/vectors.js';
import { VERSION } from '../version.js';
import { SGX_DEVICES } from '../sgx/host-checks.js';
import { COMMANDS } from './registry.js';

const SNAPSHOTS = path.join(REPO_ROOT, 'test-fixtures', 'cli-snapshots');
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

// ---- normalisers: each replaces one kind of genuinely variable text with a named placeholder ----------------

type Normaliser = (text: string) => string;

/** A temporary directory made by this test → `<TMP>`. */
const tempDir =
  (dir: string): Normaliser =>
  (t) =>
    t.split(dir).join('<TMP>');
/** The package version (moves with releases, not with behaviour) → `<VERSION>`. */
const version: Normaliser = (t) => t.split(`mse-home ${VERSION}`).join('mse-home <VERSION>');
/**
 * Values this test derived from fresh random keys (the RA-TLS key's report_data, the sim root's digest…),
 * each replaced by its name: exact values, so everything else stays pinned.
 */
const randomValues =
  (values: Record<string, string>): Normaliser =>
  (t) =>
    Object.entries(values).reduce((acc, [name, value]) => acc.split(value).join(`<${name}>`), t);
/** Phase durations of the logger (`(12 ms)`, `(1.2 s)`) → `(<DURATION>)`. */
const durations: Normaliser = (t) => t.replace(/\((\d+ ms|\d+\.\d s)\)/g, '(<DURATION>)');

// ---- the snapshot store -------------------------------------------------------------------------------------

function render(args: string[], r: CliResult, normalise: Normaliser[]): string {
  const text = [
    `$ mse ${args.join(' ')}`,
    `exit: ${r.code}`,
    '--- stdout',
    r.stdout.replace(/\n?$/, ''),
    '--- stderr',
    r.stderr.replace(/\n?$/, ''),
    '',
  ].join('\n');
  return [...normalise, version, durations].reduce((t, n) => n(t), text);
}

/** Compare with (or, with UPDATE_SNAPSHOTS=1, write) test-fixtures/cli-snapshots/<name>.txt. */
function matchSnapshot(name: string, actual: string): void {
  const file = path.join(SNAPSHOTS, `${name}.txt`);
  if (UPDATE) {
    mkdirSync(SNAPSHOTS, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `no snapshot ${file}: run UPDATE_SNAPSHOTS=1 node scripts/run-tests.js snapshots`);
  const expected = readFileSync(file, 'utf8');
  if (actual === expected) return;
  // Name the first differing line: the whole texts are long, the update command shows the full diff.
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((line, k) => line !== e[k]);
  const at = i === -1 ? a.length : i;
  assert.fail(
    `snapshot ${name} differs at line ${at + 1}:\n  expected: ${JSON.stringify(e[at])}\n  actual:   ${JSON.stringify(a[at])}\n` +
      `(rerun with UPDATE_SNAPSHOTS=1 and review git diff test-fixtures/cli-snapshots if the change is intended)`,
  );
}

/** Run `mse …args` and match its exit code, stdout and stderr with the snapshot `name`. */
async function snap(
  name: string,
  args: string[],
  normalise: Normaliser[] = [],
  options: RunMseOptions = {},
): Promise<CliResult> {
  const r = await runMse(args, { ...options, env: { MSE_DEFAULT_ENV: '', ...options.env } });
  assert.equal(r.timedOut, false, `${name} timed out`);
  matchSnapshot(name, render(args, r, normalise));
  return r;
}

/** Run `jobs` with at most `n` at a time (the CLI is a process each; the machine has few cores). */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

let dir: string;
const tmp = (...p: string[]): string => path.join(dir, ...p);
/** A new empty directory under the test's temporary directory, named (so that outputs name it stably). */
const fresh = (name: string): string => {
  mkdirSync(tmp(name));
  return tmp(name);
};
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-snapshots-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI snapshots: help', () => {
  it('the top help, the version and every command --help', async () => {
    const jobs: [string, string[]][] = [
      ['help-top', ['home', '--help']],
      ['help-bare', ['--help']],
      ['version', ['--version']],
      ...COMMANDS.map((c): [string, string[]] => [
        `help-${c.name.replace(/ /g, '-')}`,
        ['home', ...c.name.split(' '), '--help'],
      ]),
    ];
    await limited(
      4,
      jobs.map(
        ([name, args]) =>
          () =>
            snap(name, args),
      ),
    );
  });
});

describe('CLI snapshots: usage and input errors', () => {
  it('error line, hint and exit code of representative bad invocations', async () => {
    const missing = tmp('missing.json');
    const jobs: [string, string[]][] = [
      ['error-unknown-command', ['nope']],
      ['error-unknown-home-command', ['home', 'nope']],
      ['error-near-command', ['home', 's']],
      ['error-unknown-option', ['home', 'seal', '--bogus']],
      ['error-unknown-option-json', ['home', 'seal', '--bogus', '--json']],
      ['error-option-needs-value', ['home', 'verify', '--evidence']],
      ['error-missing-argument', ['home', 'spawn']],
      ['error-unexpected-argument', ['home', 'list', 'extra']],
      ['error-verify-nothing-expected', ['home', 'verify', '--output', '.']],
      ['error-verify-missing-evidence', ['home', 'verify', '--evidence', missing, '--mrenclave', '0'.repeat(64)]],
      ['error-verify-bad-mrenclave', ['home', 'verify', '--evidence', missing, '--mrenclave', 'abc']],
      ['error-quote-verify-bad-at', ['home', 'quote', 'verify', '--quote', missing, '--at', 'yesterday']],
      ['error-keygen-no-kind', ['home', 'keygen', '--output', tmp('k')]],
      ['error-keygen-two-kinds', ['home', 'keygen', '--fernet', '--x25519', '--output', tmp('k')]],
      ['error-keygen-aes-bits', ['home', 'keygen', '--aes', '100', '--output', tmp('k')]],
      ['error-decrypt-missing-key', ['home', 'decrypt', '--key', missing, '--output', '-', missing]],
      ['error-seal-no-recipient', ['home', 'seal', '--input', missing, '--output', '-']],
      ['error-spawn-bad-size', ['home', 'spawn', 'app', '--package', missing, '--size', '1000', '--san', 'x']],
      ['error-measure-nothing', ['home', 'measure']],
      ['error-doctor-bad-platform', ['home', 'doctor', '--platform', 'tdx']],
      ['error-sigstruct-missing', ['home', 'sigstruct', 'show', missing]],
    ];
    await limited(
      4,
      jobs.map(
        ([name, args]) =>
          () =>
            snap(name, args, [tempDir(dir)]),
      ),
    );
  });
});

describe('CLI snapshots: quotes, SIGSTRUCT and measurement on vectors', () => {
  const V = (...p: string[]): string => vectorPath('dcap', ...p);
  const { input: PHALA, at: AT, accept: ACCEPT } = PHALA_CLI;
  const vectors = (t: string): string => t.split(vectorPath()).join('<VECTORS>');

  it('quote show and quote verify', async () => {
    const cert = tmp('mse-ratls.pem');
    writeFileSync(cert, parseEvidence(readVectorText('mse', 'evidence.json')).ratlsCertificate);
    const jobs: [string, string[]][] = [
      ['quote-show', ['home', 'quote', 'show', V('phala-dcap-qvl/sgx_quote.bin')]],
      ['quote-show-json', ['home', 'quote', 'show', V('phala-dcap-qvl/sgx_quote.bin'), '--json']],
      ['quote-show-hex-json', ['home', 'quote', 'show', V('automata-dcap-rs/quote_v3.hex'), '--json']],
      ['quote-show-ratls', ['home', 'quote', 'show', cert]],
      ['quote-show-truncated', ['home', 'quote', 'show', V('derived-negative/truncated.bin')]],
      ['quote-verify-rejected', ['home', 'quote', 'verify', ...PHALA, ...AT]],
      ['quote-verify-accepted', ['home', 'quote', 'verify', ...PHALA, ...AT, ...ACCEPT]],
      ['quote-verify-accepted-json', ['home', 'quote', 'verify', ...PHALA, ...AT, ...ACCEPT, '--json']],
      [
        'quote-verify-tampered-json',
        [
          'home',
          'quote',
          'verify',
          '--quote',
          V('derived-negative/tampered_report_data.bin'),
          ...PHALA.slice(2),
          ...AT,
          ...ACCEPT,
          '--json',
        ],
      ],
    ];
    await limited(
      4,
      jobs.map(
        ([name, args]) =>
          () =>
            snap(name, args, [vectors, tempDir(dir)]),
      ),
    );
  });

  it('sigstruct show and measure --manifest', async () => {
    const c3 = gramineCases().find((c) => c.name.startsWith('case03'))!;
    const sig = path.join(c3.dir, 'expected', 'app.sig');
    await snap('sigstruct-show', ['home', 'sigstruct', 'show', sig], [vectors]);
    await snap('sigstruct-show-json', ['home', 'sigstruct', 'show', sig, '--json'], [vectors]);
    const input = path.join(c3.dir, 'input');
    const out = fresh('measure');
    const args = (json: string[], suffix: string): string[] => [
      'home',
      'measure',
      '--manifest',
      path.join(input, 'app.manifest'),
      '--libpal',
      path.join(input, 'libpal.so'),
      '--output-manifest',
      path.join(out, `app${suffix}.manifest.sgx`),
      '--key',
      path.join(input, 'enclave-key.pem'),
      '--date',
      c3.date,
      '--sigfile',
      path.join(out, `app${suffix}.sig`),
      ...json,
    ];
    await snap('measure-manifest', args([], ''), [vectors, tempDir(dir)]);
    await snap('measure-manifest-json', args(['--json'], '-json'), [vectors, tempDir(dir)]);
    await snap(
      'measure-manifest-only',
      ['home', 'measure', '--manifest', path.join(input, 'app.manifest'), '--libpal', path.join(input, 'libpal.so')],
      [vectors],
    );
  });
});

describe('CLI snapshots: verify', () => {
  const mse = vectorPath('mse', 'evidence.json');
  const MSE_MRENCLAVE = '0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b';

  it("MSE's real evidence at a fixed --at, table and --json", async () => {
    const out = fresh('verify-mse');
    const base = ['home', 'verify', '--evidence', mse, '--output', out, '--at', '2023-06-10'];
    const n = [tempDir(dir), (t: string) => t.split(mse).join('<MSE_EVIDENCE>')];
    await snap('verify-mse-strict', [...base, '--mrenclave', MSE_MRENCLAVE], n);
    await snap('verify-mse-intel-time', [...base, '--mrenclave', MSE_MRENCLAVE, '--ignore-issue-dates'], n);
    await snap(
      'verify-mse-intel-time-json',
      [...base, '--mrenclave', '0'.repeat(64), '--ignore-issue-dates', '--accept-tcb-status', 'OutOfDate', '--json'],
      n,
    );
  });

  // Simulated evidence at a fixed time, measured from a package assembled here in the real format; the sim
  // platform's keys and the enclave's keys are fresh, so the values derived from them are named.
  const NOW = new Date('2025-03-01T12:00:00Z');
  const AT = ['--at', '2025-03-01T12:05:00Z'];
  let sim: SimPlatform;
  let evidenceFile: string;
  let packageFile: string;
  let random: Record<string, string>;

  before(async () => {
    sim = await loadOrCreateSimPlatform({ dir: tmp('sim'), now: new Date(NOW.getTime() - 86400e3) });
    const toml =
      'name = "demo"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\ntests_cmd = "pytest"\ntests_requirements = []\n';
    packageFile = tmp('package_demo_1.tar');
    writeFileSync(packageFile, await minimalPackage(toml));
    const inputArgs: InputArgs = {
      size: 2048,
      subject: 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France',
      subjectAlternativeName: 'localhost',
      appId: '0f7e6f0e-5d1c-4b7a-9a57-3a5f1d6b2c11',
      application: 'app:app',
      expirationDate: Math.floor(NOW.getTime() / 1000) + 86400,
    };
    const mrEnclave = await simMrenclaveOfEvidence(await readPackage(packageFile), inputArgs);
    // The signer key of MSE's real evidence: a fixed MRSIGNER.
    const signerPk = parseEvidence(readVectorText('mse', 'evidence.json')).signerPk;
    const evidence: Evidence = makeSimEvidence({ sim, mrEnclave, signerPk, inputArgs, now: NOW });
    evidenceFile = tmp('sim-evidence.json');
    writeFileSync(evidenceFile, serializeEvidence(evidence));
    const cert = readRatlsCertificate(evidence.ratlsCertificate);
    const reportData = parseQuote(cert.quote).body.reportData;
    random = {
      REPORT_DATA: Buffer.from(reportData).toString('hex'),
      SIM_ROOT_SHA256: sim.rootFingerprint,
      RATLS_CERT_SHA256: createHash('sha256').update(cert.der).digest('hex'),
    };
  });

  it('simulated evidence: rejected by default, accepted with --allow-simulation, bound with --package', async () => {
    const out = fresh('verify-sim');
    const n = (): Normaliser[] => [tempDir(dir), randomValues(random)];
    const base = ['home', 'verify', '--evidence', evidenceFile, '--output', out, ...AT];
    const evidence = parseEvidence(readFileSync(evidenceFile, 'utf8'));
    const measured = await simMrenclaveOfEvidence(await readPackage(packageFile), evidence.inputArgs);
    const mrenclave = ['--mrenclave', Buffer.from(measured).toString('hex')];
    await snap('verify-sim-default', [...base, ...mrenclave], n());
    await snap('verify-sim-allowed-json', [...base, ...mrenclave, '--allow-simulation', '--json'], n());
    rmSync(path.join(out, 'ratls.pem'));
    await snap('verify-sim-package', [...base, '--package', packageFile, '--allow-simulation'], n());
    rmSync(path.join(out, 'ratls.pem'));
    await snap('verify-sim-package-json', [...base, '--package', packageFile, '--allow-simulation', '--json'], n());
    // A second verification into the same workspace replaces its ratls.pem.
    await snap('verify-sim-again', [...base, '--package', packageFile, '--allow-simulation'], n());
  });
});

describe('CLI snapshots: keys, sealing, Fernet', () => {
  it('keygen, seal, unseal, encrypt, decrypt: messages and refusals', async () => {
    const k = fresh('keys');
    const n = [tempDir(dir)];
    const at = (...p: string[]): string => path.join(k, ...p);
    writeFileSync(at('secrets.json'), '{"api_key": "s3cr3t"}\n');
    writeFileSync(at('data.txt'), 'result data\n');
    await snap('keygen-fernet', ['home', 'keygen', '--fernet', '--output', at('result.key')], n);
    await snap('keygen-fernet-exists', ['home', 'keygen', '--fernet', '--output', at('result.key')], n);
    await snap('keygen-x25519-json', ['home', 'keygen', '--x25519', '--output', at('enclave.key'), '--json'], n);
    await snap('keygen-aes', ['home', 'keygen', '--aes', '256', '--output', at('aes.key')], n);
    await snap(
      'seal',
      [
        'home',
        'seal',
        '--input',
        at('secrets.json'),
        '--receiver-public-key',
        at('enclave.key.pub'),
        '--output',
        at('secrets.sealed'),
      ],
      n,
    );
    await snap(
      'seal-into-dir-json',
      [
        'home',
        'seal',
        '--secrets',
        at('secrets.json'),
        '--receiver-public-key',
        at('enclave.key.pub'),
        '--output',
        k,
        '--json',
      ],
      n,
    );
    await snap(
      'unseal',
      [
        'home',
        'unseal',
        '--input',
        at('secrets.sealed'),
        '--private-key',
        at('enclave.key'),
        '--output',
        at('secrets.out.json'),
      ],
      n,
    );
    await snap(
      'unseal-stdout',
      ['home', 'unseal', '--input', at('secrets.sealed'), '--private-key', at('enclave.key'), '--output', '-'],
      n,
    );
    await snap(
      'unseal-wrong-key',
      ['home', 'unseal', '--input', at('secrets.sealed'), '--private-key', at('result.key'), '--output', '-'],
      n,
    );
    await snap(
      'encrypt',
      ['home', 'encrypt', '--input', at('data.txt'), '--key', at('result.key'), '--output', at('data.fernet')],
      n,
    );
    await snap(
      'decrypt',
      ['home', 'decrypt', '--key', at('result.key'), '--output', at('data.out'), at('data.fernet')],
      n,
    );
    await snap(
      'decrypt-json',
      ['home', 'decrypt', '--key', at('result.key'), '--output', at('data.out2'), '--json', at('data.fernet')],
      n,
    );
    await snap(
      'decrypt-stdout-json-conflict',
      ['home', 'decrypt', '--key', at('result.key'), '--output', '-', '--json', at('data.fernet')],
      n,
    );
    writeFileSync(at('bad.fernet'), 'gAAAAABnotatoken');
    await snap(
      'decrypt-bad-token',
      ['home', 'decrypt', '--key', at('result.key'), '--output', at('bad.out'), at('bad.fernet')],
      n,
    );
    await snap('decrypt-aes-bad-key', ['home', 'decrypt', '--aes', 'zz', '--output', '-', at('data.fernet')], n);
  });
});

describe('CLI snapshots: doctor', () => {
  // The items' statuses depend on the host (CPU flags, base images); the shape does not: the keys, their
  // types and the item ids, in order. The PCCS is a local test server, the engine unreachable; a host
  // without SGX device nodes (this project's machines), so the default platform is sim and is not ready.
  const sgxHost = Object.values(SGX_DEVICES).some((d) => existsSync(d)) && 'this host has SGX device nodes';
  it('doctor --json: the shape of the answer and its items', { skip: sgxHost }, async () => {
    const pccs = await serve(pccsHandler());
    try {
      const args = ['home', 'doctor', '--pccs', '<PCCS>', '--signer-key', tmp('no-key.pem'), '--json'];
      const r = await runMse(
        args.map((a) => (a === '<PCCS>' ? pccs.url : a)),
        { env: { DOCKER_HOST: `unix://${tmp('no-docker.sock')}` } },
      );
      // An array of objects shows its elements' shape; any other array (maybe empty on another host) is "array".
      const shape = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.some((x) => x !== null && typeof x === 'object')
            ? [shape(v[0])]
            : 'array'
          : v !== null && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v as object).map(([key, x]) => [key, shape(x)]))
            : v === null
              ? 'null'
              : typeof v;
      const out = JSON.parse(r.stdout) as { items: { id: string; platforms: string[] }[] };
      const text = [
        `$ mse ${args.join(' ')}`,
        '--- shape',
        JSON.stringify(shape(out), null, 2),
        '--- items (id: platforms)',
        ...out.items.map((i) => `${i.id}: ${i.platforms.join(' ')}`),
        '',
      ].join('\n');
      matchSnapshot('doctor-json-shape', tempDir(dir)(text));
    } finally {
      await pccs.close();
    }
  });
});
