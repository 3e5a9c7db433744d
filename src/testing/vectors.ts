/**
 * Test data from outside the project lives in `../shared/testvectors` relative to the repository root
 * (CI clones the repository with `shared/` as a sibling). Tests resolve paths through here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file is `src/testing/vectors.ts` or `dist/testing/vectors.js`. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the shared test vectors directory. */
export const vectorsDir = path.resolve(repoRoot, '..', 'shared', 'testvectors');

/** Absolute path of a file under the test vectors directory. */
export function vectorPath(...parts: string[]): string {
  return path.join(vectorsDir, ...parts);
}

/** Read a test vector file as bytes. */
export function readVector(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(...parts)));
}

/** Read a test vector file as UTF-8 text. */
export function readVectorText(...parts: string[]): string {
  return readFileSync(vectorPath(...parts), 'utf8');
}
