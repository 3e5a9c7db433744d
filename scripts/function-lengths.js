#!/usr/bin/env node
// Prints the longest functions of src/ (source files; tests and src/testing/ with --tests), measured in
// lines from the first line of the function (its name, or its `async`/`(`) to its closing brace, comments
// and blank lines inside included. Every kind counts: function declarations and expressions, arrow
// functions, methods, constructors, accessors; a nested function counts inside its parent and on its own.
//   node scripts/function-lengths.js               the 10 longest
//   node scripts/function-lengths.js --top 25      the 25 longest
//   node scripts/function-lengths.js --max 120     every function over 120 lines; exit status 1 if any
//   node scripts/function-lengths.js --json        [{ file, line, name, lines }] longest first
// The limit (issue 9: no function in src/ over 120 lines) is checked by src/architecture.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { SRC, srcFiles } from './src-files.js';

/** A readable name: the declared name, else the variable, property or call the function is bound to. */
function nameOf(node, sf) {
  if (node.name && !ts.isComputedPropertyName(node.name)) return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const p = node.parent;
  if (p && ts.isVariableDeclaration(p)) return p.name.getText(sf);
  if (p && ts.isPropertyAssignment(p)) return p.name.getText(sf);
  if (p && ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  if (p && ts.isCallExpression(p)) return `<callback of ${p.expression.getText(sf).slice(0, 40)}>`;
  return '<anonymous>';
}

/**
 * Every function of one file with its length in lines.
 * @param {string} text the file's source
 * @param {string} file its name (for the result and the parser)
 * @returns {{file: string, line: number, name: string, lines: number}[]}
 */
export function functionLengths(text, file) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, line: start + 1, name: nameOf(node, sf), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/**
 * The functions of src/, longest first.
 * @param {{tests?: boolean}} [options] include the test files and src/testing/
 */
export function srcFunctionLengths(options = {}) {
  const files = srcFiles({ tests: options.tests });
  const all = files.flatMap((rel) => functionLengths(readFileSync(path.join(SRC, rel), 'utf8'), `src/${rel}`));
  return all.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const valueOf = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const max = valueOf('--max');
  const top = valueOf('--top') ?? 10;
  const all = srcFunctionLengths({ tests: args.includes('--tests') });
  const shown = max !== undefined ? all.filter((f) => f.lines > max) : all.slice(0, top);
  if (args.includes('--json')) {
    console.log(JSON.stringify(shown, null, 2));
  } else {
    for (const f of shown) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
    if (max !== undefined) console.log(`${shown.length} function(s) over ${max} lines`);
  }
  if (max !== undefined && shown.length > 0) process.exit(1);
}
