// The clean-up scope: order, success/failure-only actions, registrations after the scope closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { withCleanup } from './cleanup.js';

describe('withCleanup', () => {
  it('runs actions last-registered first; failure-only ones only on failure, success-only ones only on success', async () => {
    const ran: string[] = [];
    const record = (name: string) => async () => void ran.push(name);
    const result = await withCleanup(async (scope) => {
      scope.always(record('a'));
      scope.onFailure(record('f'));
      scope.onSuccess(record('s'));
      scope.always(record('b'));
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(ran, ['b', 's', 'a']);

    ran.length = 0;
    await assert.rejects(
      withCleanup(async (scope) => {
        scope.always(record('a'));
        scope.onFailure(record('f'));
        scope.onSuccess(record('s'));
        scope.always(async () => {
          throw new Error('undo failed'); // must not stop the others
        });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(ran, ['f', 'a']);
  });

  it('undoes at once what is registered after the scope closed', async () => {
    const ran: string[] = [];
    let late: ((fn: () => Promise<unknown>) => void) | undefined;
    await withCleanup(async (scope) => {
      late = scope.always;
    });
    late!(async () => void ran.push('late'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ran, ['late']);
  });

  it('removes its signal handlers when done', async () => {
    const before = process.listenerCount('SIGINT');
    await withCleanup(async () => assert.equal(process.listenerCount('SIGINT'), before + 1));
    assert.equal(process.listenerCount('SIGINT'), before);
  });

  it('a second signal undoes at once even when the body hangs, then exits 130', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mse-cleanup-'));
    const marker = path.join(dir, 'undone');
    const script = `
      import { withCleanup } from ${JSON.stringify(pathToFileURL(path.join(import.meta.dirname, 'cleanup.js')).href)};
      import { writeFileSync } from 'node:fs';
      await withCleanup(async (scope) => {
        scope.onFailure(async () => writeFileSync(${JSON.stringify(marker)}, 'yes'));
        console.log('ready');
        await new Promise(() => setInterval(() => {}, 1000)); // a body that never ends
      }, { exitOnSignal: false });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(marker), false, 'the first signal leaves the body to wind down');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 130);
    assert.equal(readFileSync(marker, 'utf8'), 'yes');
    await rm(dir, { recursive: true, force: true });
  });
});
