/** `mse home seal`: seal a secrets file to an enclave's X25519 key (libsodium sealed box). */
import path from 'node:path';
import { InputError, UsageError } from '../../errors.js';
import { readX25519KeyFile } from '../../crypto/keyfiles.js';
import { sealBox } from '../../crypto/sealedbox.js';
import { readUserFile } from '../../fs/files.js';
import { requireOneOf, stringOption, type CommandSpec } from '../command.js';
import { printJson, resolveOutputPath, writeCommandOutput } from '../output.js';

const spec: CommandSpec = {
  name: 'seal',
  summary: 'Seal a secrets file to an enclave X25519 key (libsodium sealed box)',
  description: `The sealed file can only be opened inside the enclave whose key it was sealed to. The input must
be a JSON document: the enclave parses it and writes it where the app reads SEALED_SECRETS_PATH.
If --output is an existing directory, the file <input name>.sealed is written in it.`,
  options: {
    input: { type: 'string', placeholder: 'FILE', description: 'Secrets to seal (JSON), e.g. secrets_to_seal.json' },
    secrets: { type: 'string', placeholder: 'FILE', description: 'Same as --input (MSE 1.2 form)' },
    'receiver-public-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Recipient X25519 public key (32 raw bytes)',
    },
    output: {
      type: 'string',
      placeholder: 'FILE|DIR|-',
      description: 'Where to write the sealed bytes (- for stdout)',
    },
  },
  examples: ['mse home seal --input secrets_to_seal.json --receiver-public-key enclave.pub --output secrets.sealed'],
  async run(ctx) {
    const inputFlag = requireOneOf(ctx.values, ['input', 'secrets'])!;
    const input = stringOption(ctx.values, inputFlag)!;
    const keyFile = stringOption(ctx.values, 'receiver-public-key');
    if (!keyFile) {
      throw new UsageError('ERR_MISSING_OPTION', 'missing --receiver-public-key', {
        hint: "Give the enclave's X25519 public key file (32 raw bytes).",
      });
    }
    const plaintext = await readUserFile(input, 'secrets file', 16 * 1024 * 1024);
    try {
      JSON.parse(plaintext.toString('utf8'));
    } catch {
      throw new InputError('ERR_SECRETS_NOT_JSON', `secrets file ${input} is not valid JSON`, {
        hint: 'The enclave parses sealed secrets as JSON; fix the file first.',
      });
    }
    const recipient = await readX25519KeyFile(keyFile, 'receiver public key');
    const sealed = await sealBox(plaintext, recipient);
    const target = stringOption(ctx.values, 'output');
    const output =
      target === undefined || target === '-'
        ? target
        : await resolveOutputPath(target, `${path.basename(input)}.sealed`);
    const written = await writeCommandOutput(ctx, output, sealed, 'sealed secrets');
    if (ctx.json) printJson(ctx, { output: written, bytes: sealed.length });
    else if (written !== '-') ctx.log.success(`sealed ${plaintext.length} bytes to ${written}`);
  },
};
export default spec;
