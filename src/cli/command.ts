/**
 * The contract of a CLI command: one module per command under `src/cli/commands/`, default-exporting a
 * {@link CommandSpec}. Modules are imported only when their command runs (see `registry.ts`), which keeps
 * `mse home --help` fast. Arguments are parsed strictly with Node's `util.parseArgs`: unknown flags,
 * missing values and stray positionals are usage errors.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import type { Logger } from '../base/log.js';
import type { OptionSpec, OptionValues } from '../base/options.js';

// The option vocabulary is part of a command's contract: command modules import it from here.
export {
  durationOption,
  integerOption,
  requiredInteger,
  requiredString,
  requireOneOf,
  stringOption,
  type OptionSpec,
  type OptionValues,
} from '../base/options.js';

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
}

export interface CommandContext {
  /** Parsed flags, keyed by long name. */
  values: OptionValues;
  positionals: string[];
  /** `--json` was given: machine-readable data on stdout, nothing else there. */
  json: boolean;
  /** Human-oriented logs and progress, on stderr. */
  log: Logger;
  /** Data output (stdout). */
  stdout: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface CommandSpec {
  /** Words after `mse home`, e.g. `seal` or `quote verify`. */
  name: string;
  summary: string;
  /** Longer explanation, shown by `--help`. */
  description?: string;
  options: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  /** At least one full example command line. */
  examples: string[];
  /** Return the exit code (default 0). */
  run(ctx: CommandContext): Promise<number | void>;
}

/**
 * The positional argument at `index` of a command that declares it required, typed as present (the parser
 * has already refused its absence with ERR_MISSING_ARGUMENT; this keeps the type honest, not asserted).
 */
export function requiredPositional(ctx: Pick<CommandContext, 'positionals'>, index = 0): string {
  const v = ctx.positionals[index];
  if (v === undefined) throw new UsageError('ERR_MISSING_ARGUMENT', `missing argument ${index + 1}`);
  return v;
}

/** Flags every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout (errors included).' },
  help: { type: 'boolean', short: 'h', description: 'Show this help.' },
};

export interface ParsedArgs {
  values: OptionValues;
  positionals: string[];
}

/** A negative number (`-1`, `-0.5`): a value, never an option, since no option is named by digits. */
const NEGATIVE_NUMBER = /^-[0-9]+(?:\.[0-9]+)?$/;

/**
 * `--opt -1` → `--opt=-1` (and `-o -1` → `--opt=-1`) for options that take a value: `util.parseArgs`
 * refuses a value starting with `-` as ambiguous, but a negative number cannot be an option. The value is
 * then checked (and refused with its range) by the option's own parser, e.g. {@link integerOption}.
 */
export function joinNegativeValues(argv: string[], options: Record<string, OptionSpec>): string[] {
  const takesValue = (arg: string): string | undefined => {
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    if (long !== undefined) return options[long]?.type === 'string' ? long : undefined;
    const short = /^-([^-])$/.exec(arg)?.[1];
    if (short === undefined) return undefined;
    const entry = Object.entries(options).find(([, o]) => o.short === short);
    return entry?.[1].type === 'string' ? entry[0] : undefined;
  };
  const out: string[] = [];
  const args = argv.entries();
  for (const [i, arg] of args) {
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = takesValue(arg);
    const next = argv[i + 1];
    if (name !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`--${name}=${next}`);
      args.next(); // the value is taken
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parse `argv` for `spec`, strictly. Throws `UsageError` with a specific code. */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options = { ...GLOBAL_OPTIONS, ...spec.options };
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw translateParseError(error as Error & { code?: string }, spec);
  }
  const values = parsed.values as OptionValues;
  if (values.help) return { values, positionals: parsed.positionals };

  const allowed = spec.positionals ?? [];
  if (parsed.positionals.length > allowed.length) {
    const extra = parsed.positionals[allowed.length];
    throw new UsageError('ERR_UNEXPECTED_ARGUMENT', `unexpected argument '${extra}' for 'mse home ${spec.name}'`, {
      hint: `Run 'mse home ${spec.name} --help' for usage.`,
    });
  }
  allowed.forEach((p, i) => {
    if (p.required && parsed.positionals[i] === undefined) {
      throw new UsageError(
        'ERR_MISSING_ARGUMENT',
        `missing argument ${p.name.toUpperCase()} for 'mse home ${spec.name}'`,
        {
          hint: `Run 'mse home ${spec.name} --help' for usage.`,
        },
      );
    }
  });
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.required && values[name] === undefined) {
      throw new UsageError('ERR_MISSING_OPTION', `missing required option --${name} for 'mse home ${spec.name}'`, {
        hint: `Run 'mse home ${spec.name} --help' for usage.`,
      });
    }
    const v = values[name];
    if (typeof v === 'string' && v.length === 0) {
      throw new UsageError('ERR_EMPTY_OPTION', `option --${name} needs a non-empty value`);
    }
  }
  return { values, positionals: parsed.positionals };
}

function translateParseError(error: Error & { code?: string }, spec: CommandSpec): UsageError {
  const hint = `Run 'mse home ${spec.name} --help' for usage.`;
  const m = /'(-[^' ]*)/.exec(error.message);
  const flag = m?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(
        'ERR_UNKNOWN_OPTION',
        `unknown option ${flag || error.message} for 'mse home ${spec.name}'`,
        {
          hint,
        },
      );
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = longName(flag, spec);
      if (/does not take an argument/.test(error.message)) {
        return new UsageError('ERR_OPTION_VALUE', `option ${name} takes no value`, { hint });
      }
      // "argument missing", or "ambiguous": the next word starts with '-' and is taken for an option.
      const own = spec.options[name.slice(2)]?.valueHint;
      return new UsageError('ERR_OPTION_VALUE', `option ${name} needs a value`, {
        hint: /ambiguous/.test(error.message)
          ? `A value that starts with '-' is written ${name}=VALUE. ${own ?? hint}`
          : (own ?? hint),
      });
    }
    default:
      return new UsageError('ERR_USAGE', error.message, { hint });
  }
}

/** `--name` for a flag as typed (`-o` → `--output`), for messages. */
function longName(flag: string, spec: CommandSpec): string {
  const short = /^-([^-])$/.exec(flag)?.[1];
  if (short === undefined) return flag;
  const entry = Object.entries({ ...GLOBAL_OPTIONS, ...spec.options }).find(([, o]) => o.short === short);
  return entry ? `--${entry[0]}` : flag;
}

/** Render `--help` for a command. */
export function renderHelp(spec: CommandSpec): string {
  const lines: string[] = [];
  const pos = (spec.positionals ?? []).map((p) => (p.required ? p.name.toUpperCase() : `[${p.name.toUpperCase()}]`));
  lines.push(`Usage: mse home ${spec.name} [options]${pos.length ? ' ' + pos.join(' ') : ''}`, '', spec.summary);
  if (spec.description) lines.push('', spec.description.trim());
  if (spec.positionals?.length) {
    lines.push('', 'Arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.toUpperCase().padEnd(28)}${p.description}`);
  }
  lines.push('', 'Options:');
  for (const [name, o] of Object.entries({ ...spec.options, ...GLOBAL_OPTIONS })) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : ''}`;
    const req = o.required ? ' (required)' : '';
    lines.push(`  ${`${flag}  `.padEnd(28)}${o.description}${req}`);
  }
  lines.push('', spec.examples.length > 1 ? 'Examples:' : 'Example:');
  for (const e of spec.examples) lines.push(`  ${e}`);
  return lines.join('\n') + '\n';
}
