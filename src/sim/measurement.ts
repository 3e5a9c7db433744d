/**
 * MRENCLAVE of the simulated platform (`mse-home-sim-measurement-v1`).
 *
 * On real SGX, Gramine measures the manifest (which embeds the spawn arguments) and every trusted file. The
 * sim platform has no CPU to do that, so the operator side computes the measurement *before* the enclave
 * starts, from what will run: the image's config digest, every code file's path and SHA-256, and every
 * spawn argument Gramine would measure. The quoting service then signs quotes with that MRENCLAVE only,
 * and `verify --package` recomputes it offline from the package and `evidence.json`.
 *
 * The construction is specified byte by byte in docs/measurement.md (with a Python recomputation and test
 * vectors); any change to it must bump the version string.
 *
 *   M = STR("mse-home-sim-measurement-v1")
 *     ‖ STR("image-config-digest") ‖ STR(imageConfigDigest)
 *     ‖ STR("code-files") ‖ U64(n) ‖ for each file, by ascending UTF-8 path bytes: STR(path) ‖ sha256 (32 raw bytes)
 *     ‖ STR("size") ‖ U64(size) ‖ STR("subject") ‖ STR(subject) ‖ STR("san") ‖ STR(san)
 *     ‖ STR("app-id") ‖ STR(appId) ‖ STR("application") ‖ STR(application) ‖ STR("expiration") ‖ U64(expiration)
 *   MRENCLAVE = SHA-256(M),  STR(s) = U32BE(byte length of UTF-8 s) ‖ UTF-8 s,  U64(n) = 8-byte big-endian.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import type { InputArgs } from '../launch/args.js';

export { mrsignerFromPublicKey } from '../launch/signer.js';

/** Version (and domain separator) of the construction. */
export const SIM_MEASUREMENT_VERSION = 'mse-home-sim-measurement-v1';

export interface SimMeasurementInput {
  /** `sha256:<64 lowercase hex>`: the image's config digest (= its Docker image ID), read from image.tar. */
  imageConfigDigest: string;
  /** Every code file of the app: relative POSIX path (as in app.tar) and lowercase hex SHA-256 of its bytes. */
  codeFiles: readonly { path: string; sha256: string }[];
  /** Spawn arguments exactly as in `evidence.json` `input_args`. */
  args: InputArgs;
}

function bad(field: string, message: string): never {
  throw new InputError('ERR_MEASUREMENT_INPUT', `measurement input ${field}: ${message}`, {
    hint: 'The package or the spawn arguments are malformed; check the package and evidence.json input_args.',
  });
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function utf8(field: string, value: unknown): Buffer {
  if (typeof value !== 'string') bad(field, 'must be a string');
  // A lone surrogate would be replaced by U+FFFD when encoded, making two inputs collide.
  if (/[\uD800-\uDFFF]/u.test(value)) bad(field, 'is not well-formed Unicode (lone surrogate)');
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 0xffffffff) bad(field, 'is too long');
  return bytes;
}

const str = (field: string, value: unknown): Buffer => {
  const b = utf8(field, value);
  return Buffer.concat([u32(b.length), b]);
};

function uint(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    bad(field, `must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A canonical relative POSIX path: no leading '/', no empty, '.' or '..' segments, no NUL. */
function checkPath(field: string, p: Buffer, text: string): void {
  if (p.length === 0) bad(field, 'is empty');
  if (text.includes('\0')) bad(field, 'contains a NUL character');
  const segments = text.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    bad(field, `${JSON.stringify(text)} is not a canonical relative path`);
  }
}

/** Compute the sim MRENCLAVE (32 bytes). Throws `ERR_MEASUREMENT_INPUT` naming the first bad field. */
export function computeSimMrenclave(input: SimMeasurementInput): Uint8Array {
  if (typeof input !== 'object' || input === null) bad('input', 'must be an object');
  const digest = input.imageConfigDigest;
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    bad('imageConfigDigest', 'must be "sha256:" followed by 64 lowercase hex characters');
  }
  if (!Array.isArray(input.codeFiles)) bad('codeFiles', 'must be an array');
  const files = input.codeFiles.map((f, i) => {
    const field = `codeFiles[${i}].path`;
    const pathBytes = utf8(field, f?.path);
    checkPath(field, pathBytes, f.path);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      bad(`codeFiles[${i}].sha256`, 'must be 64 lowercase hex characters');
    }
    return { pathBytes, path: f.path, hash: Buffer.from(f.sha256, 'hex') };
  });
  files.sort((a, b) => Buffer.compare(a.pathBytes, b.pathBytes));
  for (let i = 1; i < files.length; i++) {
    if ((files[i - 1] as (typeof files)[number]).pathBytes.equals((files[i] as (typeof files)[number]).pathBytes)) {
      bad('codeFiles', `path ${JSON.stringify((files[i] as (typeof files)[number]).path)} is listed twice`);
    }
  }
  const a = input.args;
  if (typeof a !== 'object' || a === null) bad('args', 'must be an object');

  const h = createHash('sha256');
  h.update(str('version', SIM_MEASUREMENT_VERSION));
  h.update(str('', 'image-config-digest'));
  h.update(str('imageConfigDigest', digest));
  h.update(str('', 'code-files'));
  h.update(u64(files.length));
  for (const f of files) {
    h.update(u32(f.pathBytes.length));
    h.update(f.pathBytes);
    h.update(f.hash);
  }
  h.update(str('', 'size'));
  h.update(u64(uint('args.size', a.size, 1)));
  h.update(str('', 'subject'));
  h.update(str('args.subject', a.subject));
  h.update(str('', 'san'));
  h.update(str('args.san', a.san));
  h.update(str('', 'app-id'));
  h.update(str('args.appId', a.appId));
  h.update(str('', 'application'));
  h.update(str('args.application', a.application));
  h.update(str('', 'expiration'));
  h.update(u64(uint('args.expiration', a.expiration, 0)));
  return new Uint8Array(h.digest());
}
