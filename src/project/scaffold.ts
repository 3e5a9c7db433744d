/**
 * `scaffold`: a new app project from `templates/scaffold/`. Planning (which files, with what content) is
 * pure; writing happens in a temporary sibling directory renamed into place, so a failure leaves nothing.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateFernetKey } from '../crypto/fernet.js';
import { InputError } from '../errors.js';
import { pathExists } from '../fs/files.js';
import { tempSibling } from '../fs/publish.js';
import { VERSION } from '../version.js';
import { APP_NAME_PATTERN } from './config.js';

/** Where the template files live (shipped with the npm package). */
export const SCAFFOLD_TEMPLATE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'templates',
  'scaffold',
);

export interface PlannedFile {
  /** Path relative to the project directory. */
  path: string;
  content: string;
  mode: number;
}

export interface ScaffoldSecrets {
  /** Hex AES-256 key for secrets.json (`aes_key`). */
  aesKey: string;
  /** Fernet key for secrets_to_seal.json (`result_sk`). */
  resultSk: string;
}

/** Fresh random keys for a new project's secrets files. */
export function freshSecrets(): ScaffoldSecrets {
  return { aesKey: randomBytes(32).toString('hex'), resultSk: generateFernetKey() };
}

/** Template files: relative path → text. Renamed on output: `dotmseignore` → `.mseignore`, `dotdockerignore` → `.dockerignore`. */
export async function readTemplates(dir = SCAFFOLD_TEMPLATE_DIR): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) await walk(child);
      else out.set(child, await fs.readFile(path.join(dir, child), 'utf8'));
    }
  };
  await walk('');
  return out;
}

/** Pure: the files of a new project named `name`. */
export function planScaffold(name: string, templates: Map<string, string>, secrets: ScaffoldSecrets): PlannedFile[] {
  checkName(name);
  const vars: Record<string, string> = { name, version: VERSION, healthcheck: '/health' };
  const render = (text: string): string => text.replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m);
  const files: PlannedFile[] = [...templates].map(([rel, text]) => ({
    path: rel.replace(/(^|\/)dot(mseignore|dockerignore)$/, '$1.$2'),
    content: render(text),
    mode: 0o644,
  }));
  files.push(
    { path: 'secrets.json', content: JSON.stringify({ aes_key: secrets.aesKey }, null, 4) + '\n', mode: 0o600 },
    {
      path: 'secrets_to_seal.json',
      content: JSON.stringify({ result_sk: secrets.resultSk }, null, 4) + '\n',
      mode: 0o600,
    },
  );
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Write `files` into the new directory `target`, which must not exist. */
export async function writeScaffold(target: string, files: PlannedFile[]): Promise<void> {
  if (await pathExists(target)) {
    throw new InputError('ERR_PROJECT_EXISTS', `${target} already exists`, {
      hint: 'Choose another name or remove it first.',
    });
  }
  const parent = path.dirname(path.resolve(target));
  if (!(await pathExists(parent))) {
    throw new InputError('ERR_OUTPUT_DIR_MISSING', `parent directory ${parent} does not exist`);
  }
  const temp = tempSibling(path.join(parent, path.basename(target)));
  try {
    await fs.mkdir(temp, { mode: 0o755 });
    for (const f of files) {
      const dest = path.join(temp, f.path);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.writeFile(dest, f.content, { mode: f.mode, flag: 'wx' });
      await fs.chmod(dest, f.mode);
    }
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InputError('ERR_PROJECT_EXISTS', `${target} already exists`, {
        hint: 'Choose another name or remove it first.',
        cause: error,
      });
    }
    throw error;
  }
}

function checkName(name: string): void {
  if (!APP_NAME_PATTERN.test(name)) {
    throw new InputError('ERR_PROJECT_NAME', `invalid project name '${name}'`, {
      hint: 'Use 1-128 letters, digits, "_", "." or "-", starting with a letter or digit.',
    });
  }
}
