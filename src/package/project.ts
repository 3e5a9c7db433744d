/**
 * Where a project's parts are: either `--project DIR` (MSE's layout: `mse_src/`, `tests/`, `mse.toml`,
 * `Dockerfile`, `secrets.json`, `secrets_to_seal.json`) or the four explicit paths `--code --config
 * --dockerfile --test`, all required together.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { requiredString, stringOption, type OptionSpec, type OptionValues } from '../base/options.js';
import { InputError, UsageError } from '../errors.js';
import { openUserFile, readUserText, requireDirectory } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';

export interface ProjectPaths {
  /** Absolute paths. */
  code: string;
  config: string;
  dockerfile: string;
  tests: string;
  /** Secrets given to the app (localtest), when any. */
  secrets?: string;
  /** Plaintext secrets-to-seal given to the app (localtest), when any. */
  sealedSecrets?: string;
}

/** The options shared by `package` and `localtest`. */
export const PROJECT_OPTIONS: Record<string, OptionSpec> = {
  project: {
    type: 'string',
    placeholder: 'DIR',
    description: 'Project directory (mse_src/, tests/, mse.toml, Dockerfile); or give the four paths below.',
  },
  code: {
    type: 'string',
    placeholder: 'DIR',
    description: "The app's code directory (with --config --dockerfile --test).",
  },
  config: { type: 'string', placeholder: 'FILE', description: 'The mse.toml file.' },
  dockerfile: {
    type: 'string',
    placeholder: 'FILE',
    description: "The app image's Dockerfile (its directory is the build context).",
  },
  test: { type: 'string', placeholder: 'DIR', description: 'The tests directory.' },
};

const EXPLICIT = ['code', 'config', 'dockerfile', 'test'] as const;

/**
 * Resolve and check the project's paths. `withSecrets`: also the secrets files (localtest): `--secrets` /
 * `--sealed-secrets`, or with `--project` the project's `secrets.json` / `secrets_to_seal.json` when they
 * exist.
 */
export async function resolveProjectPaths(values: OptionValues, withSecrets = false): Promise<ProjectPaths> {
  const project = stringOption(values, 'project');
  const given = EXPLICIT.filter((k) => stringOption(values, k) !== undefined);
  if (project !== undefined && given.length > 0) {
    throw new UsageError(
      'ERR_CONFLICTING_OPTIONS',
      `--project cannot be combined with ${given.map((g) => `--${g}`).join(', ')}`,
      { hint: 'Give either --project DIR, or all of --code, --config, --dockerfile and --test.' },
    );
  }
  let paths: ProjectPaths;
  if (project !== undefined) {
    await requireDirectory(project, 'project directory');
    const root = path.resolve(project);
    paths = {
      code: path.join(root, 'mse_src'),
      config: path.join(root, 'mse.toml'),
      dockerfile: path.join(root, 'Dockerfile'),
      tests: path.join(root, 'tests'),
    };
  } else {
    if (given.length === 0) {
      throw new UsageError('ERR_MISSING_OPTION', 'give --project DIR, or --code, --config, --dockerfile and --test', {
        hint: 'Example: --project my_app',
      });
    }
    const missing = EXPLICIT.filter((k) => !given.includes(k));
    if (missing.length > 0) {
      throw new UsageError(
        'ERR_MISSING_OPTION',
        `${missing.map((m) => `--${m}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required with --${given[0]}`,
        { hint: 'The four paths --code, --config, --dockerfile and --test go together.' },
      );
    }
    paths = {
      code: path.resolve(requiredString(values, 'code')),
      config: path.resolve(requiredString(values, 'config')),
      dockerfile: path.resolve(requiredString(values, 'dockerfile')),
      tests: path.resolve(requiredString(values, 'test')),
    };
  }
  await requireDirectory(paths.code, 'code directory');
  await requireDirectory(paths.tests, 'tests directory');
  await requireFile(paths.config, 'configuration file');
  await requireFile(paths.dockerfile, 'Dockerfile');

  if (withSecrets) {
    const secrets = stringOption(values, 'secrets');
    const sealed = stringOption(values, 'sealed-secrets');
    if (secrets !== undefined) paths.secrets = path.resolve(secrets);
    else if (project !== undefined && (await isFile(path.join(project, 'secrets.json')))) {
      paths.secrets = path.resolve(project, 'secrets.json');
    }
    if (sealed !== undefined) paths.sealedSecrets = path.resolve(sealed);
    else if (project !== undefined && (await isFile(path.join(project, 'secrets_to_seal.json')))) {
      paths.sealedSecrets = path.resolve(project, 'secrets_to_seal.json');
    }
    if (paths.secrets) await requireJsonFile(paths.secrets, 'secrets file');
    if (paths.sealedSecrets) await requireJsonFile(paths.sealedSecrets, 'sealed secrets file');
  }
  return paths;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/** A regular file within the configuration limit (mse.toml, Dockerfile): checked early, read later. */
async function requireFile(p: string, what: string): Promise<void> {
  try {
    await (await openUserFile(p, what, INPUT_LIMITS.config)).handle.close();
  } catch (error) {
    if (!(error instanceof InputError) || error.code !== 'ERR_FILE_NOT_FOUND') throw error;
    throw new InputError('ERR_FILE_NOT_FOUND', `${what} not found: ${p}`, {
      hint: 'Check the path (with --project, the layout is mse_src/, tests/, mse.toml, Dockerfile).',
      cause: error,
    });
  }
}

/** Secrets files must be JSON objects (what the app and the tests parse). */
async function requireJsonFile(p: string, what: string): Promise<void> {
  const text = await readUserText(p, what, INPUT_LIMITS.secrets);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InputError('ERR_SECRETS_NOT_JSON', `${what} ${p} is not valid JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError('ERR_SECRETS_NOT_JSON', `${what} ${p} must hold a JSON object`);
  }
}
