import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDurationSeconds } from './duration.js';
import { makePolicy, parseExpiryTolerance } from './policy.js';

test('durations: one whole number and one unit (s, m, h, d); anything else is not a duration', () => {
  assert.equal(parseDurationSeconds('90s'), 90);
  assert.equal(parseDurationSeconds('5m'), 300);
  assert.equal(parseDurationSeconds('12h'), 43200);
  assert.equal(parseDurationSeconds('30d'), 2592000);
  assert.equal(parseDurationSeconds('0s'), 0);
  for (const bad of ['', '30', 'd', '1.5d', '-1d', '1y', '1w', '30 d', '1d12h', 'forever', '9999999999999d']) {
    assert.equal(parseDurationSeconds(bad), undefined, bad);
  }
  assert.throws(() => parseExpiryTolerance('30'), { code: 'ERR_OPTION_VALUE', message: /'30' is not a duration/ });
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(61), '1m 1s');
  assert.equal(formatDuration(3600), '1h');
  assert.equal(formatDuration(81613190), '944d 14h');
});

test('the policy takes a bound: the old unbounded boolean and a bad bound are refused', () => {
  assert.equal(makePolicy().expiredCollateralToleranceSeconds, 0);
  assert.equal(makePolicy({ expiredCollateralToleranceSeconds: 86400 }).expiredCollateralToleranceSeconds, 86400);
  assert.throws(() => makePolicy({ allowExpiredCollateral: true } as never), {
    code: 'ERR_OPTION_VALUE',
    message: /allowExpiredCollateral was replaced by a bound/,
  });
  for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, Number.NaN, '30d']) {
    assert.throws(() => makePolicy({ expiredCollateralToleranceSeconds: bad as number }), { code: 'ERR_OPTION_VALUE' });
  }
});
