// The strict tar indexer against a corpus of malformed and malicious archives made here, byte by byte,
// and against archives written by real tools (GNU tar, Python's tarfile).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { paxBody, rawTar, type RawEntry } from '../testing/rawtar.js';
import { runPython } from '../testing/python.js';
import {
  bufferSource,
  canonicalEntryPath,
  indexTar,
  MAX_TRAILER,
  numericField,
  type TarReadLimits,
} from './tar-read.js';

const LIMITS: TarReadLimits = {
  maxEntryBytes: 1 << 20,
  maxTotalBytes: 4 << 20,
  maxEntries: 100,
  allow: ['file', 'directory'],
};
const file = (name: string, text = 'x'): RawEntry => ({ name, data: Buffer.from(text) });
const index = (tar: Buffer, limits: Partial<TarReadLimits> = {}) =>
  indexTar(bufferSource(tar), 'test.tar', { ...LIMITS, ...limits });

async function rejects(
  tar: Buffer,
  code: string,
  limits: Partial<TarReadLimits> = {},
  pattern?: RegExp,
): Promise<void> {
  await assert.rejects(index(tar, limits), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    assert.match(error.message, /^test\.tar/);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('indexTar: well-formed archives', () => {
  it('indexes files and directories with their content offsets', async () => {
    const tar = rawTar([{ name: 'dir/', type: '5' }, file('dir/a.py', 'print(1)\n'), file('b.txt', '')]);
    const entries = await index(tar);
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.size]),
      [
        ['dir', 'directory', 0],
        ['dir/a.py', 'file', 9],
        ['b.txt', 'file', 0],
      ],
    );
    const a = entries[1]!;
    assert.equal(tar.subarray(a.offset, a.offset + a.size).toString(), 'print(1)\n');
  });

  it('applies PAX path/size records and GNU long names', async () => {
    const long = 'd/'.repeat(80) + 'file.py';
    const tar = rawTar([
      { name: 'PaxHeader', type: 'x', data: paxBody({ path: long }) },
      { name: 'ignored', data: Buffer.from('pax') },
      { name: '././@LongLink', type: 'L', data: Buffer.from('gnu/' + 'n'.repeat(150) + '\0'), magic: 'gnu' },
      { name: 'short', data: Buffer.from('gnu'), magic: 'gnu' },
    ]);
    const entries = await index(tar);
    assert.deepEqual(
      entries.map((e) => e.path),
      [long, 'gnu/' + 'n'.repeat(150)],
    );
  });

  it('reads what GNU tar and Python tarfile write (long names, nested dirs, ./ prefix)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-tar-'));
    try {
      const deep = path.join(dir, 'src', 'a'.repeat(60), 'b'.repeat(60));
      mkdirSync(deep, { recursive: true });
      writeFileSync(path.join(deep, 'é-unicode.py'), 'x = 1\n');
      writeFileSync(path.join(dir, 'src', 'top.txt'), 'top');
      const gnu = path.join(dir, 'gnu.tar');
      const r = spawnSync('tar', ['-cf', gnu, '-C', path.join(dir, 'src'), '.'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const fromGnu = await index(readFileSync(gnu));
      assert.ok(fromGnu.some((e) => e.path.endsWith('é-unicode.py') && e.size === 6));
      assert.ok(fromGnu.some((e) => e.path === 'top.txt'));

      const py = path.join(dir, 'py.tar');
      runPython(
        `import json,sys,tarfile
d=json.load(sys.stdin)
with tarfile.open(d['out'],'w',format=tarfile.PAX_FORMAT) as t: t.add(d['src'],arcname='.')
print('null')`,
        { out: py, src: path.join(dir, 'src') },
      );
      const fromPy = await index(readFileSync(py));
      assert.deepEqual(
        fromPy
          .filter((e) => e.type === 'file')
          .map((e) => e.path)
          .sort(),
        fromGnu
          .filter((e) => e.type === 'file')
          .map((e) => e.path)
          .sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('canonicalises one leading ./ and a directory slash, nothing else', () => {
    assert.equal(canonicalEntryPath('./a/b', 'x'), 'a/b');
    assert.equal(canonicalEntryPath('a/', 'x', true), 'a');
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a/./b', '.', './', 'a\\b', 'a\0b']) {
      assert.throws(() => canonicalEntryPath(bad, 'x'), { code: 'ERR_PACKAGE_UNSAFE_PATH' }, bad);
    }
  });
});

describe('indexTar: the malicious corpus', () => {
  it('rejects path traversal, absolute paths and non-canonical names', async () => {
    await rejects(rawTar([file('../evil.py')]), 'ERR_PACKAGE_UNSAFE_PATH', {}, /'\.\.'/);
    await rejects(rawTar([file('a/../../evil.py')]), 'ERR_PACKAGE_UNSAFE_PATH');
    await rejects(rawTar([file('/etc/cron.d/evil')]), 'ERR_PACKAGE_UNSAFE_PATH', {}, /absolute/);
    await rejects(rawTar([{ ...file('x'), prefix: '..' }]), 'ERR_PACKAGE_UNSAFE_PATH');
    await rejects(
      rawTar([
        { name: 'PaxHeader', type: 'x', data: paxBody({ path: '../../root/.ssh/authorized_keys' }) },
        file('ok'),
      ]),
      'ERR_PACKAGE_UNSAFE_PATH',
    );
    await rejects(
      rawTar([
        { name: '././@LongLink', type: 'L', data: Buffer.from('/abs\0'), magic: 'gnu' },
        { ...file('ok'), magic: 'gnu' },
      ]),
      'ERR_PACKAGE_UNSAFE_PATH',
    );
    await rejects(
      rawTar([{ ...file('x'), nameBytes: Buffer.from([0x61, 0xff, 0xfe]) }]),
      'ERR_PACKAGE_UNSAFE_PATH',
      {},
      /UTF-8/,
    );
  });

  it('rejects symbolic and hard links where only files are allowed, naming the target', async () => {
    await rejects(
      rawTar([{ name: 'app.py', type: '2', linkname: '/etc/shadow' }]),
      'ERR_PACKAGE_LINK',
      {},
      /\/etc\/shadow/,
    );
    await rejects(rawTar([file('a'), { name: 'b', type: '1', linkname: 'a' }]), 'ERR_PACKAGE_LINK', {}, /hard link/);
  });

  it('indexes devices and FIFOs only when the caller allows them (image layers), with no content', async () => {
    const devices = rawTar([
      { name: 'dev/null', type: '3' },
      { name: 'dev/sda', type: '4' },
      { name: 'dev/fifo', type: '6' },
    ]);
    const entries = await index(devices, { allow: ['character-device', 'block-device', 'fifo'] });
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.size]),
      [
        ['dev/null', 'character-device', 0],
        ['dev/sda', 'block-device', 0],
        ['dev/fifo', 'fifo', 0],
      ],
    );
    await rejects(rawTar([{ name: 'dev/null', type: '3', size: 1, data: Buffer.from('x') }]), 'ERR_PACKAGE_CORRUPT', {
      allow: ['character-device'],
    });
  });

  it('rejects devices and FIFOs even where links are allowed', async () => {
    const allowAll: Partial<TarReadLimits> = { allow: ['file', 'directory', 'symlink', 'link'] };
    await rejects(rawTar([{ name: 'null', type: '3' }]), 'ERR_PACKAGE_SPECIAL_ENTRY', allowAll, /character-device/);
    await rejects(rawTar([{ name: 'sda', type: '4' }]), 'ERR_PACKAGE_SPECIAL_ENTRY', allowAll, /block-device/);
    await rejects(rawTar([{ name: 'pipe', type: '6' }]), 'ERR_PACKAGE_SPECIAL_ENTRY', allowAll, /fifo/);
    await rejects(
      rawTar([{ name: 'sparse', type: 'S', data: Buffer.from('x') }]),
      'ERR_PACKAGE_SPECIAL_ENTRY',
      allowAll,
    );
    await rejects(
      rawTar([{ name: 'g', type: 'g', data: paxBody({ path: 'x' }) }, file('y')]),
      'ERR_PACKAGE_SPECIAL_ENTRY',
    );
  });

  it('rejects an entry named both by a PAX record and a GNU long name or link (Go and others disagree)', async () => {
    // Go's archive/tar (docker load) reads from_gnu.txt, Python's tarfile and the PAX rule from_pax.txt.
    const both = (pax: Record<string, string>, type: 'L' | 'K', entry: RawEntry = file('short')) =>
      rawTar([
        { name: 'PaxHeader', type: 'x', data: paxBody(pax) },
        { name: '././@LongLink', type, data: Buffer.from('from_gnu.txt\0'), magic: 'gnu' },
        entry,
      ]);
    await rejects(
      both({ path: 'from_pax.txt' }, 'L'),
      'ERR_PACKAGE_AMBIGUOUS_NAME',
      {},
      /PAX path record and a GNU long name/,
    );
    const link: RawEntry = { name: 'l', type: '2', linkname: 'short' };
    const links = { allow: ['file', 'directory', 'symlink'] as TarReadLimits['allow'] };
    await rejects(both({ linkpath: 'from_pax.txt' }, 'K', link), 'ERR_PACKAGE_AMBIGUOUS_NAME', links, /GNU long link/);
    await rejects(both({ path: 'from_pax.txt' }, 'K', link), 'ERR_PACKAGE_AMBIGUOUS_NAME', links);
    // Each alone, or a PAX record that names nothing, is fine.
    assert.deepEqual(
      (await index(both({ mtime: '1' }, 'L'))).map((e) => e.path),
      ['from_gnu.txt'],
    );
  });

  it('rejects duplicate entries (also ./x vs x, and a dir listed twice)', async () => {
    await rejects(
      rawTar([file('app.py', 'good'), file('app.py', 'evil')]),
      'ERR_PACKAGE_DUPLICATE_ENTRY',
      {},
      /app\.py/,
    );
    await rejects(rawTar([file('app.py'), file('./app.py')]), 'ERR_PACKAGE_DUPLICATE_ENTRY');
    await rejects(
      rawTar([
        { name: 'd/', type: '5' },
        { name: 'd', type: '5' },
      ]),
      'ERR_PACKAGE_DUPLICATE_ENTRY',
    );
  });

  it('rejects huge members before reading them, and sizes beyond the archive', async () => {
    // Declares 10 GiB without carrying it: refused on the header alone.
    await rejects(
      rawTar([{ name: 'huge', size: 10 * 2 ** 30 }]),
      'ERR_PACKAGE_ENTRY_TOO_LARGE',
      {},
      /10737418240 bytes/,
    );
    await rejects(rawTar([file('a', 'x'.repeat(600)), file('b', 'y'.repeat(600))]), 'ERR_PACKAGE_TOO_LARGE', {
      maxTotalBytes: 1000,
    });
    await rejects(rawTar([file('a'), file('b'), file('c')]), 'ERR_PACKAGE_TOO_MANY_ENTRIES', { maxEntries: 2 });
    await rejects(
      rawTar([{ name: 'liar', size: 5000, data: Buffer.from('short') }], { noEnd: true }),
      'ERR_PACKAGE_CORRUPT',
    );
  });

  it('rejects data after the end-of-archive marker, and a missing marker', async () => {
    const hidden = rawTar([file('manifest.json', '[]')]).subarray(0, 1024);
    await rejects(rawTar([file('a')], { trailer: hidden }), 'ERR_PACKAGE_TRAILING_DATA');
    await rejects(rawTar([file('a')], { trailer: Buffer.alloc(MAX_TRAILER + 512) }), 'ERR_PACKAGE_TRAILING_DATA');
    await index(rawTar([file('a')], { trailer: Buffer.alloc(9216) })); // tar's usual record padding is fine
    await rejects(rawTar([file('a')], { noEnd: true }), 'ERR_PACKAGE_CORRUPT', {}, /end-of-archive/);
  });

  it('rejects broken headers: checksum, unknown format, non-octal size, links with content', async () => {
    await rejects(rawTar([{ ...file('a'), badChecksum: true }]), 'ERR_PACKAGE_CORRUPT', {}, /checksum/);
    await rejects(rawTar([{ ...file('a'), magic: 'none' }]), 'ERR_PACKAGE_CORRUPT', {}, /ustar/);
    const t = rawTar([file('a')]);
    t.write('9z', 124, 'latin1');
    await rejects(t, 'ERR_PACKAGE_CORRUPT');
    await rejects(
      rawTar([{ name: 'l', type: '2', linkname: 'a', size: 512, data: Buffer.alloc(512) }]),
      'ERR_PACKAGE_CORRUPT',
      {
        allow: ['file', 'symlink'],
      },
    );
    await rejects(Buffer.alloc(100), 'ERR_PACKAGE_CORRUPT');
    await rejects(Buffer.from('PK\u0003\u0004 not a tar at all'.padEnd(2048, 'z')), 'ERR_PACKAGE_CORRUPT');
    await rejects(
      rawTar([{ name: 'PaxHeader', type: 'x', data: Buffer.from('99 path=x\n') }, file('a')]),
      'ERR_PACKAGE_CORRUPT',
      {},
      /PAX/,
    );
  });
});

