import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationOption } from './options.js';

const spawnLike = { bare: 'm', minMs: 1000, maxMs: 86_400_000 } as const;
const restartLike = { bare: 's', minMs: 1000, maxMs: 86_400_000 } as const;

test('durationOption: a bare number keeps the flag’s MSE unit; a unit makes it explicit', () => {
  assert.equal(durationOption({}, 'timeout', spawnLike), undefined);
  assert.equal(durationOption({ timeout: '10' }, 'timeout', spawnLike), 600_000);
  assert.equal(durationOption({ timeout: '10' }, 'timeout', restartLike), 10_000);
  assert.equal(durationOption({ timeout: '90s' }, 'timeout', spawnLike), 90_000);
  assert.equal(durationOption({ timeout: '10m' }, 'timeout', restartLike), 600_000);
  assert.equal(durationOption({ timeout: '1h' }, 'timeout', spawnLike), 3_600_000);
  assert.equal(durationOption({ t: '250' }, 't', { bare: 'ms', minMs: 100, maxMs: 600_000 }), 250);
  assert.equal(durationOption({ t: '30s' }, 't', { bare: 'ms', minMs: 100, maxMs: 600_000 }), 30_000);
});

test('durationOption: anything else is refused with the syntax and the bare unit in the hint', () => {
  for (const bad of ['', '1.5m', '-1', '+5', '10 m', '1m30s', '5w', 'soon', '0x10']) {
    assert.throws(
      () => durationOption({ timeout: bad }, 'timeout', spawnLike),
      (e: Error & { code?: string; hint?: string }) =>
        e.code === 'ERR_OPTION_VALUE' &&
        /not a duration/.test(e.message) &&
        /bare number is minutes/.test(e.hint ?? ''),
      bad,
    );
  }
  assert.throws(() => durationOption({ timeout: '0' }, 'timeout', spawnLike), {
    code: 'ERR_OPTION_VALUE',
    message: '--timeout must be between 1s and 1d, got 0',
  });
  assert.throws(() => durationOption({ timeout: '2d' }, 'timeout', spawnLike), {
    message: /between 1s and 1d, got 2d/,
  });
  assert.throws(() => durationOption({ t: '50' }, 't', { bare: 'ms', minMs: 100, maxMs: 600_000 }), {
    message: '--t must be between 100ms and 10m, got 50',
  });
});
