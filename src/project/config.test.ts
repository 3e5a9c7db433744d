import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { vectorPath } from '../testing/vectors.js';
import { parseMseConfig } from './config.js';

const base = `name = "example"
python_application = "app:app"
healthcheck_endpoint = "/health"
tests_cmd = "pytest"
tests_requirements = ["pytest==7.2.0"]
`;

describe('mse.toml', () => {
  it("reads MSE's own mse.toml", () => {
    const { config, warnings } = parseMseConfig(readFileSync(vectorPath('mse', 'mse.toml'), 'utf8'));
    assert.deepEqual(config, {
      name: 'example',
      pythonApplication: 'app:app',
      healthcheckEndpoint: '/health',
      testsCmd: 'pytest',
      testsRequirements: ['intel-sgx-ra>=1.0.1,<1.1', 'pytest==7.2.0'],
    });
    assert.deepEqual(warnings, []);
  });

  it("ignores MSE's [cloud] tables: all_set.toml and MSE's cloud-only 'bad' files are valid home configs", () => {
    // MSE's bad_project_name.toml / bad_python_application.toml are rejected by MSE *Cloud* (unknown
    // project, app failing in the cloud); in home mode their [cloud] table is dropped, as in MSE.
    for (const [file, name] of [
      ['all_set.toml', 'helloworld'],
      ['bad_project_name.toml', 'helloworld'],
      ['bad_python_application.toml', 'bad_app'],
    ] as const) {
      const { config, warnings } = parseMseConfig(readFileSync(vectorPath('mse', file), 'utf8'), file);
      assert.equal(config.name, name);
      assert.equal(config.healthcheckEndpoint, '/');
      assert.deepEqual(warnings, []);
    }
  });

  it('warns about unknown keys', () => {
    const { warnings } = parseMseConfig(base + 'colour = "blue"\n', 'x/mse.toml');
    assert.deepEqual(warnings, ["x/mse.toml: unknown key 'colour' is ignored"]);
  });

  const bad: [string, string, RegExp][] = [
    ['syntax', 'name = "x\n', /not valid TOML at line 1/],
    ['missing key', base.replace(/^tests_cmd.*$/m, ''), /missing required key 'tests_cmd'/],
    ['wrong type', base.replace('"example"', '42'), /'name' must be a string, got number 42/],
    ['bad name', base.replace('"example"', '"../evil"'), /'name' must be/],
    ['bad application', base.replace('"app:app"', '"app"'), /'python_application' must be "module:variable"/],
    ['bad application 2', base.replace('"app:app"', '"app:app:x"'), /'python_application'/],
    ['bad endpoint', base.replace('"/health"', '"health"'), /'healthcheck_endpoint' must be a path/],
    ['bad tests_cmd', base.replace('"pytest"', '"/bin/sh -c true"'), /'tests_cmd' must start with a Python module/],
    [
      'bad requirements',
      base.replace('["pytest==7.2.0"]', '"pytest"'),
      /'tests_requirements' must be a list of strings/,
    ],
    [
      'bad requirement item',
      base.replace('["pytest==7.2.0"]', '[1]'),
      /'tests_requirements' must be a list of strings/,
    ],
  ];
  for (const [what, text, message] of bad) {
    it(`rejects ${what} naming the file and key`, () => {
      assert.throws(
        () => parseMseConfig(text, 'proj/mse.toml'),
        (e: Error & { code?: string }) =>
          e.code?.startsWith('ERR_CONFIG') === true && /proj\/mse\.toml/.test(e.message) && message.test(e.message),
      );
    });
  }
});
