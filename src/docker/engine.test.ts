// The engine client's pure parts, and its behaviour when no engine answers (no Docker needed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMse } from '../testing/cli.js';
import { demuxLogs, DockerEngine, resolveEndpoint, SETUP_HINT, splitRef } from './engine.js';

describe('resolveEndpoint', () => {
  it('follows DOCKER_HOST like the docker CLI', () => {
    assert.deepEqual(resolveEndpoint({}).options, { socketPath: '/var/run/docker.sock' });
    assert.deepEqual(resolveEndpoint({ DOCKER_HOST: 'unix:///run/x.sock' }).options, { socketPath: '/run/x.sock' });
    assert.deepEqual(resolveEndpoint({ DOCKER_HOST: 'tcp://10.0.0.1:2375' }).options, {
      protocol: 'http',
      host: '10.0.0.1',
      port: '2375',
    });
    assert.equal(resolveEndpoint({ DOCKER_HOST: 'tcp://h:2376' }).options.protocol, 'https');
    assert.equal(resolveEndpoint({ DOCKER_HOST: 'tcp://h:1234', DOCKER_TLS_VERIFY: '1' }).options.protocol, 'https');
    assert.throws(() => resolveEndpoint({ DOCKER_HOST: 'ftp://x' }), { code: 'ERR_DOCKER_HOST_INVALID' });
    assert.throws(() => resolveEndpoint({ DOCKER_HOST: 'tcp://h:2376', DOCKER_CERT_PATH: '/nonexistent' }), {
      code: 'ERR_DOCKER_TLS_FILES',
    });
  });

  it('splits image references, registry ports included', () => {
    assert.deepEqual(splitRef('app:1'), ['app', '1']);
    assert.deepEqual(splitRef('app'), ['app', 'latest']);
    assert.deepEqual(splitRef('reg:5000/team/app'), ['reg:5000/team/app', 'latest']);
    assert.deepEqual(splitRef('reg:5000/app:v2'), ['reg:5000/app', 'v2']);
  });

  it('demultiplexes container log frames', () => {
    const frame = (kind: number, text: string): Buffer => {
      const h = Buffer.alloc(8);
      h[0] = kind;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    assert.equal(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'é')])), 'out\nerr\né');
  });
});

describe('no engine', () => {
  it('says so with ERR_DOCKER_UNREACHABLE and the set-up hint', async () => {
    const engine = DockerEngine.fromEnv({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    await assert.rejects(engine.ping(), (e: Error & { code?: string; hint?: string; exitCode?: number }) => {
      assert.equal(e.code, 'ERR_DOCKER_UNREACHABLE');
      assert.match(e.message, /unix:\/\/\/nonexistent\/docker\.sock/);
      assert.equal(e.hint, SETUP_HINT);
      assert.equal(e.exitCode, 5);
      return true;
    });
  });

  it('the commands that need it exit 5 before doing any work', async () => {
    for (const args of [
      ['base', 'build'],
      ['package', '--project', '.', '--output', '/nonexistent/out'],
    ]) {
      const r = await runMse(['home', ...args, '--json'], {
        env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
        cwd: '/tmp',
      });
      if (args[0] === 'package') {
        // --project . has no mse_src: the input error comes first (exit 3), the engine is not contacted.
        assert.equal(r.code, 3, r.stderr);
        continue;
      }
      assert.equal(r.code, 5, r.stderr);
      assert.equal(JSON.parse(r.stdout).error.code, 'ERR_DOCKER_UNREACHABLE');
      assert.match(r.stderr, /setup-docker\.sh/);
    }
  });
});
