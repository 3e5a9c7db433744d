// Manifest finalization beyond the vectors: defaults and their order, trusted-file expansion and merging
// on the host file system (sorting, links, special files), and every refusal.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPython } from '../testing/python.js';
import { HostFileSource, uriPath, type FileSource, type SourceEntry } from './files.js';
import { DEFAULT_LIBOS_URI, finalizeManifest, parseSize, readFinalManifest } from './manifest.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Test double: an in-memory file system (absolute or relative paths as keys; directories end in "/"). */
class MemoryTestSource implements FileSource {
  readonly description = 'memory test source';
  constructor(private readonly files: Record<string, string | SourceEntry>) {}
  async stat(p: string): Promise<SourceEntry | undefined> {
    const v = this.files[p];
    if (typeof v === 'object') return v;
    if (v !== undefined) return { kind: 'file', symlink: false, readable: true };
    const isDir = Object.keys(this.files).some((k) => k.startsWith(p === '.' ? '' : `${p}/`));
    return isDir ? { kind: 'directory', symlink: false, readable: true } : undefined;
  }
  async list(p: string): Promise<string[]> {
    const prefix = p === '.' ? '' : `${p}/`;
    const names = Object.keys(this.files)
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length).split('/')[0]!);
    return [...new Set(names)];
  }
  async *read(p: string): AsyncIterable<Uint8Array> {
    const v = this.files[p];
    if (typeof v !== 'string') throw new Error(`test source: no file ${p}`);
    yield Buffer.from(v);
  }
}

const LIBOS = { [uriPath(DEFAULT_LIBOS_URI, 'x')]: 'libos' };

describe('finalizeManifest: defaults', () => {
  it('an empty manifest gets every default in Gramine’s order, and the default LibOS hashed', async () => {
    const r = await finalizeManifest('', new MemoryTestSource(LIBOS));
    assert.equal(
      r.text,
      `[sgx]
trusted_files = []
max_threads = 4
isvprodid = 0
isvsvn = 0
remote_attestation = "none"
debug = false
enable_stats = false
edmm_enable = false
enclave_size = "256M"
use_exinfo = false

[sgx.cpu_features]
avx = "unspecified"
avx512 = "unspecified"
amx = "unspecified"
mpx = "disabled"
pkru = "disabled"

[loader.entrypoint]
uri = "${DEFAULT_LIBOS_URI}"
sha256 = "${sha('libos')}"
`,
    );
    assert.deepEqual(r.entrypoint, { uri: DEFAULT_LIBOS_URI, sha256: sha('libos'), hashed: true });
    assert.equal(r.attributes.enclaveSize, 256 * 2 ** 20);
    assert.equal(r.attributes.flags, 4n);
    assert.equal(r.attributes.xfrmMask, 0xfffffffffff9ff1bn);
  });

  it('libosUri overrides the default entry point; present keys keep their place and value', async () => {
    const r = await finalizeManifest(
      'sgx.cpu_features.pkru = "required"\nsgx.edmm_enable = true\nloader.entrypoint.sha256 = "' +
        'AB'.repeat(32) +
        '"',
      new MemoryTestSource({}),
      { libosUri: 'file:lib/libsysdb.so' },
    );
    assert.match(r.text, /^\[sgx\]\nedmm_enable = true\ntrusted_files = \[\]\n/);
    assert.match(r.text, /enclave_size = "1024G"/);
    assert.match(r.text, /\[sgx\.cpu_features\]\npkru = "required"\navx = "unspecified"/);
    assert.match(
      r.text,
      new RegExp(`\\[loader\\.entrypoint\\]\\nsha256 = "${'AB'.repeat(32)}"\\nuri = "file:lib/libsysdb.so"\\n$`),
    );
    assert.equal(r.entrypoint.hashed, false);
    assert.equal(r.attributes.xfrm, 0x203n);
  });
});

