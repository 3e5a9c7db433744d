/**
 * Packages as a hostile operator would remake them: a copy of a package with its `mse.toml` edited and
 * every other member kept byte for byte, written the way `mse home package` writes packages (deterministic
 * tar). Tests only.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PACKAGE_MEMBERS } from '../package/code-tar.js';
import { readPackage } from '../package/read.js';
import { deterministicTar } from '../package/tar-write.js';

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
