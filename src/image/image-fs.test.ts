// The image file system read from a docker-archive without Docker: overlay2's layer rules (whiteouts, opaque
// directories, hard links, directories over symlinks), symlinks resolved inside the image root only,
// devices, the diff-ID check and file hashing (on one thread, or shared with a second one), and the refusals. Archives are made
// byte by byte here (src/testing/rawtar.ts); the e2e test compares the result with a real `docker export`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bufferSource, fileSource } from '../package/tar-read.js';
import { dockerArchive, rawTar, type RawEntry } from '../testing/rawtar.js';
import { JOB_BYTES, openImageFs, READ_CHUNK, type ImageFs } from './image-fs.js';
import { MAX_SYMLINK_HOPS } from './layers.js';
import { WORKER_CHUNK } from './worker-hash.js';

const file = (name: string, text: string, mode = 0o644): RawEntry => ({ name, data: Buffer.from(text), mode });
const dir = (name: string, mode = 0o755): RawEntry => ({ name: `${name}/`, type: '5', mode });
const symlink = (name: string, target: string): RawEntry => ({ name, type: '2', linkname: target, mode: 0o777 });
const hardlink = (name: string, target: string): RawEntry => ({ name, type: '1', linkname: target });
const whiteout = (name: string): RawEntry => ({ name, data: Buffer.alloc(0) });
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

