import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateX25519KeyPair, sealBox } from '../crypto/sealedbox.js';
import { secretboxSeal } from '../crypto/secretbox.js';
import type { AppArchive } from './app-code.js';
import {
  ConfigurationRejected,
  MAX_CONFIG_BODY,
  applyConfiguration,
  jsonObjectMembers,
  validateConfiguration,
  type ConfigurationContext,
} from './configuration.js';
import { enclavePaths } from './paths.js';

const plainArchive: AppArchive = {
  plain: [
    { path: 'app.py', type: 'file', data: Buffer.from('app = None\n') },
    { path: 'static', type: 'directory', data: new Uint8Array(0) },
    { path: 'static/a.txt', type: 'file', data: Buffer.from('a') },
  ],
  encrypted: [],
};

describe('validateConfiguration', () => {
  let ctx: ConfigurationContext;
  const id = randomUUID();
  before(async () => {
    ctx = { expectedUuid: id, x25519: await generateX25519KeyPair(), archive: plainArchive };
  });
  const body = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
  const seal = async (v: unknown, pk = ctx.x25519.publicKey): Promise<string> =>
    Buffer.from(await sealBox(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), pk)).toString('base64url');

  async function rejects(input: Uint8Array, status: number, code: string, c = ctx): Promise<void> {
    await assert.rejects(validateConfiguration(input, c), (e: unknown) => {
      assert.ok(e instanceof ConfigurationRejected, String(e));
      assert.equal(e.status, status, e.message);
      assert.equal(e.code, code);
      return true;
    });
  }

  it('accepts MSE requests and re-serializes the secrets', async () => {
    const sealedSecrets = { result_sk: 'abc', n: [1, 2] };
    const r = await validateConfiguration(
      body({ uuid: id.toUpperCase(), app_secrets: { a: 'b' }, app_sealed_secrets: await seal(sealedSecrets) }),
      ctx,
    );
    assert.equal(r.appSecrets, '{"a":"b"}');
    assert.deepEqual(JSON.parse(r.sealedSecrets!), sealedSecrets);
    assert.equal(r.codeKeySource, undefined);
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['app.py', 'static', 'static/a.txt'],
    );
    // nulls count as absent; a uuid alone is a valid (secret-less) configuration
    const bare = await validateConfiguration(body({ uuid: id, app_secrets: null, code_secret_key: null }), ctx);
    assert.equal(bare.appSecrets, undefined);
    assert.equal(bare.sealedSecrets, undefined);
    // any JSON value is a valid app_secrets
    assert.equal((await validateConfiguration(body({ uuid: id, app_secrets: 'x' }), ctx)).appSecrets, '"x"');
  });

  it('keeps the secrets exactly as sent (big integers, spelling) and refuses duplicated fields', async () => {
    const text = `{ "uuid" : "${id}", "app_secrets" : {"n": 12345678901234567890123, "f": 1.50, "s": "\\u00e9"} }`;
    const r = await validateConfiguration(Buffer.from(text), ctx);
    assert.equal(r.appSecrets, '{"n": 12345678901234567890123, "f": 1.50, "s": "\\u00e9"}');
    const sealedText = '{"big": 9007199254740993}';
    const s = await validateConfiguration(body({ uuid: id, app_sealed_secrets: await seal(sealedText) }), ctx);
    assert.equal(s.sealedSecrets, sealedText);
    await rejects(Buffer.from(`{"uuid":"${id}","app_secrets":1,"app_secrets":2}`), 400, 'ERR_CONFIG_DUPLICATE_FIELD');
    await rejects(Buffer.from(`{"uuid":"${randomUUID()}","uuid":"${id}"}`), 400, 'ERR_CONFIG_DUPLICATE_FIELD');
  });

  it('checks the uuid before anything else', async () => {
    await rejects(body({ uuid: randomUUID(), app_sealed_secrets: '!!' }), 401, 'ERR_CONFIG_UUID');
    await rejects(body({ app_secrets: {} }), 401, 'ERR_CONFIG_UUID');
    await rejects(body({ uuid: 42 }), 401, 'ERR_CONFIG_UUID');
    await rejects(body({ uuid: randomUUID(), surprise: 1 }), 401, 'ERR_CONFIG_UUID');
  });

  it('refuses malformed bodies and fields', async () => {
    await rejects(Buffer.from('{"uuid":'), 400, 'ERR_CONFIG_JSON');
    await rejects(Buffer.from([0x7b, 0xff, 0x7d]), 400, 'ERR_CONFIG_JSON');
    await rejects(body([id]), 400, 'ERR_CONFIG_JSON');
    await rejects(body(null), 400, 'ERR_CONFIG_JSON');
    await rejects(new Uint8Array(MAX_CONFIG_BODY + 1), 413, 'ERR_CONFIG_TOO_LARGE');
    await rejects(body({ uuid: id, extra: true }), 400, 'ERR_CONFIG_UNKNOWN_FIELD');
    await rejects(body({ uuid: id, ssl_private_key: 'pem' }), 400, 'ERR_CONFIG_UNSUPPORTED');
    for (const key of ['00', 'zz'.repeat(32), 'a'.repeat(63), 'a'.repeat(65), 12]) {
      await rejects(body({ uuid: id, code_secret_key: key }), 400, 'ERR_CONFIG_CODE_KEY');
    }
  });

  it('refuses sealed secrets that are not canonical base64url, do not open, or are not JSON', async () => {
    const good = await seal({ a: 1 });
    await rejects(body({ uuid: id, app_sealed_secrets: good + '=' }), 400, 'ERR_CONFIG_SEALED_ENCODING');
    await rejects(
      body({ uuid: id, app_sealed_secrets: Buffer.from(good, 'base64url').toString('base64') + 'x' }),
      400,
      'ERR_CONFIG_SEALED_ENCODING',
    );
    await rejects(body({ uuid: id, app_sealed_secrets: 7 }), 400, 'ERR_CONFIG_SEALED_ENCODING');
    await rejects(body({ uuid: id, app_sealed_secrets: good.slice(0, -2) }), 400, 'ERR_CONFIG_SEALED_OPEN');
    const other = await generateX25519KeyPair();
    await rejects(
      body({ uuid: id, app_sealed_secrets: await seal({ a: 1 }, other.publicKey) }),
      400,
      'ERR_CONFIG_SEALED_OPEN',
    );
    await rejects(body({ uuid: id, app_sealed_secrets: await seal('not json') }), 400, 'ERR_CONFIG_SEALED_JSON');
    await rejects(
      body({ uuid: id, app_sealed_secrets: await seal({ code_secret_key: 'short' }) }),
      400,
      'ERR_CONFIG_CODE_KEY',
    );
  });

  it('requires a code key that opens every encrypted file, from the field or the sealed secrets', async () => {
    const key = randomBytes(32);
    const archive: AppArchive = {
      plain: [{ path: 'requirements.txt', type: 'file', data: Buffer.from('flask\n') }],
      encrypted: [
        { path: 'app.py', data: await secretboxSeal(Buffer.from('print(1)\n'), key) },
        { path: 'lib/util.py', data: await secretboxSeal(Buffer.from('x = 2\n'), key) },
      ],
    };
    const enc = { ...ctx, archive };
    await rejects(body({ uuid: id }), 400, 'ERR_CODE_KEY_REQUIRED', enc);
    await rejects(body({ uuid: id, code_secret_key: randomBytes(32).toString('hex') }), 400, 'ERR_CODE_KEY_WRONG', enc);
    // one file encrypted with another key: refused as a whole
    const mixed: AppArchive = {
      ...archive,
      encrypted: [...archive.encrypted, { path: 'z.py', data: await secretboxSeal(Buffer.from('1'), randomBytes(32)) }],
    };
    await rejects(body({ uuid: id, code_secret_key: key.toString('hex') }), 400, 'ERR_CODE_KEY_WRONG', {
      ...ctx,
      archive: mixed,
    });

    const viaField = await validateConfiguration(
      body({ uuid: id, code_secret_key: key.toString('hex').toUpperCase() }),
      enc,
    );
    assert.equal(viaField.codeKeySource, 'code_secret_key');
    assert.deepEqual(
      viaField.files.map((f) => [f.path, Buffer.from(f.data).toString()]),
      [
        ['requirements.txt', 'flask\n'],
        ['app.py', 'print(1)\n'],
        ['lib/util.py', 'x = 2\n'],
      ],
    );
    const viaSealed = await validateConfiguration(
      body({ uuid: id, app_sealed_secrets: await seal({ code_secret_key: key.toString('hex') }) }),
      enc,
    );
    assert.equal(viaSealed.codeKeySource, 'app_sealed_secrets');
    // the field wins over the sealed key, as in MSE
    const both = await validateConfiguration(
      body({
        uuid: id,
        code_secret_key: key.toString('hex'),
        app_sealed_secrets: await seal({ code_secret_key: randomBytes(32).toString('hex') }),
      }),
      enc,
    );
    assert.equal(both.codeKeySource, 'code_secret_key');
  });
});

