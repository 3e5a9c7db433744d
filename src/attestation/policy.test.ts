import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePolicy, parseExpiryTolerance } from './policy.js';

test('the bound of --allow-expired-collateral is a duration with a unit', () => {
  assert.throws(() => parseExpiryTolerance('30'), { code: 'ERR_OPTION_VALUE', message: /'30' is not a duration/ });
  assert.equal(parseExpiryTolerance('30d'), 2592000);
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
