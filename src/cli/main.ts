/**
 * `mse` entry point: `mse home <command> [options]`, `mse --version`, `mse home --help`.
 * Resolves the command, parses its flags strictly, runs it, and turns errors into one clear line (or JSON)
 * and a documented exit code.
 */
import { inspect } from 'node:util';
import { holdInterruptsAfterCommit, interruptActiveScopes } from '../docker/cleanup.js';
import { ExitCode, InterruptedError, MseError, UsageError, isMseError } from '../errors.js';
import { parseCommandArgs, renderHelp } from './command.js';
import { createLogger, formatError } from '../base/log.js';
import { COMMANDS, findCommand } from './registry.js';
import { outputError } from '../fs/files.js';
import { guardOutputStreams, isReaderGone } from './stdio.js';
import { VERSION } from '../version.js';

export interface RunOptions {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/**
 * The `mse` process (bin/mse.js): {@link main} on the process's stdio, plus what only a whole process can
 * do. When stdout or stderr closes under a command (`mse home list | head -1`), the command is interrupted
 * like a Ctrl-C but quietly: a command that was creating something undoes it (see `docker/cleanup.ts`),
 * and the process exits 141 (128 + SIGPIPE, what a shell reports for `yes | head -1`) without a stack
 * trace or a message. A write that fails for another reason (`> /dev/full`: ENOSPC) stops the command the
 * same way but is reported on the other stream with its code (`ERR_DISK_FULL`, exit 3). After an interrupt the process exits as soon as the command's clean-up scope rejects,
 * even if an engine call that could not be cancelled is still pending (the scope has waited a bounded time
 * for it and undone what it made, see `docker/cleanup.ts`).
 */
export async function runCli(argv: string[]): Promise<number> {
  holdInterruptsAfterCommit();
  // A device error (stdout redirected to a full disk) is not a reader that left: say so on the other
  // stream, and exit with its code rather than 141.
  let failure: MseError | undefined;
  guardOutputStreams([process.stdout, process.stderr], (error, stream) => {
    if (!isReaderGone(error)) {
      const name = stream === process.stdout ? 'stdout' : 'stderr';
      failure = outputError(error, name, 'to');
      const other = stream === process.stdout ? process.stderr : process.stdout;
      other.write(formatError(failure.code, failure.message, failure.hint, process.env, other) + '\n');
    }
    if (!interruptActiveScopes('SIGPIPE')) process.exit(failure?.exitCode ?? ExitCode.outputClosed);
  });
  const code = await main(argv);
  if (code === ExitCode.interrupted || code === ExitCode.terminated || code === ExitCode.outputClosed) {
    process.exit(code === ExitCode.outputClosed && failure ? failure.exitCode : code);
  }
  return code;
}

/** Run the CLI with `argv` (without `node` and the script) and return the exit code. */
export async function main(argv: string[], options: RunOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const json = argv.includes('--json');
  try {
    return await dispatch(argv, stdout, stderr, env, json);
  } catch (error) {
    return report(error, json, stdout, stderr, env);
  }
}

async function dispatch(
  argv: string[],
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  json: boolean,
): Promise<number> {
  let args = argv;
  if (args[0] === '--version' || args[0] === '-V') {
    stdout.write(`mse-home ${VERSION}\n`);
    return ExitCode.ok;
  }
  if (args[0] !== 'home') {
    if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
      stdout.write(topHelp());
      return ExitCode.ok;
    }
    // Like MSE_DEFAULT_ENV=home in MSE: `mse seal …` means `mse home seal …`.
    if (env.MSE_DEFAULT_ENV === 'home') args = ['home', ...args];
    else {
      throw new UsageError('ERR_UNKNOWN_COMMAND', `unknown command '${args[0]}'`, {
        hint: "Commands live under 'mse home', e.g. 'mse home --help'.",
      });
    }
  }
  const rest = args.slice(1);
  if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help') {
    stdout.write(topHelp());
    return ExitCode.ok;
  }
  const found = findCommand(rest);
  if (!found) {
    const near = COMMANDS.filter((c) => c.name.startsWith(rest[0] ?? '')).map((c) => c.name);
    throw new UsageError('ERR_UNKNOWN_COMMAND', `unknown command 'mse home ${rest[0]}'`, {
      hint: near.length ? `Did you mean: ${near.join(', ')}?` : "Run 'mse home --help' for the list of commands.",
    });
  }
  const spec = (await found.entry.load()).default;
  const parsed = parseCommandArgs(spec, rest.slice(found.consumed));
  if (parsed.values.help) {
    stdout.write(renderHelp(spec));
    return ExitCode.ok;
  }
  const log = createLogger({ stream: stderr, env });
  const code = await spec.run({ values: parsed.values, positionals: parsed.positionals, json, log, stdout, env });
  return code ?? ExitCode.ok;
}

function report(
  error: unknown,
  json: boolean,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
): number {
  const e: MseError = isMseError(error)
    ? error
    : new MseError(
        'ERR_INTERNAL',
        `unexpected failure: ${(error as Error)?.message ?? String(error)}`,
        ExitCode.internal,
        {
          hint: 'This is a bug in mse-home; rerun with MSE_BACKTRACE=full and report it.',
          cause: error,
        },
      );
  if (json) stdout.write(JSON.stringify({ ok: false, ...e.data, error: e.toJSON() }) + '\n');
  // Closing the output is the user's doing, not an error to report (and there is nowhere to report it).
  if (e instanceof InterruptedError && e.signal === 'SIGPIPE') return e.exitCode;
  stderr.write(formatError(e.code, e.message, e.hint, env, stderr) + '\n');
  if (env.MSE_BACKTRACE === 'full') {
    stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    let cause = (error as Error)?.cause;
    while (cause) {
      stderr.write(`caused by: ${(cause as Error)?.stack ?? inspect(cause)}\n`);
      cause = (cause as Error)?.cause;
    }
  }
  return e.exitCode;
}

function topHelp(): string {
  const groups: Record<string, string> = { provider: 'Code provider', operator: 'SGX operator', tools: 'Tools' };
  const lines = [
    `mse-home ${VERSION}: confidential Python microservices in Intel SGX enclaves`,
    '',
    'Usage: mse home <command> [options]',
    '',
  ];
  for (const [role, title] of Object.entries(groups)) {
    const cmds = COMMANDS.filter((c) => c.role === role);
    if (!cmds.length) continue;
    lines.push(role === 'tools' ? `${title}:` : `${title} commands:`);
    for (const c of cmds) lines.push(`  ${c.name.padEnd(16)}${c.summary}`);
    lines.push('');
  }
  lines.push(
    'Global options:',
    '  --json          machine-readable output on stdout',
    '  -h, --help      help for a command',
    '  --version       print the version',
    '',
    'Example: mse home scaffold my_app && mse home seal --help',
    'Exit codes and error codes: docs/cli.md. Stack traces: MSE_BACKTRACE=full.',
    '',
  );
  return lines.join('\n');
}
