/**
 * Gramine's SGX enclave measurement in TypeScript, byte for byte (Gramine v1.9's `gramine-sgx-sign`):
 * manifest finalization (TOML as tomli_w writes it), MRENCLAVE, SIGSTRUCT. Pure: no Docker, no Gramine,
 * no Python; files are read through a {@link FileSource} (the host, or an image's file system).
 *
 * The usual entry point is {@link gramineSign}; the steps are exported for callers that need one of them:
 * {@link finalizeManifest} (level C of Gramine's vectors), {@link computeMrenclave} /
 * {@link measureEnclave} (level A), {@link signSigstruct} / {@link parseSigstruct} /
 * {@link verifySigstruct} (level B). See docs/measurement.md, "Gramine measurement".
 */
import type { KeyObject } from 'node:crypto';
import { parsePalElf } from './elf.js';
import type { FileSource } from './files.js';
import { finalizeManifest, type FinalManifest, type FinalizeOptions } from './manifest.js';
import { measureEnclave, type Measurement } from './mrenclave.js';
import { parseSigstruct, signSigstruct } from './sigstruct.js';

export { HostFileSource, joinPath, sha256Source, uriPath, type FileSource, type SourceEntry } from './files.js';
export { parsePalElf, PAGE_SIZE, type LoadSegment, type PalElf } from './elf.js';
export {
  applyManifestDefaults,
  checkMeasurementLimits,
  DEFAULT_ENCLAVE_SIZE,
  DEFAULT_ENCLAVE_SIZE_EDMM,
  DEFAULT_LIBOS_URI,
  DEFAULT_MAX_THREADS,
  enclaveAttributes,
  finalizeManifest,
  GRAMINE_PKGLIBDIR,
  MAX_TRUSTED_FILES,
  parseSize,
  readFinalManifest,
  type EnclaveAttributes,
  type FinalManifest,
  type FinalizeOptions,
  type TrustedFile,
} from './manifest.js';
export {
  checkManifest,
  GRAMINE_SCHEMA_VERSION,
  validateManifest,
  type ManifestProblem,
  type ManifestProblemKind,
  type ValidateOptions,
} from './manifest-schema.js';
export {
  computeMrenclave,
  enclaveLayout,
  HEAP_MIN,
  measureEnclave,
  SECINFO,
  type AreaKind,
  type MeasureAttributes,
  type MeasureOptions,
  type Measurement,
  type MemoryArea,
} from './mrenclave.js';
export {
  localSigstructDate,
  parseSigstruct,
  signSigstruct,
  SIGSTRUCT_OFFSETS,
  SIGSTRUCT_SIZE,
  sigstructDate,
  sigstructSigningData,
  unsignedSigstruct,
  verifySigstruct,
  type Sigstruct,
  type SigstructCheck,
  type SigstructInput,
  type SigstructProblem,
} from './sigstruct.js';
export {
  decodeManifestText,
  dumpToml,
  isTomlTable,
  keyPath,
  parseManifestToml,
  type TomlTable,
  type TomlValue,
} from './toml.js';

export interface GramineSignOptions extends FinalizeOptions {
  /** RSA-3072, e = 3 private key: when given, a SIGSTRUCT is produced. */
  key?: KeyObject;
  /** Signing date `YYYY-MM-DD` recorded in the SIGSTRUCT (required with `key`). */
  date?: string;
}

export interface GramineSignResult {
  /** The final manifest (what `gramine-sgx-sign --output` writes). */
  manifest: FinalManifest;
  measurement: Measurement;
  /** 1808-byte SIGSTRUCT (what `--sigfile` gets), when a key was given. */
  sigstruct?: Uint8Array;
  /** MRSIGNER of the key, when a key was given. */
  mrsigner?: Uint8Array;
}

/**
 * `gramine-sgx-sign` as a function: finalize `manifest` reading files from `source`, measure it with the
 * PAL `libpal` (ELF bytes), and sign a SIGSTRUCT when `options.key` is given. Nothing is written.
 */
export async function gramineSign(
  manifest: string | Uint8Array,
  source: FileSource,
  libpal: Uint8Array,
  options: GramineSignOptions = {},
): Promise<GramineSignResult> {
  const { key, date } = options;
  if (key && date === undefined) throw new TypeError('gramineSign: a date is required with a key');
  const elf = parsePalElf(libpal); // a bad PAL is refused before any file is hashed
  const final = await finalizeManifest(manifest, source, options);
  const measurement = measureEnclave(final.bytes, { bytes: libpal, elf }, final.attributes);
  if (!key || date === undefined) return { manifest: final, measurement }; // a key without a date was refused above
  const sigstruct = signSigstruct({ mrenclave: measurement.mrenclave, attributes: final.attributes, date }, key);
  return { manifest: final, measurement, sigstruct, mrsigner: parseSigstruct(sigstruct).mrsigner };
}
