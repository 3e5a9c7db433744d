// Deterministic tars: same entries in any order give the same bytes, with normalised metadata that other
// readers (Python's tarfile, our strict reader) see as written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runPython } from '../testing/python.js';
import { bufferSource, indexTar } from './tar-read.js';
import { comparePaths, deterministicTar, tarToBuffer, type TarEntrySource } from './tar-write.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-tarw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('deterministicTar', () => {
  const long = `deep/${'x'.repeat(120)}/é.py`;
  const onDisk = path.join(dir, 'big.bin');
  writeFileSync(onDisk, Buffer.alloc(70_000, 7));
  const entries: TarEntrySource[] = [
    { path: 'b.py', type: 'file', data: Buffer.from('b') },
    { path: 'a/run.sh', type: 'file', data: Buffer.from('#!/bin/sh\n'), executable: true },
    { path: long, type: 'file', data: Buffer.from('long') },
    { path: 'a/big.bin', type: 'file', file: onDisk, size: 70_000 },
    { path: 'B.py', type: 'file', data: Buffer.from('B') },
  ];

  it('gives the same bytes whatever the input order', async () => {
    const one = await tarToBuffer(deterministicTar(entries));
    const two = await tarToBuffer(deterministicTar([...entries].reverse()));
    assert.ok(one.equals(two));
  });

  it('writes sorted entries with mtime 0, owner 0:0, no user names, 0644/0755, readable by Python', async () => {
    const tar = await tarToBuffer(deterministicTar(entries));
    const file = path.join(dir, 'x.tar');
    writeFileSync(file, tar);
    const members = runPython<[string, number, number, number, number, string, string, number][]>(
      `import json, sys, tarfile
with tarfile.open(json.load(sys.stdin)) as t:
    print(json.dumps([[m.name, m.mtime, m.uid, m.gid, m.mode, m.uname, m.gname, m.size] for m in t.getmembers()]))`,
      file,
    );
    assert.deepEqual(
      members.map((m) => m[0]),
      ['B.py', 'a/big.bin', 'a/run.sh', 'b.py', long],
    );
    for (const [name, mtime, uid, gid, mode, uname, gname] of members) {
      assert.deepEqual([mtime, uid, gid, uname, gname], [0, 0, 0, '', ''], name);
      assert.equal(mode, name === 'a/run.sh' ? 0o755 : 0o644, name);
    }
    assert.equal(members[1]![7], 70_000);
    const ours = await indexTar(bufferSource(tar), 'x.tar', {
      maxEntries: 10,
      maxEntryBytes: 1e6,
      maxTotalBytes: 1e6,
      allow: ['file'],
    });
    assert.deepEqual(
      ours.map((e) => e.path),
      members.map((m) => m[0]),
    );
  });

  it('fails instead of writing a short entry when a file changed size since it was listed', async () => {
    const liar: TarEntrySource = { path: 'x', type: 'file', file: onDisk, size: 80_000 };
    await assert.rejects(tarToBuffer(deterministicTar([liar])), {
      code: 'ERR_FILE_CHANGED',
      message: /changed while being archived \(80000 then 70000 bytes\)/,
    });
  });

  it(
    'refuses, without blocking, a file replaced by a FIFO or a device since it was listed',
    { timeout: 10_000 },
    async () => {
      const fifo = path.join(dir, 'was-a-file');
      execFileSync('mkfifo', [fifo]);
      for (const file of [fifo, '/dev/zero']) {
        const swapped: TarEntrySource = { path: 'x', type: 'file', file, size: 10 };
        await assert.rejects(tarToBuffer(deterministicTar([swapped])), { code: 'ERR_FILE_NOT_REGULAR' });
      }
    },
  );
});

describe('comparePaths', () => {
  it('orders as the UTF-8 bytes do, also past U+D800 (surrogate pairs, private use, U+FFFD)', () => {
    const names = [
      '',
      'a',
      'a/b',
      'a.b',
      'ab',
      'B',
      'é',
      'ée',
      '✓',
      '\ud7ff',
      '\ue000',
      '\ufffd',
      '😀',
      '😀a',
      '𐀀',
      'a\ud7ffz',
      'a😀',
      'a\uffff',
    ];
    for (const a of names) {
      for (const b of names) {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        assert.equal(comparePaths(a, b), bytes, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  });
});
