/** `mse home encrypt`: encrypt a file as a Fernet token (the format `decrypt --key` reads). */
import { fernetEncrypt } from '../../crypto/fernet.js';
import { readFernetKeyFile } from '../../crypto/keyfiles.js';
import { readUserFile } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson, writeCommandOutput } from '../output.js';

const spec: CommandSpec = {
  name: 'encrypt',
  summary: 'Encrypt a file as a Fernet token',
  options: {
    input: { type: 'string', placeholder: 'FILE|-', description: 'File to encrypt (- for stdin)', required: true },
    key: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Fernet key file (URL-safe base64 of 32 bytes)',
      required: true,
    },
    output: { type: 'string', placeholder: 'FILE|-', description: 'Where to write the token (- for stdout)' },
  },
  examples: [
    'mse home encrypt --input data.csv --key result.key --output data.csv.fernet',
    'generate-report | mse home encrypt --input - --key result.key --output report.fernet',
  ],
  async run(ctx) {
    const plaintext = await readUserFile(requiredString(ctx.values, 'input'), 'input file', INPUT_LIMITS.data, {
      stdin: true,
    });
    const key = await readFernetKeyFile(requiredString(ctx.values, 'key'));
    const token = fernetEncrypt(plaintext, key);
    const written = await writeCommandOutput(ctx, stringOption(ctx.values, 'output'), token, 'token');
    if (ctx.json) printJson(ctx, { output: written, bytes: token.length });
    else if (written !== '-') ctx.log.success(`encrypted ${plaintext.length} bytes to ${written}`);
  },
};
export default spec;
