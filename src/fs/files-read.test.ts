// The bounded reader on real special files: FIFOs (with and without a writer), devices, directories, a
// Unix socket, symbolic links to each, /proc files (size 0 in stat), files over their limit; and the limits
// table against docs/cli.md.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../testing/vectors.js';
import {
  copyUserFile,
  openUserFile,
  readUserFile,
  readUserFileSync,
  readUserTextIfExists,
  type OpenedFile,
} from './files.js';
import { formatBytes, INPUT_LIMITS, type InputLimit } from './limits.js';

let dir: string;
let fifo: string;
let server: net.Server;
const p = (name: string): string => path.join(dir, name);
const small: InputLimit = { name: 'test', maxBytes: 10 };

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-files-'));
  fifo = p('fifo');
  execFileSync('mkfifo', [fifo]);
  symlinkSync(fifo, p('link-to-fifo'));
  symlinkSync('/dev/zero', p('link-to-zero'));
  symlinkSync(dir, p('link-to-dir'));
  writeFileSync(p('ten'), '0123456789');
  writeFileSync(p('eleven'), '0123456789A');
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(p('socket'), resolve));
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Each of the readers, on `file` with `limit`: all must agree. */
const readers: [string, (file: string, limit: InputLimit) => Promise<unknown>][] = [
  ['readUserFile', (f, l) => readUserFile(f, 'test file', l)],
  ['readUserFileSync', async (f, l) => readUserFileSync(f, 'test file', l)],
  [
    'openUserFile',
    async (f, l) => {
      const o: OpenedFile = await openUserFile(f, 'test file', l);
      await o.handle.close();
    },
  ],
];

