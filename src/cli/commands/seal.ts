/** `mse home seal`: seal a secrets file to an enclave's X25519 key (libsodium sealed box). */
import path from 'node:path';
import { readX25519KeyFile } from '../../crypto/keyfiles.js';
import { sealBox } from '../../crypto/sealedbox.js';
import { InputError } from '../../errors.js';
import { readUserFile, STDIN } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { checkRatlsKeyBinding, readRatlsCertificate, verifyRatlsSignature } from '../../ratls/read.js';
import { requireOneOf, requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson, resolveOutputPath, writeCommandOutput } from '../output.js';

const spec: CommandSpec = {
  name: 'seal',
  summary: 'Seal a secrets file to an enclave X25519 key (libsodium sealed box)',
  description: `The sealed file can only be opened inside the enclave whose key it was sealed to: the enclave of a
verified RA-TLS certificate (--cert, its report_data[32:64]) or a raw X25519 key. The input must be a JSON
document: the enclave parses it and writes it where the app reads SEALED_SECRETS_PATH.
If --output is an existing directory, the file <input name>.sealed (stdin.sealed for --input -) is written in it.`,
  options: {
    input: {
      type: 'string',
      placeholder: 'FILE|-',
      description: 'Secrets to seal (JSON), e.g. secrets_to_seal.json; - for stdin',
    },
    secrets: { type: 'string', placeholder: 'FILE', description: 'Same as --input (MSE 1.2 form)' },
    cert: { type: 'string', placeholder: 'FILE', description: "The enclave's verified RA-TLS certificate (ratls.pem)" },
    'receiver-enclave': { type: 'string', placeholder: 'FILE', description: 'Same as --cert (MSE 1.3 form)' },
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
  examples: [
    'mse home seal --secrets secrets_to_seal.json --cert workspace/ratls.pem --output workspace',
    'mse home seal --input secrets_to_seal.json --receiver-public-key enclave.pub --output secrets.sealed',
  ],
  async run(ctx) {
    const inputFlag = requireOneOf(ctx.values, ['input', 'secrets']);
    const input = requiredString(ctx.values, inputFlag);
    const recipientFlag = requireOneOf(ctx.values, ['cert', 'receiver-enclave', 'receiver-public-key']);
    const recipientFile = requiredString(ctx.values, recipientFlag);
    const plaintext = await readUserFile(input, 'secrets file', INPUT_LIMITS.secrets, { stdin: true });
    try {
      JSON.parse(plaintext.toString('utf8'));
    } catch {
      throw new InputError('ERR_SECRETS_NOT_JSON', `secrets file ${input} is not valid JSON`, {
        hint: 'The enclave parses sealed secrets as JSON; fix the file first.',
      });
    }
    const recipient =
      recipientFlag === 'receiver-public-key'
        ? await readX25519KeyFile(recipientFile, 'receiver public key')
        : await enclaveKeyFromCertificate(recipientFile);
    const sealed = await sealBox(plaintext, recipient);
    const target = stringOption(ctx.values, 'output');
    const output =
      target === undefined || target === '-'
        ? target
        : await resolveOutputPath(target, `${input === STDIN ? 'stdin' : path.basename(input)}.sealed`);
    const written = await writeCommandOutput(ctx, output, sealed, 'sealed secrets');
    if (ctx.json) printJson(ctx, { output: written, bytes: sealed.length });
    else if (written !== '-') ctx.log.success(`sealed ${plaintext.length} bytes to ${written}`);
  },
};
export default spec;

/**
 * The enclave's X25519 key from its RA-TLS certificate: report_data[32:64] of the quote it carries. The
 * certificate must be self-consistent (signature, key bound to report_data[0:32]); that it comes from a
 * genuine enclave running the right code is what `mse home verify` establishes before writing ratls.pem.
 */
async function enclaveKeyFromCertificate(file: string): Promise<Uint8Array> {
  const cert = readRatlsCertificate(await readUserFile(file, 'RA-TLS certificate', INPUT_LIMITS.certificate));
  verifyRatlsSignature(cert);
  checkRatlsKeyBinding(cert);
  return cert.x25519PublicKey;
}
