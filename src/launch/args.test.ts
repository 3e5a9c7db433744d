// The spawn arguments' one set of rules and their forms: the rules themselves, how each context reports a
// violation (spawn's codes, the argv file's, the bootstrap's, evidence.json's field paths, the sgx
// manifest's), and the round trips through the argument vector, the argv file and input_args.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readJson } from '../base/json-fields.js';
import { InputError, UsageError } from '../errors.js';
import {
  checkInputArgs,
  decodeEnclaveArgv,
  decodeEvidenceInputArgs,
  encodeEnclaveArgv,
  encodeEvidenceInputArgs,
  argsOfArgvFile,
  enclaveArgv,
  enclaveArgvFile,
  fromEnclaveArgvFile,
  inputArgProblem,
  MAX_EXPIRATION,
  measurableArgProblem,
  parseArgvFile,
  serializeArgvFile,
  spawnArgsOfEvidence,
  type InputArgs,
} from './args.js';
import { EXAMPLE_SPAWN_ARGS } from '../testing/spawn-args.js';

const args = EXAMPLE_SPAWN_ARGS;

/** A FieldFail that throws what it was given, for asserting the path and the detail. */
function failWith(path: string, detail: string): never {
  throw new Error(`${path} | ${detail}`);
}

describe('spawn arguments: the rules', () => {
  it('accept what MSE and Gramine accept', () => {
    for (const size of [1024, 2048, 4096, 1 << 16])
      assert.equal(inputArgProblem('size', size), undefined, String(size));
    for (const san of ['localhost', 'app.example.com', '192.0.2.1', '::1'])
      assert.equal(inputArgProblem('san', san), undefined);
    for (const application of ['app:app', 'pkg.mod:app_1'])
      assert.equal(inputArgProblem('application', application), undefined);
    for (const expiration of [1, MAX_EXPIRATION]) assert.equal(inputArgProblem('expiration', expiration), undefined);
    assert.equal(inputArgProblem('subject', 'CN=localhost,O=MyApp Company,C=FR,L=Paris,ST=Ile-de-France'), undefined);
  });

  it('refuse everything else, saying what the value must be', () => {
    const bad: [keyof InputArgs, unknown, RegExp][] = [
      ['size', 512, /power of two of at least 1024/],
      ['size', 1000, /power of two/],
      ['size', 3072, /power of two/],
      ['size', 1.5, /power of two/],
      ['size', 2 ** 17, /at most 65536/],
      ['size', '2048', /power of two/],
      ['san', '', /one DNS name or IP/],
      ['san', 'two names', /one DNS name or IP/],
      ['san', 'a..b', /one DNS name or IP/],
      ['san', '-bad.example', /one DNS name or IP/],
      ['appId', 'nope', /lowercase version 4 UUID/],
      ['appId', '63322F85-1FF8-4483-91AE-F18D7398D157', /lowercase version 4 UUID/],
      ['appId', '63322f85-1ff8-1483-91ae-f18d7398d157', /version 4/],
      ['application', 'app', /module:variable/],
      ['application', 'app:app:x', /module:variable/],
      ['application', '../x:app', /module:variable/],
      ['expiration', 0, /Unix time/],
      ['expiration', -1, /Unix time/],
      ['expiration', MAX_EXPIRATION + 1, /Unix time/],
      ['subject', 'CN=a, O=b', /RFC 4514/],
      ['subject', 'XX=a', /RFC 4514/],
      ['subject', 'CN=a\0b', /NUL/],
      ['subject', 'CN=\uD800', /lone surrogate/],
      ['subject', 42, /must be a string/],
    ];
    for (const [key, value, detail] of bad)
      assert.match(inputArgProblem(key, value) ?? '', detail, `${key}=${String(value)}`);
  });

  it("report through spawn's codes, each named by its option", () => {
    assert.throws(
      () => checkInputArgs({ ...args, size: 1000 }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.code, 'ERR_ENCLAVE_SIZE');
        assert.equal(e.message, '--size must be a power of two of at least 1024 (MiB), got 1000');
        return true;
      },
    );
    assert.throws(() => checkInputArgs({ ...args, san: 'x y' }), { code: 'ERR_SAN', message: /^--san must be/ });
    assert.throws(() => checkInputArgs({ ...args, subject: 'nonsense' }), {
      code: 'ERR_SUBJECT',
      message: /^--subject must be an RFC 4514 name/,
    });
    assert.throws(
      () => checkInputArgs({ ...args, appId: 'nope' }),
      (e: unknown) => e instanceof InputError && e.code === 'ERR_APP_ID',
    );
    assert.throws(() => checkInputArgs({ ...args, application: 'x' }), { code: 'ERR_APPLICATION' });
    assert.throws(() => checkInputArgs({ ...args, expiration: 0 }), { code: 'ERR_EXPIRATION' });
    assert.equal(checkInputArgs(args), args);
  });
});