async function image(...layers: RawEntry[][]): Promise<ImageFs> {
  const { tar } = dockerArchive(layers.map((l) => rawTar(l)));
  return openImageFs(bufferSource(tar), 'image.tar');
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mse-image-fs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let tmpFiles = 0;

/** The image in a file (so that a second thread can read it), opened; `close` stops that thread, then closes. */
async function fileImage(tar: Buffer): Promise<{ fs: ImageFs; handle: FileHandle; close: () => Promise<void> }> {
  const file = path.join(tmp, `image-${tmpFiles++}.tar`);
  writeFileSync(file, tar);
  const handle = await open(file, 'r+');
  const fs = await openImageFs(fileSource(handle, 0, tar.length), 'image.tar');
  return {
    fs,
    handle,
    close: async () => {
      await fs.close();
      await handle.close();
    },
  };
}

async function refused(layers: RawEntry[][], code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(image(...layers), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

async function text(fs: ImageFs, p: string): Promise<string> {
  return (await fs.readFile(p, 1 << 20)).toString();
}

describe('image file system: layers stacked as overlay2 does', () => {
  it('replaces files, merges directories, keeps the upper mode', async () => {
    const fs = await image(
      [dir('etc', 0o700), file('etc/a', 'lower a'), file('etc/b', 'lower b'), file('top', 'x')],
      [dir('etc', 0o755), file('etc/a', 'upper a', 0o600), file('etc/c', 'upper c')],
    );
    assert.deepEqual(fs.readdir('/'), ['etc', 'top']);
    assert.deepEqual(fs.readdir('/etc'), ['a', 'b', 'c']);
    assert.equal(await text(fs, '/etc/a'), 'upper a');
    assert.equal(await text(fs, '/etc/b'), 'lower b');
    assert.equal(fs.stat('/etc')?.mode, 0o755);
    assert.deepEqual(fs.stat('/etc/a'), { kind: 'file', size: 7, mode: 0o600 });
    assert.equal(fs.entryCount, 7);
  });

  it('applies whiteouts (file and subtree) and opaque directories', async () => {
    const fs = await image(
      [
        dir('a'),
        file('a/keep', '1'),
        file('a/gone', '2'),
        dir('a/sub'),
        file('a/sub/x', '3'),
        dir('o'),
        file('o/old', '4'),
      ],
      [whiteout('a/.wh.gone'), whiteout('a/.wh.sub'), whiteout('o/.wh..wh..opq'), file('o/new', '5')],
    );
    assert.deepEqual(fs.readdir('/a'), ['keep']);
    assert.equal(fs.stat('/a/sub/x'), undefined);
    assert.deepEqual(fs.readdir('/o'), ['new']);
  });

  it('whiteouts and opaque markers only hide lower layers; a later layer can bring the path back', async () => {
    const fs = await image([file('f', 'v1')], [whiteout('.wh.f')], [file('f', 'v3')]);
    assert.equal(await text(fs, '/f'), 'v3');
  });

  it('shares a hard link target’s bytes (a link to an earlier file of the same layer)', async () => {
    const fs = await image([dir('usr'), file('usr/perl', 'perl!'), hardlink('usr/perl5.36', './usr/perl')]);
    assert.equal(await text(fs, '/usr/perl5.36'), 'perl!');
    const scan = await fs.scan(['/usr/perl', '/usr/perl5.36']);
    assert.equal(scan.filesHashed, 1, 'one content, hashed once');
    assert.equal(scan.hashes.get('/usr/perl5.36'), sha('perl!'));
  });

  it('refuses hard links Docker cannot load: to a lower layer, forward, to a directory or outside', async () => {
    await refused([[file('a', 'x')], [hardlink('b', 'a')]], 'ERR_IMAGE_HARDLINK', /not an earlier regular file/);
    await refused([[hardlink('b', 'c'), file('c', 'x')]], 'ERR_IMAGE_HARDLINK');
    await refused([[dir('d'), hardlink('b', 'd')]], 'ERR_IMAGE_HARDLINK');
    await refused([[file('a', 'x'), hardlink('b', '../a')]], 'ERR_IMAGE_HARDLINK');
  });

  it('makes a directory over a lower symlink or file a real directory (overlayfs does not follow it)', async () => {
    const fs = await image(
      [dir('usr'), dir('usr/lib'), file('usr/lib/libc', 'c'), symlink('lib', 'usr/lib'), file('f', 'file')],
      [file('lib/extra', 'e'), file('f/inner', 'i')],
    );
    assert.equal(fs.lstat('/lib')?.kind, 'directory');
    assert.deepEqual(fs.readdir('/lib'), ['extra']);
    assert.equal(fs.stat('/lib/libc'), undefined);
    assert.deepEqual(fs.readdir('/f'), ['inner']);
  });

  it('a file over a directory hides the lower subtree', async () => {
    const fs = await image([dir('d'), file('d/x', 'x')], [file('d', 'now a file')]);
    assert.equal(await text(fs, '/d'), 'now a file');
    assert.equal(fs.stat('/d/x'), undefined);
  });

  it('accepts device nodes and FIFOs under dev/ only, and never as files', async () => {
    const fs = await image([
      dir('dev'),
      { name: 'dev/null', type: '3' },
      { name: 'dev/sda', type: '4' },
      { name: 'dev/fifo', type: '6' },
    ]);
    assert.equal(fs.stat('/dev/null')?.kind, 'special');
    await assert.rejects(fs.readFile('/dev/null', 10), { code: 'ERR_IMAGE_NOT_A_FILE' });
    await refused([[dir('etc'), { name: 'etc/null', type: '3' }]], 'ERR_IMAGE_SPECIAL_FILE', /etc\/null/);
  });
});

describe('image file system: symbolic links resolve inside the image root only', () => {
  const links = (): Promise<ImageFs> =>
    image([
      dir('etc'),
      file('etc/passwd', 'image passwd'),
      dir('usr'),
      dir('usr/bin'),
      file('usr/bin/python3.11', 'py'),
      symlink('usr/bin/python3', 'python3.11'),
      symlink('bin', 'usr/bin'),
      symlink('abs', '/etc/passwd'),
      symlink('escape', '../../../../etc/passwd'),
      symlink('usr/up', '../../../etc'),
      symlink('loop1', 'loop2'),
      symlink('loop2', 'loop1'),
      symlink('dangling', '/nowhere'),
      symlink('tofile', 'etc/passwd/'),
    ]);

  it('follows relative and absolute links from the image root, and clamps .. at the root', async () => {
    const fs = await links();
    assert.equal(fs.realpath('/bin/python3'), '/usr/bin/python3.11');
    assert.equal(await text(fs, '/abs'), 'image passwd', 'an absolute target is the image’s, never the host’s');
    assert.equal(await text(fs, '/escape'), 'image passwd');
    assert.equal(fs.realpath('/usr/up/passwd'), '/etc/passwd');
    assert.equal(fs.realpath('/usr/../../..'), '/');
  });

  it('stat follows the last link, lstat does not; links in the middle are always followed', async () => {
    const fs = await links();
    assert.deepEqual(fs.lstat('/bin'), { kind: 'symlink', size: 0, mode: 0o777, target: 'usr/bin' });
    assert.equal(fs.stat('/bin')?.kind, 'directory');
    assert.equal(fs.lstat('/bin/python3')?.kind, 'symlink');
    assert.equal(fs.stat('/bin/python3')?.kind, 'file');
    assert.deepEqual(fs.readdir('/bin'), ['python3', 'python3.11']);
  });

  it('reports loops, dangling links and a file used as a directory as unresolvable', async () => {
    const fs = await links();
    for (const p of ['/loop1', '/dangling', '/tofile', '/etc/passwd/x']) assert.equal(fs.stat(p), undefined, p);
    assert.equal(fs.lstat('/loop1')?.kind, 'symlink');
    assert.throws(() => fs.realpath('/loop1'), { code: 'ERR_IMAGE_SYMLINK' });
    assert.throws(() => fs.realpath('/dangling'), {
      code: 'ERR_IMAGE_PATH_NOT_FOUND',
      message: /\/nowhere does not exist/,
    });
    assert.throws(() => fs.readdir('/etc/passwd'), { code: 'ERR_IMAGE_NOT_A_DIRECTORY' });
    assert.throws(() => fs.stat('relative'), { code: 'ERR_IMAGE_PATH_INVALID' });
  });

  it(`follows at most ${MAX_SYMLINK_HOPS} links, as Linux does`, async () => {
    const chain = (n: number): RawEntry[] => [
      file('target', 't'),
      ...Array.from({ length: n }, (_, i) => symlink(`l${i}`, i === n - 1 ? 'target' : `l${i + 1}`)),
    ];
    assert.equal((await image(chain(MAX_SYMLINK_HOPS))).stat('/l0')?.kind, 'file');
    assert.equal((await image(chain(MAX_SYMLINK_HOPS + 1))).stat('/l0'), undefined);
  });
});

describe('image file system: refusals', () => {
  it('refuses whiteouts that are ambiguous or not Docker’s', async () => {
    await refused([[file('a', 'x')], [whiteout('.wh.a'), file('a', 'y')]], 'ERR_IMAGE_WHITEOUT');
    await refused([[dir('d')], [whiteout('.wh.d'), file('d/x', 'y')]], 'ERR_IMAGE_WHITEOUT');
    await refused([[dir('d')], [file('d/x', 'y'), whiteout('.wh.d')]], 'ERR_IMAGE_WHITEOUT');
    await refused([[file('a', 'x')], [whiteout('.wh..wh.plnk')]], 'ERR_IMAGE_WHITEOUT', /unsupported/);
    await refused([[file('a', 'x')], [file('.wh.a', 'not empty')]], 'ERR_IMAGE_WHITEOUT');
  });

  it('refuses a path that is a file and a directory in one layer', async () => {
    await refused([[file('a', 'x'), file('a/b', 'y')]], 'ERR_IMAGE_PATH_CONFLICT');
    await refused([[file('a/b', 'y'), file('a', 'x')]], 'ERR_IMAGE_PATH_CONFLICT');
  });

  it('applies the strict tar checks to every layer and names the layer', async () => {
    await assert.rejects(image([{ name: '../etc/passwd', data: Buffer.from('x') }]), {
      code: 'ERR_PACKAGE_UNSAFE_PATH',
      message: /^layer 1 \(.*layer\.tar\) of image\.tar/,
    });
    await assert.rejects(image([file('a', '1'), file('a', '2')]), { code: 'ERR_PACKAGE_DUPLICATE_ENTRY' });
  });

  it('refuses compressed layers', async () => {
    const { gzipSync } = await import('node:zlib');
    const { tar } = dockerArchive([gzipSync(rawTar([file('a', 'x')]))]);
    await assert.rejects(openImageFs(bufferSource(tar), 'image.tar'), { code: 'ERR_IMAGE_LAYER_COMPRESSED' });
  });

  it('bounds the entries of all layers together', async () => {
    const { tar } = dockerArchive([rawTar([file('a', '1'), file('b', '2')]), rawTar([file('c', '3')])]);
    await openImageFs(bufferSource(tar), 'image.tar', { maxLayerEntries: 3 });
    await assert.rejects(openImageFs(bufferSource(tar), 'image.tar', { maxLayerEntries: 2 }), {
      code: 'ERR_PACKAGE_TOO_MANY_ENTRIES',
    });
  });
});

describe('image file system: every layer checked, the files asked for hashed', () => {
  it('hashes files (symlinks followed) while checking the diff IDs; files span read chunks', async () => {
    const big = Buffer.alloc(READ_CHUNK * 2 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const fs = await image(
      [dir('lib'), { name: 'lib/big.so', data: big }, file('lib/small', 'small'), file('empty', '')],
      [symlink('link', 'lib/big.so'), file('lib/small', 'replaced')],
    );
    const scan = await fs.scan(['/lib/big.so', '/lib/small', '/empty', '/link']);
    assert.equal(scan.hashes.get('/lib/big.so'), sha(big));
    assert.equal(scan.hashes.get('/link'), sha(big));
    assert.equal(scan.hashes.get('/lib/small'), sha('replaced'));
    assert.equal(scan.hashes.get('/empty'), sha(''));
    assert.equal(scan.filesHashed, 3);
    assert.equal(scan.fileBytes, big.length + 8);
    assert.ok(scan.layerBytes > big.length);
    const chunks: Buffer[] = [];
    for await (const c of fs.stream('/link')) chunks.push(c);
    const streamed = Buffer.concat(chunks);
    assert.ok(streamed.equals(big));
  });

  it('gives the same results with a second thread reading the archive file (used for large images)', async () => {
    const big = Buffer.alloc(WORKER_CHUNK * 2 + 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    // Files of more than half a job each get a job of their own, so that both threads take some.
    const mid = Array.from({ length: 24 }, (_, k) => ({ name: `m/${k}`, data: Buffer.alloc((JOB_BYTES >> 1) + k, k) }));
    const small = Array.from({ length: 300 }, (_, k) => file(`s/${k}`, `small ${k}`));
    const layers = [
      [dir('a'), { name: 'a/big', data: big }, file('a/x', 'x'), dir('m'), ...mid, dir('s'), ...small],
      [file('a/y', 'y'), file('a/x', 'x2'), file('empty', '')],
    ];
    const paths = [
      '/a/big',
      '/a/x',
      '/a/y',
      '/empty',
      ...mid.map((m) => `/${m.name}`),
      ...small.map((f) => `/${f.name}`),
    ];
    const inline = await (await image(...layers)).scan(paths, { parallel: false });
    for (let round = 0; round < 3; round++) {
      const onFile = await fileImage(dockerArchive(layers.map((l) => rawTar(l))).tar);
      // The layers checked first (the worker then takes file jobs at once), or at the same time.
      if (round === 1) assert.ok((await onFile.fs.checkLayers({ parallel: true })) > big.length);
      const parallel = await onFile.fs.scan(paths, { parallel: true });
      await onFile.close();
      assert.deepEqual(parallel, inline);
    }
    assert.equal(inline.hashes.get('/a/big'), sha(big));
    assert.equal(inline.hashes.get('/m/3'), sha(mid[3]!.data));
    assert.equal(inline.hashes.get('/s/299'), sha('small 299'));
    assert.equal(inline.hashes.get('/empty'), sha(''));
  });

  it('refuses a tampered layer, and a truncated archive, on the second thread too', async () => {
    const big = Buffer.alloc(WORKER_CHUNK + 3, 1);
    const { tar } = dockerArchive([rawTar([{ name: 'big', data: big }])]);
    const at = tar.indexOf(big) + WORKER_CHUNK + 1;
    tar[at] = tar[at]! ^ 1;
    const tampered = await fileImage(tar);
    await assert.rejects(tampered.fs.scan(['/big'], { parallel: true }), {
      code: 'ERR_PACKAGE_IMAGE_LAYER',
      message: /layer 1 .* hashes to sha256:/,
    });
    await tampered.close();
    // The index (headers only) was read; then the file loses its end: both threads see it end early.
    const fine = dockerArchive([rawTar([{ name: 'big', data: big }])]).tar;
    const cut = await fileImage(fine);
    await cut.handle.truncate(fine.indexOf(big) + 10);
    await assert.rejects(cut.fs.checkLayers({ parallel: true }), { code: 'ERR_PACKAGE_CORRUPT', message: /truncated/ });
    await assert.rejects(cut.fs.hashFiles(['/big'], { parallel: true }), { code: 'ERR_PACKAGE_CORRUPT' });
    await cut.close();
  });

  it('refuses a layer whose bytes do not hash to its diff ID, even when no file of it is asked for', async () => {
    const { tar } = dockerArchive([rawTar([file('a', 'original')]), rawTar([file('b', 'other')])]);
    const at = tar.indexOf('original');
    tar.write('tampered', at, 'latin1');
    const fs = await openImageFs(bufferSource(tar), 'image.tar');
    assert.equal(await text(fs, '/a'), 'tampered', 'the index does not read bodies');
    await assert.rejects(fs.scan([]), { code: 'ERR_PACKAGE_IMAGE_LAYER', message: /layer 1 .* hashes to sha256:/ });
  });

  it('refuses to hash what is not a regular file', async () => {
    const fs = await image([dir('d'), symlink('dangling', 'nowhere')]);
    await assert.rejects(fs.scan(['/d']), { code: 'ERR_IMAGE_NOT_A_FILE' });
    await assert.rejects(fs.scan(['/dangling']), { code: 'ERR_IMAGE_PATH_NOT_FOUND' });
  });
});
