/** Run the real `mse` CLI (bin/mse.js) as a child process, for end-to-end tests. Tests only. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { REPO_ROOT } from './vectors.js';

export const MSE_BIN = path.join(REPO_ROOT, 'bin', 'mse.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  /** Peak resident set size of the CLI process, bytes (with `measureRss`). */
  maxRssBytes?: number;
  /** True when the run was killed after `timeoutMs`. */
  timedOut: boolean;
}

export interface RunMseOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /**
   * Standard input: nothing (default), bytes written then closed, a stream (e.g. another child's stdout) or
   * an open file descriptor.
   */
  stdin?: Buffer | Readable | number;
  /** Report the process's peak RSS (`getrusage` at exit, through a preloaded module). */
  measureRss?: boolean;
}

// Preloaded with --import: writes the process's peak RSS (kB, from getrusage) to $MSE_TEST_RSS_FILE at exit.
const RSS_PROBE =
  'data:text/javascript,import{writeFileSync}from"node:fs";' +
  'process.on("exit",()=>writeFileSync(process.env.MSE_TEST_RSS_FILE,String(process.resourceUsage().maxRSS)))';

/** Run `mse ...args`; never throws on a non-zero exit. */
export function runMse(args: string[], options: RunMseOptions = {}): Promise<CliResult> {
  const probeDir = options.measureRss ? mkdtempSync(path.join(os.tmpdir(), 'mse-rss-')) : undefined;
  const rssFile = probeDir ? path.join(probeDir, 'rss') : undefined;
  const input = options.stdin;
  const stdin = input === undefined ? 'ignore' : Buffer.isBuffer(input) ? 'pipe' : input;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(rssFile ? ['--import', RSS_PROBE] : []), MSE_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env, ...(rssFile ? { MSE_TEST_RSS_FILE: rssFile } : {}) },
      stdio: [stdin as 'pipe', 'pipe', 'pipe'],
    });
    if (Buffer.isBuffer(input)) {
      child.stdin.on('error', () => undefined); // the CLI may stop reading early (EPIPE)
      child.stdin.end(input);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      let maxRssBytes: number | undefined;
      if (rssFile) {
        try {
          maxRssBytes = Number(readFileSync(rssFile, 'utf8')) * 1024;
        } catch {
          maxRssBytes = undefined; // killed before exiting normally
        }
        rmSync(probeDir!, { recursive: true, force: true });
      }
      resolve({
        code: code ?? -1,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
        ...(maxRssBytes !== undefined ? { maxRssBytes } : {}),
        timedOut,
      });
    });
  });
}
