// The enclave bootstrap as a real process, started by the real launcher (base-image/mse-run, its absolute
// paths relocated to this host: the bundled dist/enclave/bootstrap.mjs run by Node, set MSE_TEST_NODE to
// run it with another Node, e.g. Debian's 18; the base image's mse-serve run by Debian's Python), the real
// sim quoting service on a Unix socket, a real TLS client pinned to the RA-TLS certificate, and Debian's
// Python serving Flask/FastAPI.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sealBox } from '../crypto/sealedbox.js';
import { checkRatlsBinding, readRatlsCertificate } from '../ratls/index.js';
import { loadOrCreateSimPlatform, startQuotingService, type QuotingService } from '../sim/index.js';
import { writeSparseTar } from '../testing/rawtar.js';
import { DEBIAN_PYTHON, REPO_ROOT } from '../testing/vectors.js';
import { serializeArgvFile } from '../launch/args.js';
import { LAUNCHER_ARGV } from '../launch/layout.js';
import { enclavePaths } from './paths.js';

const BUNDLE = path.join(REPO_ROOT, 'dist', 'enclave', 'bootstrap.mjs');
const TESTDATA = path.join(REPO_ROOT, 'src', 'enclave', 'testdata');
const NODE = process.env.MSE_TEST_NODE || process.execPath;
const LAUNCHER = path.join(REPO_ROOT, 'base-image', 'mse-run');
const MSE_SERVE = path.join(REPO_ROOT, 'base-image', 'mse-serve');

/**
 * The real launcher with its absolute in-container paths moved to this host's (each must occur exactly
 * once, so a launcher that changes them fails here): Node and the bundle, Python and mse-serve, the launch
 * file under the enclave root `root`. Written next to the root; returns its path.
 */
