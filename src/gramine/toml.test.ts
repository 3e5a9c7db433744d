// The manifest TOML reader and the tomli_w 1.0.0 writer: fixed cases, property tests (random documents
// round-trip through smol-toml), and a differential test against the real tomli / tomli_w when Debian's
// python3-tomli and python3-tomli-w are installed (scripts/setup.sh installs them).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { runPython } from '../testing/python.js';
import { DEBIAN_PYTHON } from '../testing/vectors.js';
import { dumpToml, parseManifestToml, type TomlTable, type TomlValue } from './toml.js';

/** Order-preserving plain form of a document, for deep comparisons (Map equality ignores order). */
function plain(v: TomlValue, sortKeys = false): unknown {
  if (v instanceof Map) {
    const entries = [...v].map(([k, x]): [string, unknown] => [k, plain(x, sortKeys)]);
    return { table: sortKeys ? entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : entries };
  }
  if (Array.isArray(v)) return v.map((x) => plain(x, sortKeys));
  return v;
}

const t = (...entries: [string, TomlValue][]): TomlTable => new Map(entries);

describe('dumpToml (tomli_w 1.0.0 layout)', () => {
  it('root literals first, then sub-tables in insertion order; no header for a table of tables only', () => {
    const doc = t(
      ['sys', t(['stack', t(['size', '2M'])], ['brk', t(['max_size', '64M'])])],
      ['a', 1n],
      ['empty', t()],
      ['b', true],
    );
    assert.equal(
      dumpToml(doc),
      'a = 1\nb = true\n\n[sys.stack]\nsize = "2M"\n\n[sys.brk]\nmax_size = "64M"\n\n[empty]\n',
    );
  });

  it('arrays multi-line with 4-space indent and trailing comma, nested arrays indented further', () => {
    assert.equal(dumpToml(t(['a', []])), 'a = []\n');
    assert.equal(
      dumpToml(t(['a', [1n, [2n, []], 'x']])),
      'a = [\n    1,\n    [\n        2,\n        [],\n    ],\n    "x",\n]\n',
    );
  });

  it('arrays of tables inline when every element fits in 100 characters, else [[…]] blocks', () => {
    const fits = (n: number): TomlTable => t(['uri', 'x'.repeat(n)]);
    // "    { uri = "…" }," is 4 + 9 + n + 4 = n + 17 characters.
    assert.equal(dumpToml(t(['f', [fits(83)]])), `f = [\n    { uri = "${'x'.repeat(83)}" },\n]\n`);
    assert.equal(dumpToml(t(['f', [fits(1), fits(84)]])), `[[f]]\nuri = "x"\n\n[[f]]\nuri = "${'x'.repeat(84)}"\n`);
    // Python counts code points: 83 astral characters (166 UTF-16 units) still fit.
    assert.equal(dumpToml(t(['f', [t(['uri', '😀'.repeat(83)])]])), `f = [\n    { uri = "${'😀'.repeat(83)}" },\n]\n`);
    // An element holding an array renders with newlines, so the array goes to [[…]] blocks.
    assert.equal(dumpToml(t(['f', [t(['a', [1n]])]])), '[[f]]\na = [\n    1,\n]\n');
    // Sub-tables of a [[…]] element get their own header.
    assert.equal(
      dumpToml(t(['s', t(['f', [t(['a', 'y'.repeat(90)], ['sub', t(['k', 1n])])]])])),
      `[[s.f]]\na = "${'y'.repeat(90)}"\n\n[s.f.sub]\nk = 1\n`,
    );
  });

  it('escapes like tomli_w: ", \\, \\b \\n \\f \\r compact, other controls \\u00xx, TAB and non-ASCII raw', () => {
    const s = 'q"b\\\b\n\f\r\t\u0000\u001b\u007fé✓😀';
    assert.equal(dumpToml(t(['k', s])), `k = "q\\"b\\\\\\b\\n\\f\\r\t\\u0000\\u001b\\u007fé✓😀"\n`);
    assert.equal(dumpToml(t(['a b', 1n], ['', 2n], ['é', 3n], ['-_9', 4n])), '"a b" = 1\n"" = 2\n"é" = 3\n-_9 = 4\n');
    assert.equal(dumpToml(t(['n', -12345678901234567890n])), 'n = -12345678901234567890\n');
  });

  it('refuses to write a string that is not well-formed Unicode', () => {
    assert.throws(() => dumpToml(t(['k', 'a\ud800b'])), { code: 'ERR_GRAMINE_MANIFEST_ENCODING' });
  });
});

