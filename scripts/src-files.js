// The source files of src/ that the measuring scripts read (function-lengths.js, non-null-count.js): one
// walk and one notion of test code (scripts/layers.js) for all of them.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { SRC, isTestPath } from './layers.js';

export { SRC };

/** Every file under `dir`, recursively (absolute paths when `dir` is). */
export function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)],
  );
}

/**
 * The TypeScript files of src/ (no `.d.ts`) as sorted src-relative POSIX paths; test code (`*.test.ts`,
 * src/testing/) only with `tests`.
 * @param {{tests?: boolean}} [options]
 * @returns {string[]}
 */
export function srcFiles(options = {}) {
  return walk(SRC)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.relative(SRC, f).split(path.sep).join('/'))
    .filter((rel) => options.tests || !isTestPath(rel))
    .sort();
}