describe('spawn arguments: the mse-run argument vector', () => {
  it("round-trips in MSE's order, with the bootstrap's options after", () => {
    const argv = encodeEnclaveArgv(args);
    assert.deepEqual(argv, [
      '--size', '2048M', '--subject', args.subject, '--san', 'localhost', '--id', args.appId,
      '--application', 'app:app', '--expiration', '1900000000',
    ]); // prettier-ignore
    assert.deepEqual(decodeEnclaveArgv(argv, failWith), { args });
    const full = encodeEnclaveArgv(args, { host: '0.0.0.0', port: 8443, timeout: 60, debug: true });
    assert.deepEqual(full.slice(12), ['--host', '0.0.0.0', '--port', '8443', '--timeout', '60', '--debug']);
    assert.deepEqual(decodeEnclaveArgv(full, failWith), {
      args,
      host: '0.0.0.0',
      port: 8443,
      timeout: 60,
      debug: true,
    });
  });

  it('decodes one spelling of each value and names the failing option', () => {
    const argv = encodeEnclaveArgv(args);
    const set = (option: string, value: string): string[] => argv.map((w, i) => (argv[i - 1] === option ? value : w));
    const cases: [string[], RegExp][] = [
      [argv.slice(2), /^--size \| is missing$/],
      [set('--size', '2048'), /^--size \| must be a number of MiB such as 4096M/],
      [set('--size', '2G'), /^--size \| must be a number of MiB/],
      [set('--size', '02048M'), /^--size \| must be a number of MiB/],
      [set('--size', '1000M'), /^--size \| must be a power of two/],
      [set('--expiration', '01900000000'), /^--expiration \| must be a positive decimal integer/],
      [set('--expiration', '12abc'), /^--expiration \| must be a positive decimal integer/],
      [set('--id', 'NOPE'), /^--id \| must be a lowercase version 4 UUID/],
      [set('--subject', 'CN=a, O=b'), /^--subject \| must be an RFC 4514 name/],
      [[...argv, '--size', '2048M'], /^--size \| is given twice$/],
      [[...argv, '--force'], /^--force \| is not an option of mse-run$/],
      [[...argv, 'positional'], /^positional \| is not an option/],
      [[...argv, '--port'], /^--port \| needs a value$/],
      [[...argv, '--port', '0'], /^--port \| must be a positive decimal integer/],
      [[...argv, '--port', '70000'], /^--port \| must be an integer from 1 to 65535/],
      [[...argv, '--timeout', '-1'], /^--timeout \| must be a positive decimal integer/],
      [[...argv, '--host', 'a b'], /^--host \| must be an address/],
      [[...argv, '--debug', '--debug'], /^--debug \| is given twice$/],
    ];
    for (const [bad, message] of cases)
      assert.throws(() => decodeEnclaveArgv(bad, failWith), { message }, bad.join(' '));
  });
});

