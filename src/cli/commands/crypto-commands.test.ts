// The provider's crypto commands through the real CLI: round trips, and bad input that must fail with a
// stable code, a non-zero exit and no output file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMse } from '../../testing/cli.js';
import { runPython } from '../../testing/python.js';
import { REPO_ROOT } from '../../testing/vectors.js';

let dir: string;
const p = (name: string): string => path.join(dir, name);

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mse-crypto-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Assert a failure: exit code, error code on stderr, and nothing written at `output`. */
async function fails(args: string[], exit: number, code: string, output?: string): Promise<void> {
  const before = readdirSync(dir).sort();
  const r = await runMse(args);
  assert.equal(r.code, exit, `${args.join(' ')}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error\\[${code}\\]`), r.stderr);
  assert.equal(r.stderr.trim().split('\n').length <= 2, true, 'one line plus a hint');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  if (output) assert.equal(existsSync(output), false, `${output} must not exist`);
  assert.deepEqual(readdirSync(dir).sort(), before, 'no file created or left behind');
}

describe('keygen', () => {
  it('writes Fernet, AES and X25519 keys with private modes, never overwriting', async () => {
    assert.equal((await runMse(['home', 'keygen', '--fernet', '--output', p('f.key')])).code, 0);
    assert.equal((await runMse(['home', 'keygen', '--aes', '256', '--output', p('aes.hex')])).code, 0);
    assert.equal((await runMse(['home', 'keygen', '--x25519', '--output', p('enc.key')])).code, 0);
    assert.equal(readFileSync(p('f.key'), 'utf8').length, 44);
    assert.match(readFileSync(p('aes.hex'), 'utf8'), /^[0-9a-f]{64}$/);
    assert.equal(readFileSync(p('enc.key')).length, 32);
    assert.equal(readFileSync(p('enc.key.pub')).length, 32);
    for (const f of ['f.key', 'aes.hex', 'enc.key']) assert.equal(statSync(p(f)).mode & 0o777, 0o600);
    await fails(['home', 'keygen', '--fernet', '--output', p('f.key')], 3, 'ERR_OUTPUT_EXISTS');
    await fails(['home', 'keygen', '--aes', '100', '--output', p('x.key')], 2, 'ERR_OPTION_VALUE', p('x.key'));
    await fails(
      ['home', 'keygen', '--fernet', '--x25519', '--output', p('x.key')],
      2,
      'ERR_CONFLICTING_OPTIONS',
      p('x.key'),
    );
  });
});

