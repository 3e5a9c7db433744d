// readPackage on packages assembled here (real formats, hand-made bytes): what it reports, and every way a
// package can be wrong.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { dockerArchive, rawTar, writeSparseTar, type RawEntry } from '../testing/rawtar.js';
import { readPackage } from './read.js';
import { deterministicTar, tarToBuffer } from './tar-write.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-readpkg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const TOML =
  'name = "demo"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\ntests_cmd = "pytest"\ntests_requirements = []\n';

async function codeTar(files: Record<string, string>): Promise<Buffer> {
  return tarToBuffer(
    deterministicTar(Object.entries(files).map(([p, t]) => ({ path: p, type: 'file' as const, data: Buffer.from(t) }))),
  );
}

let n = 0;
async function pkg(members: RawEntry[], options: { trailer?: Buffer } = {}): Promise<string> {
  const file = path.join(dir, `package_${n++}.tar`);
  writeFileSync(file, rawTar(members, options));
  return file;
}

async function goodMembers(
  over: Partial<Record<'app' | 'tests' | 'image' | 'toml', Buffer>> = {},
): Promise<RawEntry[]> {
  const layer = rawTar([{ name: 'etc/hostname', data: Buffer.from('x') }]);
  return [
    { name: 'app.tar', data: over.app ?? (await codeTar({ 'app.py': 'app = 1\n', 'pkg/util.py': 'x = 2\n' })) },
    { name: 'image.tar', data: over.image ?? dockerArchive([layer]).tar },
    { name: 'mse.toml', data: over.toml ?? Buffer.from(TOML) },
    { name: 'tests.tar', data: over.tests ?? (await codeTar({ 'test_app.py': 'def test(): pass\n' })) },
  ];
}

