// The linked CLI that bin/mse.js runs (dist/bundle/, scripts/build-cli.js) is the compiled CLI: every
// command's module loads from its chunk and answers --help, and errors, exactly as dist/cli does.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../testing/vectors.js';
import { main as compiledMain } from './main.js';
import { COMMANDS } from './registry.js';

const BUNDLE = path.join(REPO_ROOT, 'dist', 'bundle', 'main.mjs');
type Main = typeof compiledMain;

/** Run a CLI `main` in-process; returns exit code, stdout and stderr. */
async function run(main: Main, argv: string[]): Promise<[number, string, string]> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    ({ write: (s: string) => into.push(String(s)) > 0, isTTY: false }) as unknown as NodeJS.WritableStream;
  const code = await main(argv, { stdout: sink(out), stderr: sink(err), env: { NO_COLOR: '1' } });
  return [code, out.join(''), err.join('')];
}

describe('the bundled CLI', () => {
  it('is built by npm run build', () => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run 'npm run build'`);
  });

  it('answers the top help and every command help like the compiled CLI', async () => {
    const bundled = ((await import(pathToFileURL(BUNDLE).href)) as { main: Main }).main;
    const argvs = [['home', '--help'], ['--version'], ...COMMANDS.map((c) => ['home', ...c.name.split(' '), '--help'])];
    for (const argv of argvs) {
      assert.deepEqual(await run(bundled, argv), await run(compiledMain, argv), argv.join(' '));
    }
  });

  it('reports errors like the compiled CLI', async () => {
    const bundled = ((await import(pathToFileURL(BUNDLE).href)) as { main: Main }).main;
    for (const argv of [
      ['home', 'nope'],
      ['home', 'seal', '--bogus'],
      ['home', 'verify', '--output', '.'],
    ]) {
      const [code, stdout, stderr] = await run(bundled, argv);
      assert.deepEqual([code, stdout, stderr], await run(compiledMain, argv), argv.join(' '));
      assert.notEqual(code, 0);
    }
  });
});