describe('numericField', () => {
  const octal = (text: string, width = 12): Buffer => Buffer.from(text.padEnd(width, '\0'), 'latin1');
  it('reads octal text as tar writers pad it: leading spaces, trailing NULs and spaces', () => {
    assert.equal(numericField(octal('00000001750\0')), 0o1750);
    assert.equal(numericField(octal('  1750 \0 ')), 0o1750);
    assert.equal(numericField(octal('')), 0);
    assert.equal(numericField(octal('   ')), 0);
    assert.equal(numericField(octal('777777777777', 12)), 0o777777777777);
  });
  it('refuses anything else: other digits, inner NUL or space, leading NUL, out of the safe range', () => {
    for (const bad of ['9', '17a', '1\u00002', '1 2', '\u00001', '1\u00b7', '+1', '-1']) {
      assert.equal(numericField(octal(bad)), undefined, JSON.stringify(bad));
    }
    assert.equal(numericField(Buffer.from('7'.repeat(18), 'latin1')), undefined);
    assert.equal(numericField(Buffer.from('377777777777777777', 'latin1')), 2 ** 53 - 1);
    assert.equal(numericField(Buffer.from('400000000000000000', 'latin1')), undefined);
  });
  it('reads GNU base-256 (high bit set), refuses negative and unsafe values', () => {
    assert.equal(numericField(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])), 65536);
    assert.equal(numericField(Buffer.from([0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), undefined);
    assert.equal(numericField(Buffer.from([0x80, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0])), undefined);
  });
});