function relocatedLauncher(root: string): string {
  let text = readFileSync(LAUNCHER, 'utf8');
  for (const [from, to] of [
    ['/usr/bin/node /opt/mse/bootstrap.mjs', `'${NODE}' '${BUNDLE}'`],
    ['[ ! -f /opt/mse/bootstrap.mjs ]', `[ ! -f '${BUNDLE}' ]`],
    ['exec /usr/bin/python3 /usr/local/bin/mse-serve', `exec '${DEBIAN_PYTHON}' '${MSE_SERVE}'`],
    ['--launch /key/serve.json', `--launch '${enclavePaths(root).launchFile}'`],
  ]) {
    assert.equal(text.split(from!).length, 2, `the launcher says ${from} once`);
    text = text.replace(from!, to!);
  }
  const file = `${root}.mse-run`;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o755 });
  return file;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Enclave {
  child: ChildProcess;
  output: string[];
  exit: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

function startEnclave(
  root: string,
  port: number,
  id: string,
  socket: string,
  application = 'app:app',
  extra: string[] = [],
  how: 'argv-file' | 'argv' = 'argv',
): Enclave {
  const vector = [
    '--size',
    '4096M',
    '--subject',
    'CN=localhost,O=Test Co,C=FR',
    '--san',
    'localhost',
    '--id',
    id,
    '--application',
    application,
    '--expiration',
    String(Math.floor(Date.now() / 1000) + 86_400),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    ...extra,
  ];
  // sim's way: the arguments (with the UUID) in a 0600 args file, only its path on the command line;
  // Gramine's way (sgx): the arguments themselves, as the launcher's argv
  let args = vector;
  if (how === 'argv-file') {
    const file = path.join(enclavePaths(root).enclaveDir, 'args');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, serializeArgvFile([...LAUNCHER_ARGV, ...vector]), { mode: 0o600 });
    args = ['--argv-file', file];
  }
  const child = spawn('/bin/sh', [relocatedLauncher(root), ...args], {
    env: { ...process.env, MSE_ENCLAVE_ROOT: root, MSE_SIM_QUOTE_SOCKET: socket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      output.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output,
    exit,
    waitFor(pattern, timeoutMs = 20_000) {
      if (output.some((l) => pattern.test(l))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timeout waiting for ${pattern}; output:\n${output.join('\n')}`)),
          timeoutMs,
        );
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ pattern, resolve: done });
        void exit.then((code) => {
          clearTimeout(timer);
          reject(new Error(`enclave exited (${code}) while waiting for ${pattern}; output:\n${output.join('\n')}`));
        });
      });
    },
  };
}

async function stopEnclave(e: Enclave): Promise<number | null> {
  if (e.child.exitCode === null && e.child.signalCode === null) e.child.kill('SIGTERM');
  return e.exit;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peerFingerprint: string;
}

/** One HTTPS request to the enclave, trusting only `certPem` and checking the SAN `localhost`. */
function request(
  port: number,
  certPem: string,
  method: string,
  urlPath: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path: urlPath, ca: certPem, servername: 'localhost', agent: false, headers },
      (res) => {
        const chunks: Buffer[] = [];
        const peer =
          res.socket && 'getPeerX509Certificate' in res.socket
            ? (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()
            : undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            peerFingerprint: peer ? peer.fingerprint256.replace(/:/g, '').toLowerCase() : '',
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function postJson(port: number, certPem: string, payload: unknown): Promise<Answer> {
  return request(port, certPem, 'POST', '/', JSON.stringify(payload), { 'content-type': 'application/json' });
}

async function waitForApp(port: number, certPem: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const answer = await request(port, certPem, 'GET', '/health');
      if (answer.status === 200 && answer.headers['mse-status'] === undefined) {
        assert.equal(answer.body, 'OK');
        return;
      }
    } catch {
      // the port is briefly closed between the configuration server and the app
    }
    if (Date.now() > deadline) throw new Error('the app did not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

/** Nothing of the configuration was written. */
function assertUnconfigured(root: string): void {
  const paths = enclavePaths(root);
  assert.equal(existsSync(paths.configured), false, '/key/configured must not exist');
  assert.equal(existsSync(paths.appDir), false, '/mse-app must not exist');
  assert.equal(existsSync(paths.secretsFile), false, 'secrets.json must not exist');
  assert.equal(existsSync(paths.sealedSecretsFile), false, 'sealed_secrets.json must not exist');
}

describe('enclave bootstrap (real process, real TLS, real Python app)', () => {
  let work: string;
  // The real simulated quoting service (the enclave only chooses report_data); `requests` records each quote.
  let stub: { requests: Uint8Array[]; service: QuotingService };
  let socket: string;
  before(async () => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} missing: run npm run build`);
    work = mkdtempSync(path.join(tmpdir(), 'enclave-e2e-'));
    socket = path.join(work, 'quote.sock');
    const requests: Uint8Array[] = [];
    const platform = await loadOrCreateSimPlatform({ dir: path.join(work, 'sim') });
    const service = await startQuotingService({
      socketPath: socket,
      platform,
      mrEnclave: Buffer.alloc(32, 0xe1),
      mrSigner: Buffer.alloc(32, 0x51),
      isvProdId: 1,
      isvSvn: 10,
      onQuote: (hex) => requests.push(Buffer.from(hex, 'hex')),
    });
    stub = { requests, service };
  });
  after(async () => {
    await stub.service.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('configures a Flask app over the RA-TLS configuration server, then restarts without a new quote', async () => {
    const root = path.join(work, 'flask');
    const paths = enclavePaths(root);
    const src = path.join(work, 'flask-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'app.py'), readFileSync(path.join(TESTDATA, 'flask_app.py')));
    mkdirSync(paths.enclaveDir, { recursive: true });
    // a real GNU tar archive, as an operator's tools would produce
    const tar = spawnSync('tar', ['-cf', paths.appTar, '-C', src, '.']);
    assert.equal(tar.status, 0, tar.stderr.toString());

    const id = randomUUID();
    const port = await freePort();
    const quotesBefore = stub.requests.length;
    const enclave = startEnclave(root, port, id, socket, 'app:app', [], 'argv-file');
    try {
      await enclave.waitFor(/Configuration server listening/);
      // the UUID is on no command line (the bootstrap's nor the app's) and in no log line
      assert.ok(!enclave.child.spawnargs.join(' ').includes(id));
      assert.ok(!enclave.output.some((l) => l.includes(id)), 'the UUID is never logged');
      assert.equal(stub.requests.length, quotesBefore + 1, 'exactly one quote taken');

      // the persisted identity: files 0600 in a 0700 directory, certificate bound to the keys
      assert.equal(modeOf(paths.keyDir), 0o700);
      for (const f of [paths.ratlsKey, paths.ratlsCert, paths.enclaveKey, paths.enclavePub])
        assert.equal(modeOf(f), 0o600, f);
      const certPem = readFileSync(paths.ratlsCert, 'utf8');
      const cert = checkRatlsBinding(certPem);
      assert.equal(cert.san, 'localhost');
      assert.equal(cert.subject, 'CN=localhost,O=Test Co,C=FR');
      assert.deepEqual(Buffer.from(cert.reportData), Buffer.from(stub.requests.at(-1)!));
      assert.deepEqual(Buffer.from(cert.x25519PublicKey), readFileSync(paths.enclavePub));

      // GET: waiting, served with the RA-TLS certificate
      const waiting = await request(port, certPem, 'GET', '/anything');
      assert.equal(waiting.status, 200);
      assert.equal(waiting.headers['mse-status'], 'Waiting');
      assert.equal(waiting.peerFingerprint, cert.fingerprint);

      const sealedPayload = { result_sk: randomBytes(32).toString('base64url') };
      const sealed = Buffer.from(
        await sealBox(Buffer.from(JSON.stringify(sealedPayload)), cert.x25519PublicKey),
      ).toString('base64url');
      const appSecrets = { password: 'correct horse', salt: 'c2FsdA', nested: [1, { a: null }] };

      // refusals: each answers 4xx with a reason, writes nothing, and the server keeps waiting
      const wrongUuid = await postJson(port, certPem, {
        uuid: randomUUID(),
        app_secrets: appSecrets,
        app_sealed_secrets: sealed,
      });
      assert.equal(wrongUuid.status, 401);
      assert.equal(JSON.parse(wrongUuid.body).code, 'ERR_CONFIG_UUID');
      assertUnconfigured(root);

      const badJson = await request(port, certPem, 'POST', '/', '{"uuid": ', { 'content-type': 'application/json' });
      assert.equal(badJson.status, 400);
      assert.equal(JSON.parse(badJson.body).code, 'ERR_CONFIG_JSON');

      const notObject = await postJson(port, certPem, [id]);
      assert.equal(notObject.status, 400);

      const otherKey = randomBytes(32);
      otherKey[31] = 0x40;
      const forOther = Buffer.from(await sealBox(Buffer.from('{"a":1}'), new Uint8Array(otherKey))).toString(
        'base64url',
      );
      const wrongBox = await postJson(port, certPem, {
        uuid: id,
        app_secrets: appSecrets,
        app_sealed_secrets: forOther,
      });
      assert.equal(wrongBox.status, 400);
      assert.equal(JSON.parse(wrongBox.body).code, 'ERR_CONFIG_SEALED_OPEN');
      assertUnconfigured(root);

      const big = JSON.stringify({ uuid: id, app_secrets: 'x'.repeat(1024 * 1024) });
      const tooBig = await request(port, certPem, 'POST', '/', big, { 'content-type': 'application/json' });
      assert.equal(tooBig.status, 413);
      const tooBigChunked = await request(port, certPem, 'POST', '/', big, { 'transfer-encoding': 'chunked' });
      assert.equal(tooBigChunked.status, 413);
      assertUnconfigured(root);

      const badKey = await postJson(port, certPem, { uuid: id, code_secret_key: 'abcd' });
      assert.equal(badKey.status, 400);
      assert.equal(JSON.parse(badKey.body).code, 'ERR_CONFIG_CODE_KEY');
      assertUnconfigured(root);

      assert.equal((await request(port, certPem, 'GET', '/')).headers['mse-status'], 'Waiting');

      // success
      const ok = await postJson(port, certPem, {
        uuid: id.toUpperCase(),
        app_secrets: appSecrets,
        app_sealed_secrets: sealed,
      });
      assert.equal(ok.status, 200, ok.body);
      await waitForApp(port, certPem);

      for (const f of [paths.secretsFile, paths.sealedSecretsFile]) assert.equal(modeOf(f), 0o600, f);
      assert.equal(modeOf(paths.secretsDir), 0o700);
      const seen = await request(port, certPem, 'GET', '/secrets');
      assert.equal(seen.status, 200);
      assert.equal(seen.peerFingerprint, cert.fingerprint, 'the app serves the same certificate');
      const report = JSON.parse(seen.body);
      assert.deepEqual(report.secrets, appSecrets);
      assert.deepEqual(report.sealed_secrets, sealedPayload);
      assert.equal(report.kind, 'wsgi');
      assert.deepEqual(report.env, {
        MODULE_PATH: paths.appDir,
        KEY_PATH: paths.keyDir,
        HOME: paths.home,
        SECRETS_PATH: paths.secretsFile,
        SEALED_SECRETS_PATH: paths.sealedSecretsFile,
      });
      // the launcher became the app server (same process); the launch file holds no secret
      assert.match(readFileSync(paths.launchFile, 'utf8'), /"--application","app:app"/);
      assert.equal(modeOf(paths.launchFile), 0o600);
      assert.ok(!readFileSync(paths.launchFile, 'utf8').includes(id));
      assert.ok(existsSync(paths.configured));
      // the logs never carry secret material, nor the UUID (the app's command line included)
      const logs = enclave.output.join('\n');
      assert.match(logs, /Starting the app \(app:app\) on 127\.0\.0\.1:/);
      assert.match(logs, /mse-serve: serving app:app \(wsgi\) on https:\/\/127\.0\.0\.1:/);
      assert.ok(!logs.toLowerCase().includes(id.toLowerCase()), 'no UUID in the logs or the app command line');
      for (const secret of ['correct horse', sealedPayload.result_sk, sealed])
        assert.ok(!logs.includes(secret), 'secret in logs');
      assert.match(
        logs,
        /\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[INFO\] Configuration received: app secrets and sealed secrets/,
      );
    } finally {
      const code = await stopEnclave(enclave);
      assert.notEqual(code, null, 'the app server exits by itself on SIGTERM');
    }

    // restart: no configuration server, no new quote, same certificate, same secrets
    const quotes = stub.requests.length;
    const again = startEnclave(root, port, id, socket);
    try {
      await again.waitFor(/Already configured/);
      const certPem = readFileSync(paths.ratlsCert, 'utf8');
      await waitForApp(port, certPem);
      assert.equal(stub.requests.length, quotes, 'restart takes no new quote');
      const seen = await request(port, certPem, 'GET', '/secrets');
      assert.equal(seen.peerFingerprint, readRatlsCertificate(certPem).fingerprint);
      assert.equal(JSON.parse(seen.body).secrets.password, 'correct horse');
      assert.ok(!again.output.some((l) => /Configuration server listening/.test(l)));
    } finally {
      await stopEnclave(again);
    }
  });

  it('decrypts an encrypted FastAPI app with the code key from the sealed secrets', async () => {
    const root = path.join(work, 'fastapi');
    const paths = enclavePaths(root);
    mkdirSync(paths.enclaveDir, { recursive: true });
    const codeKey = randomBytes(32);
    // PyNaCl encrypts the code the way `package --encrypt` does, into a pax tar made by Python's tarfile
    const script = `
import io, sys, tarfile, nacl.secret
key = bytes.fromhex(sys.argv[1])
box = nacl.secret.SecretBox(key)
app = open(sys.argv[3], 'rb').read()
with tarfile.open(sys.argv[2], 'w', format=tarfile.PAX_FORMAT) as t:
    for name, data in (('pkg/app.py.enc', bytes(box.encrypt(app))), ('pkg/__init__.py.enc', bytes(box.encrypt(b''))), ('requirements.txt', b'fastapi\\n')):
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
`;
    const py = spawnSync(DEBIAN_PYTHON, [
      '-c',
      script,
      codeKey.toString('hex'),
      paths.appTar,
      path.join(TESTDATA, 'fastapi_app.py'),
    ]);
    assert.equal(py.status, 0, py.stderr.toString());

    const id = randomUUID();
    const port = await freePort();
    const enclave = startEnclave(root, port, id, socket, 'pkg.app:app');
    try {
      await enclave.waitFor(/Configuration server listening/);
      const certPem = readFileSync(paths.ratlsCert, 'utf8');
      const cert = readRatlsCertificate(certPem);

      const noKey = await postJson(port, certPem, { uuid: id, app_secrets: { a: 1 } });
      assert.equal(noKey.status, 400);
      assert.equal(JSON.parse(noKey.body).code, 'ERR_CODE_KEY_REQUIRED');
      const wrongKey = await postJson(port, certPem, { uuid: id, code_secret_key: randomBytes(32).toString('hex') });
      assert.equal(wrongKey.status, 400);
      assert.equal(JSON.parse(wrongKey.body).code, 'ERR_CODE_KEY_WRONG');
      assertUnconfigured(root);

      const sealedJson = { result_sk: 'k', code_secret_key: codeKey.toString('hex') };
      const sealed = Buffer.from(await sealBox(Buffer.from(JSON.stringify(sealedJson)), cert.x25519PublicKey)).toString(
        'base64url',
      );
      const ok = await postJson(port, certPem, { uuid: id, app_sealed_secrets: sealed });
      assert.equal(ok.status, 200, ok.body);
      await waitForApp(port, certPem);
      const report = JSON.parse((await request(port, certPem, 'GET', '/secrets')).body);
      assert.equal(report.kind, 'asgi');
      assert.equal(report.secrets, null, 'no app_secrets were sent');
      assert.deepEqual(report.sealed_secrets, sealedJson);
      assert.equal(
        readFileSync(path.join(paths.appDir, 'pkg', 'app.py'), 'utf8'),
        readFileSync(path.join(TESTDATA, 'fastapi_app.py'), 'utf8'),
      );
      assert.equal(existsSync(path.join(paths.appDir, 'pkg', 'app.py.enc')), false);
      assert.equal(readFileSync(path.join(paths.appDir, 'requirements.txt'), 'utf8'), 'fastapi\n');
      assert.match(enclave.output.join('\n'), /decrypted with the key from app_sealed_secrets/);
      assert.ok(!enclave.output.join('\n').includes(codeKey.toString('hex')), 'code key in logs');
    } finally {
      await stopEnclave(enclave);
    }
  });

  it('refuses to start on a damaged app archive, and reports a port in use', async () => {
    const root = path.join(work, 'bad');
    const paths = enclavePaths(root);
    mkdirSync(paths.enclaveDir, { recursive: true });
    writeFileSync(paths.appTar, Buffer.alloc(1024, 0x41));
    const bad = startEnclave(root, await freePort(), randomUUID(), socket);
    assert.equal(await bad.exit, 3);
    assert.match(bad.output.join('\n'), /\[ERROR\] ERR_PACKAGE_CORRUPT: app.tar is not a valid tar archive/);

    // a port already taken
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const tar = spawnSync('tar', ['-cf', paths.appTar, '-C', TESTDATA, 'flask_app.py']);
    assert.equal(tar.status, 0);
    const busy = startEnclave(path.join(work, 'bad'), taken, randomUUID(), socket, 'flask_app:app');
    try {
      assert.equal(await busy.exit, 6);
      assert.match(busy.output.join('\n'), /ERR_CONFIG_LISTEN/);
    } finally {
      blocker.close();
    }
  });

  it('refuses an app.tar over the 512 MiB the host accepts (same code as the host), and a FIFO at once', async () => {
    const root = path.join(work, 'too-large');
    const paths = enclavePaths(root);
    mkdirSync(paths.enclaveDir, { recursive: true });
    // Sparse: one file of 513 MiB of zeros in a valid tar, without writing it.
    writeSparseTar(paths.appTar, [{ name: 'data.bin', size: 513 * 2 ** 20 }]);
    const big = startEnclave(root, await freePort(), randomUUID(), socket);
    assert.equal(await big.exit, 3);
    assert.match(
      big.output.join('\n'),
      /\[ERROR\] ERR_PACKAGE_MEMBER_TOO_LARGE: .*app\.tar is 513\.0 MiB \(537921024 bytes\), more than the 512 MiB allowed/,
    );
    rmSync(paths.appTar);
    spawnSync('mkfifo', [paths.appTar]);
    const fifo = startEnclave(root, await freePort(), randomUUID(), socket);
    assert.equal(await fifo.exit, 3);
    assert.match(fifo.output.join('\n'), /\[ERROR\] ERR_APP_TAR_MISSING: .*FIFO/);
    assertUnconfigured(root);
  });

  it('exits on SIGTERM while waiting, and on --timeout without a configuration', async () => {
    const root = path.join(work, 'wait');
    const paths = enclavePaths(root);
    mkdirSync(paths.enclaveDir, { recursive: true });
    assert.equal(spawnSync('tar', ['-cf', paths.appTar, '-C', TESTDATA, 'flask_app.py']).status, 0);
    const waiting = startEnclave(root, await freePort(), randomUUID(), socket, 'flask_app:app');
    await waiting.waitFor(/Configuration server listening/);
    waiting.child.kill('SIGTERM');
    assert.equal(await waiting.exit, 143);
    const timed = startEnclave(root, await freePort(), randomUUID(), socket, 'flask_app:app', ['--timeout', '1']);
    assert.equal(await timed.exit, 6);
    assert.match(timed.output.join('\n'), /ERR_CONFIG_TIMEOUT/);
    assertUnconfigured(root);
  });
});