describe('spawn arguments: the args file', () => {
  it("round-trips (Gramine's argv_src_file format: NUL-terminated, the launcher first)", () => {
    const file = enclaveArgvFile(args);
    assert.equal(file.at(-1), 0);
    // one file, both platforms: what Gramine starts (dash on the launcher), every argument, host and port
    const whole = [
      '/usr/bin/dash',
      '/usr/local/bin/mse-run',
      ...encodeEnclaveArgv(args),
      '--host',
      '0.0.0.0',
      '--port',
      '443',
    ];
    assert.deepEqual(enclaveArgv(args), whole);
    assert.deepEqual(parseArgvFile(file), whole);
    assert.equal(file.toString('utf8'), whole.map((a) => `${a}\0`).join(''));
    assert.deepEqual(argsOfArgvFile(file), whole.slice(2));
    assert.deepEqual(fromEnclaveArgvFile(file), args);
    assert.deepEqual(parseArgvFile(serializeArgvFile(['x', '', 'y z'])), ['x', '', 'y z']);
  });

  it('refuses a damaged file with ERR_ARGV_FILE naming the option', () => {
    for (const bad of [Buffer.alloc(0), Buffer.from('mse-run\0--size'), Buffer.from([0x6d, 0xff, 0x00])])
      assert.throws(() => parseArgvFile(bad), { code: 'ERR_ARGV_FILE' });
    assert.throws(() => serializeArgvFile(['a\0b']), { code: 'ERR_ARGV_FILE' });
    // an args file of another launcher (or of an earlier version: argv[0] 'mse-run') is refused
    assert.throws(() => argsOfArgvFile(serializeArgvFile(['mse-run', ...encodeEnclaveArgv(args)])), {
      code: 'ERR_ARGV_FILE',
    });
    assert.throws(
      () => fromEnclaveArgvFile(serializeArgvFile(['/usr/bin/dash', '/usr/local/bin/mse-run', '--size', '2048M'])),
      { code: 'ERR_ARGV_FILE', message: "the enclave arguments' --subject is missing" },
    );
  });
});

describe("spawn arguments: evidence.json's input_args", () => {
  const decode = (value: unknown) => decodeEvidenceInputArgs(readJson(value, failWith, 'input_args'));

  it("round-trips MSE's keys in MSE's order; expiration_date may be null", () => {
    const json = encodeEvidenceInputArgs(args);
    assert.equal(
      Object.keys(json).join(' '),
      'subject subject_alternative_name expiration_date size app_id application',
    );
    assert.deepEqual(decode(json), args);
    assert.deepEqual(decode({ ...json, expiration_date: null }), { ...args, expiration: null });
    assert.throws(() => spawnArgsOfEvidence({ ...args, expiration: null }), { code: 'ERR_EVIDENCE_FIELD' });
    assert.deepEqual(spawnArgsOfEvidence(args), args);
  });

  it('names the failing field by its path; only the shape: the values are claims verify judges', () => {
    const json = encodeEvidenceInputArgs(args);
    // a value spawn refuses is still read: verify measures it and names it in a failed check
    assert.deepEqual(decode({ ...json, size: 1025, app_id: 'nope' }), { ...args, size: 1025, appId: 'nope' });
    const cases: [unknown, string][] = [
      [[], 'input_args | must be an object'],
      [{ ...json, size: -1 }, 'input_args.size | must be a non-negative integer'],
      [{ ...json, size: '2048' }, 'input_args.size | must be a non-negative integer'],
      [{ ...json, app_id: undefined }, 'input_args.app_id | is missing'],
      [{ ...json, subject_alternative_name: '' }, 'input_args.subject_alternative_name | must be a non-empty string'],
      [{ ...json, expiration_date: '1' }, 'input_args.expiration_date | must be a non-negative integer'],
      [
        { ...json, python_path: '/tmp' },
        'input_args.python_path | is not a spawn argument this verifier knows (subject, subject_alternative_name, expiration_date, size, app_id, application)',
      ],
    ];
    for (const [value, message] of cases) assert.throws(() => decode(value), { message }, message);
  });
});

describe('spawn arguments: what a measurement accepts', () => {
  it('measures what spawn refuses but an enclave could run with; refuses what no argv can carry', () => {
    assert.equal(measurableArgProblem('size', 512), undefined);
    assert.equal(measurableArgProblem('appId', 'NOPE'), undefined);
    assert.equal(measurableArgProblem('size', 1025), '= 1025 MiB is not a power of two');
    assert.equal(measurableArgProblem('size', 2 ** 16), undefined, '64 GiB: the largest measured');
    assert.match(measurableArgProblem('size', 2 ** 17) ?? '', /more than 65536 MiB \(64 GiB\)/);
    assert.equal(measurableArgProblem('expiration', 0), '= 0 is not a positive Unix time');
    assert.match(measurableArgProblem('subject', 'CN=a\0b') ?? '', /NUL/);
    assert.match(measurableArgProblem('san', '\uDC00') ?? '', /well-formed Unicode/);
  });
});
