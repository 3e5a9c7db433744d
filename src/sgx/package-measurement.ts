/**
 * The MRENCLAVE a package gets on real SGX, computed natively: no Docker, no Gramine. From the package
 * alone and the spawn arguments: the image's file system read from image.tar (src/image/), our enclave
 * manifest for that image, code and arguments (./enclave-manifest.ts), finalized and measured with the
 * image's own Gramine PAL exactly as `gramine-sgx-sign` would (src/gramine/). `measure --package` prints
 * it, `verify --package` compares it with the quote, `spawn --platform sgx` signs it (with
 * {@link withPackageImage} and {@link measureGramineImage}).
 */
import path from 'node:path';
import type { InputArgs } from '../launch/args.js';
import { InputError } from '../errors.js';
import { gramineSign, type FinalManifest } from '../gramine/index.js';
import { ImageFileSource } from '../image/file-source.js';
import { openImageFs, type ImageFs } from '../image/image-fs.js';
import type { CodeFile } from '../package/code-tar.js';
import type { PackageMember } from '../package/code-tar.js';
import { withPackage, type PackageContents } from '../package/read.js';
import type { TarSource } from '../package/tar-read.js';
import { enclaveManifest, type EnclaveManifest } from './enclave-manifest.js';
import { GRAMINE_LIBPAL, SGX_TEMPLATE_MARKER } from './gramine-paths.js';

/** Largest libpal.so read (Gramine's is about 1 MB). */
const MAX_LIBPAL_BYTES = 64 << 20;
const MAX_MARKER_BYTES = 4096;

/** What kind of image a package carries, for picking how to measure it. */
export type SgxImageKind =
  /** Gramine's PAL and our template marker: measurable here. */
  | { kind: 'gramine'; templateVersion: string }
  /** Gramine's PAL but not our marker (e.g. an MSE image): its manifest is not ours to rebuild. */
  | { kind: 'foreign-gramine' }
  /** No Gramine PAL. */
  | { kind: 'not-gramine' };

/** Look at an image: Gramine's SGX PAL at its Debian path, and our template marker's first line. */
export async function sgxImageKind(image: ImageFs): Promise<SgxImageKind> {
  if (image.stat(GRAMINE_LIBPAL)?.kind !== 'file') return { kind: 'not-gramine' };
  if (image.stat(SGX_TEMPLATE_MARKER)?.kind !== 'file') return { kind: 'foreign-gramine' };
  const text = (await image.readFile(SGX_TEMPLATE_MARKER, MAX_MARKER_BYTES)).toString('utf8');
  return { kind: 'gramine', templateVersion: text.split('\n')[0]!.trim() };
}

export interface GramineMeasurement {
  mrenclave: Uint8Array;
  /** The final manifest (what `gramine-sgx-sign --output` would write); `final.bytes` are measured. */
  final: FinalManifest;
  /** The manifest before finalization, and the args file. */
  enclave: EnclaveManifest;
  /** The image's PAL, which the measurement covers (and which measures an operator's manifest). */
  libpal: Uint8Array;
  /** What was read: files hashed, their bytes, layer bytes checked against their diff IDs. */
  stats: { trustedFiles: number; filesHashed: number; fileBytes: number; layerBytes: number };
}

/**
 * Measure `codeFiles` run with `args` in the Gramine image `image`: generate our manifest, finalize it
 * over the image (every layer checked against its diff ID in the same pass), measure it with the
 * image's libpal. Throws `ERR_SGX_NOT_GRAMINE_IMAGE` for an image that is not ours to measure.
 */
export async function measureGramineImage(
  image: ImageFs,
  codeFiles: readonly Pick<CodeFile, 'path' | 'sha256'>[],
  args: InputArgs,
): Promise<GramineMeasurement> {
  const kind = await sgxImageKind(image);
  if (kind.kind !== 'gramine') {
    throw new InputError(
      'ERR_SGX_NOT_GRAMINE_IMAGE',
      kind.kind === 'foreign-gramine'
        ? `${image.where} holds Gramine but was not built from an mse-home SGX base image (no ${SGX_TEMPLATE_MARKER})`
        : `${image.where} is not a Gramine image (no ${GRAMINE_LIBPAL})`,
      {
        hint:
          'Its MRENCLAVE on SGX cannot be recomputed from the package; build the app FROM the mse-home SGX base ' +
          'image, or pass the expected value with --mrenclave.',
      },
    );
  }
  const enclave = enclaveManifest({ image, templateVersion: kind.templateVersion, codeFiles, args });
  const libpal = await image.readFile(GRAMINE_LIBPAL, MAX_LIBPAL_BYTES);
  const source = new ImageFileSource(image);
  const signed = await gramineSign(enclave.text, source, libpal);
  const read = await source.verified();
  return {
    mrenclave: signed.measurement.mrenclave,
    final: signed.manifest,
    enclave,
    libpal: new Uint8Array(libpal),
    stats: { trustedFiles: signed.manifest.trustedFiles.length, ...read },
  };
}

/**
 * Open the image of `pkg` (image.tar) from `member`, a source over the descriptor the package was read
 * and checked through ({@link withPackage}); it must still be the image that was checked.
 */
export async function openPackageImage(
  pkg: PackageContents,
  member: (m: PackageMember) => TarSource,
): Promise<ImageFs> {
  const where = `image.tar in ${path.basename(pkg.file)}`;
  const image = await openImageFs(member('image.tar'), where);
  // The same descriptor, but the file may still be written to in place: it must hold the checked image.
  if (image.image.configDigest !== pkg.imageConfigDigest) {
    throw new InputError('ERR_FILE_CHANGED', `${pkg.file} changed while it was read (${where} is another image)`, {
      hint: 'Do not modify the package while mse-home reads it.',
    });
  }
  return image;
}

/**
 * Read and check the package `file`, open its image through the same descriptor, and run `fn` on both;
 * the file is closed after. The image measured is the one in the file that was checked, never a file
 * opened again by its path.
 */
export async function withPackageImage<T>(
  file: string,
  fn: (pkg: PackageContents, image: ImageFs) => Promise<T>,
): Promise<T> {
  return withPackage(file, {}, async (pkg, member) => fn(pkg, await openPackageImage(pkg, member)));
}