describe('bounded reader: what is not a regular file is refused at once', { timeout: 20_000 }, () => {
  const cases: [string, () => string, string, RegExp][] = [
    ['a FIFO with no writer (used to block the open forever)', () => fifo, 'ERR_FILE_NOT_REGULAR', /FIFO/],
    ['a symlink to a FIFO', () => p('link-to-fifo'), 'ERR_FILE_NOT_REGULAR', /FIFO/],
    ['/dev/zero (used to be read until memory ran out)', () => '/dev/zero', 'ERR_FILE_NOT_REGULAR', /character device/],
    ['a symlink to /dev/zero', () => p('link-to-zero'), 'ERR_FILE_NOT_REGULAR', /character device/],
    ['/dev/null', () => '/dev/null', 'ERR_FILE_NOT_REGULAR', /character device/],
    ['a Unix socket', () => p('socket'), 'ERR_FILE_NOT_REGULAR', /socket/],
    ['a directory', () => dir, 'ERR_FILE_IS_DIRECTORY', /directory/],
    ['a symlink to a directory', () => p('link-to-dir'), 'ERR_FILE_IS_DIRECTORY', /directory/],
    ['a missing file', () => p('missing'), 'ERR_FILE_NOT_FOUND', /not found/],
  ];
  for (const [what, file, code, message] of cases) {
    for (const [name, read] of readers) {
      it(`${name}: ${what}`, async () => {
        await assert.rejects(read(file(), INPUT_LIMITS.evidence), (e: Error & { code?: string; hint?: string }) => {
          assert.equal(e.code, code);
          assert.match(e.message, message);
          assert.ok(e.hint, 'a hint');
          return true;
        });
      });
    }
  }

  it('a FIFO whose writer never stops is refused without reading it', async () => {
    const writer = spawn('sh', ['-c', `exec cat /dev/zero > ${fifo}`], { stdio: 'ignore' });
    try {
      await assert.rejects(readUserFile(fifo, 'test file', INPUT_LIMITS.evidence), { code: 'ERR_FILE_NOT_REGULAR' });
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

describe('bounded reader: sizes', () => {
  for (const [name, read] of readers) {
    it(`${name}: a file at the limit is read; one byte more is refused naming the limit and the size`, async () => {
      await read(p('ten'), small);
      await assert.rejects(read(p('eleven'), small), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'ERR_FILE_TOO_LARGE');
        assert.match(e.message, /is 11 bytes, more than the test limit of 10 bytes$/);
        assert.match(e.hint!, /at most 10 bytes for a test input .*Input limits/);
        return true;
      });
    });
  }

  it('files that stat as empty (/proc) are read to their end, and stopped one byte past the limit', async () => {
    const status = await readUserFile('/proc/self/status', 'status', INPUT_LIMITS.config);
    assert.match(status.toString(), /^Name:/);
    assert.match(readUserFileSync('/proc/self/status', 'status', INPUT_LIMITS.config).toString(), /^Name:/);
    await assert.rejects(readUserFile('/proc/self/status', 'status', small), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_FILE_TOO_LARGE');
      assert.match(e.message, /larger than the test limit of 10 bytes: reading stopped there/);
      return true;
    });
    assert.throws(() => readUserFileSync('/proc/self/status', 'status', small), { code: 'ERR_FILE_TOO_LARGE' });
  });

  it('formatBytes names round sizes in binary units', () => {
    assert.equal(formatBytes(512 * 2 ** 20), '512 MiB');
    assert.equal(formatBytes(64 * 1024), '64 KiB');
    assert.equal(formatBytes(32 * 2 ** 30), '32 GiB');
    assert.equal(formatBytes(300_000_000), '286.1 MiB');
    assert.equal(formatBytes(11), '11 bytes');
    assert.equal(formatBytes(1536), '1.5 KiB');
  });
});

describe('bounded reader: helpers', () => {
  it('readUserTextIfExists: undefined only when the file is missing', async () => {
    assert.equal(await readUserTextIfExists(p('missing'), 'x', small), undefined);
    assert.equal(await readUserTextIfExists(p('ten'), 'x', small), '0123456789');
    await assert.rejects(readUserTextIfExists(fifo, 'x', small), { code: 'ERR_FILE_NOT_REGULAR' });
  });

  it('copyUserFile copies regular files and refuses the rest', async () => {
    chmodSync(p('ten'), 0o750);
    await copyUserFile(p('ten'), p('copy'), 'x', small);
    assert.equal(readFileSync(p('copy'), 'utf8'), '0123456789');
    assert.equal(statSync(p('copy')).mode & 0o777, 0o750, 'permission bits kept, as cp does');
    writeFileSync(p('empty'), '');
    await copyUserFile(p('empty'), p('copy-empty'), 'x', small);
    assert.equal(readFileSync(p('copy-empty'), 'utf8'), '');
    await assert.rejects(copyUserFile('/dev/zero', p('copy-zero'), 'x', small), { code: 'ERR_FILE_NOT_REGULAR' });
    await assert.rejects(copyUserFile(p('eleven'), p('copy-11'), 'x', small), { code: 'ERR_FILE_TOO_LARGE' });
  });

  it('copyUserFile returns the SHA-256 of what it wrote, checks the size first, sets the mode asked for', async () => {
    const copied = await copyUserFile(p('ten'), p('copy-hashed'), 'x', small, { mode: 0o600 });
    assert.deepEqual(copied, {
      size: 10,
      sha256: '84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882',
    });
    assert.equal(statSync(p('copy-hashed')).mode & 0o777, 0o600);
    const refused = new Error('not the listed size');
    await assert.rejects(
      copyUserFile(p('ten'), p('copy-refused'), 'x', small, {
        checkSize: (size) => {
          if (size !== 9) throw refused;
        },
      }),
      (e) => e === refused,
    );
    assert.throws(() => statSync(p('copy-refused')), { code: 'ENOENT' }, 'nothing written for a refused file');
  });

  it('noFollow refuses a symbolic link, even to a regular file, and reads the file itself', async () => {
    symlinkSync(p('ten'), p('link-to-ten'));
    assert.equal((await readUserFile(p('link-to-ten'), 'x', small)).toString(), '0123456789');
    for (const link of ['link-to-ten', 'link-to-zero', 'link-to-fifo']) {
      await assert.rejects(readUserFile(p(link), 'x', small, { noFollow: true }), {
        code: 'ERR_FILE_NOT_REGULAR',
        message: /is a symbolic link \(not followed here\)/,
      });
    }
    await assert.rejects(copyUserFile(p('link-to-ten'), p('copy-link'), 'x', small, { noFollow: true }), {
      code: 'ERR_FILE_NOT_REGULAR',
    });
    assert.equal((await readUserFile(p('ten'), 'x', small, { noFollow: true })).toString(), '0123456789');
  });
});

describe('limits table', () => {
  it('docs/cli.md lists every named limit with its value', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    const start = doc.indexOf('## Input limits');
    const section = doc.slice(start, doc.indexOf('\n#', start + 1)); // up to the next heading
    const rows = new Map(
      [...section.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)].map((m) => [m[1]!, m[2]!.trim()] as const),
    );
    for (const limit of Object.values(INPUT_LIMITS)) {
      assert.equal(rows.get(limit.name), formatBytes(limit.maxBytes), `docs/cli.md row for ${limit.name}`);
    }
    assert.equal(rows.size, Object.keys(INPUT_LIMITS).length, 'no stale rows');
  });

  it('the package limit leaves room for its members at their limits and the tar framing', () => {
    const { appTar, testsTar, imageTar, config } = INPUT_LIMITS;
    const members = appTar.maxBytes + testsTar.maxBytes + imageTar.maxBytes + config.maxBytes;
    assert.ok(INPUT_LIMITS.package.maxBytes >= members + 2 ** 20);
  });
});
