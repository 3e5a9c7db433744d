// The pure parts of running a project's tests: requirement names, Debian package candidates, the test
// summary, the environment that keeps the project clean, and the one error both commands report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  debianCandidates,
  parseRequirements,
  parseTestSummary,
  testEnvironment,
  testsFailedError,
} from './tests-runner.js';

describe('tests_requirements', () => {
  it('maps distribution names to the module the tests import', () => {
    assert.deepEqual(
      parseRequirements(['scikit-learn>=1.0', 'PyYAML', 'requests[socks]; python_version>"3"', 'My_Pkg', ' ', '# x']),
      [
        { name: 'scikit-learn', module: 'sklearn' },
        { name: 'PyYAML', module: 'yaml' },
        { name: 'requests', module: 'requests' },
        { name: 'My_Pkg', module: 'my_pkg' },
      ],
    );
    assert.deepEqual(parseRequirements(['zope.interface']), [{ name: 'zope.interface', module: 'zope.interface' }]);
  });

  it("suggests Debian packages by the module's name first (Debian's Python policy), never python3-<pypi name> alone", () => {
    const [sk, yaml, cv, pb] = parseRequirements(['scikit-learn', 'PyYAML', 'opencv-python', 'protobuf']);
    assert.deepEqual(debianCandidates(sk!), ['python3-sklearn', 'python3-scikit-learn']);
    assert.deepEqual(debianCandidates(yaml!), ['python3-yaml', 'python3-pyyaml']);
    assert.equal(debianCandidates(cv!)[0], 'python3-opencv');
    assert.equal(debianCandidates(pb!)[0], 'python3-protobuf');
  });
});

describe('test summary', () => {
  it('reads pytest summaries, with or without the = rule', () => {
    const out =
      'test_a.py ..F\n\n=========================== short test summary info ============================\nFAILED test_a.py::x\n========================= 1 failed, 4 passed in 0.28s ==========================\n';
    assert.deepEqual(parseTestSummary(out), { line: '1 failed, 4 passed in 0.28s', passed: 4, failed: 1 });
    assert.deepEqual(parseTestSummary('....\n4 passed, 1 skipped, 2 warnings in 1.02s\n'), {
      line: '4 passed, 1 skipped, 2 warnings in 1.02s',
      passed: 4,
      skipped: 1,
    });
    assert.deepEqual(parseTestSummary('1 error in 0.10s'), { line: '1 error in 0.10s', errors: 1 });
    assert.deepEqual(parseTestSummary('===== no tests ran in 0.01s ====='), { line: 'no tests ran in 0.01s' });
  });

  it('reads unittest summaries', () => {
    assert.deepEqual(parseTestSummary('..F.\n------\nRan 4 tests in 0.003s\n\nFAILED (failures=1)\n'), {
      line: 'Ran 4 tests in 0.003s FAILED (failures=1)',
      total: 4,
      failed: 1,
      passed: 3,
    });
    assert.deepEqual(parseTestSummary('Ran 2 tests in 0.1s\n\nOK\n'), {
      line: 'Ran 2 tests in 0.1s OK',
      total: 2,
      passed: 2,
    });
  });

  it('has none for output without a summary', () => {
    assert.equal(parseTestSummary('Traceback (most recent call last):\nImportError: x\n'), undefined);
  });
});

describe('test runs', () => {
  it("write no bytecode and no pytest cache into the project, keeping the user's pytest options", () => {
    const env = testEnvironment({ PATH: '/bin', PYTEST_ADDOPTS: '-x' });
    assert.equal(env.PATH, '/bin');
    assert.equal(env.PYTHONDONTWRITEBYTECODE, '1');
    assert.equal(env.PYTEST_ADDOPTS, '-x -p no:cacheprovider');
    assert.equal(testEnvironment(env).PYTEST_ADDOPTS, '-x -p no:cacheprovider');
  });

  it('fail with ERR_TESTS_FAILED (exit 8), the summary in the message and the JSON fields beside the error', () => {
    const e = testsFailedError(
      'pytest -q',
      { code: 1, summary: { line: '1 failed, 4 passed in 0.2s', failed: 1, passed: 4 } },
      { url: 'u' },
    );
    assert.equal(e.code, 'ERR_TESTS_FAILED');
    assert.equal(e.exitCode, 8);
    assert.match(e.message, /python3 -m pytest -q exited with 1 \(1 failed, 4 passed in 0\.2s\)/);
    assert.deepEqual(e.data, {
      url: 'u',
      tests: 'failed',
      testsExitCode: 1,
      testSummary: { line: '1 failed, 4 passed in 0.2s', failed: 1, passed: 4 },
    });
    assert.match(testsFailedError('pytest', { code: 5, summary: undefined }).hint, /collected no tests/);
  });
});
