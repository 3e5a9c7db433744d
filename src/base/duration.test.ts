import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDurationSeconds } from './duration.js';

test('durations: one whole number and one unit (s, m, h, d); anything else is not a duration', () => {
  assert.equal(parseDurationSeconds('90s'), 90);
  assert.equal(parseDurationSeconds('5m'), 300);
  assert.equal(parseDurationSeconds('12h'), 43200);
  assert.equal(parseDurationSeconds('30d'), 2592000);
  assert.equal(parseDurationSeconds('0s'), 0);
  for (const bad of ['', '30', 'd', '1.5d', '-1d', '1y', '1w', '30 d', '1d12h', 'forever', '9999999999999d']) {
    assert.equal(parseDurationSeconds(bad), undefined, bad);
  }
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(61), '1m 1s');
  assert.equal(formatDuration(3600), '1h');
  assert.equal(formatDuration(81613190), '944d 14h');
});
