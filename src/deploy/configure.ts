/**
 * The configuration request `run` sends to the enclave's configuration server (MSE's wire format):
 * `{uuid, app_secrets?, app_sealed_secrets?, code_secret_key?}`. Building it is pure; the operator side
 * only ever handles the *sealed* bytes of the provider's secrets, never their plaintext.
 */
import { InputError } from '../errors.js';
import { SEALED_BOX_OVERHEAD } from '../crypto/sealedbox.js';

export interface ConfigurationInput {
  appId: string;
  /** Plaintext secrets file content (JSON), visible to the operator by design. */
  secrets?: Buffer;
  /** Sealed secrets file content (raw sealed box). */
  sealedSecrets?: Buffer;
  /** Raw 32-byte code key from `package --encrypt`. */
  codeKey?: Buffer;
}

/** Largest body the enclave accepts (keep in sync with the bootstrap's limit). */
export const MAX_CONFIGURATION_BYTES = 1024 * 1024;

/** Pure: the JSON body for the configuration server. */
export function buildConfigurationBody(input: ConfigurationInput): string {
  // Members are spliced as JSON text: app_secrets goes out byte for byte as the operator wrote it (a parse
  // and re-serialization would round big integers and reorder nothing else), after checking it parses.
  const members: string[] = [`"uuid":${JSON.stringify(input.appId)}`];
  if (input.secrets !== undefined) {
    const text = input.secrets.toString('utf8').trim();
    try {
      JSON.parse(text);
    } catch {
      throw new InputError('ERR_SECRETS_NOT_JSON', 'the secrets file is not valid JSON', {
        hint: 'The enclave writes app_secrets as JSON; fix the file.',
      });
    }
    members.push(`"app_secrets":${text}`);
  }
  if (input.sealedSecrets !== undefined) {
    if (input.sealedSecrets.length < SEALED_BOX_OVERHEAD) {
      throw new InputError(
        'ERR_SEALED_SECRETS',
        `the sealed secrets file is ${input.sealedSecrets.length} bytes, too short for a sealed box`,
        { hint: "Use the file written by the code provider's 'mse home seal'." },
      );
    }
    // MSE sends unpadded URL-safe base64.
    members.push(`"app_sealed_secrets":${JSON.stringify(input.sealedSecrets.toString('base64url'))}`);
  }
  if (input.codeKey !== undefined) {
    if (input.codeKey.length !== 32) {
      throw new InputError('ERR_KEY_LENGTH', `the code key file is ${input.codeKey.length} bytes, expected 32`, {
        hint: "Use the .key file written by 'mse home package --encrypt'.",
      });
    }
    members.push(`"code_secret_key":${JSON.stringify(input.codeKey.toString('hex'))}`);
  }
  const text = `{${members.join(',')}}`;
  if (Buffer.byteLength(text) > MAX_CONFIGURATION_BYTES) {
    throw new InputError(
      'ERR_CONFIGURATION_TOO_LARGE',
      `the secrets make a ${Buffer.byteLength(text)}-byte request, above the enclave's ${MAX_CONFIGURATION_BYTES}-byte limit`,
    );
  }
  return text;
}