describe('finalizeManifest: trusted files', () => {
  const files = { 'a.txt': 'A', 'd/x': 'X', 'd/y': 'Y', lib: 'L', ...LIBOS };

  it('merges duplicates by URI: first position kept, a pre-set hash wins, equal pre-set hashes are one', async () => {
    const h = 'cd'.repeat(32);
    const r = await finalizeManifest(
      `sgx.trusted_files = ["file:d/", "file:a.txt", { uri = "file:d/x", sha256 = "${h}" }, "file:d/x", "file:./d/y", { uri = "file:a.txt", sha256 = "${h}" }]`,
      new MemoryTestSource(files),
    );
    assert.deepEqual(r.trustedFiles, [
      { uri: 'file:d/x', sha256: h, hashed: false },
      { uri: 'file:d/y', sha256: sha('Y'), hashed: true },
      { uri: 'file:a.txt', sha256: h, hashed: false },
      { uri: 'file:./d/y', sha256: sha('Y'), hashed: true },
    ]);
    await assert.rejects(
      finalizeManifest(
        `sgx.trusted_files = [{ uri = "file:a.txt", sha256 = "${h}" }, { uri = "file:a.txt", sha256 = "${'ef'.repeat(32)}" }]`,
        new MemoryTestSource(files),
      ),
      { code: 'ERR_GRAMINE_TRUSTED_FILE', message: /two different sha256/ },
    );
  });

  it('writes entries as { uri, sha256 }, in that order, whatever the input order (inline only when ≤ 100 chars)', async () => {
    const h = '01'.repeat(32);
    const src = new MemoryTestSource({ a: 'A', lib: 'L', ...LIBOS });
    // "    { uri = "file:a", sha256 = "<64 hex>" }," is exactly 100 characters: inline.
    const inline = await finalizeManifest(`sgx.trusted_files = [{ sha256 = "${h}", uri = "file:a" }]`, src);
    assert.match(inline.text, new RegExp(`trusted_files = \\[\\n {4}\\{ uri = "file:a", sha256 = "${h}" \\},\\n\\]`));
    const blocks = await finalizeManifest(`sgx.trusted_files = [{ sha256 = "${h}", uri = "file:lib" }]`, src);
    assert.match(blocks.text, new RegExp(`\\[\\[sgx\\.trusted_files\\]\\]\\nuri = "file:lib"\\nsha256 = "${h}"\\n`));
  });

  it('skips unreadable entries in directory walks', async () => {
    const r = await finalizeManifest(
      'sgx.trusted_files = ["file:d/"]',
      new MemoryTestSource({ ...files, 'd/x': { kind: 'file', symlink: false, readable: false } }),
    );
    assert.deepEqual(
      r.trustedFiles.map((t) => t.uri),
      ['file:d/y'],
    );
  });

  it('refuses malformed entries, naming them', async () => {
    const src = new MemoryTestSource(files);
    for (const [tf, code, message] of [
      ['"https://example.com/x"', 'ERR_GRAMINE_URI', /unsupported URI/],
      ['"file:d"', 'ERR_GRAMINE_TRUSTED_FILE', /does not end with "\/"/],
      ['"file:a.txt/"', 'ERR_GRAMINE_TRUSTED_FILE', /ends with "\/" but is not a directory/],
      [`{ uri = "file:d/", sha256 = "${'00'.repeat(32)}" }`, 'ERR_GRAMINE_TRUSTED_FILE', /has a sha256/],
      ['{ uri = "file:a.txt", mode = 1 }', 'ERR_GRAMINE_TRUSTED_FILE', /unknown key 'mode'/],
      ['{ uri = "file:a.txt", sha256 = "xyz" }', 'ERR_GRAMINE_TRUSTED_FILE', /64 hex digits/],
      ['{ uri = 1 }', 'ERR_GRAMINE_TRUSTED_FILE', /uri must be a string/],
      ['{ path = "file:a.txt" }', 'ERR_GRAMINE_TRUSTED_FILE', /trusted_files\[0\]/],
      ['42', 'ERR_GRAMINE_TRUSTED_FILE', /trusted_files\[0\]/],
      ['"file:missing"', 'ERR_GRAMINE_FILE_MISSING', /'file:missing' does not exist/],
      ['"file:a\\u0000b"', 'ERR_GRAMINE_URI', /NUL/],
    ] as const) {
      await assert.rejects(finalizeManifest(`sgx.trusted_files = [${tf}]`, src), { code, message }, tf);
    }
    await assert.rejects(finalizeManifest('sgx.trusted_files = "file:a.txt"', src), {
      code: 'ERR_GRAMINE_MANIFEST_VALUE',
      message: /'sgx\.trusted_files' must be an array/,
    });
    await assert.rejects(finalizeManifest('loader.entrypoint = "file:lib"', src), {
      code: 'ERR_GRAMINE_MANIFEST_VALUE',
      message: /'loader\.entrypoint' must be a table/,
    });
    await assert.rejects(finalizeManifest('sgx = 1', src), {
      code: 'ERR_GRAMINE_MANIFEST_VALUE',
      message: /'sgx' must be a table/,
    });
    await assert.rejects(finalizeManifest('loader.entrypoint.uri = "file:nope"', src), {
      code: 'ERR_GRAMINE_FILE_MISSING',
    });
  });
});

