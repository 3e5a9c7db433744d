import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { readTar, safeRelativePath } from './tar.js';

/** One ustar header block + padded data (test-only writer to craft hostile archives). */
function entry(
  name: string,
  data: Buffer | string = '',
  typeflag = '0',
  extra: { prefix?: string; checksumDelta?: number; magic?: string } = {},
): Buffer {
  const body = Buffer.from(data);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(typeflag, 156);
  h.write(extra.magic ?? 'ustar\u000000', 257, 'latin1');
  if (extra.prefix) h.write(extra.prefix, 345);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write((sum + (extra.checksumDelta ?? 0)).toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([h, padded]);
}
const END = Buffer.alloc(1024);
const pax = (records: Record<string, string>): Buffer => {
  let text = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len++;
    text += `${len}${rest}`;
  }
  return entry('PaxHeader', text, 'x');
};

function rejects(archive: Buffer, pattern: RegExp): void {
  assert.throws(
    () => readTar(archive),
    (e: unknown) => e instanceof InputError && e.code === 'ERR_APP_TAR' && pattern.test(e.message),
    pattern.source,
  );
}

describe('readTar', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'tar-test-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('reads archives made by GNU tar and by Python (pax, long names)', () => {
    const src = path.join(work, 'src');
    const deep = 'd'.repeat(60) + '/' + 'e'.repeat(60) + '/' + 'f'.repeat(70) + '.py';
    mkdirSync(path.join(src, path.dirname(deep)), { recursive: true });
    writeFileSync(path.join(src, 'app.py'), 'print("hi")\n');
    writeFileSync(path.join(src, deep), 'x');
    writeFileSync(path.join(src, 'é.txt'), 'unicode');
    for (const format of ['gnu', 'pax', 'ustar']) {
      const file = path.join(work, `${format}.tar`);
      const r = spawnSync('tar', ['--format', format, '-cf', file, '-C', src, '.']);
      assert.equal(r.status, 0, r.stderr.toString());
      const entries = readTar(readFileSync(file));
      const files = Object.fromEntries(
        entries.filter((e) => e.type === 'file').map((e) => [e.path, Buffer.from(e.data).toString()]),
      );
      assert.deepEqual(files, { 'app.py': 'print("hi")\n', [deep]: 'x', 'é.txt': 'unicode' }, format);
    }
  });

  it('reads ustar prefixes and pax paths', () => {
    const entries = readTar(
      Buffer.concat([
        entry('b.py', '1', '0', { prefix: 'pkg' }),
        pax({ path: 'long/' + 'n'.repeat(150) }),
        entry('ignored', '2'),
        END,
      ]),
    );
    assert.deepEqual(
      entries.map((e) => e.path),
      ['pkg/b.py', 'long/' + 'n'.repeat(150)],
    );
  });

  it('refuses links, devices and unsafe paths', () => {
    rejects(Buffer.concat([entry('link', '', '2'), END]), /symbolic link/);
    rejects(Buffer.concat([entry('hard', '', '1'), END]), /hard link/);
    rejects(Buffer.concat([entry('dev', '', '3'), END]), /character device/);
    rejects(Buffer.concat([entry('fifo', '', '6'), END]), /FIFO/);
    rejects(Buffer.concat([entry('../evil.py', 'x'), END]), /unsafe path/);
    rejects(Buffer.concat([entry('a/../../evil.py', 'x'), END]), /unsafe path/);
    rejects(Buffer.concat([entry('/etc/passwd', 'x'), END]), /absolute/);
    rejects(Buffer.concat([pax({ path: '../x' }), entry('x', 'x'), END]), /unsafe path/);
    rejects(Buffer.concat([entry('a\\b', 'x'), END]), /backslash/);
    const src = path.join(work, 'links');
    mkdirSync(src, { recursive: true });
    symlinkSync('/etc/passwd', path.join(src, 'passwd'));
    const file = path.join(work, 'links.tar');
    assert.equal(spawnSync('tar', ['-cf', file, '-C', src, '.']).status, 0);
    rejects(readFileSync(file), /symbolic link/);
  });

  it('refuses duplicates, file/directory clashes and damaged framing', () => {
    rejects(Buffer.concat([entry('a.py', '1'), entry('./a.py', '2'), END]), /appears twice/);
    rejects(Buffer.concat([entry('a', '1'), entry('a/b', '2'), END]), /which is a file/);
    rejects(Buffer.concat([entry('a.py', '1', '0', { checksumDelta: 1 }), END]), /checksum/);
    rejects(Buffer.concat([entry('a.py', '1', '0', { magic: 'xxxxx\u000000' }), END]), /header format/);
    rejects(Buffer.concat([entry('a.py', 'x'.repeat(600))]).subarray(0, 900), /truncated/);
    rejects(entry('a.py', '1'), /end-of-archive/);
    rejects(
      Buffer.concat([entry('a.py', '1'), END, Buffer.from('junk'), Buffer.alloc(508)]),
      /after the end-of-archive/,
    );
    rejects(Buffer.concat([pax({ path: 'a' }), END]), /extended header without an entry/);
    rejects(Buffer.concat([entry('d/', 'x', '5'), END]), /directory d has a size/);
  });

  it('normalizes safe relative paths', () => {
    assert.equal(safeRelativePath('./a/b/'), 'a/b');
    assert.equal(safeRelativePath('./'), '');
    assert.throws(() => safeRelativePath('a//b'), InputError);
    assert.throws(() => safeRelativePath('a/./b'), InputError);
  });
});
