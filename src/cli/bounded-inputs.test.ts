// Every file input of every command that needs no Docker engine, through the real CLI, given what used to
// hang it or exhaust its memory: FIFOs (with no writer), /dev/zero, directories, symbolic links to them,
// pipes on stdin larger than the limit, a package whose app.tar is hundreds of MB. Each run has a timeout, so
// a hang fails fast; peak memory is measured where the input is large. (Docker-bound commands:
// bounded-inputs.e2e.test.ts.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseEvidence, serializeEvidence, type Evidence } from '../launch/evidence.js';
import type { RecordedInputArgs as InputArgs } from '../launch/args.js';
import { deterministicTar, tarToBuffer } from '../package/tar-write.js';
import { readPackage } from '../package/read.js';
import { simMrenclaveOfEvidence } from '../sim/package-measurement.js';
import { loadOrCreateSimPlatform } from '../sim/platform.js';
import { runMse, type CliResult } from '../testing/cli.js';
import { dockerArchive, rawHeader, rawTar, writeSparseTar } from '../testing/rawtar.js';
import { makeSimEvidence } from '../testing/sim-evidence.js';
import { readVectorText, vectorPath } from '../testing/vectors.js';

const MB = 1_000_000;
/** A correctness bound, not a benchmark: reading whole inputs of hundreds of MB would blow far past it. */
const MAX_RSS = 150 * 2 ** 20;
const TIMEOUT_MS = 30_000;

let dir: string;
const p = (...parts: string[]): string => path.join(dir, ...parts);
const QUOTE = vectorPath('dcap', 'phala-dcap-qvl', 'sgx_quote.bin');
const COLLATERAL = vectorPath('dcap', 'phala-dcap-qvl', 'sgx_quote_collateral.json');
const GRAMINE = (name: string): string => vectorPath('gramine', 'case01_minimal_defaults', 'input', name);
const TOML =
  'name = "demo"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\ntests_cmd = "pytest"\ntests_requirements = []\n';

/** The kinds of non-regular file every input is given, with the code each must give. */
const BAD: [string, () => string, string][] = [
  ['a FIFO with no writer', () => p('fifo'), 'ERR_FILE_NOT_REGULAR'],
  ['/dev/zero', () => '/dev/zero', 'ERR_FILE_NOT_REGULAR'],
  ['a symlink to a FIFO', () => p('link-fifo'), 'ERR_FILE_NOT_REGULAR'],
  ['a symlink to /dev/zero', () => p('link-zero'), 'ERR_FILE_NOT_REGULAR'],
  ['a directory', () => p('a-dir'), 'ERR_FILE_IS_DIRECTORY'],
];

async function mse(args: string[], options: Parameters<typeof runMse>[1] = {}): Promise<CliResult> {
  return runMse(['home', ...args, '--json'], { timeoutMs: TIMEOUT_MS, ...options });
}

