import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeSimMrenclave, SIM_MEASUREMENT_VERSION, type SimMeasurementInput } from './measurement.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Test vectors. The expected digests were produced by the Python reference implementation printed in
 * docs/measurement.md (an independent implementation of the spec), and are repeated there.
 */
const VECTORS: { name: string; input: SimMeasurementInput; mrenclave: string }[] = [
  {
    name: 'v1: a scaffolded Flask app (MSE-like arguments)',
    input: {
      imageConfigDigest: 'sha256:294f1ac9c264ca6bc8f2d604b16c8fc531b5f3f5388ba1ac0996be2fa7c40c1e',
      codeFiles: [
        { path: 'templates/index.html', sha256: '63bce8d4edf0cd46fffe9c93a06ed34806202956d17a36a94df37388d9149b51' },
        { path: 'app.py', sha256: 'a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333' },
        { path: 'requirements.txt', sha256: 'c3f7bdf537c46724392c4428e47e04c148c56966190c3c9ed92114800c9f35bb' },
      ],
      args: {
        size: 4096,
        subject: 'CN=localhost,O=MyApp Company,C=FR,L=Paris,ST=Ile-de-France',
        san: 'localhost',
        appId: '63322f85-1ff8-4483-91ae-f18d7398d157',
        application: 'app:app',
        expiration: 1714058115,
      },
    },
    mrenclave: '43b4966886f94e44f8d1fcf8962b23af565e61123b57ec06a257b12622cc64e8',
  },
  {
    name: 'v2: minimal values, no code files',
    input: {
      imageConfigDigest: `sha256:${'0'.repeat(64)}`,
      codeFiles: [],
      args: { size: 1, subject: '', san: '', appId: '', application: '', expiration: 0 },
    },
    mrenclave: 'fc42c721273ab04f35763f444871df2bcde864d8e1496d2399e6f9a26c65a293',
  },
  {
    name: 'v3: non-ASCII values; paths sorted by UTF-8 bytes, not UTF-16 units',
    input: {
      imageConfigDigest: `sha256:${'f'.repeat(64)}`,
      codeFiles: [
        { path: '\u{1F600}.py', sha256: 'aa'.repeat(32) },
        { path: '\uFF5A.py', sha256: 'bb'.repeat(32) },
        { path: 'a/b c.py', sha256: 'cc'.repeat(32) },
      ],
      args: {
        size: 2048,
        subject: 'CN=café ✓,O=Ünïcödé',
        san: '192.168.0.1',
        appId: 'A0B1C2D3-0000-4000-8000-000000000000',
        application: 'pkg.mod:create_app',
        expiration: 4102444800,
      },
    },
    mrenclave: '6ba97104783f0a6b86459094c3975e706f7586a81715121013b76164a85bd0ee',
  },
];

test('version string', () => assert.equal(SIM_MEASUREMENT_VERSION, 'mse-home-sim-measurement-v1'));

for (const v of VECTORS) {
  test(`vector ${v.name}`, () => {
    const m = computeSimMrenclave(v.input);
    assert.equal(m.length, 32);
    assert.equal(hex(m), v.mrenclave);
    // The order in which files are listed does not matter.
    const reversed = { ...v.input, codeFiles: [...v.input.codeFiles].reverse() };
    assert.equal(hex(computeSimMrenclave(reversed)), v.mrenclave);
  });
}

test('any single change of any input changes the measurement', () => {
  const base = (VECTORS[0] as (typeof VECTORS)[number]).input;
  const files = base.codeFiles;
  const f0 = files[0] as { path: string; sha256: string };
  const variants: [string, SimMeasurementInput][] = [
    ['image digest', { ...base, imageConfigDigest: base.imageConfigDigest.replace(/e$/, 'f') }],
    ['file content', { ...base, codeFiles: [{ ...f0, sha256: f0.sha256.replace(/^6/, '7') }, ...files.slice(1)] }],
    ['file renamed', { ...base, codeFiles: [{ ...f0, path: 'templates/index.htm' }, ...files.slice(1)] }],
    ['file removed', { ...base, codeFiles: files.slice(1) }],
    ['file added', { ...base, codeFiles: [...files, { path: 'extra.py', sha256: f0.sha256 }] }],
    ['size', { ...base, args: { ...base.args, size: 8192 } }],
    ['subject', { ...base, args: { ...base.args, subject: base.args.subject + ' ' } }],
    ['san', { ...base, args: { ...base.args, san: 'localhost.' } }],
    ['app id', { ...base, args: { ...base.args, appId: base.args.appId.toUpperCase() } }],
    ['application', { ...base, args: { ...base.args, application: 'app:application' } }],
    ['expiration', { ...base, args: { ...base.args, expiration: base.args.expiration + 1 } }],
    // Bytes moved across a field boundary: the length prefixes keep these apart.
    ['subject/san boundary', { ...base, args: { ...base.args, subject: base.args.subject + 'l', san: 'ocalhost' } }],
    ['san/appId swap', { ...base, args: { ...base.args, san: base.args.appId, appId: base.args.san } }],
    [
      'hash moved to another file',
      {
        ...base,
        codeFiles: [{ path: 'app.py', sha256: f0.sha256 }, ...files.slice(1).filter((f) => f.path !== 'app.py')],
      },
    ],
  ];
  const seen = new Set([hex(computeSimMrenclave(base))]);
  for (const [name, input] of variants) {
    const m = hex(computeSimMrenclave(input));
    assert.ok(!seen.has(m), `${name} changed nothing or collided`);
    seen.add(m);
  }
});

test('malformed input is rejected with ERR_MEASUREMENT_INPUT naming the field', () => {
  const base = (VECTORS[0] as (typeof VECTORS)[number]).input;
  const bad: [RegExp, SimMeasurementInput][] = [
    [/imageConfigDigest/, { ...base, imageConfigDigest: base.imageConfigDigest.toUpperCase() }],
    [/imageConfigDigest/, { ...base, imageConfigDigest: base.imageConfigDigest.slice(7) }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: '/etc/passwd', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: 'a/../b', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: 'a//b', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: 'dir/', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: '', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path/, { ...base, codeFiles: [{ path: 'a\0b', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.path.*Unicode/, { ...base, codeFiles: [{ path: 'x\uD800.py', sha256: 'aa'.repeat(32) }] }],
    [/codeFiles\[0\]\.sha256/, { ...base, codeFiles: [{ path: 'a.py', sha256: 'AA'.repeat(32) }] }],
    [
      /listed twice/,
      { ...base, codeFiles: [...base.codeFiles, base.codeFiles[1] as { path: string; sha256: string }] },
    ],
    [/args\.size/, { ...base, args: { ...base.args, size: 0 } }],
    [/args\.size/, { ...base, args: { ...base.args, size: 1.5 } }],
    [/args\.expiration/, { ...base, args: { ...base.args, expiration: -1 } }],
    [/args\.subject/, { ...base, args: { ...base.args, subject: '\uDC00' } }],
    [/args\.appId/, { ...base, args: { ...base.args, appId: 5 as unknown as string } }],
  ];
  for (const [message, input] of bad) {
    assert.throws(
      () => computeSimMrenclave(input),
      (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'ERR_MEASUREMENT_INPUT');
        assert.match((e as Error).message, message);
        return true;
      },
    );
  }
});
