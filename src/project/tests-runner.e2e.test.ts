// tests_requirements against this machine's real Debian Python and apt: importable modules are never
// reported, a Debian package is suggested only when apt knows it, and the vetted table names real packages.
// Needs Debian's /usr/bin/python3 and apt-cache (no Docker).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Logger } from '../base/log.js';
import { checkTestRequirements, DEBIAN_PACKAGES, DEFAULT_PYTHON, IMPORT_NAMES } from './tests-runner.js';

/** Test double of the CLI logger: keeps the warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const none = (): void => undefined;
  return { warnings, info: none, success: none, line: none, warn: (m) => void warnings.push(m), phase: () => none };
}

/** Whether apt on this machine has an installable candidate for `pkg`. */
function aptKnows(pkg: string): boolean {
  const out = execFileSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  return /^\s+Candidate: (?!\(none\))\S/m.test(out);
}

/** Whether Debian's Python imports `module` here. */
function imports(module: string): boolean {
  try {
    execFileSync(DEFAULT_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('tests_requirements on this machine', () => {
  it('says nothing about requirements that import, whatever their distribution is called', async () => {
    const log = recordingLogger();
    // PyYAML imports as yaml; asyncio is in the standard library (no distribution); requests, pytest are Debian's.
    await checkTestRequirements(DEFAULT_PYTHON, ['requests>=2', 'pytest', 'PyYAML', 'asyncio', 'cryptography'], log);
    assert.deepEqual(log.warnings, []);
  });

  it('suggests only Debian packages apt knows, and none for a module nothing provides', async () => {
    assert.equal(imports('sklearn'), false, 'this test needs scikit-learn to be absent');
    const log = recordingLogger();
    const bogus = `mse-no-such-module-${process.pid}`;
    await checkTestRequirements(DEFAULT_PYTHON, ['scikit-learn', bogus, 'requests'], log);
    assert.equal(log.warnings.length, 1);
    const [warning] = log.warnings as [string];
    assert.match(
      warning,
      new RegExp(`${bogus} \\(module ${bogus.replace(/-/g, '_')}\\): no Debian package found for it`),
    );
    if (aptKnows('python3-sklearn'))
      assert.match(warning, /scikit-learn \(module sklearn\): apt-get install python3-sklearn/);
    else assert.match(warning, /scikit-learn \(module sklearn\): no Debian package found/);
    assert.doesNotMatch(warning, /python3-scikit-learn|python3-mse-no-such|requests/);
    // Every package it names exists.
    for (const pkg of warning.match(/python3-[a-z0-9.+-]+/g) ?? []) assert.ok(aptKnows(pkg), pkg);
  });

  it(
    'the vetted tables name packages Debian has',
    { skip: !aptKnows('python3-yaml') && 'apt has no package lists (apt-get update)' },
    () => {
      for (const pkg of Object.values(DEBIAN_PACKAGES)) assert.ok(aptKnows(pkg), pkg);
      // Each mapped module is provided by python3-<module> (or the table above) in Debian.
      for (const module of new Set(Object.values(IMPORT_NAMES))) {
        const pkg = DEBIAN_PACKAGES[module] ?? `python3-${module.toLowerCase().replace(/_/g, '-')}`;
        assert.ok(aptKnows(pkg), `${module}: ${pkg}`);
      }
    },
  );
});
