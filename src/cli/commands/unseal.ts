/** `mse home unseal`: open a sealed box with an X25519 private key. */
import { readX25519KeyFile } from '../../crypto/keyfiles.js';
import { openSealedBox, x25519PublicKey } from '../../crypto/sealedbox.js';
import { readUserFile } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson, writeCommandOutput } from '../output.js';

const spec: CommandSpec = {
  name: 'unseal',
  summary: 'Open a sealed box with an X25519 private key',
  options: {
    input: { type: 'string', placeholder: 'FILE|-', description: 'Sealed file (- for stdin)', required: true },
    'private-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'X25519 private key (32 raw bytes)',
      required: true,
    },
    output: { type: 'string', placeholder: 'FILE|-', description: 'Where to write the plaintext (- for stdout)' },
  },
  examples: ['mse home unseal --input secrets.sealed --private-key enclave.key --output secrets.json'],
  async run(ctx) {
    const box = await readUserFile(requiredString(ctx.values, 'input'), 'sealed file', INPUT_LIMITS.data, {
      stdin: true,
    });
    const privateKey = await readX25519KeyFile(requiredString(ctx.values, 'private-key'), 'private key');
    const plaintext = await openSealedBox(box, await x25519PublicKey(privateKey), privateKey);
    const written = await writeCommandOutput(ctx, stringOption(ctx.values, 'output'), plaintext, 'plaintext', {
      mode: 0o600,
    });
    if (ctx.json) printJson(ctx, { output: written, bytes: plaintext.length });
    else if (written !== '-') ctx.log.success(`unsealed ${plaintext.length} bytes to ${written}`);
  },
};
export default spec;