async function rejects(file: string, code: string, pattern?: RegExp, options = {}): Promise<void> {
  await assert.rejects(readPackage(file, undefined, options), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('readPackage', () => {
  it('lists code and test files with SHA-256, parses mse.toml, digests the image config without Docker', async () => {
    const layer = rawTar([{ name: 'bin/app', data: Buffer.from('binary') }]);
    const image = dockerArchive([layer], { repoTag: 'demo:123' });
    const file = await pkg(await goodMembers({ image: image.tar }));
    const p = await readPackage(file, undefined, { withData: true, hashMembers: true, verifyLayers: true });
    assert.equal(p.config.name, 'demo');
    assert.equal(p.config.pythonApplication, 'app:app');
    assert.deepEqual(
      p.appFiles.map((f) => [f.path, f.sha256, f.size, f.data?.toString()]),
      [
        ['app.py', sha('app = 1\n'), 8, 'app = 1\n'],
        ['pkg/util.py', sha('x = 2\n'), 6, 'x = 2\n'],
      ],
    );
    assert.deepEqual(
      p.testFiles.map((f) => f.path),
      ['test_app.py'],
    );
    assert.equal(p.imageConfigDigest, image.configDigest);
    assert.equal(p.imageConfigDigest, `sha256:${sha(image.config)}`);
    assert.deepEqual(p.image.repoTags, ['demo:123']);
    assert.equal(p.image.layersVerified, true);
    assert.equal(p.encrypted, false);
    assert.equal(p.members['image.tar'].sha256, sha(image.tar));
    assert.equal(p.members['mse.toml'].size, TOML.length);
  });

  it('follows in-archive layer links (docker save writes them for repeated layers), never outside', async () => {
    const layer = rawTar([{ name: 'x', data: Buffer.from('1') }]);
    const diff = `sha256:${sha(layer)}`;
    const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [diff, diff] } }));
    const manifest = Buffer.from(
      JSON.stringify([
        { Config: `${sha(config)}.json`, RepoTags: ['x:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] },
      ]),
    );
    const image = (target: string): Buffer =>
      rawTar([
        { name: 'aaa/layer.tar', data: layer },
        { name: 'bbb/layer.tar', type: '2', linkname: target },
        { name: `${sha(config)}.json`, data: config },
        { name: 'manifest.json', data: manifest },
      ]);
    const p = await readPackage(await pkg(await goodMembers({ image: image('../aaa/layer.tar') })), undefined, {
      verifyLayers: true,
    });
    assert.deepEqual(p.image.layers, ['aaa/layer.tar', 'aaa/layer.tar']);
    assert.equal(p.imageConfigDigest, `sha256:${sha(config)}`);
    await rejects(await pkg(await goodMembers({ image: image('../../../etc/passwd') })), 'ERR_PACKAGE_LINK', /outside/);
    await rejects(await pkg(await goodMembers({ image: image('/etc/passwd') })), 'ERR_PACKAGE_LINK', /outside/);
  });

  it('refuses any image.tar link that does not resolve inside it, even one manifest.json does not name', async () => {
    const layer = rawTar([{ name: 'x', data: Buffer.from('1') }]);
    const withExtra = (extra: RawEntry[]): Buffer => dockerArchive([layer], { extra }).tar;
    // Accepted: links that resolve to entries of the archive (docker save writes these for shared layers).
    await readPackage(
      await pkg(
        await goodMembers({
          image: withExtra([
            { name: 'shared/', type: '5' },
            { name: 'shared/layer.tar', type: '2', linkname: '../manifest-copy.json' },
            { name: 'manifest-copy.json', data: Buffer.from('[]') },
            { name: 'hard.json', type: '1', linkname: 'manifest-copy.json' },
            { name: 'chain', type: '2', linkname: 'shared/layer.tar' },
          ]),
        }),
      ),
    );
    const refused: [string, RawEntry, RegExp][] = [
      ['a relative escape', { name: 'extra/layer.tar', type: '2', linkname: '../../../etc/shadow' }, /outside/],
      ['an absolute target', { name: 'extra.tar', type: '2', linkname: '/etc/shadow' }, /outside/],
      ['a hard link to a host path', { name: 'hard', type: '1', linkname: '/etc/shadow' }, /outside/],
      ['a hard link escaping', { name: 'hard', type: '1', linkname: '../outside' }, /outside/],
      ['a dangling target', { name: 'dangling', type: '2', linkname: 'not-in-the-archive' }, /not in the archive/],
      ['a link to the archive root', { name: 'root', type: '2', linkname: '.' }, /outside/],
    ];
    for (const [what, entry, message] of refused) {
      await rejects(await pkg(await goodMembers({ image: withExtra([entry]) })), 'ERR_PACKAGE_LINK', message).catch(
        (error: Error) => assert.fail(`${what}: ${error.message}`),
      );
    }
    const loop = withExtra([
      { name: 'a', type: '2', linkname: 'b' },
      { name: 'b', type: '2', linkname: 'a' },
    ]);
    await rejects(await pkg(await goodMembers({ image: loop })), 'ERR_PACKAGE_LINK', /more than 16 links/);
  });

  it('extracts the four members atomically into a new directory', async () => {
    const file = await pkg(await goodMembers());
    const dest = path.join(dir, 'extracted');
    const p = await readPackage(file, dest, { hashMembers: true });
    assert.equal(p.dir, dest);
    assert.deepEqual(readdirSync(dest).sort(), ['app.tar', 'image.tar', 'mse.toml', 'tests.tar']);
    assert.equal(readFileSync(path.join(dest, 'mse.toml'), 'utf8'), TOML);
    assert.equal(p.members['app.tar'].sha256, sha(readFileSync(path.join(dest, 'app.tar'))));
    await assert.rejects(readPackage(file, dest), { code: 'ERR_OUTPUT_EXISTS' });

    // A bad package leaves no directory, not even a partial one.
    const bad = await pkg((await goodMembers()).slice(0, 3));
    const dest2 = path.join(dir, 'never');
    await assert.rejects(readPackage(bad, dest2), { code: 'ERR_PACKAGE_MISSING_MEMBER' });
    assert.equal(existsSync(dest2), false);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('partial')),
      [],
    );
  });

  it('requires all four members, each once, and nothing else', async () => {
    const good = await goodMembers();
    for (const name of ['app.tar', 'image.tar', 'mse.toml', 'tests.tar']) {
      const file = await pkg(good.filter((m) => m.name !== name));
      await rejects(file, 'ERR_PACKAGE_MISSING_MEMBER', new RegExp(`'${name.replace('.', '\\.')}' was not found`));
    }
    await rejects(
      await pkg([...good, { name: 'evil.sh', data: Buffer.from('x') }]),
      'ERR_PACKAGE_UNEXPECTED_MEMBER',
      /evil\.sh/,
    );
    await rejects(await pkg([...good, good[0]!]), 'ERR_PACKAGE_DUPLICATE_ENTRY', /app\.tar/);
    await rejects(
      await pkg([{ name: 'mse.toml', type: '2', linkname: '/etc/passwd' }, ...good.slice(0, 3)]),
      'ERR_PACKAGE_LINK',
    );
  });

  it('bounds member sizes and names the member', async () => {
    const file = await pkg(await goodMembers());
    await rejects(
      file,
      'ERR_PACKAGE_MEMBER_TOO_LARGE',
      /app\.tar is [0-9.]+ KiB \(\d+ bytes\), more than the 100 bytes allowed/,
      { limits: { maxAppTarBytes: 100 } },
    );
    await rejects(file, 'ERR_PACKAGE_MEMBER_TOO_LARGE', /mse\.toml/, { limits: { maxConfigBytes: 10 } });
    await rejects(file, 'ERR_PACKAGE_TOO_MANY_ENTRIES', /app\.tar in/, { limits: { maxFiles: 1 } });
  });

  it('by default bounds app.tar by the 512 MiB the enclave accepts, naming the limit', async () => {
    const file = path.join(dir, `package_${n++}.tar`);
    const good = await goodMembers();
    const appSize = 512 * 2 ** 20 + 512;
    writeSparseTar(file, [
      { name: 'app.tar', size: appSize },
      ...good.slice(1).map((m) => ({ name: m.name, size: m.data!.length, head: m.data! })),
    ]);
    await rejects(
      file,
      'ERR_PACKAGE_MEMBER_TOO_LARGE',
      /app\.tar is 512\.0 MiB \(536871424 bytes\), more than the 512 MiB/,
    );
  });

  it('rejects unsafe code and tests archives, naming the member and the entry', async () => {
    const traversal = rawTar([{ name: '../../etc/cron.d/x', data: Buffer.from('x') }]);
    await rejects(
      await pkg(await goodMembers({ app: traversal })),
      'ERR_PACKAGE_UNSAFE_PATH',
      /^app\.tar in package_\d+\.tar: entry/,
    );
    const link = rawTar([{ name: 'conftest.py', type: '2', linkname: '/root/.ssh/id_rsa' }]);
    await rejects(await pkg(await goodMembers({ tests: link })), 'ERR_PACKAGE_LINK', /tests\.tar/);
    const dev = rawTar([{ name: 'zero', type: '3' }]);
    await rejects(await pkg(await goodMembers({ app: dev })), 'ERR_PACKAGE_SPECIAL_ENTRY');
    const dup = rawTar([
      { name: 'app.py', data: Buffer.from('a') },
      { name: 'app.py', data: Buffer.from('b') },
    ]);
    await rejects(await pkg(await goodMembers({ app: dup })), 'ERR_PACKAGE_DUPLICATE_ENTRY');
    const conflict = rawTar([
      { name: 'a', data: Buffer.from('a') },
      { name: 'a/b', data: Buffer.from('b') },
    ]);
    await rejects(await pkg(await goodMembers({ app: conflict })), 'ERR_PACKAGE_PATH_CONFLICT');
    const trailing = rawTar([{ name: 'a', data: Buffer.from('a') }], {
      trailer: rawTar([{ name: 'b', data: Buffer.from('b') }]),
    });
    await rejects(await pkg(await goodMembers({ app: trailing })), 'ERR_PACKAGE_TRAILING_DATA', /app\.tar/);
  });

  it('rejects a package with data hidden after its end marker', async () => {
    const hidden = rawTar([{ name: 'app.tar', data: Buffer.from('other') }]);
    await rejects(await pkg(await goodMembers(), { trailer: hidden }), 'ERR_PACKAGE_TRAILING_DATA');
  });

  it('rejects images whose manifest or config cannot be trusted', async () => {
    const layer = rawTar([{ name: 'x', data: Buffer.from('1') }]);
    const noManifest = rawTar([{ name: 'a.json', data: Buffer.from('{}') }]);
    await rejects(await pkg(await goodMembers({ image: noManifest })), 'ERR_PACKAGE_IMAGE_MANIFEST', /manifest\.json/);
    const renamed = dockerArchive([layer], { configName: `${'0'.repeat(64)}.json` });
    await rejects(await pkg(await goodMembers({ image: renamed.tar })), 'ERR_PACKAGE_IMAGE_CONFIG', /does not hash/);
    const wrongDiff = dockerArchive([layer], {
      config: { rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] } },
    });
    await readPackage(await pkg(await goodMembers({ image: wrongDiff.tar }))); // layers not checked by default
    await rejects(await pkg(await goodMembers({ image: wrongDiff.tar })), 'ERR_PACKAGE_IMAGE_LAYER', /layer 1/, {
      verifyLayers: true,
    });
    const two = dockerArchive([layer], { config: { rootfs: { type: 'layers', diff_ids: [] } } });
    await rejects(
      await pkg(await goodMembers({ image: two.tar })),
      'ERR_PACKAGE_IMAGE_CONFIG',
      /1 layers listed for 0/,
    );
    const multi = rawTar([{ name: 'manifest.json', data: Buffer.from('[{},{}]') }]);
    await rejects(await pkg(await goodMembers({ image: multi })), 'ERR_PACKAGE_IMAGE_MANIFEST', /exactly one image/);
    const dev = rawTar([{ name: 'dev/null', type: '3' }]);
    await rejects(await pkg(await goodMembers({ image: dev })), 'ERR_PACKAGE_SPECIAL_ENTRY', /image\.tar/);
  });

  it('rejects a bad mse.toml inside the package with the config parser’s error', async () => {
    await rejects(
      await pkg(await goodMembers({ toml: Buffer.from('name = ') })),
      'ERR_CONFIG_SYNTAX',
      /mse\.toml in package_/,
    );
    await rejects(await pkg(await goodMembers({ toml: Buffer.from([0xff, 0xfe]) })), 'ERR_PACKAGE_CONFIG_ENCODING');
  });

  it('says what is wrong with the file itself', async () => {
    await assert.rejects(readPackage(path.join(dir, 'nope.tar')), { code: 'ERR_FILE_NOT_FOUND' });
    await assert.rejects(readPackage(dir), { code: 'ERR_FILE_IS_DIRECTORY' });
    const gz = path.join(dir, 'x.tar.gz');
    writeFileSync(gz, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(2000, 7)]));
    await assert.rejects(readPackage(gz), { code: 'ERR_PACKAGE_CORRUPT' });
  });
});