function errorCode(r: CliResult): string | undefined {
  try {
    return (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

function assertRefused(r: CliResult, code: string): void {
  assert.equal(r.timedOut, false, `the command hung (killed after ${TIMEOUT_MS} ms)`);
  assert.equal(errorCode(r), code, r.stdout + r.stderr);
  assert.equal(r.code, 3, r.stderr);
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-bounded-'));
  execFileSync('mkfifo', [p('fifo')]);
  symlinkSync(p('fifo'), p('link-fifo'));
  symlinkSync('/dev/zero', p('link-zero'));
  mkdirSync(p('a-dir'));
  mkdirSync(p('out'));
  for (const args of [
    ['keygen', '--fernet', '--output', p('fernet.key')],
    ['keygen', '--x25519', '--output', p('x25519.key')],
  ]) {
    assert.equal((await mse(args)).code, 0);
  }
  writeFileSync(p('secrets.json'), '{"a":1}');
  assert.equal(
    (await mse(['encrypt', '--input', p('secrets.json'), '--key', p('fernet.key'), '--output', p('c.fernet')])).code,
    0,
  );
  // Evidence from the simulated platform, so that verify goes on to read --package.
  writeFileSync(
    p('evidence.json'),
    serializeEvidence(await simEvidence(() => createHash('sha256').update('x').digest())),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Evidence of a simulated enclave whose MRENCLAVE is `measure(input_args)`. */
async function simEvidence(measure: (args: InputArgs) => Uint8Array): Promise<Evidence> {
  const now = new Date();
  const inputArgs: InputArgs = {
    subject: 'CN=app.example.com,O=Example,C=FR',
    san: 'app.example.com',
    expiration: Math.floor(now.getTime() / 1000) + 86400,
    size: 4096,
    appId: '63322f85-1ff8-4483-91ae-f18d7398d157',
    application: 'app:app',
  };
  return makeSimEvidence({
    sim: await loadOrCreateSimPlatform({ dir: p('sim') }),
    mrEnclave: measure(inputArgs),
    signerPk: parseEvidence(readVectorText('mse', 'evidence.json')).signerPk,
    inputArgs,
    now,
  });
}

/** Every file input: the command line with `@` where the bad file goes. */
const INPUTS: [string, () => string[]][] = [
  ['quote show FILE', () => ['quote', 'show', '@']],
  ['quote verify --quote', () => ['quote', 'verify', '--quote', '@', '--collateral', COLLATERAL]],
  ['quote verify --collateral', () => ['quote', 'verify', '--quote', QUOTE, '--collateral', '@']],
  [
    'quote verify --trusted-root',
    () => ['quote', 'verify', '--quote', QUOTE, '--collateral', COLLATERAL, '--trusted-root', '@'],
  ],
  ['verify --evidence', () => ['verify', '--evidence', '@', '--mrenclave', '00'.repeat(32), '--output', p('out')]],
  ['verify --package', () => ['verify', '--evidence', p('evidence.json'), '--package', '@', '--output', p('out')]],
  [
    'verify --trusted-root',
    () => [
      'verify',
      '--evidence',
      p('evidence.json'),
      '--mrenclave',
      '00'.repeat(32),
      '--output',
      p('out'),
      '--trusted-root',
      '@',
    ],
  ],
  ['seal --input', () => ['seal', '--input', '@', '--receiver-public-key', p('x25519.key.pub'), '--output', p('out')]],
  [
    'seal --receiver-public-key',
    () => ['seal', '--input', p('secrets.json'), '--receiver-public-key', '@', '--output', p('out')],
  ],
  ['seal --cert', () => ['seal', '--input', p('secrets.json'), '--cert', '@', '--output', p('out')]],
  ['unseal --input', () => ['unseal', '--input', '@', '--private-key', p('x25519.key'), '--output', p('out', 'u')]],
  ['unseal --private-key', () => ['unseal', '--input', p('c.fernet'), '--private-key', '@', '--output', p('out', 'u')]],
  ['encrypt --input', () => ['encrypt', '--input', '@', '--key', p('fernet.key'), '--output', p('out', 'e')]],
  ['encrypt --key', () => ['encrypt', '--input', p('secrets.json'), '--key', '@', '--output', p('out', 'e')]],
  ['decrypt FILE', () => ['decrypt', '--key', p('fernet.key'), '--output', p('out', 'd'), '@']],
  ['decrypt --key', () => ['decrypt', '--key', '@', '--output', p('out', 'd'), p('c.fernet')]],
  ['sigstruct show FILE', () => ['sigstruct', 'show', '@']],
  ['measure --libpal', () => ['measure', '--manifest', GRAMINE('app.manifest'), '--libpal', '@']],
  ['measure --manifest', () => ['measure', '--manifest', '@', '--libpal', GRAMINE('libpal.so')]],
  [
    'measure --key',
    () => [
      'measure',
      '--manifest',
      GRAMINE('app.manifest'),
      '--libpal',
      GRAMINE('libpal.so'),
      '--key',
      '@',
      '--sigfile',
      p('out', 's'),
    ],
  ],
  ['test --config', () => ['test', 'no-such-deployment', '--test', p('a-dir'), '--config', '@']],
];

describe('every file input refuses what is not a regular file, at once', { timeout: 600_000 }, () => {
  for (const [input, argv] of INPUTS) {
    it(`${input}: FIFO, /dev/zero, symlinks to them, a directory`, async () => {
      const runs = await Promise.all(
        BAD.map(async ([what, file, code]) => {
          const args = argv().map((a) => (a === '@' ? file() : a));
          return { what, code, r: await mse(args) };
        }),
      );
      for (const { what, code, r } of runs) {
        assert.equal(r.timedOut, false, `${input} given ${what} hung`);
        assert.equal(errorCode(r), code, `${input} given ${what}: ${r.stdout}${r.stderr}`);
        assert.equal(r.code, 3);
      }
    });
  }
  it('nothing was written by the refused commands', () => {
    assert.deepEqual(
      execFileSync('ls', ['-A', p('out')], { encoding: 'utf8' }).trim(),
      '',
      'no output from a refused command',
    );
  });
});

describe('pipes: stdin where documented, bounded; a pipe given as a path, refused', { timeout: 120_000 }, () => {
  /** A child writing `bytes` zero bytes into the CLI's stdin. */
  const writer = (bytes: number) =>
    spawn('head', ['-c', String(bytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });

  it('seal --input - with 300 MB on stdin: ERR_FILE_TOO_LARGE after 1 MiB, in bounded memory', async () => {
    const w = writer(300 * MB);
    const r = await mse(
      ['seal', '--input', '-', '--receiver-public-key', p('x25519.key.pub'), '--output', p('out', 's')],
      { stdin: w.stdout, measureRss: true },
    );
    w.kill();
    assertRefused(r, 'ERR_FILE_TOO_LARGE');
    const error = JSON.parse(r.stdout).error as { message: string; hint: string };
    assert.match(error.message, /secrets file on standard input is larger than the secrets limit of 1 MiB/);
    assert.match(error.hint, /at most 1 MiB .*Input limits.*standard input/);
    assert.ok(r.maxRssBytes! < MAX_RSS, `peak RSS ${r.maxRssBytes} bytes`);
  });

  it('verify --evidence /dev/stdin with 300 MB piped: refused as a pipe without reading it', async () => {
    const w = writer(300 * MB);
    const r = await mse(['verify', '--evidence', '/dev/stdin', '--mrenclave', '00'.repeat(32), '--output', p('out')], {
      stdin: w.stdout,
      measureRss: true,
    });
    w.kill();
    assertRefused(r, 'ERR_FILE_NOT_REGULAR');
    assert.ok(r.maxRssBytes! < MAX_RSS, `peak RSS ${r.maxRssBytes} bytes`);
  });

  it('quote show - with /dev/zero as stdin: stops one byte past the 1 MiB quote limit', async () => {
    const fd = openSync('/dev/zero', 'r');
    try {
      const r = await mse(['quote', 'show', '-'], { stdin: fd, measureRss: true });
      assertRefused(r, 'ERR_FILE_TOO_LARGE');
      assert.ok(r.maxRssBytes! < MAX_RSS, `peak RSS ${r.maxRssBytes} bytes`);
    } finally {
      closeSync(fd);
    }
  });

  it('a regular file redirected to stdin above the limit is refused by its size', async () => {
    writeFileSync(p('big.bin'), Buffer.alloc(2 * 2 ** 20));
    const fd = openSync(p('big.bin'), 'r');
    try {
      const r = await mse(['quote', 'show', '-'], { stdin: fd });
      assertRefused(r, 'ERR_FILE_TOO_LARGE');
      assert.match(
        JSON.parse(r.stdout).error.message,
        /is 2 MiB \(2097152 bytes\), more than the quote limit of 1 MiB \(1048576 bytes\)/,
      );
    } finally {
      closeSync(fd);
    }
  });

  it('stdin within the limit works: encrypt - | decrypt -, quote show -', async () => {
    const e = await runMse(['home', 'encrypt', '--input', '-', '--key', p('fernet.key'), '--output', '-'], {
      stdin: Buffer.from('piped plaintext'),
      timeoutMs: TIMEOUT_MS,
    });
    assert.equal(e.code, 0, e.stderr);
    const d = await runMse(['home', 'decrypt', '--key', p('fernet.key'), '--output', '-', '-'], {
      stdin: e.stdoutBytes,
      timeoutMs: TIMEOUT_MS,
    });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'piped plaintext');
    const q = await mse(['quote', 'show', '-'], { stdin: readFileSync(QUOTE) });
    assert.equal(q.code, 0, q.stderr);
    assert.equal(JSON.parse(q.stdout).format, 'binary');
    // Sealing from stdin into a directory names the output stdin.sealed.
    const s = await mse(
      ['seal', '--input', '-', '--receiver-public-key', p('x25519.key.pub'), '--output', p('a-dir')],
      {
        stdin: Buffer.from('{"k":"v"}'),
      },
    );
    assert.equal(s.code, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).output, p('a-dir', 'stdin.sealed'));
    rmSync(p('a-dir', 'stdin.sealed'));
  });
});

describe(
  'verify --package: app.tar is streamed, and bounded by the limit the enclave applies',
  { timeout: 300_000 },
  () => {
    /** A package whose app.tar holds one file of `size` zero bytes, written sparse (no disk, no time). */
    async function bigPackage(name: string, size: number): Promise<string> {
      const file = p(name);
      const image = dockerArchive([rawTar([{ name: 'etc/hostname', data: Buffer.from('x') }])]).tar;
      const tests = await tarToBuffer(deterministicTar([{ path: 'test_app.py', type: 'file', data: Buffer.from('') }]));
      writeSparseTar(file, [
        {
          name: 'app.tar',
          size: 512 + Math.ceil(size / 512) * 512 + 1024,
          head: rawHeader({ name: 'data.bin', size }),
        },
        { name: 'image.tar', size: image.length, head: image },
        { name: 'mse.toml', size: TOML.length, head: Buffer.from(TOML) },
        { name: 'tests.tar', size: tests.length, head: tests },
      ]);
      return file;
    }

    it('a 400 MB app.tar is measured in bounded memory and the evidence accepted', async () => {
      const pkg = await bigPackage('package_big.tar', 400 * MB);
      const contents = await readPackage(pkg);
      const zeros = createHash('sha256');
      for (let i = 0; i < 400; i++) zeros.update(Buffer.alloc(MB));
      assert.equal(contents.appFiles[0]!.sha256, zeros.digest('hex'));
      writeFileSync(
        p('evidence-big.json'),
        serializeEvidence(await simEvidence((args) => simMrenclaveOfEvidence(contents, args))),
      );
      const r = await mse(
        [
          'verify',
          '--evidence',
          p('evidence-big.json'),
          '--package',
          pkg,
          '--output',
          p('a-dir'),
          '--allow-simulation',
        ],
        { measureRss: true, timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(r.maxRssBytes! < MAX_RSS, `peak RSS ${r.maxRssBytes} bytes for a 400 MB app.tar`);
      rmSync(p('a-dir', 'ratls.pem'));
    });

    it('an app.tar over 512 MiB is refused before it is read (the enclave would refuse it)', async () => {
      const pkg = await bigPackage('package_huge.tar', 600 * MB);
      const r = await mse(['verify', '--evidence', p('evidence.json'), '--package', pkg, '--output', p('out')], {
        measureRss: true,
      });
      assertRefused(r, 'ERR_PACKAGE_MEMBER_TOO_LARGE');
      const error = JSON.parse(r.stdout).error as { message: string; hint: string };
      assert.match(error.message, /app\.tar is 572\.2 MiB \(600001536 bytes\), more than the 512 MiB allowed/);
      assert.match(error.hint, /enclave holds the code in memory/);
      assert.ok(r.maxRssBytes! < MAX_RSS);
    });
  },
);