describe('jsonObjectMembers', () => {
  it('returns the source text of each member', () => {
    const text = ' {"a":[1,{"b":"}]"}] , "c\\"d" : "x\\"}" ,"e":-1.5e3,"f":true,"g":null, "h":{}}\n';
    assert.deepEqual(
      [...jsonObjectMembers(text)],
      [
        ['a', '[1,{"b":"}]"}]'],
        ['c"d', '"x\\"}"'],
        ['e', '-1.5e3'],
        ['f', 'true'],
        ['g', 'null'],
        ['h', '{}'],
      ],
    );
    assert.deepEqual([...jsonObjectMembers('{}')], []);
  });

  it('agrees with JSON.parse on generated objects', () => {
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const value = (depth: number): unknown => {
      switch (depth > 3 ? rnd(4) : rnd(6)) {
        case 0:
          return rnd(1000) - 500 + rnd(100) / 7;
        case 1:
          return ['', 'a"b', '}]{[', '\\', 'é\n', '\u2028'][rnd(6)];
        case 2:
          return [true, false, null][rnd(3)];
        case 3:
          return -rnd(10);
        case 4:
          return Array.from({ length: rnd(4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: rnd(4) }, (_, k) => [`k${k}"}`, value(depth + 1)]));
      }
    };
    for (let n = 0; n < 40; n++) {
      const obj = Object.fromEntries(Array.from({ length: 1 + rnd(5) }, (_, k) => [`m${k}`, value(0)]));
      const text = JSON.stringify(obj, null, n % 3);
      const members = jsonObjectMembers(text);
      assert.deepEqual([...members.keys()], Object.keys(obj));
      for (const [k, raw] of members) assert.deepEqual(JSON.parse(raw), obj[k], text);
    }
  });
});

