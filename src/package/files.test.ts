// .mseignore semantics against Python's own fnmatch (what MSE's shutil.ignore_patterns uses), and the file
// selection rules on a real directory tree.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runPython } from '../testing/python.js';
import { fnmatchRegex, isIgnored, parseMseignore, selectFiles } from './files.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'mse-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('.mseignore globs', () => {
  it('match exactly like Python fnmatch.fnmatchcase on names', () => {
    const patterns = [
      '*.py[cod]',
      '__pycache__',
      '*.egg',
      'mse.toml',
      'secret?.json',
      '[!a-c]*.txt',
      'x[',
      '*',
      'a*b*c',
      '[]]x',
      'data.*',
      '.env',
    ];
    const names = [
      'app.pyc',
      'app.py',
      'app.pyo',
      '__pycache__',
      'pkg.egg',
      'mse.toml',
      'secret1.json',
      'secrets.json',
      'dog.txt',
      'apple.txt',
      'x[',
      'abxbc',
      ']x',
      'data.csv',
      'data',
      '.env',
      'a.b.c',
      'ñ.py',
    ];
    const py = runPython<boolean[][]>(
      `import fnmatch, json, sys
d = json.load(sys.stdin)
print(json.dumps([[fnmatch.fnmatchcase(n, p) for n in d['names']] for p in d['patterns']]))`,
      { patterns, names },
    );
    patterns.forEach((p, i) => {
      const re = fnmatchRegex(p);
      names.forEach((n, j) => assert.equal(re.test(n), py[i]![j], `pattern ${p} on ${n}`));
    });
  });

  it('skip blank lines and comments; a trailing / matches directories only', () => {
    const rules = parseMseignore('# comment\n\n  *.log  \n.vscode/\nbuild/\r\n');
    assert.deepEqual(
      rules.map((r) => [r.pattern, r.dirOnly]),
      [
        ['*.log', false],
        ['.vscode/', true],
        ['build/', true],
      ],
    );
    assert.equal(isIgnored(rules, 'build', true), true);
    assert.equal(isIgnored(rules, 'build', false), false);
    assert.equal(isIgnored(rules, 'x.log', false), true);
  });
});

describe('selectFiles', () => {
  it('applies the globs at every level, drops dotfiles, follows links inside, sorts', async () => {
    const code = path.join(root, 'code');
    for (const d of ['pkg/sub', '__pycache__', 'pkg/__pycache__', '.git', 'build', 'data'])
      mkdirSync(path.join(code, d), { recursive: true });
    for (const f of [
      'app.py',
      'pkg/sub/z.py',
      'pkg/a.py',
      'pkg/a.pyc',
      '__pycache__/app.cpython-311.pyc',
      'pkg/__pycache__/a.pyc',
      '.git/HEAD',
      '.env',
      'pkg/.hidden',
      'build/out',
      'mse.toml',
      'data/x.csv',
    ]) {
      writeFileSync(path.join(code, f), f);
    }
    writeFileSync(path.join(code, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('pkg/a.py', path.join(code, 'alias.py'));
    symlinkSync('data', path.join(code, 'datalink'));
    const rules = parseMseignore('__pycache__\n*.py[cod]\nmse.toml\nbuild/\n');
    const files = await selectFiles(code, { rules, what: 'code directory' });
    assert.deepEqual(
      files.map((f) => f.rel),
      ['alias.py', 'app.py', 'data/x.csv', 'datalink/x.csv', 'pkg/a.py', 'pkg/sub/z.py', 'run.sh'],
    );
    assert.equal(files.find((f) => f.rel === 'run.sh')!.executable, true);
    assert.equal(files.find((f) => f.rel === 'alias.py')!.abs, path.join(code, 'pkg', 'a.py'));
  });

  it('refuses links leaving the directory, broken links and special files', async () => {
    const code = path.join(root, 'code2');
    mkdirSync(code);
    writeFileSync(path.join(code, 'app.py'), 'x');
    symlinkSync('/etc/passwd', path.join(code, 'passwd'));
    await assert.rejects(selectFiles(code, { what: 'code directory' }), {
      code: 'ERR_PACKAGE_LINK_OUTSIDE',
      message: /passwd/,
    });
    // ... unless .mseignore leaves it out.
    assert.deepEqual(
      (await selectFiles(code, { rules: parseMseignore('passwd'), what: 'code' })).map((f) => f.rel),
      ['app.py'],
    );
    rmSync(path.join(code, 'passwd'));
    symlinkSync('missing', path.join(code, 'dangling'));
    await assert.rejects(selectFiles(code, { what: 'code directory' }), { code: 'ERR_PACKAGE_BROKEN_LINK' });
    rmSync(path.join(code, 'dangling'));
    symlinkSync('.', path.join(code, 'loop'));
    await assert.rejects(selectFiles(code, { what: 'code directory' }), { code: 'ERR_PACKAGE_LINK_LOOP' });
  });
});
