/**
 * Test data from outside the project lives in `shared/testvectors`, a sibling of the repository root (CI
 * clones the repository with `shared/` beside it). Resolve paths there from any compiled test file.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Absolute path of the repository root (the directory holding package.json). */
export const repoRoot = findRepoRoot();

/** Absolute path of a file under `../shared/testvectors` (e.g. `vectorPath('mse', 'evidence.json')`). */
export function vectorPath(...parts: string[]): string {
  return path.resolve(repoRoot, '..', 'shared', 'testvectors', ...parts);
}
