/** `mse home keygen`: generate a Fernet, X25519 or AES key file. Never overwrites an existing key. */
import { randomBytes } from 'node:crypto';
import { generateFernetKey } from '../../crypto/fernet.js';
import { generateX25519KeyPair } from '../../crypto/sealedbox.js';
import { InputError, UsageError } from '../../errors.js';
import { pathExists, writeFileAtomic } from '../../fs/files.js';
import { requireOneOf, requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'keygen',
  summary: 'Generate a Fernet, X25519 or AES key file',
  description: `--fernet: URL-safe base64 of 32 bytes (for secrets_to_seal.json's result_sk and decrypt --key).
--x25519: FILE holds the raw 32-byte private key (mode 0600), FILE.pub the raw 32-byte public key.
--aes BITS: FILE holds the key in hex (128, 192 or 256 bits; for secrets.json and decrypt --aes).`,
  options: {
    fernet: { type: 'boolean', description: 'A Fernet key' },
    x25519: { type: 'boolean', description: 'An X25519 key pair' },
    aes: { type: 'string', placeholder: 'BITS', description: 'An AES key of 128, 192 or 256 bits' },
    output: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Key file to create (never overwritten)',
      required: true,
    },
  },
  examples: ['mse home keygen --fernet --output result_sk.key', 'mse home keygen --x25519 --output enclave.key'],
  async run(ctx) {
    const kind = requireOneOf(ctx.values, ['fernet', 'x25519', 'aes']);
    const output = requiredString(ctx.values, 'output');
    const files: string[] = [output];
    if (kind === 'fernet') {
      await writeFileAtomic(output, generateFernetKey(), { mode: 0o600, exclusive: true });
    } else if (kind === 'aes') {
      const bits = stringOption(ctx.values, 'aes');
      if (bits !== '128' && bits !== '192' && bits !== '256') {
        throw new UsageError('ERR_OPTION_VALUE', `--aes must be 128, 192 or 256, got '${bits}'`);
      }
      await writeFileAtomic(output, randomBytes(Number(bits) / 8).toString('hex'), { mode: 0o600, exclusive: true });
    } else {
      const pub = `${output}.pub`;
      if (await pathExists(pub)) {
        throw new InputError('ERR_OUTPUT_EXISTS', `refusing to overwrite existing file ${pub}`, {
          hint: 'Choose another --output.',
        });
      }
      const kp = await generateX25519KeyPair();
      await writeFileAtomic(output, kp.privateKey, { mode: 0o600, exclusive: true });
      await writeFileAtomic(pub, kp.publicKey, { mode: 0o644, exclusive: true });
      files.push(pub);
    }
    if (ctx.json) printJson(ctx, { kind, files });
    else ctx.log.success(`wrote ${files.join(' and ')}`);
  },
};
export default spec;
