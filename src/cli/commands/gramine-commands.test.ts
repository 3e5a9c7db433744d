// `measure --manifest` and `sigstruct show` through the real CLI, on Gramine's vectors: the outputs equal
// what gramine-sgx-sign wrote, and bad input fails with a stable code, a non-zero exit and no output file.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifestToml } from '../../gramine/index.js';
import { runMse } from '../../testing/cli.js';
import { copyCaseInput, gramineCases } from '../../testing/gramine.js';
import { readVectorText } from '../../testing/vectors.js';

const cases = gramineCases();
const c3 = cases.find((c) => c.name.startsWith('case03'))!; // directory expansion, 16 threads, debug
let dir: string;
let input: string;
const p = (name: string): string => path.join(dir, name);

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-gramine-cli-'));
  input = p('input');
  await copyCaseInput(c3, input);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

async function fails(args: string[], exit: number, code: string): Promise<void> {
  const before = readdirSync(dir).sort();
  const r = await runMse(['home', ...args]);
  assert.equal(r.code, exit, `${args.join(' ')}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error\\[${code}\\]`), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(dir).sort(), before, 'no file created or left behind');
}

describe('mse home measure --manifest', () => {
  it('writes the final manifest and SIGSTRUCT gramine-sgx-sign wrote, and prints MRENCLAVE and MRSIGNER', async () => {
    // Run from another directory: relative file: URIs resolve from the manifest's folder.
    const r = await runMse(
      [
        'home',
        'measure',
        '--manifest',
        path.join('input', 'app.manifest'),
        '--libpal',
        path.join('input', 'libpal.so'),
        '--output-manifest',
        'out.manifest.sgx',
        '--key',
        path.join('input', 'enclave-key.pem'),
        '--date',
        c3.date,
        '--sigfile',
        'out.sig',
      ],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `mrenclave: ${c3.mrenclave}\nmrsigner:  ${c3.mrsigner}\n`);
    assert.deepEqual(readFileSync(p('out.manifest.sgx')), Buffer.from(c3.finalManifest));
    assert.deepEqual(readFileSync(p('out.sig')), Buffer.from(c3.sigstruct));
    assert.match(r.stderr, /1G, 16 threads, EDMM off, DEBUG, ISV prod ID 4660, SVN 7, 5 trusted files/);
    await fs.rm(p('out.manifest.sgx'));
    await fs.rm(p('out.sig'));
  });

  it('--json: { ok, mrenclave, mrsigner? } and the enclave attributes; no key, no mrsigner and no file', async () => {
    for (const c of cases) {
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-gramine-cli-case-'));
      await copyCaseInput(c, tmp);
      const r = await runMse([
        'home',
        'measure',
        '--manifest',
        path.join(tmp, 'app.manifest'),
        '--libpal',
        path.join(tmp, 'libpal.so'),
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      const params = JSON.parse(readVectorText('gramine', c.name, 'input', 'params.json')) as {
        manifest_attrs_as_measured: { enclave_size: number; max_threads: number; edmm_enable: boolean };
      };
      assert.equal(out.ok, true);
      assert.equal(out.mrenclave, c.mrenclave, c.name);
      assert.equal('mrsigner' in out, false);
      assert.equal(out.enclaveSize, params.manifest_attrs_as_measured.enclave_size);
      assert.equal(out.maxThreads, params.manifest_attrs_as_measured.max_threads);
      assert.equal(out.edmm, params.manifest_attrs_as_measured.edmm_enable);
      // Gramine 1.9's manifest rules are reported, never enforced: these manifests measure all the same
      const problems = out.manifestProblems as { key: string; kind: string }[];
      const hasFs = parseManifestToml(readVectorText('gramine', c.name, 'input', 'app.manifest')).has('fs');
      assert.deepEqual(
        problems.map((x) => [x.key, x.kind]),
        hasFs ? [] : [['fs', 'missing']],
        c.name,
      );
      assert.equal(out.gramineVersion, '1.9');
      if (!hasFs) assert.match(r.stderr, /warning.*manifest: fs is required/);
      await fs.rm(tmp, { recursive: true });
    }
  });

  it('refuses bad options and bad input before writing anything', async () => {
    const base = ['measure', '--manifest', path.join(input, 'app.manifest'), '--libpal', path.join(input, 'libpal.so')];
    const key = path.join(input, 'enclave-key.pem');
    await fails(['measure', '--libpal', path.join(input, 'libpal.so')], 2, 'ERR_MISSING_OPTION');
    await fails(['measure', '--manifest', path.join(input, 'app.manifest')], 2, 'ERR_MISSING_OPTION');
    await fails([...base, '--key', key], 2, 'ERR_MISSING_OPTION');
    await fails([...base, '--sigfile', p('x.sig')], 2, 'ERR_MISSING_OPTION');
    await fails([...base, '--date', '2025-01-01'], 2, 'ERR_MISSING_OPTION');
    await fails([...base, '--output-manifest', path.join(input, 'app.manifest')], 2, 'ERR_CONFLICTING_OPTIONS');
    await fails(
      [...base, '--output-manifest', p('same'), '--key', key, '--sigfile', p('same')],
      2,
      'ERR_CONFLICTING_OPTIONS',
    );
    await fails([...base, '--output-manifest', p('nodir/out.sgx')], 3, 'ERR_FILE_NOT_FOUND');
    await fails([...base, '--key', key, '--sigfile', p('x.sig'), '--date', '2025-02-30'], 3, 'ERR_SIGSTRUCT_DATE');
    await fails([...base, '--bogus'], 2, 'ERR_UNKNOWN_OPTION');

    const e65537 = p('e65537.pem');
    const pem = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ type: 'pkcs1', format: 'pem' });
    await fs.writeFile(e65537, pem);
    await fails(
      [...base, '--key', e65537, '--sigfile', p('x.sig'), '--output-manifest', p('x.sgx')],
      3,
      'ERR_SIGNER_KEY_EXPONENT',
    );
    await fs.rm(e65537);

    await fails(
      ['measure', '--manifest', path.join(input, 'app.manifest'), '--libpal', path.join(input, 'app.manifest')],
      3,
      'ERR_GRAMINE_ELF',
    );
    const bad = p('bad.manifest');
    for (const [text, code] of [
      ['sgx.cpu_features.avx = "maybe"', 'ERR_GRAMINE_CPU_FEATURE'],
      ['sgx.enclave_size = "384M"', 'ERR_GRAMINE_ENCLAVE_SIZE'],
      [
        'sgx.trusted_files = ["file:nope"]\nloader.entrypoint.uri = "file:input/files/libsysdb.so"',
        'ERR_GRAMINE_FILE_MISSING',
      ],
      ['a = { b = 1, }', 'ERR_GRAMINE_MANIFEST_TOML'],
    ] as const) {
      await fs.writeFile(bad, text);
      await fails(
        ['measure', '--manifest', bad, '--libpal', path.join(input, 'libpal.so'), '--output-manifest', p('out.sgx')],
        3,
        code,
      );
      await fs.rm(bad);
    }
    assert.equal(existsSync(p('out.sgx')), false);
  });
});