describe('applyConfiguration', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'enclave-apply-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes secrets 0600, the code, then the configured marker; a failure leaves no secrets and no marker', async () => {
    const paths = enclavePaths(path.join(root, 'a'));
    mkdirSync(paths.keyDir, { recursive: true }); // the enclave's identity exists before any configuration
    await applyConfiguration({ appSecrets: '{"a":1}', sealedSecrets: '[1]', files: plainArchive.plain }, paths);
    assert.equal(readFileSync(paths.secretsFile, 'utf8'), '{"a":1}');
    assert.equal(readFileSync(paths.sealedSecretsFile, 'utf8'), '[1]');
    assert.equal(statSync(paths.secretsFile).mode & 0o777, 0o600);
    assert.equal(statSync(paths.secretsDir).mode & 0o777, 0o700);
    assert.equal(readFileSync(path.join(paths.appDir, 'static', 'a.txt'), 'utf8'), 'a');
    assert.equal(statSync(path.join(paths.appDir, 'app.py')).mode & 0o777, 0o600);
    assert.equal(statSync(paths.appDir).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(paths.configured, 'utf8')), { files: 2 });
    assert.equal(statSync(paths.configured).mode & 0o777, 0o600);

    // /mse-app cannot be written (here a file stands there): the secrets written are removed, no marker
    const blocked = enclavePaths(path.join(root, 'b'));
    mkdirSync(blocked.keyDir, { recursive: true });
    writeFileSync(blocked.appDir, 'not a directory');
    await assert.rejects(applyConfiguration({ appSecrets: '{"b":2}', files: plainArchive.plain }, blocked));
    assert.equal(existsSync(blocked.secretsFile), false);
    assert.equal(existsSync(blocked.sealedSecretsFile), false);
    assert.equal(existsSync(blocked.configured), false);
  });

  it('installs into an existing /mse-app (an sgx mount point), removing what an interrupted configuration left', async () => {
    const paths = enclavePaths(path.join(root, 'c'));
    mkdirSync(paths.keyDir, { recursive: true });
    mkdirSync(path.join(paths.appDir, 'stale', 'deep'), { recursive: true });
    writeFileSync(path.join(paths.appDir, 'stale', 'deep', 'x.py'), 'left over');
    writeFileSync(path.join(paths.appDir, 'app.py'), 'half-written');
    await applyConfiguration({ files: plainArchive.plain }, paths);
    assert.deepEqual(readdirSync(paths.appDir).sort(), ['app.py', 'static']);
    assert.equal(readFileSync(path.join(paths.appDir, 'app.py'), 'utf8'), 'app = None\n');
    assert.ok(existsSync(paths.configured));
  });
});
