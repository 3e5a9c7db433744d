/**
 * Honest TEST evidence for an SGX-shaped enclave on a machine without SGX: what `mse home evidence` would
 * write for an enclave measured to `mrenclave` and started with `args`, except that the quote is signed by
 * the simulated platform's quoting machinery (src/sim: a simulated PCK chain under the simulation root, not
 * Intel's; ./sim-evidence.ts builds it). The evidence says `platform: "sgx"`, so `verify` accepts it only
 * with `--allow-simulation` and warns that its quote does not chain to Intel. Tests only.
 */
import { parseEvidence, type Evidence } from '../attestation/evidence.js';
import type { InputArgs } from '../launch/args.js';
import { evidenceInputArgs } from '../deploy/evidence.js';
import type { SimPlatform } from '../sim/platform.js';
import { makeSimEvidence } from './sim-evidence.js';
import { readVectorText } from './vectors.js';

export interface SgxTestEvidenceInput {
  sim: SimPlatform;
  /** The MRENCLAVE the quote carries. */
  mrenclave: Uint8Array;
  args: InputArgs;
  /** The enclave's final manifest and argv, as `mse home evidence` includes them on sgx. */
  gramineManifest?: string;
  gramineArgv?: string[];
  /** The operator's signer public key (SubjectPublicKeyInfo PEM); default: that of MSE's real evidence. */
  signerPk?: string;
  now?: Date;
}

/** Evidence for `input`, its quote signed by the simulated quoting enclave (see the module comment). */
export function sgxTestEvidence(input: SgxTestEvidenceInput): Evidence {
  return {
    ...makeSimEvidence({
      sim: input.sim,
      mrEnclave: input.mrenclave,
      // An RSA-3072 e=3 operator key (its MRSIGNER goes into the quote): the given one, else that of MSE's
      // real evidence.
      signerPk: input.signerPk ?? parseEvidence(readVectorText('mse', 'evidence.json')).signerPk,
      inputArgs: evidenceInputArgs(input.args),
      ...(input.now ? { now: input.now } : {}),
    }),
    platform: 'sgx',
    ...(input.gramineManifest !== undefined ? { gramineManifest: input.gramineManifest } : {}),
    ...(input.gramineArgv !== undefined ? { gramineArgv: input.gramineArgv } : {}),
  };
}
