/**
 * The app's code: read from `/opt/mse/enclave/app.tar` at start-up, decrypted in memory when the
 * configuration arrives (files packaged with `--encrypt` end in `.enc` and hold NaCl secretbox nonce ‖ tag ‖
 * ciphertext, MSE's format), then installed into `/mse-app`; the configuration is complete, and the app
 * runs, only once the `configured` marker is written after it.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { secretboxOpen } from '../crypto/secretbox.js';
import { openUserFile, type OpenedFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { checkMemberSize, DEFAULT_PACKAGE_LIMITS, readCodeTar } from '../package/code-tar.js';
import { fileSource } from '../package/tar-read.js';

const ENC = '.enc';

export interface AppArchive {
  /** Plain files and directories, by path. */
  plain: { path: string; type: 'file' | 'directory'; data: Uint8Array }[];
  /** Encrypted files: `path` without `.enc`, `data` = secretbox. */
  encrypted: { path: string; data: Uint8Array }[];
}

export interface AppFile {
  path: string;
  type: 'file' | 'directory';
  data: Uint8Array;
}

/**
 * Read and check app.tar (see {@link readCodeTar}); an encrypted file and a plain file of the same name
 * conflict. The file must be a regular file (`ERR_APP_TAR_MISSING` otherwise) within the app.tar limit the
 * host applies too (`ERR_PACKAGE_MEMBER_TOO_LARGE`): the code is held in memory until it is configured.
 */
export async function loadAppArchive(file: string): Promise<AppArchive> {
  let opened: OpenedFile;
  try {
    // The package bound for the open; the member's own bound just below, with the host's code and message.
    opened = await openUserFile(file, 'app code', INPUT_LIMITS.package);
  } catch (error) {
    throw new InputError('ERR_APP_TAR_MISSING', `cannot read the app code: ${(error as Error).message}`, {
      hint: 'The container needs the package app.tar in /opt/mse/enclave (mounted by mse home spawn).',
      cause: error,
    });
  }
  let files;
  try {
    checkMemberSize('app.tar', opened.size, file);
    // The same strict reader as `verify` and `spawn` use to measure app.tar: the enclave runs exactly the
    // files that were measured, with no room for two parsers to disagree on a crafted archive.
    files = await readCodeTar(fileSource(opened.handle, 0, opened.size), 'app.tar', DEFAULT_PACKAGE_LIMITS, true);
  } finally {
    await opened.handle.close();
  }
  const archive: AppArchive = { plain: [], encrypted: [] };
  const names = new Set<string>();
  for (const f of files) {
    // readCodeTar was asked for the data (withData): every file carries it
    if (!f.data) throw new Error(`app.tar: ${f.path} was read without its data`);
    const entry = { path: f.path, type: 'file' as const, data: f.data as Uint8Array };
    if (entry.path.endsWith(ENC) && entry.path.length > ENC.length && !entry.path.endsWith('/' + ENC)) {
      archive.encrypted.push({ path: entry.path.slice(0, -ENC.length), data: entry.data });
    } else {
      archive.plain.push(entry);
    }
  }
  for (const e of [...archive.plain, ...archive.encrypted]) {
    if (names.has(e.path)) {
      throw new InputError('ERR_APP_TAR', `app.tar holds both ${e.path} and ${e.path}${ENC}`, {
        hint: 'Package the app again; an encrypted file must not sit beside its plain version.',
      });
    }
    names.add(e.path);
  }
  return archive;
}

/** True when the app needs a code key. */
export function isEncrypted(archive: AppArchive): boolean {
  return archive.encrypted.length > 0;
}

/**
 * The app's files in memory: plain files as they are, encrypted ones opened with `codeKey`. Throws
 * `ERR_CODE_KEY_REQUIRED` when files are encrypted and there is no key, `ERR_CODE_KEY_WRONG` naming the
 * first file the key does not open.
 */
export async function decryptAppCode(archive: AppArchive, codeKey: Uint8Array | undefined): Promise<AppFile[]> {
  const files: AppFile[] = archive.plain.map((e) => ({ path: e.path, type: e.type, data: e.data }));
  if (archive.encrypted.length === 0) return files;
  if (!codeKey) {
    throw new InputError(
      'ERR_CODE_KEY_REQUIRED',
      `the app code is encrypted (${archive.encrypted.length} .enc files) and no code key was given`,
      {
        hint: 'Send code_secret_key (mse home run --key) or put "code_secret_key" in the sealed secrets.',
      },
    );
  }
  for (const e of archive.encrypted) {
    try {
      files.push({ path: e.path, type: 'file', data: await secretboxOpen(e.data, codeKey, `${e.path}${ENC}`) });
    } catch (cause) {
      throw new InputError('ERR_CODE_KEY_WRONG', `the code key does not decrypt ${e.path}${ENC}`, {
        hint: 'Send the key written by `mse home package --encrypt` for this package.',
        cause,
      });
    }
  }
  return files;
}

/**
 * Install `files` into `appDir` (0700; files 0600 created with O_EXCL so nothing pre-existing is
 * followed, each synced): the directory is created when absent and emptied first (what a configuration
 * interrupted half-way left there). Not atomic by itself, and need not be: the app runs only once the
 * `configured` marker is written after it (see `applyConfiguration`). In place, because on sgx `appDir` is
 * an encrypted mount point, which can be neither replaced nor renamed into (Gramine renames regular files
 * only).
 */
export async function installAppCode(files: readonly AppFile[], appDir: string): Promise<void> {
  await fs.mkdir(appDir, { recursive: true, mode: 0o700 });
  for (const name of await fs.readdir(appDir)) await fs.rm(path.join(appDir, name), { recursive: true, force: true });
  const sorted = [...files].sort((a, b) => a.path.localeCompare(b.path));
  for (const f of sorted) {
    const target = path.join(appDir, ...f.path.split('/'));
    if (!target.startsWith(appDir + path.sep)) throw new Error(`unsafe path ${f.path}`); // readCodeTar already refuses these
    await fs.mkdir(f.type === 'directory' ? target : path.dirname(target), { recursive: true, mode: 0o700 });
    if (f.type === 'file') {
      const handle = await fs.open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(f.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }
}