describe('finalizeManifest over the host file system', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-gramine-'));
    const t = path.join(dir, 'tree');
    await fs.mkdir(path.join(t, 'sub', 'deeper'), { recursive: true });
    await fs.mkdir(path.join(dir, 'elsewhere'));
    for (const name of ['b', 'a', '.hidden', 'é', 'Z', '😀', 'ｚ', 'sub/x', 'sub/deeper/y']) {
      await fs.writeFile(path.join(t, name), name);
    }
    await fs.writeFile(path.join(dir, 'elsewhere', 'inside'), 'no');
    await fs.writeFile(path.join(dir, 'libsysdb.so'), 'libos');
    await fs.symlink('../elsewhere', path.join(t, 'linkdir'));
    await fs.symlink('a', path.join(t, 'linkfile'));
    await fs.symlink('nowhere', path.join(t, 'dangling'));
    assert.equal(spawnSync('mkfifo', [path.join(t, 'fifo')]).status, 0);
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('walks directories like Gramine: names sorted by code point (dot files included), links to files kept, linked directories, dangling links and FIFOs skipped', async () => {
    const r = await finalizeManifest(
      'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:tree/"]',
      new HostFileSource(dir),
    );
    const expected = ['.hidden', 'Z', 'a', 'b', 'linkfile', 'sub/deeper/y', 'sub/x', 'é', 'ｚ', '😀'];
    assert.deepEqual(
      r.trustedFiles.map((t) => t.uri),
      expected.map((n) => `file:tree/${n}`),
    );
    assert.equal(r.trustedFiles[4]!.sha256, sha('a'), 'a link to a file is hashed through the link');
    // The order Python's pathlib gives (what Gramine sorts), for the top directory.
    const py = runPython<string[]>(
      'import json,sys,pathlib; print(json.dumps([p.name for p in sorted(pathlib.Path(json.load(sys.stdin)).glob("*"))]))',
      path.join(dir, 'tree'),
    );
    assert.deepEqual(py, ['.hidden', 'Z', 'a', 'b', 'dangling', 'fifo', 'linkdir', 'linkfile', 'sub', 'é', 'ｚ', '😀']);
  });

  it('normalizes directory URIs as pathlib does (./, //, trailing slashes) and resolves relative to the base', async () => {
    const r = await finalizeManifest(
      'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:./tree//sub/"]',
      new HostFileSource(dir),
    );
    assert.deepEqual(
      r.trustedFiles.map((t) => t.uri),
      ['file:tree/sub/deeper/y', 'file:tree/sub/x'],
    );
    const abs = await finalizeManifest(
      `loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:${dir}/tree/sub/deeper/"]`,
      new HostFileSource('/'),
    ).catch((e: Error) => e);
    assert.ok(
      abs instanceof Error && /libsysdb\.so' does not exist/.test(abs.message),
      'relative to the base, not the cwd',
    );
  });

  it(
    'bounds the trusted files read, refusing a file that would go over before reading it (review L5)',
    { timeout: 20_000 },
    async () => {
      // A sparse file of 64 GiB costs nothing to make: without the bound it would be hashed whole.
      const sparse = path.join(dir, 'sparse.bin');
      await fs.writeFile(sparse, '');
      await fs.truncate(sparse, 64 * 2 ** 30);
      try {
        const started = Date.now();
        await assert.rejects(
          finalizeManifest(
            'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:sparse.bin"]',
            new HostFileSource(dir),
          ),
          { code: 'ERR_GRAMINE_MEASUREMENT_LIMIT', message: /sparse\.bin \(64 GiB\).*32 GiB.*'trusted files'/ },
        );
        assert.ok(Date.now() - started < 5000, 'refused before it is read');
      } finally {
        await fs.rm(sparse);
      }
      // The files add up: each within the limit, the second one goes over.
      await assert.rejects(
        finalizeManifest(
          'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:tree/sub/"]',
          new HostFileSource(dir, 6),
        ),
        { code: 'ERR_GRAMINE_MEASUREMENT_LIMIT' },
      );
    },
  );

  it('refuses a FIFO named explicitly (Gramine would block reading it), and non-UTF-8 names', async () => {
    await assert.rejects(
      finalizeManifest(
        'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:tree/fifo"]',
        new HostFileSource(dir),
      ),
      { code: 'ERR_GRAMINE_FILE_TYPE' },
    );
    const bad = path.join(dir, 'bad');
    await fs.mkdir(bad);
    await fs.writeFile(Buffer.concat([Buffer.from(bad + '/'), Buffer.from([0x66, 0xff])]), 'x');
    await assert.rejects(
      finalizeManifest(
        'loader.entrypoint.uri = "file:libsysdb.so"\nsgx.trusted_files = ["file:bad/"]',
        new HostFileSource(dir),
      ),
      { code: 'ERR_GRAMINE_FILE_NAME' },
    );
  });
});