describe('parseManifestToml (what tomli gives, or a clear refusal)', () => {
  it('keeps insertion order, integers as bigint, hex/octal/binary/underscores as their values', () => {
    const doc = parseManifestToml('z = 1\n[b]\nx = 0x1F\n[a]\ny = 1_000\nw = 0o17\nv = 0b101\n[b.c]\nq = -0\n');
    assert.deepEqual(plain(doc), {
      table: [
        ['z', 1n],
        [
          'b',
          {
            table: [
              ['x', 31n],
              ['c', { table: [['q', 0n]] }],
            ],
          },
        ],
        [
          'a',
          {
            table: [
              ['y', 1000n],
              ['w', 15n],
              ['v', 5n],
            ],
          },
        ],
      ],
    });
  });

  it('reads text as Python does: UTF-8, universal newlines (CRLF and CR), no BOM', () => {
    assert.deepEqual(plain(parseManifestToml(Buffer.from('a = """x\r\ny\rz"""\r\nb = 1\r'))), {
      table: [
        ['a', 'x\ny\nz'],
        ['b', 1n],
      ],
    });
    assert.throws(() => parseManifestToml(Buffer.from([0x61, 0x3d, 0x22, 0xff, 0x22])), {
      code: 'ERR_GRAMINE_MANIFEST_ENCODING',
    });
    assert.throws(() => parseManifestToml(Buffer.from('\ufeffa = 1')), { code: 'ERR_GRAMINE_MANIFEST_ENCODING' });
  });

  it('refuses TOML 1.1 syntax that tomli (TOML 1.0) rejects, with the position', () => {
    for (const [doc, what] of [
      ['a = { b = 1,\n c = 2 }', 'newline inside an inline table'],
      ['a = { b = 1, }', 'trailing comma'],
      ['a = "\\e"', 'escape \\e'],
      ['a = "\\x41"', 'escape \\x'],
      ['a = """x\\x41"""', 'escape \\x'],
    ] as const) {
      assert.throws(
        () => parseManifestToml(doc),
        (e: Error & { code?: string }) => e.code === 'ERR_GRAMINE_MANIFEST_TOML' && e.message.includes(what),
        doc,
      );
    }
    // …but TOML 1.0 allows these, and so do we.
    for (const doc of [
      'a = { b = [\n1,\n2,\n] }',
      'a = "x,}" # {,}\nb = [ { c = 1 } ]',
      "a = '\\x41'",
      'a = """\\\n   x"""',
      "a = '''{\n'''",
    ]) {
      parseManifestToml(doc);
    }
  });

  it('refuses floats, dates and times naming the key, and integer-like keys whose order JS would lose', () => {
    for (const [doc, key] of [
      ['[sgx]\nx = 1.0', 'sgx.x'],
      ['a = [1, inf]', 'a.1'],
      ['a.b = 1979-05-27', 'a.b'],
      ['a = 07:32:00', 'a'],
      ['a = 1979-05-27T07:32:00Z', 'a'],
    ] as const) {
      assert.throws(
        () => parseManifestToml(doc),
        (e: Error & { code?: string }) => e.code === 'ERR_GRAMINE_MANIFEST_VALUE' && e.message.includes(`'${key}'`),
        doc,
      );
    }
    assert.throws(() => parseManifestToml('[loader.env]\nB = "1"\n2 = "x"'), {
      code: 'ERR_GRAMINE_MANIFEST_UNSUPPORTED',
      message: /'loader\.env\.2'/,
    });
    assert.deepEqual(plain(parseManifestToml('[x]\n7 = 1')), { table: [['x', { table: [['7', 1n]] }]] });
  });

  it('reports syntax errors with line and column', () => {
    assert.throws(() => parseManifestToml('a = 1\nb = = 2'), {
      code: 'ERR_GRAMINE_MANIFEST_TOML',
      message: /line 2, column \d+/,
    });
    assert.throws(() => parseManifestToml('[a]\nb = 1\n[a]\nc = 1'), { code: 'ERR_GRAMINE_MANIFEST_TOML' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Random documents (deterministic PRNG; the seed is in the failure message).

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

const KEY_CHARS = ['a', 'b', 'Z', '_', '-', '9', ' ', '.', '"', '\\', 'é', '✓', '😀', '\t', '\n', '\u0001'];
const STR_CHARS = [...KEY_CHARS, '\r', '\b', '\f', '\u007f', '\u001f', '\u0000', "'", '#', '=', '[', '{', '}', ','];

function generator(seed: number): () => TomlTable {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const str = (chars: string[], max: number): string =>
    Array.from({ length: Math.floor(r() * max) }, () => pick(chars)).join('');
  const key = (): string => {
    const k =
      r() < 0.6
        ? pick(['uri', 'path', 'sha256', 'a', 'b', 'log_level', 'x-y']) + str(['a', '1'], 3)
        : str(KEY_CHARS, 6);
    return /^(?:0|[1-9][0-9]*)$/.test(k) ? `k${k}` : k; // integer-like keys are refused by design
  };
  const scalar = (): TomlValue => {
    const x = r();
    if (x < 0.35) return str(STR_CHARS, r() < 0.1 ? 120 : 12);
    if (x < 0.6) return BigInt(Math.floor((r() - 0.5) * 2 ** 40)) * (r() < 0.1 ? 10n ** 12n : 1n);
    return r() < 0.5;
  };
  // inArray: tables inside a mixed array are inline; tomli_w formats their arrays with newlines, which
  // is not TOML 1.0, so they hold scalars only there.
  const value = (depth: number, inArray = false): TomlValue => {
    const x = r();
    if (depth > 3 || x < 0.5) return scalar();
    if (x < 0.65) return table(depth + 1, inArray);
    if (x < 0.85 && !inArray) {
      const long = r() < 0.3;
      return Array.from({ length: 1 + Math.floor(r() * 3) }, () =>
        t(['uri', long ? 'file:' + 'p'.repeat(95) : str(STR_CHARS, 8)], ['sha256', 'ab'.repeat(r() < 0.5 ? 32 : 2)]),
      );
    }
    return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1, true));
  };
  const table = (depth: number, inArray = false): TomlTable => {
    const m: TomlTable = new Map();
    const n = Math.floor(r() * (depth === 0 ? 6 : 4));
    for (let i = 0; i < n; i++) {
      const v = value(depth, inArray);
      m.set(key(), inArray && (v instanceof Map || Array.isArray(v)) ? scalar() : v);
    }
    return m;
  };
  return () => table(0);
}

describe('dumpToml property tests', () => {
  // The writer moves plain values before sub-tables (as tomli_w does), so a round trip keeps the content
  // and the order within each group; dump∘parse must then be a fixed point. The exact order is checked
  // against tomli_w itself below.
  it('random documents round-trip through smol-toml (our reader): same content, dump∘parse a fixed point', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const doc = generator(seed)();
      const text = dumpToml(doc);
      let back: TomlTable;
      try {
        back = parseManifestToml(text);
      } catch (error) {
        assert.fail(`seed ${seed}: our output does not parse back: ${(error as Error).message}\n${text}`);
      }
      assert.deepEqual(plain(back, true), plain(doc, true), `seed ${seed}:\n${text}`);
      assert.equal(dumpToml(back), text, `seed ${seed}: dump∘parse is not a fixed point`);
    }
  });
});

const hasTomliW =
  spawnSync(DEBIAN_PYTHON, ['-c', 'import tomli, tomli_w; assert tomli_w.__name__'], { encoding: 'utf8' }).status === 0;
const skip = hasTomliW ? false : 'python3-tomli / python3-tomli-w not installed (scripts/setup.sh installs them)';

/** Tagged JSON for Python, which must see bigints as ints and tables as dicts in our order. */
function tagged(v: TomlValue): unknown {
  if (v instanceof Map) return { t: 'table', v: [...v].map(([k, x]) => [k, tagged(x)]) };
  if (Array.isArray(v)) return { t: 'array', v: v.map(tagged) };
  if (typeof v === 'bigint') return { t: 'int', v: v.toString() };
  return { t: typeof v, v };
}

describe('differential test against the real tomli / tomli_w 1.0.0', { skip }, () => {
  it('tomli_w.dumps writes the same bytes as dumpToml for 300 random documents', () => {
    const docs = Array.from({ length: 300 }, (_, i) => generator(1000 + i)());
    const out = runPython<string[]>(
      `import json, sys, tomli_w
def build(x):
    t = x['t']
    if t == 'table': return {k: build(v) for k, v in x['v']}
    if t == 'array': return [build(v) for v in x['v']]
    if t == 'int': return int(x['v'])
    return x['v']
print(json.dumps([tomli_w.dumps(build(d)) for d in json.load(sys.stdin)]))`,
      docs.map(tagged),
    );
    docs.forEach((d, i) => assert.equal(dumpToml(d), out[i], `document ${1000 + i}`));
    assert.ok(
      out.some((o) => o.includes('[[')) &&
        out.some((o) => /= \[\n {4}\{/.test(o)) &&
        out.some((o) => o.includes('\\u00')),
      'the documents exercise both array-of-tables forms and \\uXXXX escapes',
    );
  });

  it('tomli accepts and refuses the same manifests as our reader, and re-dumps them identically', () => {
    const cases = [
      'a.b.c = 1\n[x]\ny = "z"\n[[x.arr]]\nk = 1\n[[x.arr]]\nk = 2\n',
      'a = { b = [\n1,\n2,\n] }\nc = [ { d = 1 }, { d = 2 } ]\n',
      "a = \"\"\"\\\n   x\ty\"\"\"\nb = 'lit\\eral'\nc = '''ml\nlit'''\n",
      '"quoted.key" = 1\n\'lit key\' = 2\na."b c".d = 3\n',
      'a = 0xDEAD_beef\nb = 0o777\nc = 0b1010\nd = +99\ne = -0\nf = 1_2_3\n',
      'a = "\\u00e9\\U0001F600\\t\\"\\\\"\n',
      'x = 1\r\ny = "crlf"\r\n',
      '[a]\nb = 1\n[a.c]\nd = 2\n[e]\n',
      'a = { b = 1,\n c = 2 }',
      'a = { b = 1, }',
      'a = "\\e"',
      'a = "\\x41"',
      '[a]\nb=1\n[a]\nc=1',
      'a={b=1}\na.c=2',
      'a.b=1\n[a]\nc=2',
      '[a]\nb.c=1\n[a.b]\nd=2',
      'a = 1\na = 2',
      'a = [1, "x"]',
      'a = "x\u007fy"',
      'a = 1 # c\u0001',
      'a = 01',
      'a = 9223372036854775808',
      '[[a]]\nb = 1\n[a.c]\nd = 2\n',
      'a = []\nb = [[], [[]]]\n',
      '[a.b]\nc = 1\n[a]\nd = 2\n',
      '[x]\n[x.y.z]\n',
      'a."".b = 1\n"" = 2\n',
      '[t]\n7 = "only key"\n',
      'a = [ { b = { c = [ 1 ] } } ]\n',
      'a = [\n  1, # comment\n  2,\n]\n',
      "s = '''\n\\n'''\n",
      '',
    ];
    const py = runPython<({ ok: true; out: string } | { ok: false })[]>(
      `import io, json, sys, tomli, tomli_w
res = []
for doc in json.load(sys.stdin):
    text = io.TextIOWrapper(io.BytesIO(doc.encode()), encoding='utf-8').read()  # universal newlines
    try:
        res.append({'ok': True, 'out': tomli_w.dumps(tomli.loads(text))})
    except Exception:
        res.append({'ok': False})
print(json.dumps(res))`,
      cases,
    );
    cases.forEach((doc, i) => {
      let ours: { ok: true; out: string } | { ok: false };
      try {
        ours = { ok: true, out: dumpToml(parseManifestToml(doc)) };
      } catch {
        ours = { ok: false };
      }
      assert.deepEqual(ours, py[i], JSON.stringify(doc));
    });
  });
});
