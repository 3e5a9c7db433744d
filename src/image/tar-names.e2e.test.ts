// A layer entry named twice, by a PAX `path` record and a GNU long name: the real Docker engine (Go's
// archive/tar) takes the GNU name, so an image file system that took the PAX one would measure another
// file than the container runs. mse-home refuses the entry (ERR_PACKAGE_AMBIGUOUS_NAME); this test also
// shows what Docker reads, through `docker load` and `docker export`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { bufferSource, indexTar } from '../package/tar-read.js';
import { dockerArchive, paxBody, rawTar } from '../testing/rawtar.js';
import { removeTestDirs, TEST_PREFIX, testEngine, testTempDir } from '../testing/docker.js';
import { openImageFs } from './image-fs.js';

after(removeTestDirs);

describe('a layer entry named by both a PAX path and a GNU long name', () => {
  const layer = rawTar([
    { name: 'PaxHeader', type: 'x', data: paxBody({ path: 'from_pax.txt' }) },
    { name: '././@LongLink', type: 'L', data: Buffer.from('from_gnu.txt\0'), magic: 'gnu' },
    { name: 'short', data: Buffer.from('which name?\n'), magic: 'gnu' },
  ]);
  const repo = `${TEST_PREFIX}tarnames-${randomBytes(3).toString('hex')}`;
  const image = dockerArchive([layer], { repoTag: `${repo}:1` });

  it('is refused by the image file system', async () => {
    await assert.rejects(openImageFs(bufferSource(image.tar), 'image.tar'), { code: 'ERR_PACKAGE_AMBIGUOUS_NAME' });
  });

  it('is read by Docker under its GNU name (the reading mse-home would otherwise have differed from)', async () => {
    const engine = await testEngine();
    const file = path.join(testTempDir('mse-e2e-tarnames-'), 'image.tar');
    writeFileSync(file, image.tar);
    await engine.loadImage(file);
    let id: string | undefined;
    try {
      id = await engine.createContainer({ name: `${repo}-c`, image: image.configDigest });
      const stream = (await engine.docker.getContainer(id).export()) as unknown as Readable;
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const entries = await indexTar(bufferSource(Buffer.concat(chunks)), 'docker export', {
        maxEntryBytes: 1 << 20,
        maxTotalBytes: 64 << 20,
        maxEntries: 10_000,
        allow: ['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'],
      });
      const names = entries.map((e) => e.path);
      assert.ok(names.includes('from_gnu.txt'), names.join(' '));
      assert.ok(!names.includes('from_pax.txt'));
    } finally {
      if (id) await engine.removeContainer(id, { force: true });
      await engine.removeImage(`${repo}:1`).catch(() => undefined);
    }
  });
});
