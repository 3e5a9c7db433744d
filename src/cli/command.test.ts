// Strict option parsing: negative numbers as option values, and the message for each way a value is wrong.
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  integerOption,
  joinNegativeValues,
  parseCommandArgs,
  requiredPositional,
  type CommandSpec,
} from './command.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'demo',
  options: {
    isvprodid: { type: 'string', description: 'n' },
    port: { type: 'string', short: 'p', description: 'n' },
    output: { type: 'string', short: 'o', description: 'f' },
    force: { type: 'boolean', description: 'b' },
  },
  positionals: [{ name: 'name', description: 'n' }],
  examples: ['mse home demo'],
  run: async () => undefined,
};

const usage = (code: string, message: RegExp, hint?: RegExp) => (e: Error & { code?: string; hint?: string }) => {
  assert.equal(e.code, code);
  assert.match(e.message, message);
  if (hint) assert.match(e.hint ?? '', hint);
  return true;
};

describe('option values', () => {
  it('a negative number after an option that takes a value is its value, then refused with its range', () => {
    const parsed = parseCommandArgs(spec, ['--isvprodid', '-1', '-p', '-5']);
    assert.equal(parsed.values.isvprodid, '-1');
    assert.equal(parsed.values.port, '-5');
    assert.throws(
      () => integerOption(parsed.values, 'isvprodid', 0, 0xffff),
      usage('ERR_OPTION_VALUE', /^--isvprodid must be between 0 and 65535, got -1$/),
    );
    assert.throws(() => integerOption(parsed.values, 'port', 1, 65535), /--port must be between 1 and 65535, got -5/);
    // A range that allows negatives takes them.
    assert.equal(integerOption({ n: '-3' }, 'n', -10, 10), -3);
    assert.throws(() => integerOption({ n: '-0' }, 'n', 0, 10), /between 0 and 10/);
  });

  it('only values are joined: flags, positionals and what follows -- stay as they are', () => {
    assert.deepEqual(joinNegativeValues(['--force', '-1', 'x', '--', '--port', '-1'], spec.options), [
      '--force',
      '-1',
      'x',
      '--',
      '--port',
      '-1',
    ]);
    assert.deepEqual(joinNegativeValues(['--port', '-1.5', '--isvprodid=-2'], spec.options), [
      '--port=-1.5',
      '--isvprodid=-2',
    ]);
  });

  it('says "needs a value" when the value is missing or looks like an option, "takes no value" for a flag', () => {
    assert.throws(
      () => parseCommandArgs(spec, ['--isvprodid']),
      usage('ERR_OPTION_VALUE', /^option --isvprodid needs a value$/),
    );
    assert.throws(
      () => parseCommandArgs(spec, ['-o', '-x']),
      usage('ERR_OPTION_VALUE', /^option --output needs a value$/, /written --output=VALUE/),
    );
    assert.throws(
      () => parseCommandArgs(spec, ['--force=yes']),
      usage('ERR_OPTION_VALUE', /^option --force takes no value$/),
    );
    assert.throws(() => parseCommandArgs(spec, ['--nope']), usage('ERR_UNKNOWN_OPTION', /unknown option --nope/));
  });

  it('keeps refusing what is not a whole number', () => {
    for (const raw of ['1e3', '+1', ' 1', '0x10', '1.0', '--1']) {
      assert.throws(() => integerOption({ n: raw }, 'n', 0, 100000), /--n must be a whole number/, raw);
    }
  });
});

test('requiredPositional: the argument typed as present; its absence refused with the parser’s code', () => {
  assert.equal(requiredPositional({ positionals: ['my_app'] }), 'my_app');
  assert.throws(() => requiredPositional({ positionals: [] }), { code: 'ERR_MISSING_ARGUMENT' });
});
