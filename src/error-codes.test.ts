// The error-code catalogue against the source and docs/cli.md: every code written in src/ is catalogued
// (or is Node's), every catalogued code is still raised somewhere, codes raised by a direct `new …Error`
// exit with a class the catalogue gives them, and docs/cli.md's catalogue table is the catalogue.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, errorCodeTable, exitClasses, NODE_ERROR_CODES, type ExitClass } from './error-codes.js';
import { REPO_ROOT } from './testing/vectors.js';

const SRC = path.join(REPO_ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'testing' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const files = sources(SRC).map((f) => ({ rel: path.relative(SRC, f), text: readFileSync(f, 'utf8') }));
const CLASS_OF: Record<string, ExitClass> = {
  UsageError: 'usage',
  InputError: 'input',
  CryptoError: 'crypto',
  DockerError: 'docker',
  NetworkError: 'network',
  StateError: 'state',
};

describe('the error-code catalogue (src/error-codes.ts)', () => {
  it('holds every code written in src/, as a literal, and no code that is gone', () => {
    const used = new Set<string>();
    for (const { rel, text } of files) {
      if (rel === 'error-codes.ts') continue;
      // a code is always one literal: `ERR_${x}` could not be found by a reader (or by this test)
      assert.doesNotMatch(text, /`ERR_[A-Z0-9_]*\$\{/, `${rel} builds a code from parts`);
      for (const m of text.matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) used.add(m[1]!);
    }
    const node = new Set<string>(NODE_ERROR_CODES);
    const missing = [...used].filter((c) => !(c in ERROR_CODES) && !node.has(c)).sort();
    assert.deepEqual(missing, [], 'codes raised in src/ but not in the catalogue');
    const stale = Object.keys(ERROR_CODES).filter((c) => !used.has(c));
    assert.deepEqual(stale, [], 'catalogued codes no source raises');
    assert.ok(used.size > 300);
  });

  it('gives each code raised by a direct `new …Error` the class it exits with', () => {
    const wrong: string[] = [];
    for (const { rel, text } of files) {
      for (const m of text.matchAll(/new (\w+Error)\(\s*(?:[^,()]+,\s*)?'(ERR_[A-Z0-9_]+)'/g)) {
        const [, cls, code] = m;
        const expected = cls === 'AttestationError' ? 'attestation' : CLASS_OF[cls!];
        if (expected === undefined) continue;
        const entry = ERROR_CODES[code as keyof typeof ERROR_CODES];
        if (entry && !exitClasses(entry).includes(expected)) wrong.push(`${rel}: ${code} is raised as ${cls}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('is the table docs/cli.md shows (rewrite it: npm run build && node scripts/error-codes.js)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    const m = /<!-- error-codes:begin[^>]*-->\n\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(doc);
    assert.ok(m, 'docs/cli.md has no error-codes section');
    assert.equal(m[1], errorCodeTable());
    for (const code of Object.keys(ERROR_CODES)) assert.ok(doc.includes(`\`${code}\``), code);
  });
});
