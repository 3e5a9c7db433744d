// The clean-up scope: order, success/failure-only actions, registrations after the scope closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});
