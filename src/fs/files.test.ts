// Writing outputs: one mapping of write failures to specific codes, a streaming output that never
// overwrites, and output directories created the same way by every command. (Full disks, read-only file
// systems and another user's directories are exercised for real in src/package/package-faults.e2e.test.ts.)
import assert from 'node:assert/strict';
import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { withCleanup } from '../docker/cleanup.js';
import {
  writeFilesAtomic,
  checkOutputDirectory,
  createOutputStream,
  ensureOutputDirectory,
  outputError,
  writeFileAtomic,
} from './files.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'mse-files-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: x`), { code });

describe('outputError', () => {
  it('maps each write failure to its own code (exit 3), never to a read error or an internal one', () => {
    const cases: [string, string, RegExp][] = [
      ['ENOSPC', 'ERR_DISK_FULL', /no space left/],
      ['EDQUOT', 'ERR_DISK_FULL', /quota/],
      ['EROFS', 'ERR_FILE_UNWRITABLE', /read-only file system/],
      ['EACCES', 'ERR_FILE_UNWRITABLE', /permission denied writing package \/o\/p\.tar/],
      ['EPERM', 'ERR_FILE_UNWRITABLE', /permission denied/],
      ['EFBIG', 'ERR_FILE_UNWRITABLE', /larger than/],
      ['ENOENT', 'ERR_OUTPUT_DIR_MISSING', /directory does not exist/],
      ['EEXIST', 'ERR_OUTPUT_EXISTS', /refusing to overwrite/],
      ['EISDIR', 'ERR_FILE_IS_DIRECTORY', /is a directory/],
      ['ENOTDIR', 'ERR_NOT_A_DIRECTORY', /not a directory/],
      ['EIO', 'ERR_FILE_IO', /cannot write package/],
    ];
    for (const [code, expected, message] of cases) {
      const e = outputError(errno(code), '/o/p.tar', 'package');
      assert.ok(e instanceof InputError, code);
      assert.equal(e.code, expected, code);
      assert.equal(e.exitCode, 3, code);
      assert.match(e.message, message, code);
    }
    const typed = new InputError('ERR_X', 'x');
    assert.equal(outputError(typed, '/o', 'x'), typed);
  });
});

describe('createOutputStream', () => {
  it('writes a new file with its mode and refuses an existing one (ERR_OUTPUT_EXISTS, named as shown)', async () => {
    const file = path.join(root, 'stream.bin');
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    await pipeline(
      Readable.from([data.subarray(0, 100), data.subarray(100)]),
      createOutputStream(file, { mode: 0o600 }),
    );
    assert.deepEqual(await fs.readFile(file), data);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('x')]), createOutputStream(file, { what: 'package', shownAs: '/out/p.tar' })),
      (e: InputError) => e.code === 'ERR_OUTPUT_EXISTS' && /package \/out\/p\.tar/.test(e.message),
    );
    assert.deepEqual(await fs.readFile(file), data, 'the existing file is untouched');
  });

  it('reports a write to a missing directory as ERR_OUTPUT_DIR_MISSING', async () => {
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('x')]), createOutputStream(path.join(root, 'nope', 'f'))),
      { code: 'ERR_OUTPUT_DIR_MISSING' },
    );
  });
});

describe('output directories', () => {
  it('are created with their missing parents; the first created one is returned for undo', async () => {
    const dir = path.join(root, 'a', 'b', 'c');
    assert.equal(await ensureOutputDirectory(dir), path.join(root, 'a'));
    assert.ok((await fs.stat(dir)).isDirectory());
    assert.equal(await ensureOutputDirectory(dir), undefined, 'existing: nothing created');
  });

  it('a file in the way is ERR_NOT_A_DIRECTORY, found before anything is done', async () => {
    const file = path.join(root, 'file');
    writeFileSync(file, 'x');
    await assert.rejects(checkOutputDirectory(file), { code: 'ERR_NOT_A_DIRECTORY' });
    await assert.rejects(ensureOutputDirectory(file), { code: 'ERR_NOT_A_DIRECTORY' });
    await assert.rejects(ensureOutputDirectory(path.join(file, 'sub')), { code: 'ERR_NOT_A_DIRECTORY' });
    await checkOutputDirectory(path.join(root, 'missing')); // fine: it will be created
  });

  it('writeFileAtomic still says a missing directory is missing', async () => {
    await assert.rejects(writeFileAtomic(path.join(root, 'none', 'f'), 'x'), { code: 'ERR_OUTPUT_DIR_MISSING' });
  });
});

describe('writeFilesAtomic (review L2, L6)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mse-write-files-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const fresh = (): string => mkdtempSync(path.join(root, 'out-'));

  it('writes every file with its mode and leaves nothing beside them', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'ratls.pem'), 'old');
    await writeFilesAtomic([
      { file: path.join(dir, 'ratls.pem'), data: 'new' },
      { file: path.join(dir, 'evidence.json'), data: '{}', mode: 0o600 },
    ]);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['evidence.json', 'ratls.pem']);
    assert.equal(await fs.readFile(path.join(dir, 'ratls.pem'), 'utf8'), 'new');
    assert.equal((await fs.stat(path.join(dir, 'evidence.json'))).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.join(dir, 'ratls.pem'))).mode & 0o777, 0o644);
  });

  it('when the scope fails after the writes, gives back what each file held: never removes a file it did not create', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'ratls.pem'), 'the operator’s own');
    await assert.rejects(
      withCleanup(
        async (scope) => {
          await writeFilesAtomic(
            [
              { file: path.join(dir, 'ratls.pem'), data: 'new' },
              { file: path.join(dir, 'evidence.json'), data: '{}', mode: 0o600 },
            ],
            scope,
          );
          throw new Error('a later step failed');
        },
        { exitOnSignal: false },
      ),
      /a later step failed/,
    );
    assert.deepEqual(await fs.readdir(dir), ['ratls.pem']);
    assert.equal(await fs.readFile(path.join(dir, 'ratls.pem'), 'utf8'), 'the operator’s own');
  });

  it('refuses before writing anything when a target cannot be written', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'a'), 'before');
    await fs.mkdir(path.join(dir, 'b'));
    await assert.rejects(
      writeFilesAtomic([
        { file: path.join(dir, 'a'), data: 'after' },
        { file: path.join(dir, 'b'), data: 'x' },
      ]),
      { code: 'ERR_FILE_IS_DIRECTORY' },
    );
    assert.deepEqual((await fs.readdir(dir)).sort(), ['a', 'b']);
    assert.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), 'before');
  });
});
