#!/usr/bin/env node
// Counts the non-null assertions (`x!`, TypeScript's NonNullExpression) in src/ source files (tests and
// src/testing/ excluded), per file. Each `!` hides a value the type system says may be absent; issue 9
// keeps their number under a budget that only goes down (src/non-null.test.ts, docs/architecture.md).
//   node scripts/non-null-count.js             files with assertions, most first, and the total
//   node scripts/non-null-count.js --max 30    the same; exit status 1 if the total is over 30
//   node scripts/non-null-count.js --json      { total, files: [{ file, count, lines }] } most first
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { SRC, srcFiles } from './src-files.js';

/**
 * The lines (1-based) of every non-null assertion in one file.
 * @param {string} text the file's source
 * @param {string} file its name (for the parser)
 * @returns {number[]}
 */
export function nonNullAssertions(text, file) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines = [];
  const visit = (node) => {
    if (ts.isNonNullExpression(node)) lines.push(sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return lines;
}

/**
 * The non-null assertions of src/ source files: the files that have any, most first, and the total.
 * @returns {{total: number, files: {file: string, count: number, lines: number[]}[]}}
 */
export function srcNonNullCounts() {
  const files = srcFiles()
    .map((rel) => {
      const lines = nonNullAssertions(readFileSync(path.join(SRC, rel), 'utf8'), `src/${rel}`);
      return { file: `src/${rel}`, count: lines.length, lines };
    })
    .filter((f) => f.count > 0)
    .sort((a, b) => b.count - a.count || a.file.localeCompare(b.file));
  return { total: files.reduce((n, f) => n + f.count, 0), files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--max');
  const max = i >= 0 ? Number(args[i + 1]) : undefined;
  if (max !== undefined && !Number.isInteger(max)) {
    console.error('--max needs a whole number');
    process.exit(2);
  }
  const counts = srcNonNullCounts();
  if (args.includes('--json')) {
    console.log(JSON.stringify(counts, null, 2));
  } else {
    for (const f of counts.files) console.log(`${String(f.count).padStart(5)}  ${f.file}`);
    console.log(`${counts.total} non-null assertion(s)${max !== undefined ? ` (budget ${max})` : ''}`);
  }
  if (max !== undefined && counts.total > max) process.exit(1);
}