describe('seal / unseal', () => {
  it('round-trips through the CLI, and PyNaCl opens the sealed file', async () => {
    writeFileSync(p('s.json'), '{"result_sk":"abc"}');
    const r = await runMse([
      'home',
      'seal',
      '--input',
      p('s.json'),
      '--receiver-public-key',
      p('enc.key.pub'),
      '--output',
      p('s.sealed'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const u = await runMse([
      'home',
      'unseal',
      '--input',
      p('s.sealed'),
      '--private-key',
      p('enc.key'),
      '--output',
      '-',
    ]);
    assert.equal(u.stdout, '{"result_sk":"abc"}');
    const py = runPython<string>(
      `import json,sys
from nacl.public import PrivateKey, SealedBox
d=json.load(sys.stdin)
print(json.dumps(SealedBox(PrivateKey(open(d['k'],'rb').read())).decrypt(open(d['f'],'rb').read()).decode()))`,
      { k: p('enc.key'), f: p('s.sealed') },
    );
    assert.equal(py, '{"result_sk":"abc"}');
  });

  it('MSE 1.2 form: --secrets FILE --output DIR writes DIR/<name>.sealed', async () => {
    const out = mkdtempSync(path.join(dir, 'o'));
    const r = await runMse([
      'home',
      'seal',
      '--secrets',
      p('s.json'),
      '--receiver-public-key',
      p('enc.key.pub'),
      '--output',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).output, path.join(out, 's.json.sealed'));
    rmSync(out, { recursive: true });
  });

  it('bad input fails cleanly', async () => {
    writeFileSync(p('bad.json'), '{not json');
    writeFileSync(p('short.pub'), Buffer.alloc(31, 1));
    await fails(
      ['home', 'seal', '--input', p('nope.json'), '--receiver-public-key', p('enc.key.pub'), '--output', p('o')],
      3,
      'ERR_FILE_NOT_FOUND',
      p('o'),
    );
    await fails(
      ['home', 'seal', '--input', p('bad.json'), '--receiver-public-key', p('enc.key.pub'), '--output', p('o')],
      3,
      'ERR_SECRETS_NOT_JSON',
      p('o'),
    );
    await fails(
      ['home', 'seal', '--input', p('s.json'), '--receiver-public-key', p('short.pub'), '--output', p('o')],
      3,
      'ERR_KEY_LENGTH',
      p('o'),
    );
    await fails(
      ['home', 'seal', '--input', p('s.json'), '--receiver-public-key', p('enc.key.pub')],
      2,
      'ERR_MISSING_OPTION',
    );
    await fails(
      [
        'home',
        'seal',
        '--input',
        p('s.json'),
        '--receiver-public-key',
        p('enc.key.pub'),
        '--output',
        p('missing/dir/o'),
      ],
      3,
      'ERR_OUTPUT_DIR_MISSING',
    );
    rmSync(p('bad.json'));
    rmSync(p('short.pub'));
  });

  it('a tampered, truncated or foreign sealed file does not open', async () => {
    const sealed = readFileSync(p('s.sealed'));
    const t = Buffer.from(sealed);
    t[40]! ^= 1;
    writeFileSync(p('t.sealed'), t);
    writeFileSync(p('short.sealed'), sealed.subarray(0, 40));
    await fails(
      ['home', 'unseal', '--input', p('t.sealed'), '--private-key', p('enc.key'), '--output', p('o')],
      4,
      'ERR_SEALED_BOX_OPEN',
      p('o'),
    );
    await fails(
      ['home', 'unseal', '--input', p('short.sealed'), '--private-key', p('enc.key'), '--output', p('o')],
      4,
      'ERR_SEALED_BOX_TRUNCATED',
      p('o'),
    );
    await fails(
      ['home', 'unseal', '--input', p('s.sealed'), '--private-key', p('f.key'), '--output', p('o')],
      3,
      'ERR_KEY_LENGTH',
      p('o'),
    );
    rmSync(p('t.sealed'));
    rmSync(p('short.sealed'));
  });
});

describe('encrypt / decrypt', () => {
  it('Fernet round trip, plaintext only where asked', async () => {
    writeFileSync(p('plain.txt'), 'result data');
    assert.equal(
      (await runMse(['home', 'encrypt', '--input', p('plain.txt'), '--key', p('f.key'), '--output', p('c.fernet')]))
        .code,
      0,
    );
    const d = await runMse(['home', 'decrypt', '--key', p('f.key'), '--output', '-', p('c.fernet')]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'result data');
    await fails(['home', 'decrypt', '--key', p('f.key'), p('c.fernet')], 2, 'ERR_MISSING_OPTION');
  });

  it('decrypt rejects wrong keys, tampering, bad encodings, and leaves no output', async () => {
    assert.equal((await runMse(['home', 'keygen', '--fernet', '--output', p('other.key')])).code, 0);
    writeFileSync(p('garbage.fernet'), 'not a token!');
    writeFileSync(p('badkey.key'), 'short');
    const token = readFileSync(p('c.fernet'), 'utf8');
    writeFileSync(p('trunc.fernet'), token.slice(0, 60));
    const out = p('out.txt');
    await fails(['home', 'decrypt', '--key', p('other.key'), '--output', out, p('c.fernet')], 4, 'ERR_FERNET_MAC', out);
    await fails(
      ['home', 'decrypt', '--key', p('f.key'), '--output', out, p('garbage.fernet')],
      4,
      'ERR_FERNET_TOKEN_ENCODING',
      out,
    );
    await fails(
      ['home', 'decrypt', '--key', p('f.key'), '--output', out, p('trunc.fernet')],
      4,
      'ERR_FERNET_TOKEN_TRUNCATED',
      out,
    );
    await fails(
      ['home', 'decrypt', '--key', p('badkey.key'), '--output', out, p('c.fernet')],
      3,
      'ERR_FERNET_KEY',
      out,
    );
    await fails(['home', 'decrypt', '--aes', 'zz', '--output', out, p('c.fernet')], 3, 'ERR_BAD_HEX', out);
    await fails(
      ['home', 'decrypt', '--aes', 'aa'.repeat(20), '--output', out, p('c.fernet')],
      3,
      'ERR_KEY_LENGTH',
      out,
    );
    await fails(
      ['home', 'decrypt', '--aes', 'aa'.repeat(32), '--output', out, p('c.fernet')],
      4,
      'ERR_AES_GCM_AUTH',
      out,
    );
    await fails(
      ['home', 'decrypt', '--key', p('f.key'), '--aes', 'aa', '--output', out, p('c.fernet')],
      2,
      'ERR_CONFLICTING_OPTIONS',
      out,
    );
    await fails(
      ['home', 'decrypt', '--key', p('f.key'), '--output', out, '--input', p('c.fernet'), p('c.fernet')],
      2,
      'ERR_CONFLICTING_OPTIONS',
      out,
    );
    for (const f of ['other.key', 'garbage.fernet', 'badkey.key', 'trunc.fernet']) rmSync(p(f));
  });
});

describe('CLI conventions', () => {
  it('unknown commands and flags are usage errors (exit 2)', async () => {
    await fails(['home', 'sael'], 2, 'ERR_UNKNOWN_COMMAND');
    await fails(['home', 'seal', '--bogus'], 2, 'ERR_UNKNOWN_OPTION');
    await fails(['home', 'seal', '--input'], 2, 'ERR_OPTION_VALUE');
    await fails(['nothome'], 2, 'ERR_UNKNOWN_COMMAND');
  });

  it('--json errors are JSON on stdout', async () => {
    const r = await runMse([
      'home',
      'unseal',
      '--input',
      p('none'),
      '--private-key',
      p('enc.key'),
      '--output',
      p('o'),
      '--json',
    ]);
    assert.equal(r.code, 3);
    const j = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; hint: string } };
    assert.equal(j.ok, false);
    assert.equal(j.error.code, 'ERR_FILE_NOT_FOUND');
  });

  it('MSE_BACKTRACE=full shows the stack', async () => {
    const r = await runMse(
      ['home', 'unseal', '--input', p('none'), '--private-key', p('enc.key'), '--output', p('o')],
      { env: { MSE_BACKTRACE: 'full' } },
    );
    assert.match(r.stderr, /\n\s+at /);
  });

  it('every command has --help with an example', async () => {
    const top = await runMse(['home', '--help']);
    assert.equal(top.code, 0);
    const names = [...top.stdout.matchAll(/^ {2}([a-z][a-z -]*?) {2,}/gm)]
      .map((m) => m[1]!.trim())
      .filter((n) => !n.startsWith('-'));
    assert.ok(names.length >= 6, top.stdout);
    for (const name of names) {
      const h = await runMse(['home', ...name.split(' '), '--help']);
      assert.equal(h.code, 0, name);
      assert.match(h.stdout, /^Examples?:\n {2}mse home /m, `${name} help has an example`);
    }
  });

  it('--version matches package.json', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runMse(['--version']);
    assert.equal(r.stdout.trim(), `mse-home ${pkg.version}`);
  });
});
