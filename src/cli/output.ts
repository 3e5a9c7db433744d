/**
 * Where a command's data goes: `--output FILE` (written atomically) or `--output -` (stdout, only when the
 * user asks for it). Binary or secret data is never printed by default.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic, type AtomicWriteOptions } from '../fs/files.js';
import type { CommandContext } from './command.js';

/** `--output` value meaning stdout. */
export const STDOUT = '-';

/**
 * Write `data` to `target` (a file path, or `-` for stdout). Returns the path written, or `-`.
 * `what` names the data in the error shown when no target was given.
 */
export async function writeCommandOutput(
  ctx: CommandContext,
  target: string | undefined,
  data: string | Uint8Array,
  what: string,
  options: AtomicWriteOptions = {},
): Promise<string> {
  if (target === undefined) {
    throw new UsageError('ERR_MISSING_OPTION', `missing --output for the ${what}`, {
      hint: `Give --output FILE, or --output - to print the ${what} on stdout.`,
    });
  }
  if (target === STDOUT) {
    if (ctx.json) {
      throw new UsageError(
        'ERR_CONFLICTING_OPTIONS',
        '--output - cannot be combined with --json (stdout carries the JSON)',
      );
    }
    ctx.stdout.write(data);
    return STDOUT;
  }
  await writeFileAtomic(target, data, options);
  return target;
}

/** If `target` is an existing directory, the file `<target>/<name>` in it; otherwise `target` itself. */
export async function resolveOutputPath(target: string, name: string): Promise<string> {
  try {
    if ((await fs.stat(target)).isDirectory()) return path.join(target, name);
  } catch {
    // not there yet: a file path
  }
  return target;
}

/** Print a command's JSON result (`--json`). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(JSON.stringify({ ok: true, ...(value as object) }, null, 2) + '\n');
}
