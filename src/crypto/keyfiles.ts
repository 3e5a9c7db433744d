/** Reading key files given on the command line, with errors that say which key and what was expected. */
import { InputError } from '../errors.js';
import { readUserFile, readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { parseFernetKey, type FernetKey } from './fernet.js';
import { X25519_KEY_BYTES } from './sealedbox.js';

/** A raw 32-byte X25519 key file (MSE's format for `--receiver-public-key` and `--private-key`). */
export async function readX25519KeyFile(file: string, what: string): Promise<Uint8Array> {
  const data = await readUserFile(file, what, INPUT_LIMITS.key);
  if (data.length !== X25519_KEY_BYTES) {
    throw new InputError(
      'ERR_KEY_LENGTH',
      `${what} ${file} is ${data.length} bytes, expected ${X25519_KEY_BYTES} raw bytes`,
      {
        hint: 'X25519 key files hold 32 raw bytes (as written by `mse home keygen --x25519`), not PEM or hex.',
      },
    );
  }
  return data;
}

/** A Fernet key file: URL-safe base64 of 32 bytes. */
export async function readFernetKeyFile(file: string): Promise<FernetKey> {
  const text = await readUserText(file, 'Fernet key file', INPUT_LIMITS.key);
  return parseFernetKey(text, `Fernet key file ${file}`);
}
