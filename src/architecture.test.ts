// The layer order of src/ (docs/architecture.md, scripts/layers.js) holds, and `npm run lint` enforces it:
// - the folder import graph (scripts/import-graph.js) has no cycle and no import against the order;
// - ESLint, through the repository's own configuration, refuses the fixtures of test-fixtures/lint-layers/
//   that import upward, sideways, test code or a folder outside the order, and accepts the one that follows it.
// And no function of src/ (tests and test helpers aside) is over 120 lines (scripts/function-lengths.js).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO_ROOT } from './testing/vectors.js';

const FIXTURES = path.join(REPO_ROOT, 'test-fixtures', 'lint-layers');

interface Graph {
  edges: { from: string; to: string }[];
  cycles: string[][];
  violations: string[];
}

/** Lint a fixture as the file its first line names (`// as src/<folder>/<file>.ts`). */
async function lintFixture(
  eslint: ESLint,
  name: string,
): Promise<{ as: string; messages: ESLint.LintResult['messages'] }> {
  const code = readFileSync(path.join(FIXTURES, name), 'utf8');
  const as = /^\/\/ as (src\/\S+\.ts)\n/.exec(code)?.[1];
  assert.ok(as, `${name} names no path on its first line`);
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, as) });
  return { as, messages: result!.messages };
}

describe('the layer order of src/', () => {
  it('the folder import graph has no cycle and no import against the order', () => {
    const out = execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'import-graph.js'), '--json'], {
      encoding: 'utf8',
    });
    const graph = JSON.parse(out) as Graph;
    assert.ok(graph.edges.length > 50, 'the graph was read');
    assert.deepEqual(graph.cycles, []);
    assert.deepEqual(graph.violations, []);
    // The CLI is on top: nothing below imports it (the Logger and option types live in src/base).
    assert.deepEqual(
      graph.edges.filter((e) => e.to === 'cli').map((e) => e.from),
      [],
    );
  });

  it('npm run lint refuses an upward, sideways, test-code or unplaced import, and accepts a downward one', async () => {
    // The fixtures are linted as text under paths that do not exist: no type information for them (the
    // layer rule needs none), the rest of the repository's configuration as is.
    const eslint = new ESLint({ cwd: REPO_ROOT, overrideConfig: tseslint.configs.disableTypeChecked });
    const layerErrors = async (name: string): Promise<string[]> =>
      (await lintFixture(eslint, name)).messages
        .filter((m) => m.ruleId === 'layers/layers')
        .map((m) => `${m.line}: ${m.message}`);

    assert.deepEqual(await layerErrors('upward.ts'), [
      '3: src/docker/ may not import src/cli/ (cli/command.ts): it is in a higher layer (cli above runtime); see docs/architecture.md',
      '5: src/docker/ may not import src/deploy/ (deploy/spawn.ts): it is in a higher layer (flows above runtime); see docs/architecture.md',
      '6: src/docker/ may not import src/sim/ (sim/index.ts): it is in a higher layer (platforms above runtime); see docs/architecture.md',
    ]);
    assert.deepEqual(await layerErrors('same-layer.ts'), [
      '3: src/sim/ may not import src/sgx/ (sgx/base-image.ts): it is in the same layer (platforms); see docs/architecture.md',
    ]);
    assert.deepEqual(await layerErrors('test-code.ts'), [
      '3: src/package/ may not import test code (testing/vectors.ts): only tests may',
    ]);
    assert.deepEqual(await layerErrors('unknown-folder.ts'), [
      '3: src/newfolder is in no layer: add it to LAYERS in scripts/layers.js and to docs/architecture.md',
    ]);
    const allowed = await lintFixture(eslint, 'allowed.ts');
    assert.deepEqual(allowed.messages, [], JSON.stringify(allowed.messages));
    // every fixture was exercised
    assert.deepEqual(
      readdirSync(FIXTURES)
        .filter((f) => f.endsWith('.ts'))
        .sort(),
      ['allowed.ts', 'same-layer.ts', 'test-code.ts', 'unknown-folder.ts', 'upward.ts'],
    );
  });
});

/** One function as scripts/function-lengths.js measures it. */
interface FunctionLength {
  file: string;
  line: number;
  name: string;
  lines: number;
}

const LENGTHS_SCRIPT = path.join(REPO_ROOT, 'scripts', 'function-lengths.js');

describe('the length of the functions of src/', () => {
  it('no function of src/ is over 120 lines', () => {
    const run = spawnSync(process.execPath, [LENGTHS_SCRIPT, '--max', '120', '--json'], { encoding: 'utf8' });
    assert.equal(run.stderr, '');
    const over = JSON.parse(run.stdout) as FunctionLength[];
    assert.deepEqual(
      over.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`),
      [],
      'split these into named steps (docs/architecture.md, "Function length")',
    );
    assert.equal(run.status, 0);
  });

  it('the measure counts every kind of function, nested ones inside their parent and on their own', async () => {
    const { functionLengths } = (await import(pathToFileURL(LENGTHS_SCRIPT).href)) as {
      functionLengths(text: string, file: string): FunctionLength[];
    };
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      'export function outer(): void {', // line 1
      body(3),
      '  const inner = () => {', // line 5
      body(119),
      '  };', // line 125
      '}', // line 126
      'class C {',
      '  method(): number {', // line 128
      '    return 1;',
      '  }',
      '}',
    ].join('\n');
    const found = functionLengths(text, 'x.ts').map((f) => `${f.name}@${f.line}:${f.lines}`);
    assert.deepEqual(found, ['outer@1:126', 'inner@5:121', 'method@128:3']);
  });
});
