/**
 * Docker build contexts as deterministic tar streams.
 *
 * The context of a project's image is the directory holding its Dockerfile (as in MSE), filtered by its
 * `.dockerignore` (Docker's own syntax, via @balena/dockerignore), with fixed mtimes and owners: two
 * contexts with the same files give the same tar bytes, so the engine's build cache (which keys COPY/ADD
 * steps on file content and metadata) is hit and the image, hence its config digest, is the same.
 * Unlike MSE, a Dockerfile with another name than `Dockerfile` is honoured.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { InputError } from '../errors.js';
import { readUserTextIfExists } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { comparePaths, deterministicTar, type TarEntrySource } from '../package/tar-write.js';

// The package is CommonJS with `module.exports = factory` but types written as an ES default export.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as (o?: { ignorecase?: boolean }) => Ignore;

export interface DirectoryContext {
  stream: Readable;
  /** Dockerfile path inside the context. */
  dockerfile: string;
  files: number;
  bytes: number;
}

/**
 * The build context for `dockerfile`: its directory, `.dockerignore` applied (the Dockerfile itself and
 * `.dockerignore` are always sent, as the docker CLI does). Symbolic links are kept as links; sockets and
 * FIFOs are skipped.
 */
export async function directoryContext(dockerfile: string): Promise<DirectoryContext> {
  const file = path.resolve(dockerfile);
  const dir = path.dirname(file);
  const dockerfileName = path.basename(file);
  const ignoreText =
    (await readUserTextIfExists(path.join(dir, '.dockerignore'), '.dockerignore', INPUT_LIMITS.config)) ?? '';
  const patterns = ignoreText.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const ig = dockerignore({ ignorecase: false }).add(patterns);
  const hasExceptions = patterns.some((p) => p.trim().startsWith('!'));
  const entries: TarEntrySource[] = [];
  let bytes = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await fs.readdir(abs)).sort(comparePaths);
    for (const name of names) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const always = childRel === dockerfileName || childRel === '.dockerignore';
      // Docker walks into ignored directories when an exception (!pattern) may re-include something.
      const ignored = !always && ig.ignores(childRel);
      const st = await fs.lstat(childAbs);
      if (st.isDirectory()) {
        if (!ignored) entries.push({ path: childRel, type: 'directory' });
        if (!ignored || hasExceptions) await walk(childAbs, childRel);
      } else if (ignored) {
        continue;
      } else if (st.isFile()) {
        entries.push({
          path: childRel,
          type: 'file',
          file: childAbs,
          size: st.size,
          executable: (st.mode & 0o111) !== 0,
        });
        bytes += st.size;
      } else if (st.isSymbolicLink()) {
        entries.push({ path: childRel, type: 'symlink', linkname: await fs.readlink(childAbs) });
      }
    }
  };
  try {
    await fs.access(file);
  } catch (cause) {
    throw new InputError('ERR_FILE_NOT_FOUND', `Dockerfile not found: ${dockerfile}`, { cause });
  }
  await walk(dir, '');
  return {
    stream: deterministicTar(entries),
    dockerfile: dockerfileName,
    files: entries.filter((e) => e.type === 'file').length,
    bytes,
  };
}

/** A context made of in-memory (or on-disk) entries, e.g. the base image's. */
export function entriesContext(entries: TarEntrySource[]): Readable {
  return deterministicTar(entries);
}
