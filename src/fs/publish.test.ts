// The one atomic write: exclusive by link(2) (an existing file is never replaced, even one created after any
// check), replacing by rename(2), the mode exact, and no temporary left behind in any outcome.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { commitFile, publishExclusive, tempSibling, writeAtomic } from './publish.js';
import { writeFileAtomic } from './files.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-publish-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the atomic write (fs/publish.ts)', () => {
  it('creates exclusively by link: an existing file is kept, the temporary removed', async () => {
    const file = path.join(dir, 'a.json');
    assert.equal(await writeAtomic(file, 'first', { mode: 0o600, exclusive: true }), true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(await writeAtomic(file, 'second', { mode: 0o600, exclusive: true }), false);
    assert.equal(await publishExclusive(file, 'third', 0o600), false);
    assert.equal(readFileSync(file, 'utf8'), 'first');
    assert.deepEqual(readdirSync(dir), ['a.json']);
  });

  it('replaces by rename when not exclusive', async () => {
    const file = path.join(dir, 'b.txt');
    writeFileSync(file, 'old');
    assert.equal(await writeAtomic(file, 'new', { mode: 0o644, exclusive: false }), true);
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.equal(statSync(file).mode & 0o777, 0o644);
  });

  it('commits a staged file: a file that appeared after the caller looked is not overwritten', async () => {
    const file = path.join(dir, 'c.tar');
    const staged = tempSibling(file);
    writeFileSync(staged, 'package');
    writeFileSync(file, 'someone else'); // created between a check and the commit
    assert.equal(await commitFile(staged, file, true), false);
    assert.equal(readFileSync(file, 'utf8'), 'someone else');
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')));
  });

  it('writeFileAtomic refuses an existing output with ERR_OUTPUT_EXISTS and changes nothing', async () => {
    const file = path.join(dir, 'd.key');
    await writeFileAtomic(file, 'secret', { mode: 0o600, exclusive: true });
    await assert.rejects(writeFileAtomic(file, 'other', { mode: 0o600, exclusive: true }), {
      code: 'ERR_OUTPUT_EXISTS',
      message: `refusing to overwrite existing file ${file}`,
    });
    assert.equal(readFileSync(file, 'utf8'), 'secret');
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')));
  });
});
