/**
 * Create-once files: the content is written to a private temporary sibling, flushed, then hard-linked into
 * place. link(2) fails when the target exists, so concurrent creators never overwrite each other and no
 * reader ever sees a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';

/** Publish `data` at `file` unless something is already there. Returns false if another writer won. */
export async function publishExclusive(file: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}
