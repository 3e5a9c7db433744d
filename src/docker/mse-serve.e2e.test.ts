// mse-serve (base-image/mse-serve), the launcher shared by localtest and the enclave, run with Debian's
// Python on this host: WSGI/ASGI detection, plain HTTP and TLS, the enclave's launch file, and its failure
// exits.
import { selfSignedCertificate } from '../testing/tls.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_PYTHON, REPO_ROOT } from '../testing/vectors.js';
import { freeLoopbackPort, probeHealth } from './localtest.js';

const MSE_SERVE = path.join(REPO_ROOT, 'base-image', 'mse-serve');
const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-serve-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const APPS: Record<string, string> = {
  flask: `from flask import Flask\napp = Flask(__name__)\n@app.get('/health')\ndef h(): return 'flask ok'\n`,
  fastapi: `from fastapi import FastAPI\napp = FastAPI()\n@app.get('/health')\nasync def h(): return 'fastapi ok'\n`,
  wsgi: `def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'wsgi ok']\n`,
  asgi: `async def app(scope, receive, send):\n    if scope['type'] != 'http': return\n    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n    await send({'type': 'http.response.body', 'body': b'asgi ok'})\n`,
  crash: `raise RuntimeError('boom at import')\n`,
  notapp: `app = 42\n`,
};
for (const [name, code] of Object.entries(APPS)) {
  mkdirSync(path.join(dir, name));
  writeFileSync(path.join(dir, name, 'app.py'), code);
}

function serve(app: string, port: number, extra: string[] = []): ChildProcess {
  const child = spawn(
    DEBIAN_PYTHON,
    [
      MSE_SERVE,
      '--application',
      'app:app',
      '--app-dir',
      path.join(dir, app),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  return child;
}

async function get(url: string, ca?: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = (url.startsWith('https') ? https : http).get(url, ca ? { ca } : {}, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no answer from ${url}`);
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('mse-serve', () => {
  it('serves Flask, FastAPI, a bare WSGI function and a bare ASGI function over HTTP', async () => {
    for (const [app, expected] of [
      ['flask', 'flask ok'],
      ['fastapi', '"fastapi ok"'],
      ['wsgi', 'wsgi ok'],
      ['asgi', 'asgi ok'],
    ] as const) {
      const port = await freeLoopbackPort();
      const child = serve(app, port);
      assert.equal(await get(`http://127.0.0.1:${port}/health`), expected, app);
      assert.equal((await probeHealth(`http://127.0.0.1:${port}/health`)).ready, true);
      child.kill('SIGTERM');
    }
  });

  it('serves Flask and FastAPI over TLS with the given certificate', async () => {
    const { key, cert } = selfSignedCertificate(dir, 'IP:127.0.0.1');
    const ca = readFileSync(cert, 'utf8');
    for (const [app, expected] of [
      ['flask', 'flask ok'],
      ['fastapi', '"fastapi ok"'],
    ] as const) {
      const port = await freeLoopbackPort();
      const child = serve(app, port, ['--certfile', cert, '--keyfile', key]);
      assert.equal(await get(`https://127.0.0.1:${port}/health`, ca), expected, app);
      child.kill('SIGTERM');
    }
  });

  it('exits 3 with the traceback when the app fails to import or is not an app, 4 on bad TLS files', async () => {
    const port = await freeLoopbackPort();
    const crash = await exitOf(serve('crash', port));
    assert.equal(crash.code, 3);
    assert.match(crash.stderr, /RuntimeError: boom at import/);
    assert.match(crash.stderr, /cannot import module 'app'/);
    const notApp = await exitOf(serve('notapp', port));
    assert.equal(notApp.code, 3);
    assert.match(notApp.stderr, /not a WSGI or ASGI application \(got int\)/);
    const badTls = await exitOf(
      serve('flask', port, ['--certfile', '/nonexistent.pem', '--keyfile', '/nonexistent.key']),
    );
    assert.equal(badTls.code, 4);
    const usage = await exitOf(
      spawn(DEBIAN_PYTHON, [MSE_SERVE, '--application', 'nocolon', '--app-dir', dir], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    assert.equal(usage.code, 2);
  });

  it('--launch FILE: the options and the app’s environment from the enclave bootstrap’s launch file', async () => {
    const port = await freeLoopbackPort();
    mkdirSync(path.join(dir, 'envapp'));
    writeFileSync(
      path.join(dir, 'envapp', 'app.py'),
      `import os\ndef app(environ, start_response):\n    start_response('200 OK', [])\n    return [os.environ.get('SECRETS_PATH', 'unset').encode()]\n`,
    );
    const launch = path.join(dir, 'serve.json');
    const argv = ['--application', 'app:app', '--app-dir', path.join(dir, 'envapp'), '--host', '127.0.0.1'];
    writeFileSync(
      launch,
      JSON.stringify({ argv: [...argv, '--port', String(port)], env: { SECRETS_PATH: '/s.json' } }),
    );
    const child = spawn(DEBIAN_PYTHON, [MSE_SERVE, '--launch', launch], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    assert.equal(await get(`http://127.0.0.1:${port}/`), '/s.json');
    child.kill('SIGTERM');

    // anything that is not {argv: [strings], env: {name: string}} is refused with the usage exit code
    const bad = async (content: string | undefined, extra: string[] = []) => {
      if (content !== undefined) writeFileSync(launch, content);
      const r = await exitOf(
        spawn(DEBIAN_PYTHON, [MSE_SERVE, '--launch', launch, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      assert.equal(r.code, 2, `${content}: ${r.stderr}`);
      return r.stderr;
    };
    assert.match(await bad('{"argv": []}'), /must be \{"argv"/);
    assert.match(await bad('{"argv": [1], "env": {}}'), /must be \{"argv"/);
    assert.match(await bad('{"argv": [], "env": {"A=B": "x"}}'), /must be \{"argv"/);
    assert.match(await bad('{"argv": [], "env": {}, "more": 1}'), /must be \{"argv"/);
    assert.match(await bad('{"argv": ["--launch", "x"], "env": {}}'), /another launch file/);
    assert.match(await bad('not json'), /not UTF-8 JSON/);
    assert.match(await bad('x'.repeat(64 * 1024 + 1)), /larger than 65536 bytes/);
    assert.match(await bad('{"argv": [], "env": {}}', ['--debug']), /one file and nothing else/);
    rmSync(launch);
    assert.match(await bad(undefined), /cannot read the launch file/);
  });
});