describe('mse home sigstruct show', () => {
  const sigFile = (): string => path.join(c3.dir, 'expected', 'app.sig');

  it('shows every field, MRENCLAVE, MRSIGNER and a valid signature (text and JSON)', async () => {
    const text = await runMse(['home', 'sigstruct', 'show', sigFile()]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`MRENCLAVE\\s+${c3.mrenclave}`));
    assert.match(text.stdout, new RegExp(`MRSIGNER\\s+${c3.mrsigner}`));
    assert.match(text.stdout, /Signature check\s+valid/);
    assert.match(text.stdout, /ISV prod ID \/ SVN\s+4660 \/ 7/);
    assert.match(text.stdout, /Date\s+2024-02-29/);
    assert.match(text.stdout, /Debug\s+YES/);

    const r = await runMse(['home', 'sigstruct', 'show', sigFile(), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      mrenclave: string;
      mrsigner: string;
      debug: boolean;
      signature: { valid: boolean };
      fields: Record<string, unknown>;
    };
    const f = c3.fields;
    assert.equal(out.ok, true);
    assert.equal(out.mrenclave, c3.mrenclave);
    assert.equal(out.mrsigner, c3.mrsigner);
    assert.equal(out.signature.valid, true);
    assert.equal(out.debug, true);
    assert.equal(out.fields.modulus, f.modulus);
    assert.equal(out.fields.signature, f.signature);
    assert.equal(out.fields.q1, f.q1);
    assert.equal(out.fields.q2, f.q2);
    assert.equal(out.fields.isvProdId, f.isv_prod_id);
    assert.deepEqual(out.fields.attributes, { flags: '0x0000000000000006', xfrm: '0x0000000000000003' });
    assert.deepEqual(out.fields.attributeMask, { flags: '0xffffffffffffffff', xfrm: '0xfffffffffff9ff1b' });
    assert.equal(out.fields.date, '2024-02-29');
  });

  it('a tampered SIGSTRUCT: fields still shown, exit 4 with the failed check; a truncated one: exit 3', async () => {
    const tampered = p('tampered.sig');
    const b = Buffer.from(c3.sigstruct);
    b[1024] = 0x35; // ISVPRODID
    await fs.writeFile(tampered, b);
    const r = await runMse(['home', 'sigstruct', 'show', tampered, '--json']);
    assert.equal(r.code, 4, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string }; fields: { isvProdId: number } };
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'ERR_SIGSTRUCT_SIGNATURE');
    assert.equal(out.fields.isvProdId, 0x1235);
    const text = await runMse(['home', 'sigstruct', 'show', tampered]);
    assert.equal(text.code, 4);
    assert.match(text.stdout, /Signature check\s+INVALID/);
    assert.match(text.stderr, /error\[ERR_SIGSTRUCT_SIGNATURE\]/);
    await fs.writeFile(tampered, b.subarray(0, 1000));
    await fails(['sigstruct', 'show', tampered], 3, 'ERR_SIGSTRUCT_SIZE');
    await fs.rm(tampered);
  });
});
