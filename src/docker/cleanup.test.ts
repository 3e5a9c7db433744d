// The clean-up scope: order, success/failure-only actions, registrations after the scope closed, interrupts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InterruptedError } from '../errors.js';
import { interruptActiveScopes, withCleanup } from './cleanup.js';

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

  it('a second signal undoes at once even when the body hangs, and rejects with ERR_INTERRUPTED (exit 130)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mse-cleanup-'));
    const marker = path.join(dir, 'undone');
    const script = `
      import { withCleanup } from ${JSON.stringify(pathToFileURL(path.join(import.meta.dirname, 'cleanup.js')).href)};
      import { writeFileSync } from 'node:fs';
      await withCleanup(async (scope) => {
        scope.onFailure(async () => writeFileSync(${JSON.stringify(marker)}, 'yes'));
        console.log('ready');
        await new Promise(() => setInterval(() => {}, 1000)); // a body that never ends
      }, { exitOnSignal: false }).catch((e) => process.exit(e.exitCode));
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

// Interrupts: before the commit everything is undone and the scope rejects with ERR_INTERRUPTED (exit
// 130/143/141); after it, the command finishes. Real signals (sent to this process) and a closed output.
describe('withCleanup interrupts', () => {
  const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

  for (const [sig, exit] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} before the commit: every undo runs (success-only ones excepted), rejects with exit ${exit}`, async () => {
      const ran: string[] = [];
      const scoped = withCleanup(async (scope) => {
        scope.always(async () => void ran.push('always'));
        scope.onFailure(async () => void ran.push('failure'));
        scope.onSuccess(async () => void ran.push('success'));
        process.kill(process.pid, sig);
        await tick(50);
        // A body that does not look at scope.signal and completes: its output must still go.
        return 'complete';
      });
      await assert.rejects(scoped, (e: InterruptedError) => {
        assert.ok(e instanceof InterruptedError);
        assert.equal(e.code, 'ERR_INTERRUPTED');
        assert.equal(e.exitCode, exit);
        return true;
      });
      assert.deepEqual(ran, ['failure', 'always']);
    });
  }

  it('aborts scope.signal with the InterruptedError, so a body stops at its next checkpoint', async () => {
    let after = false;
    await assert.rejects(
      withCleanup(async (scope) => {
        assert.equal(interruptActiveScopes('SIGPIPE'), true);
        assert.ok(scope.signal.aborted);
        scope.signal.throwIfAborted();
        after = true;
      }),
      (e: InterruptedError) => e instanceof InterruptedError && e.signal === 'SIGPIPE' && e.exitCode === 141,
    );
    assert.equal(after, false);
  });

  it('a failure caused by the interrupt is reported as the interrupt (the cause kept)', async () => {
    await assert.rejects(
      withCleanup(async () => {
        interruptActiveScopes('SIGINT');
        throw new Error('stream destroyed');
      }),
      (e: InterruptedError) => e.code === 'ERR_INTERRUPTED' && (e.cause as Error).message === 'stream destroyed',
    );
  });

  it('abandons a body that does not settle within the grace, after undoing', async () => {
    const ran: string[] = [];
    const started = Date.now();
    await assert.rejects(
      withCleanup(
        async (scope) => {
          scope.onFailure(async () => void ran.push('undo'));
          interruptActiveScopes('SIGTERM');
          await new Promise((r) => setTimeout(r, 5000).unref()); // e.g. an engine call that cannot be cancelled
        },
        { graceMs: 100 },
      ),
      { code: 'ERR_INTERRUPTED' },
    );
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(ran, ['undo']);
  });

  it('an abandoned body that unwinds later has what it then registers undone before the scope rejects', async () => {
    const ran: string[] = [];
    await assert.rejects(
      withCleanup(
        async (scope) => {
          scope.onFailure(async () => void ran.push('undo'));
          interruptActiveScopes('SIGTERM');
          await tick(350); // an engine call that cannot be cancelled answers after the grace: it made a container
          scope.onFailure(async () => {
            await tick(50);
            ran.push('late undo'); // removing that container
          });
          scope.onSuccess(async () => void ran.push('never'));
        },
        { graceMs: 250 },
      ),
      { code: 'ERR_INTERRUPTED' },
    );
    // The CLI exits as soon as the scope rejects: the late undo must be done by then.
    assert.deepEqual(ran, ['undo', 'late undo']);
  });

  it('after the commit an interrupt changes nothing: success actions run, the result is returned', async () => {
    const ran: string[] = [];
    const result = await withCleanup(async (scope) => {
      scope.onSuccess(async () => {
        interruptActiveScopes('SIGINT'); // arrives while the success actions run
        await tick(10);
        ran.push('success');
      });
      scope.onFailure(async () => void ran.push('failure'));
      return 'kept';
    });
    assert.equal(result, 'kept');
    assert.deepEqual(ran, ['success']);
  });

  it('with exitOnSignal false the body handles the interrupt and succeeds', async () => {
    const result = await withCleanup(
      async (scope) => {
        setTimeout(() => interruptActiveScopes('SIGINT'), 10);
        return `stopped by ${await scope.interrupted}`;
      },
      { exitOnSignal: false },
    );
    assert.equal(result, 'stopped by SIGINT');
  });

  it('no scope running: a closed output is not taken (the CLI exits by itself)', () => {
    assert.equal(interruptActiveScopes('SIGPIPE'), false);
  });
});
