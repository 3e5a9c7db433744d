// The real CLI (bin/mse.js) when its output goes away or cannot be written: a closed stdout or stderr ends
// every command quietly with exit 141 (no stack trace), and an output another user's directory refuses is
// ERR_FILE_UNWRITABLE. Deterministic: the pipe is closed before the CLI writes. The `| head -1` race on
// commands that write several times is in cli.e2e.test.ts (it needs deployments).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MSE_BIN } from '../testing/cli.js';
import { REPO_ROOT } from '../testing/vectors.js';

const QUOTE = path.join(
  REPO_ROOT,
  'test-fixtures',
  'testvectors',
  'dcap',
  'automata-dcap-attestation',
  'quote_sgx_debug.bin',
);

/** Run the CLI with `closed` (stdout or stderr) closed by the reader before anything is written. */
function runClosed(
  args: string[],
  closed: 'stdout' | 'stderr',
): Promise<{ code: number | null; signal: string | null; other: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MSE_BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child[closed].destroy();
    let other = '';
    child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (d: Buffer) => (other += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, other }));
  });
}

describe('closed output', () => {
  const commands: string[][] = [
    ['--version'],
    ['home', '--help'],
    ['home', 'seal', '--help'],
    ['home', 'quote', 'show', QUOTE],
    ['home', 'quote', 'show', QUOTE, '--json'],
  ];
  for (const args of commands) {
    it(`stdout closed: '${args.join(' ')}' exits 141 and prints nothing, no stack trace`, async () => {
      const r = await runClosed(args, 'stdout');
      assert.deepEqual(r, { code: 141, signal: null, other: '' });
    });
  }

  it('stdout closed under a --json error: exit 141, the error line still on stderr, no stack trace', async () => {
    const r = await runClosed(['home', 'nope', '--json'], 'stdout');
    assert.equal(r.code, 141);
    assert.match(r.other, /^error\[ERR_UNKNOWN_COMMAND\]: unknown command 'mse home nope'\n/);
    assert.doesNotMatch(r.other, /EPIPE|\n\s+at /);
  });

  it('stderr closed: an error that cannot be shown still ends quietly (141)', async () => {
    const r = await runClosed(['home', 'nope'], 'stderr');
    assert.deepEqual(r, { code: 141, signal: null, other: '' });
  });

  it('stdout on a full device (> /dev/full): ERR_DISK_FULL on stderr, exit 3, no stack trace', async () => {
    const full = openSync('/dev/full', 'w');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [MSE_BIN, 'home', 'quote', 'show', QUOTE], {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', full, 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    closeSync(full);
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      'error[ERR_DISK_FULL]: cannot write to stdout: no space left on the device\n  hint: Free some space on that file system, or write to another place.\n',
    );
  });

  it('an open stdout is unaffected', async () => {
    const r = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [MSE_BIN, '--version'], { stdio: ['ignore', 'ignore', 'ignore'] });
      child.on('close', resolve);
    });
    assert.equal(r, 0);
  });
});

describe('unwritable output', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-cli-io-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const isRoot = process.getuid?.() === 0;

  it(
    'a directory another user owns: ERR_FILE_UNWRITABLE (exit 3), not a read error; nothing written',
    { skip: !isRoot && 'needs root to run the CLI as nobody' },
    async () => {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [MSE_BIN, 'home', 'keygen', '--fernet', '--output', path.join(dir, 'k')],
          {
            uid: 65534,
            gid: 65534,
            cwd: '/',
            env: { PATH: process.env.PATH, NO_COLOR: '1' },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^error\[ERR_FILE_UNWRITABLE\]: permission denied writing output file /);
      assert.deepEqual(readdirSync(dir), []);
    },
  );
});
