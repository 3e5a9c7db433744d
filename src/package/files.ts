/**
 * Selecting the files that go into `app.tar` and `tests.tar`, with MSE's rules:
 *
 * - `.mseignore` at the code root: one glob per line, blank lines and `#` comments skipped, each glob
 *   matched against the *name* of every file and directory at every level (Python's
 *   `shutil.ignore_patterns` semantics: `fnmatch` on the basename, `*` and `?` and `[...]`/`[!...]`).
 *   A matching directory is skipped with everything below it. Unlike MSE, a glob ending in `/`
 *   (`.vscode/`, `*.egg-info/`) matches directories only, instead of never matching anything.
 *   Globs containing another `/` never match (names have no `/`), as in MSE.
 * - Anything whose relative path has a component starting with `.` is excluded (dotfiles and dot
 *   directories, `.mseignore` itself included).
 * - Symbolic links are followed when they resolve inside the root (their content is packaged as a regular
 *   file), and refused when they point outside it: packaging `/etc/…` by accident is worse than failing.
 * - Sockets, FIFOs and devices are refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { readUserTextIfExists } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { comparePaths } from './tar-write.js';

/** A regular file selected for packaging. */
export interface SelectedFile {
  /** POSIX path relative to the root. */
  rel: string;
  /** Absolute path on disk (the link target for followed symlinks). */
  abs: string;
  size: number;
  executable: boolean;
}

/** A compiled ignore rule. */
export interface IgnoreRule {
  pattern: string;
  regex: RegExp;
  dirOnly: boolean;
}

/** Parse `.mseignore` text into rules. */
export function parseMseignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const dirOnly = line.endsWith('/') && line.length > 1;
    const glob = dirOnly ? line.replace(/\/+$/, '') : line;
    rules.push({ pattern: line, regex: fnmatchRegex(glob), dirOnly });
  }
  return rules;
}

/**
 * Translate a Python `fnmatch` pattern to an anchored RegExp: `*` any run, `?` one character, `[...]` a
 * set (`[!...]` negated), everything else literal. An unclosed `[` is a literal, as in Python.
 */
export function fnmatchRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i); // i < pattern.length: one character
    if (c === '*') {
      out += '[\\s\\S]*';
    } else if (c === '?') {
      out += '[\\s\\S]';
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      i = j;
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      // Escape what is special inside a JS class, keep ranges (a-z).
      body = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      out += negate ? `[^${body}]` : `[${body}]`;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
    }
  }
  return new RegExp(`^${out}$`, 'u');
}

/** True when `name` (a basename) is ignored by `rules`. */
export function isIgnored(rules: IgnoreRule[], name: string, isDirectory: boolean): boolean {
  return rules.some((r) => (!r.dirOnly || isDirectory) && r.regex.test(name));
}

export interface SelectOptions {
  /** Rules applied to every name (from `.mseignore`). */
  rules?: IgnoreRule[];
  /** Names always skipped (e.g. `__pycache__` for tests). */
  skipNames?: string[];
  /** What the root is, for error messages ("code directory"). */
  what: string;
}

/**
 * Walk `root` and return the files to package, sorted by path. Throws `InputError` for links leaving the
 * root, special files, and unreadable entries.
 */
export async function selectFiles(root: string, options: SelectOptions): Promise<SelectedFile[]> {
  const rootAbs = path.resolve(root);
  let rootReal: string;
  try {
    rootReal = await fs.realpath(rootAbs);
  } catch (cause) {
    throw new InputError('ERR_FILE_NOT_FOUND', `${options.what} not found: ${root}`, { cause });
  }
  const rules = options.rules ?? [];
  const skip = new Set(options.skipNames ?? []);
  const out: SelectedFile[] = [];
  const visiting = new Set<string>([rootReal]);

  const walk = async (dirAbs: string, relDir: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dirAbs);
    } catch (cause) {
      throw new InputError('ERR_FILE_UNREADABLE', `cannot list ${path.join(dirAbs)} in the ${options.what}`, {
        cause,
      });
    }
    names.sort(comparePaths);
    for (const name of names) {
      if (name.startsWith('.') || skip.has(name)) continue;
      const abs = path.join(dirAbs, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      let st = await fs.lstat(abs);
      let target = abs;
      if (st.isSymbolicLink()) {
        // Ignored names are never resolved (a rule without a trailing / matches files and directories).
        if (isIgnored(rules, name, false)) continue;
        let real: string;
        try {
          real = await fs.realpath(abs);
        } catch (cause) {
          throw new InputError('ERR_PACKAGE_BROKEN_LINK', `symbolic link ${rel} in the ${options.what} is broken`, {
            hint: 'Remove it or add its name to .mseignore.',
            cause,
          });
        }
        if (real !== rootReal && !real.startsWith(rootReal + path.sep)) {
          throw new InputError(
            'ERR_PACKAGE_LINK_OUTSIDE',
            `symbolic link ${rel} in the ${options.what} points outside it (${real})`,
            { hint: 'Copy the file into the directory instead, or add the link to .mseignore.' },
          );
        }
        st = await fs.stat(real);
        target = real;
      }
      if (st.isDirectory()) {
        if (isIgnored(rules, name, true)) continue;
        const real = await fs.realpath(target);
        if (visiting.has(real)) {
          throw new InputError('ERR_PACKAGE_LINK_LOOP', `symbolic link loop at ${rel} in the ${options.what}`);
        }
        visiting.add(real);
        await walk(target, rel);
        visiting.delete(real);
      } else if (st.isFile()) {
        if (isIgnored(rules, name, false)) continue;
        out.push({ rel, abs: target, size: st.size, executable: (st.mode & 0o111) !== 0 });
      } else {
        if (isIgnored(rules, name, false)) continue;
        throw new InputError('ERR_PACKAGE_SPECIAL_FILE', `${rel} in the ${options.what} is not a regular file`, {
          hint: 'Sockets, FIFOs and devices cannot be packaged; add the name to .mseignore.',
        });
      }
    }
  };
  await walk(rootReal, '');
  return out.sort((a, b) => comparePaths(a.rel, b.rel));
}

/** Read `.mseignore` at `codeDir` (missing file: no rules). */
export async function loadMseignore(codeDir: string): Promise<IgnoreRule[]> {
  const text = await readUserTextIfExists(path.join(codeDir, '.mseignore'), '.mseignore', INPUT_LIMITS.config);
  return text === undefined ? [] : parseMseignore(text);
}
