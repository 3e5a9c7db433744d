/**
 * Test data from outside the project lives in `shared/testvectors/`, a sibling of the repository
 * checkout (CI clones the repo with `shared/` beside it).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `<root>/src/testing/vectors.ts` or `<root>/dist/testing/vectors.js`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of `shared/testvectors`, or of a file under it. */
export function vectorPath(...parts: string[]): string {
  return path.resolve(repoRoot, '..', 'shared', 'testvectors', ...parts);
}
