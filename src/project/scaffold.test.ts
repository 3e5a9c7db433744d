// The scaffolded project, for real: its app served by Debian's Python (uvicorn, WSGI, over TLS), its own
// pytest suite run against it, and both secret endpoints decrypted by `mse home decrypt`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../docker/localtest.js';
import { runMse } from '../testing/cli.js';
import { selfSignedCertificate } from '../testing/tls.js';
import { DEBIAN_PYTHON } from '../testing/vectors.js';
import { parseMseConfig } from './config.js';
import { freshSecrets, planScaffold, readTemplates } from './scaffold.js';

async function waitHealthy(url: string, ca: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = spawnSync('curl', ['-sf', '--cacert', ca, url], { encoding: 'utf8' });
    if (r.status === 0) return;
    if (Date.now() > deadline) throw new Error(`app did not answer at ${url}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('scaffold plan (pure)', () => {
  it('renders every template, names .mseignore, keeps secrets private, gives a valid mse.toml', async () => {
    const files = planScaffold('my_app', await readTemplates(), freshSecrets());
    assert.deepEqual(
      files.map((f) => f.path),
      [
        '.dockerignore',
        'Dockerfile',
        'mse.toml',
        'mse_src/.mseignore',
        'mse_src/app.py',
        'README.md',
        'secrets.json',
        'secrets_to_seal.json',
        'tests/conftest.py',
        'tests/test_app.py',
      ].sort((a, b) => a.localeCompare(b)),
    );
    for (const f of files) assert.doesNotMatch(f.content, /\{\{\w+\}\}/, `${f.path} has an unrendered variable`);
    assert.equal(files.find((f) => f.path === 'secrets.json')!.mode, 0o600);
    assert.equal(files.find((f) => f.path === 'secrets_to_seal.json')!.mode, 0o600);
    assert.equal(parseMseConfig(files.find((f) => f.path === 'mse.toml')!.content).config.name, 'my_app');
    assert.match(files.find((f) => f.path === 'Dockerfile')!.content, /^FROM mse-home-base:\d+\.\d+\.\d+$/m);
  });

  it('draws fresh keys every time', () => {
    assert.notDeepEqual(freshSecrets(), freshSecrets());
  });

  it('rejects names that are not safe file/image names', async () => {
    for (const bad of ['', '../x', '-x', 'a b', 'x/y']) {
      assert.throws(() => planScaffold(bad, new Map(), freshSecrets()), { code: 'ERR_PROJECT_NAME' });
    }
  });
});

describe('scaffolded app served by Debian Python over TLS, tested by its own suite', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let url: string;
  let cert: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mse-scaffold-'));
    const r = await runMse(['home', 'scaffold', path.join(dir, 'demo')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(path.join(dir, 'demo', 'secrets.json')).mode & 0o777, 0o600);
    const tls = selfSignedCertificate(dir, 'DNS:localhost');
    cert = tls.cert;
    const key = tls.key;
    const port = await freeLoopbackPort();
    url = `https://localhost:${port}`;
    server = spawn(
      DEBIAN_PYTHON,
      [
        '-m',
        'uvicorn',
        '--interface',
        'wsgi',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--ssl-certfile',
        cert,
        '--ssl-keyfile',
        key,
        '--app-dir',
        path.join(dir, 'demo', 'mse_src'),
        'app:app',
      ],
      {
        env: {
          PATH: process.env.PATH,
          SECRETS_PATH: path.join(dir, 'demo', 'secrets.json'),
          SEALED_SECRETS_PATH: path.join(dir, 'demo', 'secrets_to_seal.json'),
        },
        stdio: 'ignore',
      },
    );
    await waitHealthy(`${url}/health`, cert);
  });

  after(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes the scaffold's pytest suite, secret tests included", () => {
    const r = spawnSync(DEBIAN_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], {
      cwd: path.join(dir, 'demo', 'tests'),
      env: {
        PATH: process.env.PATH,
        TEST_REMOTE_URL: url,
        TEST_CA_BUNDLE: cert,
        TEST_SECRET_JSON: path.join(dir, 'demo', 'secrets.json'),
        TEST_SEALED_SECRET_JSON: path.join(dir, 'demo', 'secrets_to_seal.json'),
      },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /4 passed/);
  });

  it('refuses https without a CA bundle rather than disabling verification', () => {
    const r = spawnSync(DEBIAN_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-k', 'hello'], {
      cwd: path.join(dir, 'demo', 'tests'),
      env: { PATH: process.env.PATH, TEST_REMOTE_URL: url },
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /TEST_CA_BUNDLE/);
  });

  it('skips only the secret tests when no secrets are given', () => {
    const r = spawnSync(DEBIAN_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rs'], {
      cwd: path.join(dir, 'demo', 'tests'),
      env: { PATH: process.env.PATH, TEST_REMOTE_URL: url, TEST_CA_BUNDLE: cert },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /2 passed, 2 skipped/);
  });

  it('both secret endpoints decrypt with `mse home decrypt`', async () => {
    const secrets = JSON.parse(readFileSync(path.join(dir, 'demo', 'secrets.json'), 'utf8')) as { aes_key: string };
    const sealed = JSON.parse(readFileSync(path.join(dir, 'demo', 'secrets_to_seal.json'), 'utf8')) as {
      result_sk: string;
    };
    const aesFile = path.join(dir, 'result.bin');
    const fernetFile = path.join(dir, 'result.fernet');
    assert.equal(spawnSync('curl', ['-sf', '--cacert', cert, '-o', aesFile, `${url}/result/secrets`]).status, 0);
    assert.equal(
      spawnSync('curl', ['-sf', '--cacert', cert, '-o', fernetFile, `${url}/result/sealed_secrets`]).status,
      0,
    );

    const aes = await runMse(['home', 'decrypt', '--aes', secrets.aes_key, '--output', '-', aesFile]);
    assert.equal(aes.code, 0, aes.stderr);
    assert.equal(aes.stdout, 'message encrypted with the AES key from SECRETS');

    const keyFile = path.join(dir, 'result_sk.key');
    writeFileSync(keyFile, sealed.result_sk + '\n');
    const out = path.join(dir, 'plain.txt');
    const fer = await runMse(['home', 'decrypt', '--key', keyFile, '--input', fernetFile, '--output', out]);
    assert.equal(fer.code, 0, fer.stderr);
    assert.equal(readFileSync(out, 'utf8'), 'message encrypted with result_sk from SEALED_SECRETS');
    assert.equal(statSync(out).mode & 0o777, 0o600);
  });
});
