/** `mse home decrypt`: decrypt an app's result, a Fernet token (`--key`) or AES-GCM data (`--aes`). */
import { aesGcmDecrypt, AES_KEY_LENGTHS } from '../../crypto/aesgcm.js';
import { decodeHex } from '../../crypto/bytes.js';
import { fernetDecrypt } from '../../crypto/fernet.js';
import { readFernetKeyFile } from '../../crypto/keyfiles.js';
import { UsageError } from '../../errors.js';
import { readUserFile } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { requireOneOf, requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson, writeCommandOutput } from '../output.js';

const spec: CommandSpec = {
  name: 'decrypt',
  summary: "Decrypt an app's result (Fernet token or AES-GCM)",
  description: `--key FILE: the input is a Fernet token (as /result/sealed_secrets returns), the key file holds
URL-safe base64 of 32 bytes. --aes HEX: the input is nonce (12) | ciphertext | tag (16) (as
/result/secrets returns), under a 16-, 24- or 32-byte key in hex. The plaintext goes to --output,
or to stdout only with --output -.`,
  options: {
    input: {
      type: 'string',
      placeholder: 'FILE|-',
      description: 'Encrypted file, - for stdin (or give it as the argument)',
    },
    key: { type: 'string', placeholder: 'FILE', description: 'Fernet key file' },
    aes: {
      type: 'string',
      placeholder: 'HEX',
      description: 'AES-GCM key in hex (visible to other local users in the process list)',
    },
    output: { type: 'string', placeholder: 'FILE|-', description: 'Where to write the plaintext (- for stdout)' },
  },
  positionals: [{ name: 'file', description: 'Encrypted file, - for stdin (same as --input)' }],
  examples: [
    'mse home decrypt --key result_sk.key --output result.txt result.fernet',
    'mse home decrypt --aes 0011…eeff --input result.bin --output -',
  ],
  async run(ctx) {
    const positional = ctx.positionals[0];
    const flag = stringOption(ctx.values, 'input');
    if (positional !== undefined && flag !== undefined) {
      throw new UsageError(
        'ERR_CONFLICTING_OPTIONS',
        'give the encrypted file either as --input or as the argument, not both',
      );
    }
    const input = flag ?? positional;
    if (input === undefined) {
      throw new UsageError('ERR_MISSING_ARGUMENT', 'missing the encrypted file', {
        hint: 'Give it as --input FILE or as the last argument.',
      });
    }
    const mode = requireOneOf(ctx.values, ['key', 'aes']);
    const output = stringOption(ctx.values, 'output');
    if (output === undefined) {
      throw new UsageError('ERR_MISSING_OPTION', 'missing --output for the plaintext', {
        hint: 'Give --output FILE, or --output - to print the plaintext on stdout.',
      });
    }
    const data = await readUserFile(input, 'encrypted file', INPUT_LIMITS.data, { stdin: true });
    let plaintext: Buffer;
    if (mode === 'key') {
      const key = await readFernetKeyFile(requiredString(ctx.values, 'key'));
      plaintext = fernetDecrypt(data, key);
    } else {
      const key = decodeHex(requiredString(ctx.values, 'aes'), 'AES key (--aes)', AES_KEY_LENGTHS);
      plaintext = aesGcmDecrypt(data, key);
    }
    const written = await writeCommandOutput(ctx, output, plaintext, 'plaintext', { mode: 0o600 });
    if (ctx.json) printJson(ctx, { output: written, bytes: plaintext.length });
    else if (written !== '-') ctx.log.success(`decrypted ${plaintext.length} bytes to ${written}`);
  },
};
export default spec;