describe('enclave attributes and sizes', () => {
  it('parseSize reads what the signer’s parse_size reads (uppercase K/M/G, Python integer syntax)', () => {
    for (const [text, n] of [
      ['256M', 256 * 2 ** 20],
      ['1G', 2 ** 30],
      ['4G', 2 ** 32],
      ['1024G', 2 ** 40],
      ['64K', 65536],
      ['4096', 4096],
      ['0x1000K', 4096 * 1024],
      ['0o20M', 16 * 2 ** 20],
      ['0b1_0000G', 16 * 2 ** 30],
      ['1_024M', 2 ** 30],
    ] as const) {
      assert.equal(parseSize(text, 'k'), n, text);
    }
    for (const text of ['256m', '256 M', ' 256M', '-1M', '+1M', '', 'M', '1T', '01M', '1__0M', '0x', '1.5G', '١M']) {
      assert.throws(() => parseSize(text, 'sgx.enclave_size'), { code: 'ERR_GRAMINE_ENCLAVE_SIZE' }, text);
    }
  });

  it('refuses values Gramine could not use or we could not reproduce, naming the key', async () => {
    const src = new MemoryTestSource(LIBOS);
    for (const [line, code, key] of [
      ['sgx.enclave_size = "3G"', 'ERR_GRAMINE_ENCLAVE_SIZE', /power of two/],
      ['sgx.enclave_size = "0"', 'ERR_GRAMINE_ENCLAVE_SIZE', /power of two/],
      ['sgx.enclave_size = 268435456', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.enclave_size' must be a string/],
      ['sgx.enclave_size = "256mb"', 'ERR_GRAMINE_ENCLAVE_SIZE', /is not a size/],
      ['sgx.max_threads = 0', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.max_threads'/],
      // what measuring may cost is bounded (review L5): refused before any page is measured
      ['sgx.max_threads = 4097', 'ERR_GRAMINE_MEASUREMENT_LIMIT', /'sgx\.max_threads' = 4097 is more than the 4096/],
      ['sgx.enclave_size = "128G"', 'ERR_GRAMINE_MEASUREMENT_LIMIT', /"128G" without EDMM is more than the 64 GiB/],
      ['sgx.max_threads = true', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.max_threads'/],
      ['sgx.isvprodid = 65536', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.isvprodid' must be an integer from 0 to 65535/],
      ['sgx.isvsvn = -1', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.isvsvn'/],
      ['sgx.debug = "true"', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.debug' must be true or false/],
      ['sgx.edmm_enable = 1', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.edmm_enable'/],
      ['sgx.use_exinfo = "no"', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.use_exinfo'/],
      ['sgx.cpu_features.avx = "yes"', 'ERR_GRAMINE_CPU_FEATURE', /'sgx\.cpu_features\.avx' = "yes" is not allowed/],
      [
        'sgx.cpu_features.mpx = "unspecified"',
        'ERR_GRAMINE_CPU_FEATURE',
        /'sgx\.cpu_features\.mpx'.*"required" or "disabled"/,
      ],
      ['sgx.cpu_features.pkru = true', 'ERR_GRAMINE_CPU_FEATURE', /pkru/],
      ['sgx.cpu_features.avx2 = "required"', 'ERR_GRAMINE_CPU_FEATURE', /unknown option 'sgx\.cpu_features\.avx2'/],
      ['sgx.cpu_features = "all"', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.cpu_features' must be a table/],
      ['sgx.require_avx = true', 'ERR_GRAMINE_MANIFEST_UNSUPPORTED', /sgx\.require_avx/],
      ['sgx.require_exinfo = true', 'ERR_GRAMINE_MANIFEST_UNSUPPORTED', /sgx\.require_exinfo/],
      ['sgx.x = 1.5', 'ERR_GRAMINE_MANIFEST_VALUE', /'sgx\.x' is a float/],
    ] as const) {
      await assert.rejects(finalizeManifest(line, src), { code, message: key }, line);
    }
  });

  it('cpu_features set XFRM and its mask in Gramine’s order (avx512 "disabled" clears AVX too)', () => {
    const attrs = (features: string): { xfrm: bigint; xfrmMask: bigint } => {
      const { xfrm, xfrmMask } = readFinalManifest(Buffer.from(`[sgx.cpu_features]\n${features}`)).attributes;
      return { xfrm, xfrmMask };
    };
    assert.deepEqual(attrs('avx = "required"\navx512 = "disabled"'), { xfrm: 0x3n, xfrmMask: 0xfffffffffff9ffffn });
    assert.deepEqual(attrs('avx512 = "required"\namx = "required"\nmpx = "disabled"'), {
      xfrm: 0x600e7n,
      xfrmMask: 0xffffffffffffffffn,
    });
    assert.deepEqual(attrs('pkru = "required"'), { xfrm: 0x203n, xfrmMask: 0xfffffffffff9ff1bn });
  });
});
