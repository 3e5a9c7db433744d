/**
 * Paths to the public test vectors vendored in `test-fixtures/testvectors/` (Intel DCAP quotes and
 * collateral, MSE's evidence, Fernet, Gramine; each folder's README gives its provenance). Tests only.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to dist/testing/vectors.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of a file under `test-fixtures/testvectors`. */
export function vectorPath(...parts: string[]): string {
  return path.resolve(REPO_ROOT, 'test-fixtures', 'testvectors', ...parts);
}

/** Read a test vector file as bytes. */
export function readVector(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(...parts)));
}

/** Read a test vector file as UTF-8 text. */
export function readVectorText(...parts: string[]): string {
  return readFileSync(vectorPath(...parts), 'utf8');
}

/** Debian's Python, which sees Debian's python3-* packages (another python3 may come first on PATH). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
