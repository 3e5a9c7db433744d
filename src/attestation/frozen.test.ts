import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrozenDate, FrozenSet, bytesOf, immutable } from './frozen.js';

test('immutable(): frozen objects and arrays, read-only dates and sets, byte fields read as copies', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const v = immutable({
    when: new Date(0),
    set: new Set(['a']),
    bytes,
    nested: { list: [1, 2], inner: new Uint8Array([9]) },
    absent: undefined as Uint8Array | undefined,
  });
  assert.ok(Object.isFrozen(v) && Object.isFrozen(v.nested) && Object.isFrozen(v.nested.list));
  assert.ok(v.when instanceof Date && v.when instanceof FrozenDate);
  assert.throws(() => v.when.setTime(1), TypeError);
  assert.throws(() => v.when.setUTCHours(1), TypeError);
  assert.equal(v.when.toISOString(), '1970-01-01T00:00:00.000Z');
  assert.ok(v.set instanceof FrozenSet);
  assert.deepEqual([...v.set], ['a']);
  assert.equal(JSON.stringify({ s: v.set }), '{"s":["a"]}');
  assert.throws(() => Set.prototype.add.call(v.set, 'b'), TypeError);
  v.bytes[0] = 7;
  assert.deepEqual([...v.bytes], [1, 2, 3]);
  assert.notEqual(v.bytes, v.bytes);
  // The verifier's zero-copy view is the original, and is not an enumerable field.
  assert.equal(bytesOf(v).bytes, bytes);
  assert.equal(bytesOf(v.nested).inner[0], 9);
  assert.deepEqual(Object.keys(v), ['when', 'set', 'bytes', 'nested', 'absent']);
  // Already frozen values are left alone; a plain object's bytesOf is itself.
  assert.equal(immutable(v), v);
  const plain = { bytes };
  assert.equal(bytesOf(plain).bytes, bytes);
});
