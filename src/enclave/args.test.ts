import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../errors.js';
import { fromEnclaveArgvFile, serializeArgvFile } from '../launch/args.js';
import { LAUNCHER_ARGV } from '../launch/layout.js';
import { argvFileOf, parseBootstrapArgs } from './args.js';

const now = new Date('2030-01-01T00:00:00Z');
const base = [
  '--size', '4096M',
  '--subject', 'CN=localhost,O=Acme,C=FR',
  '--san', 'localhost',
  '--id', '63322f85-1ff8-4483-91ae-f18d7398d157',
  '--application', 'app:app',
  '--expiration', String(Date.parse('2031-01-01T00:00:00Z') / 1000),
]; // prettier-ignore

function without(name: string): string[] {
  const i = base.indexOf(name);
  return [...base.slice(0, i), ...base.slice(i + 2)];
}
function withValue(name: string, value: string): string[] {
  const copy = [...base];
  copy[copy.indexOf(name) + 1] = value;
  return copy;
}

describe('parseBootstrapArgs (mse-run argv)', () => {
  it('parses MSE spawn arguments with defaults', () => {
    const a = parseBootstrapArgs(base, now);
    assert.equal(a.sizeMiB, 4096);
    assert.equal(a.id, '63322f85-1ff8-4483-91ae-f18d7398d157');
    assert.equal(a.expiration.toISOString(), '2031-01-01T00:00:00.000Z');
    assert.equal(a.host, '0.0.0.0');
    assert.equal(a.port, 443);
    assert.equal(a.timeoutMs, undefined);
    assert.equal(a.debug, false);
    assert.equal(a.size, '4096M');
    const b = parseBootstrapArgs(
      [...withValue('--size', '2048M'), '--host', '127.0.0.1', '--port', '8443', '--timeout', '60', '--debug'],
      now,
    );
    assert.equal(b.sizeMiB, 2048);
    assert.equal(b.port, 8443);
    assert.equal(b.timeoutMs, 60_000);
    assert.equal(b.debug, true);
    assert.equal(parseBootstrapArgs(withValue('--application', 'pkg.mod:app_1'), now).application, 'pkg.mod:app_1');
  });

  it('refuses missing, malformed or unknown arguments (the rules of launch/args.ts), naming the option', () => {
    const bad: string[][] = [
      without('--size'),
      without('--subject'),
      without('--san'),
      without('--id'),
      without('--application'),
      without('--expiration'),
      withValue('--size', '4096'),
      withValue('--size', '0M'),
      // one spelling per value: the text is measured
      withValue('--size', '2G'),
      withValue('--id', '63322F85-1FF8-4483-91AE-F18D7398D157'),
      withValue('--id', 'not-a-uuid'),
      withValue('--application', 'app'),
      withValue('--application', 'app:app:x'),
      withValue('--application', '../x:app'),
      withValue('--expiration', '12abc'),
      withValue('--expiration', String(Date.parse('2029-01-01T00:00:00Z') / 1000)),
      withValue('--subject', 'CN=a, O=b'),
      withValue('--subject', 'XX=a'),
      withValue('--san', 'two words'),
      [...base, '--port', '0'],
      [...base, '--port', '70000'],
      [...base, '--timeout', '-1'],
      [...base, '--force'],
      [...base, 'positional'],
    ];
    for (const argv of bad) assert.throws(() => parseBootstrapArgs(argv, now), UsageError, argv.join(' '));
    assert.throws(() => parseBootstrapArgs(without('--san'), now), {
      code: 'ERR_ENCLAVE_ARGS',
      message: '--san is missing',
    });
    assert.throws(
      () => parseBootstrapArgs(withValue('--expiration', String(Date.parse('2029-01-01T00:00:00Z') / 1000)), now),
      {
        code: 'ERR_ENCLAVE_EXPIRED',
      },
    );
  });
});

describe('argvFileOf (mse-run --argv-file FILE)', () => {
  it('names the file only for exactly that command line', () => {
    assert.equal(argvFileOf(['--argv-file', '/opt/mse/enclave/args']), '/opt/mse/enclave/args');
    assert.equal(argvFileOf(base), undefined);
    for (const argv of [['--argv-file'], ['--argv-file', ''], ['--argv-file', '/f', '--debug']]) {
      assert.throws(() => argvFileOf(argv), UsageError, argv.join(' '));
    }
  });
});

describe('an argv file carries only the measured arguments (review info c)', () => {
  // the bootstrap (--argv-file) and the operator's reader (evidence, run, status): one decoder, each its code
  const fromFile = (vector: string[]) => fromEnclaveArgvFile(serializeArgvFile([...LAUNCHER_ARGV, ...vector]));
  it('accepts exactly the six measured arguments, refuses anything unmeasured or repeated', () => {
    assert.equal(parseBootstrapArgs(base, now, 'args-file').id, '63322f85-1ff8-4483-91ae-f18d7398d157');
    const listening = [...base, '--host', '127.0.0.1', '--port', '8443'];
    assert.equal(parseBootstrapArgs(listening, now, 'args-file').port, 8443, 'where it listens');
    assert.equal(fromFile(listening).appId, '63322f85-1ff8-4483-91ae-f18d7398d157');
    for (const extra of [
      ['--debug'],
      ['--timeout', '5'],
      ['--port', '8443', '--port', '9443'],
      ['--id', '00000000-0000-4000-8000-000000000000'], // a second UUID a lenient parser would let win
      ['stray'],
    ]) {
      const vector = [...base, ...extra];
      assert.throws(() => parseBootstrapArgs(vector, now, 'args-file'), { code: 'ERR_ENCLAVE_ARGS' }, extra.join(' '));
      assert.throws(() => fromFile(vector), { code: 'ERR_ARGV_FILE' }, extra.join(' '));
    }
    assert.throws(() => fromFile([...base, '--debug']), { message: /--debug is not measured/ });
    // the same options on a command line (tests, Gramine's measured argv) stay accepted
    const line = parseBootstrapArgs([...base, '--debug', '--timeout', '5', '--port', '8443'], now);
    assert.deepEqual([line.debug, line.timeoutMs, line.port], [true, 5000, 8443]);
  });
});
