/**
 * `mse.toml`: the app's configuration, MSE's home subset. Parsing is pure (`parseMseConfig`); loading
 * reads the file. Errors name the file, the key and what was expected. A `[cloud]` table (MSE Cloud) is
 * ignored; other unknown keys are returned as warnings.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { InputError } from '../errors.js';
import { readUserFile } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { PYTHON_APPLICATION_PATTERN, PYTHON_MODULE_PATTERN } from '../launch/args.js';

export interface MseConfig {
  /** App name: used for image tags, container and file names. */
  name: string;
  /** `module:variable` of the WSGI/ASGI app object. */
  pythonApplication: string;
  /** Unauthenticated GET endpoint answering 200 when the app is up; starts with `/`. */
  healthcheckEndpoint: string;
  /** Test runner module and arguments, run as `python3 -m <tests_cmd>`. */
  testsCmd: string;
  /** Python requirements of the tests (informational here: tests run with Debian's Python packages). */
  testsRequirements: string[];
}

export interface ParsedMseConfig {
  config: MseConfig;
  /** Unknown keys and other non-fatal remarks. */
  warnings: string[];
}

const KNOWN = ['name', 'python_application', 'healthcheck_endpoint', 'tests_cmd', 'tests_requirements'];
const IGNORED_TABLES = ['cloud'];

/** A name usable as a file name, a container name and (lowercased) a Docker repository. */
export const APP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Parse and validate the text of an `mse.toml`. `file` names it in errors. */
export function parseMseConfig(text: string, file = 'mse.toml'): ParsedMseConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    const first = ((error as Error).message ?? '').split('\n')[0];
    throw new InputError('ERR_CONFIG_SYNTAX', `${file} is not valid TOML${where}: ${first}`, {
      hint: 'Fix the syntax; see docs/configuration.md for the format.',
      cause: error,
    });
  }
  const warnings: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!KNOWN.includes(key) && !IGNORED_TABLES.includes(key)) {
      warnings.push(`${file}: unknown key '${key}' is ignored`);
    }
  }
  const str = (key: string, check: (v: string) => string | undefined): string => {
    const v = doc[key];
    if (v === undefined) {
      throw new InputError('ERR_CONFIG_MISSING_KEY', `${file}: missing required key '${key}'`, {
        hint: `Add ${key} = "..." (see docs/configuration.md).`,
      });
    }
    if (typeof v !== 'string') {
      throw new InputError('ERR_CONFIG_INVALID_VALUE', `${file}: '${key}' must be a string, got ${describe(v)}`);
    }
    const problem = check(v);
    if (problem) throw new InputError('ERR_CONFIG_INVALID_VALUE', `${file}: '${key}' ${problem}, got "${v}"`);
    return v;
  };

  const name = str('name', (v) =>
    APP_NAME_PATTERN.test(v.trim())
      ? undefined
      : 'must be 1-128 letters, digits, "_", "." or "-", starting with a letter or digit',
  ).trim();
  const pythonApplication = str('python_application', (v) =>
    PYTHON_APPLICATION_PATTERN.test(v) ? undefined : 'must be "module:variable" (e.g. "app:app")',
  );
  const healthcheckEndpoint = str('healthcheck_endpoint', (v) =>
    /^\/[\x21-\x7e]{0,254}$/.test(v) ? undefined : 'must be a path starting with "/" without spaces (e.g. "/health")',
  );
  const testsCmd = str('tests_cmd', (v) => {
    const module = v.trim().split(/\s+/)[0] ?? '';
    return PYTHON_MODULE_PATTERN.test(module)
      ? undefined
      : 'must start with a Python module name run as `python3 -m` (e.g. "pytest")';
  }).trim();

  const reqs = doc.tests_requirements;
  if (reqs === undefined) {
    throw new InputError('ERR_CONFIG_MISSING_KEY', `${file}: missing required key 'tests_requirements'`, {
      hint: 'Add tests_requirements = [] (a list of strings).',
    });
  }
  if (!Array.isArray(reqs) || reqs.some((r) => typeof r !== 'string')) {
    throw new InputError(
      'ERR_CONFIG_INVALID_VALUE',
      `${file}: 'tests_requirements' must be a list of strings, got ${describe(reqs)}`,
    );
  }
  return {
    config: { name, pythonApplication, healthcheckEndpoint, testsCmd, testsRequirements: reqs as string[] },
    warnings,
  };
}

/**
 * Decode `mse.toml` bytes as strict UTF-8. An invalid byte is `ERR_PACKAGE_CONFIG_ENCODING`, the same code
 * for a project's file (`package`, `localtest`, `test`) as for a package's member (`verify`, `spawn`): a
 * file `package` accepts is never refused later.
 */
export function decodeMseConfig(bytes: Uint8Array, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InputError('ERR_PACKAGE_CONFIG_ENCODING', `${where} is not valid UTF-8`, {
      hint: 'Save mse.toml as UTF-8 (TOML files are UTF-8).',
      cause,
    });
  }
}

export interface LoadedMseConfig extends ParsedMseConfig {
  /** The file's bytes, exactly those validated (what `package` puts in the package). */
  bytes: Buffer;
}

/** Read (bounded by the configuration limit), decode strictly and validate an `mse.toml` file. */
export async function loadMseConfig(file: string): Promise<LoadedMseConfig> {
  const bytes = await readUserFile(file, 'configuration file', INPUT_LIMITS.config);
  return { ...parseMseConfig(decodeMseConfig(bytes, file), file), bytes };
}

/** Split `python_application` into module and variable. */
export function splitApplication(app: string): { module: string; variable: string } {
  const [module = '', variable = ''] = app.split(':');
  return { module, variable };
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (v instanceof Date) return 'a date';
  return typeof v === 'object' ? 'a table' : `${typeof v} ${JSON.stringify(v)}`;
}
