/**
 * The one atomic write of mse-home. The content goes to a private temporary sibling (created O_EXCL, its
 * mode set, flushed), which is then put in place in one step: hard-linked when the write is exclusive —
 * link(2) fails when the target exists, so concurrent creators never overwrite each other — or renamed over
 * the target otherwise. No reader ever sees a half-written file, and a failure leaves no temporary behind.
 * Errors are Node's (callers translate them: `writeFileAtomic` in ./files.ts into output errors).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';

/** A fresh temporary sibling name for `file` (hidden, random, ending `.tmp` or `.${kind}`). */
export function tempSibling(file: string, kind = 'tmp'): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.${kind}`);
}

/**
 * Put the finished file `temp` (same file system) at `file`: by link(2) when `exclusive`, else by rename(2).
 * `temp` is gone afterwards either way. Returns false when `exclusive` and something is already at `file`.
 */
export async function commitFile(temp: string, file: string, exclusive: boolean): Promise<boolean> {
  if (!exclusive) {
    try {
      await fs.rename(temp, file);
      return true;
    } catch (error) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * Write `data` with `mode` (the umask does not apply) to a fresh temporary sibling of `file`, flushed, and
 * return its name; nothing is left behind when it fails. {@link commitFile} puts it in place.
 */
export async function stageFile(file: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temp = tempSibling(file);
  const handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.chmod(mode); // the umask may have narrowed or widened what open() applied
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  return temp;
}

/**
 * Write `data` at `file` atomically with `mode` (the umask does not apply). Returns false when `exclusive`
 * and something is already at `file` (another writer won): nothing is changed then.
 */
export async function writeAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode: number; exclusive: boolean },
): Promise<boolean> {
  return commitFile(await stageFile(file, data, options.mode), file, options.exclusive);
}

/** Publish `data` at `file` unless something is already there. Returns false if another writer won. */
export async function publishExclusive(file: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  return writeAtomic(file, data, { mode, exclusive: true });
}
