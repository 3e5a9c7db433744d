/**
 * The configuration request, validated completely before anything is written.
 *
 * Body: a JSON object `{uuid, app_secrets?, app_sealed_secrets?, code_secret_key?}` (MSE's fields; `null`
 * counts as absent, any other field is refused):
 * - `uuid` must equal the deployment id given to the enclave (`--id`) — 401 otherwise; checked first;
 * - `app_secrets`: any JSON value, written to `SECRETS_PATH` exactly as sent (its source text);
 * - `app_sealed_secrets`: unpadded base64url of a libsodium sealed box to the enclave's X25519 key, whose
 *   plaintext is UTF-8 JSON, written as is to `SEALED_SECRETS_PATH`; a `code_secret_key` member of
 *   that JSON object is a code key (the way to keep it from the operator);
 * - `code_secret_key`: 64 hex characters (32 bytes), the key of `.enc` code files; it takes precedence over
 *   the sealed one, as in MSE.
 * When the app has `.enc` files a code key is required and must open every one of them; the whole app is
 * decrypted in memory before any file is written. Every refusal is a {@link ConfigurationRejected} with an
 * HTTP status and a stable code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { MseError, ExitCode } from '../errors.js';
import { writeFileAtomic } from '../fs/files.js';
import { openSealedBox } from '../crypto/sealedbox.js';
import { decryptAppCode, installAppCode, isEncrypted, type AppArchive, type AppFile } from './app-code.js';
import type { EnclavePaths } from './paths.js';

/** Largest configuration request body accepted. */
export const MAX_CONFIG_BODY = 1024 * 1024;

/** A refused configuration request: `status` is the HTTP answer, `code`/`message` its JSON body. */
export class ConfigurationRejected extends MseError {
  readonly status: number;
  constructor(status: number, code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, ExitCode.input, options);
    this.status = status;
  }
}

export interface ConfigurationContext {
  /** The deployment UUID (`--id`), lowercase. */
  expectedUuid: string;
  /** The enclave's X25519 key pair. */
  x25519: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** The app code read at start-up. */
  archive: AppArchive;
}

export interface ValidatedConfiguration {
  /** JSON text for `SECRETS_PATH` (the source text of `app_secrets`), when it was given. */
  appSecrets?: string;
  /** JSON text for `SEALED_SECRETS_PATH` (the unsealed plaintext), when `app_sealed_secrets` was given. */
  sealedSecrets?: string;
  /** Where the code key came from, when one was used. */
  codeKeySource?: 'code_secret_key' | 'app_sealed_secrets';
  /** The app's files, decrypted. */
  files: AppFile[];
}

const FIELDS = new Set(['uuid', 'app_secrets', 'app_sealed_secrets', 'code_secret_key']);

/** The uuid is the request's credential: compared in constant time (over digests, so lengths may differ). */
function sameUuid(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function rejected(status: number, code: string, message: string, cause?: unknown): ConfigurationRejected {
  return new ConfigurationRejected(status, code, message, { cause });
}

function parseCodeKey(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw rejected(400, 'ERR_CONFIG_CODE_KEY', `${where} must be 64 hexadecimal characters (a 32-byte key)`);
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

/** Decode unpadded base64url strictly (canonical: re-encoding gives the same text). */
function decodeBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? new Uint8Array(bytes) : undefined;
}

function decodeUtf8(bytes: Uint8Array, what: string, status: number, code: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (cause) {
    throw rejected(status, code, `${what} is not valid UTF-8`, cause);
  }
}

function parseJsonText(text: string, what: string, status: number, code: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw rejected(status, code, `${what} is not valid JSON`, cause);
  }
}

/**
 * The exact source text of each member of a JSON object, in a text already known to be valid JSON (so
 * the scan can be simple). Secrets are written as the client sent them: re-serializing would round big
 * integers and change number spellings. Throws on a duplicated member name, which parsers disagree on.
 */
export function jsonObjectMembers(text: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const skipString = (): void => {
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = (): void => {
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      do {
        const d = text[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') depth--;
        i++;
      } while (depth > 0);
      return;
    }
    while (i < text.length && !',}] \t\n\r'.includes(text.charAt(i))) i++;
  };
  ws();
  i++; // {
  ws();
  while (text[i] !== '}') {
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i)) as string;
    ws();
    i++; // :
    ws();
    const valueStart = i;
    skipValue();
    if (members.has(key))
      throw rejected(400, 'ERR_CONFIG_DUPLICATE_FIELD', `field "${key.slice(0, 64)}" appears twice`);
    members.set(key, text.slice(valueStart, i));
    ws();
    if (text[i] === ',') i++;
    ws();
  }
  return members;
}

