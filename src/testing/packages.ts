/**
 * Packages for tests without Docker: a minimal package in the real format, and packages as a hostile
 * operator would remake them: a copy of a package with its `mse.toml` edited and every other member kept
 * byte for byte, written the way `mse home package` writes packages (deterministic tar). Tests only.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PACKAGE_MEMBERS } from '../package/code-tar.js';
import { readPackage } from '../package/read.js';
import { deterministicTar, tarToBuffer } from '../package/tar-write.js';
import { dockerArchive, rawTar } from './rawtar.js';

/**
 * A minimal package in the real format, assembled without Docker: `app.tar` holding `app.py`, `tests.tar`
 * one test, `image.tar` a one-layer docker-archive tagged `demo:1`, and `toml` as `mse.toml`.
 */
export async function minimalPackage(toml: string): Promise<Buffer> {
  const appTar = await tarToBuffer(
    deterministicTar([{ path: 'app.py', type: 'file', data: Buffer.from('app = object()\n') }]),
  );
  const tests = await tarToBuffer(
    deterministicTar([{ path: 'test_app.py', type: 'file', data: Buffer.from('def test(): pass\n') }]),
  );
  const image = dockerArchive([rawTar([{ name: 'etc/hostname', data: Buffer.from('x') }])], { repoTag: 'demo:1' });
  return rawTar([
    { name: 'app.tar', data: appTar },
    { name: 'image.tar', data: image.tar },
    { name: 'mse.toml', data: Buffer.from(toml) },
    { name: 'tests.tar', data: tests },
  ]);
}

/** Write to `dest` a copy of `packageFile` whose mse.toml is `edit(original text)`. */
export async function rewritePackageConfig(
  packageFile: string,
  dest: string,
  edit: (toml: string) => string,
): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-repackage-'));
  try {
    const dir = path.join(tmp, 'members');
    await readPackage(packageFile, dir);
    const toml = path.join(dir, 'mse.toml');
    const edited = edit(await fs.readFile(toml, 'utf8'));
    await fs.writeFile(toml, edited);
    const entries = await Promise.all(
      PACKAGE_MEMBERS.map(async (m) => {
        const file = path.join(dir, m);
        return { path: m, type: 'file' as const, file, size: (await fs.stat(file)).size };
      }),
    );
    await pipeline(deterministicTar(entries), createWriteStream(dest));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
