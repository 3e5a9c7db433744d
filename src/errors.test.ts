// One exit code per error code: a script matching `error[CODE]` can rely on the exit code too. Every
// `new <Class>Error(…'ERR_…'` in the sources (tests excluded) is collected, and each code must be thrown
// with one error class everywhere (AttestationError counts as one class: its exit code is 10 or 11 by
// stage, see docs/verification.md). Codes built elsewhere (helpers taking the code as a parameter) are
// out of reach of this scan.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './testing/vectors.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error codes', () => {
  it('each code is thrown with one error class (one exit code) everywhere', () => {
    const classes = new Map<string, Set<string>>();
    const files = sources(path.join(REPO_ROOT, 'src'));
    let found = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // new XError('ERR_…' or new AttestationError('stage', 'ERR_…'
      for (const m of text.matchAll(/new (\w+Error)\(\s*(?:'[a-z-]+',\s*)?'(ERR_[A-Z0-9_]+)'/g)) {
        found++;
        const where = `${m[1]} (${path.relative(REPO_ROOT, file)})`;
        const set = classes.get(m[2]!) ?? new Set<string>();
        set.add(where);
        classes.set(m[2]!, set);
      }
    }
    assert.ok(found > 200, `the scan found only ${found} throws: is the pattern still right?`);
    const mixed = [...classes]
      .filter(([, where]) => new Set([...where].map((w) => w.split(' ')[0])).size > 1)
      .map(([code, where]) => `${code}: ${[...where].join(', ')}`);
    assert.deepEqual(mixed, []);
  });
});