/** Validate a configuration request body; returns what to write, or throws {@link ConfigurationRejected}. */
export async function validateConfiguration(
  body: Uint8Array,
  ctx: ConfigurationContext,
): Promise<ValidatedConfiguration> {
  if (body.length > MAX_CONFIG_BODY) {
    throw rejected(413, 'ERR_CONFIG_TOO_LARGE', `request body is larger than ${MAX_CONFIG_BODY} bytes`);
  }
  const text = decodeUtf8(body, 'request body', 400, 'ERR_CONFIG_JSON');
  const json = parseJsonText(text, 'request body', 400, 'ERR_CONFIG_JSON');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw rejected(400, 'ERR_CONFIG_JSON', 'request body must be a JSON object');
  }
  const request = json as Record<string, unknown>;
  const raw = jsonObjectMembers(text);

  // The uuid first: nothing else is looked at for a caller who does not know it.
  if (typeof request.uuid !== 'string')
    throw rejected(401, 'ERR_CONFIG_UUID', 'field "uuid" is missing or not a string');
  if (!sameUuid(request.uuid.toLowerCase(), ctx.expectedUuid)) {
    throw rejected(401, 'ERR_CONFIG_UUID', 'field "uuid" does not match this enclave');
  }
  for (const key of Object.keys(request)) {
    if (key === 'ssl_private_key') {
      throw rejected(
        400,
        'ERR_CONFIG_UNSUPPORTED',
        'field "ssl_private_key" (custom certificate mode) is not supported',
      );
    }
    if (!FIELDS.has(key)) throw rejected(400, 'ERR_CONFIG_UNKNOWN_FIELD', `unknown field "${key.slice(0, 64)}"`);
  }
  const present = (key: string): boolean => request[key] !== undefined && request[key] !== null;

  const result: ValidatedConfiguration = { files: [] };
  if (present('app_secrets')) result.appSecrets = raw.get('app_secrets');

  let codeKey = present('code_secret_key')
    ? parseCodeKey(request.code_secret_key, 'field "code_secret_key"')
    : undefined;
  if (codeKey) result.codeKeySource = 'code_secret_key';

  if (present('app_sealed_secrets')) {
    const encoded = request.app_sealed_secrets;
    const box = typeof encoded === 'string' ? decodeBase64Url(encoded) : undefined;
    if (!box) {
      throw rejected(400, 'ERR_CONFIG_SEALED_ENCODING', 'field "app_sealed_secrets" must be unpadded base64url');
    }
    let plaintext: Uint8Array;
    try {
      plaintext = await openSealedBox(box, ctx.x25519.publicKey, ctx.x25519.privateKey);
    } catch (cause) {
      throw rejected(
        400,
        'ERR_CONFIG_SEALED_OPEN',
        'field "app_sealed_secrets" does not open with this enclave\'s key: sealed for another enclave, or altered',
        cause,
      );
    }
    const sealedText = decodeUtf8(plaintext, 'the unsealed app_sealed_secrets', 400, 'ERR_CONFIG_SEALED_JSON');
    const sealed = parseJsonText(sealedText, 'the unsealed app_sealed_secrets', 400, 'ERR_CONFIG_SEALED_JSON');
    result.sealedSecrets = sealedText;
    if (sealed !== null && typeof sealed === 'object' && !Array.isArray(sealed)) {
      const inner = (sealed as Record<string, unknown>).code_secret_key;
      if (inner !== undefined && inner !== null) {
        const sealedKey = parseCodeKey(inner, '"code_secret_key" in the sealed secrets');
        if (!codeKey) {
          codeKey = sealedKey;
          result.codeKeySource = 'app_sealed_secrets';
        }
      }
    }
  }

  try {
    result.files = await decryptAppCode(ctx.archive, codeKey);
  } catch (error) {
    const code = (error as MseError).code ?? 'ERR_CONFIG_CODE_KEY';
    throw rejected(400, code, (error as Error).message, error);
  }
  if (!isEncrypted(ctx.archive)) delete result.codeKeySource; // a key for plain code is ignored
  return result;
}

/**
 * Write a validated configuration: the secrets files (0600, in a 0700 directory; a file whose field was
 * absent is removed), the code into `/mse-app`, then, last, the `configured` marker (atomically): until it
 * exists the enclave is not configured, whatever a failure or a crash left behind. On failure the secrets
 * written are removed.
 */
export async function applyConfiguration(config: ValidatedConfiguration, paths: EnclavePaths): Promise<void> {
  await fs.mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
  await fs.chmod(paths.secretsDir, 0o700);
  const targets: [string, string | undefined][] = [
    [paths.secretsFile, config.appSecrets],
    [paths.sealedSecretsFile, config.sealedSecrets],
  ];
  try {
    for (const [file, content] of targets) {
      if (content === undefined) await fs.rm(file, { force: true });
      else await writeFileAtomic(file, content, { mode: 0o600 });
    }
    await installAppCode(config.files, paths.appDir);
    const files = config.files.filter((f) => f.type === 'file').length;
    await writeFileAtomic(paths.configured, JSON.stringify({ files }) + '\n', { mode: 0o600 });
  } catch (error) {
    for (const [file] of targets) await fs.rm(file, { force: true }).catch(() => undefined);
    throw error;
  }
}
