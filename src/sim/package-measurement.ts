/**
 * The simulated MRENCLAVE of a package deployed with given arguments: what `spawn` has the quoting
 * service sign, and what `verify --package` recomputes offline, with no Docker, from the same two inputs.
 */
import type { InputArgs as EvidenceInputArgs } from '../attestation/evidence.js';
import { spawnArgsOfEvidence, type InputArgs } from '../launch/args.js';
import type { PackageContents } from '../package/read.js';
import { computeSimMrenclave } from './measurement.js';

/** Pure: the measurement of read package contents with `args`. */
export function simMrenclaveOf(
  pkg: Pick<PackageContents, 'imageConfigDigest' | 'appFiles'>,
  args: InputArgs,
): Uint8Array {
  return computeSimMrenclave({
    imageConfigDigest: pkg.imageConfigDigest,
    codeFiles: pkg.appFiles.map((f) => ({ path: f.path, sha256: f.sha256 })),
    args,
  });
}

/**
 * Pure: the measurement of read package contents with the spawn arguments as `evidence.json` records them
 * (what `verify --package` recomputes). Throws `ERR_EVIDENCE_FIELD` when `expiration_date` is null: a
 * simulated enclave always has one, and the measurement covers it.
 */
export function simMrenclaveOfEvidence(
  pkg: Pick<PackageContents, 'imageConfigDigest' | 'appFiles'>,
  a: EvidenceInputArgs,
): Uint8Array {
  return simMrenclaveOf(pkg, spawnArgsOfEvidence(a));
}
