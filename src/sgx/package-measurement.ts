/**
 * The MRENCLAVE a package gets on real SGX, computed natively: no Docker, no Gramine. From the package
 * alone and the spawn arguments: the image's file system read from image.tar (src/image/), our enclave
 * manifest for that image, code and arguments (./enclave-manifest.ts), finalized and measured with the
 * image's own Gramine PAL exactly as `gramine-sgx-sign` would (src/gramine/). `measure --package` prints
 * it, `verify --package` compares it with the quote, `spawn --platform sgx` signs it (with
 * {@link withPackageImage} and {@link measureGramineImage}).
 */
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { InputArgs } from '../launch/args.js';
import { InputError } from '../errors.js';
import { gramineSign, type FinalManifest } from '../gramine/index.js';
import { ImageFileSource } from '../image/file-source.js';
import { openImageFs, type ImageFs } from '../image/image-fs.js';
import type { CodeFile, PackageMember } from '../package/code-tar.js';
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
 * Measure the code (app.tar's hash and its files') run with `args` in the Gramine image `image`: generate our manifest, finalize it
 * over the image (every layer checked against its diff ID in the same pass), measure it with the
 * image's libpal. Throws `ERR_SGX_NOT_GRAMINE_IMAGE` for an image that is not ours to measure.
 */
export async function measureGramineImage(
  image: ImageFs,
  code: { files: readonly Pick<CodeFile, 'path' | 'sha256'>[]; appTarSha256: string },
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
  // Every layer is checked against its diff ID on a second thread while the manifest is generated,
  // finalized and measured here; `verified()` waits for it before anything is returned.
  const layersChecked = image.checkLayers();
  try {
    const enclave = enclaveManifest({
      image,
      templateVersion: kind.templateVersion,
      codeFiles: code.files,
      appTarSha256: code.appTarSha256,
      args,
    });
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
  } catch (error) {
    await layersChecked; // a tampered image is reported as such, not by what the tampering broke
    throw error;
  } finally {
    await image.close();
  }
}

/**
 * Open the image of `pkg` (image.tar) from `member`, a source over the descriptor `fh` the package was read
 * and checked through ({@link withPackage}), and run `fn` on it; the image (its layer-checking thread) is
 * closed after. It must still be the image that was checked, and the file must not be written meanwhile.
 */
export async function withOpenPackageImage<T>(
  pkg: PackageContents,
  member: (m: PackageMember) => TarSource,
  fh: FileHandle,
  fn: (image: ImageFs) => Promise<T>,
): Promise<T> {
  const where = `image.tar in ${path.basename(pkg.file)}`;
  let image: ImageFs | undefined;
  try {
    const before = await fh.stat({ bigint: true });
    image = await openImageFs(member('image.tar'), where);
    // The same descriptor, but the file may still be written to in place: it must hold the checked image.
    if (image.image.configDigest !== pkg.imageConfigDigest) throw changed(pkg.file, `${where} is another image`);
    const result = await fn(image);
    // Layers are read for their diff IDs apart from the files' reads, on another thread: the file must not
    // have been written meanwhile (any write moves its modification and change times).
    const after = await fh.stat({ bigint: true });
    for (const k of ['size', 'mtimeNs', 'ctimeNs'] as const) {
      if (before[k] !== after[k]) throw changed(pkg.file, 'it was written to');
    }
    return result;
  } finally {
    await image?.close(); // its second thread reads the descriptor
  }
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
  return withPackage(file, {}, (pkg, member, fh) => withOpenPackageImage(pkg, member, fh, (image) => fn(pkg, image)));
}

function changed(file: string, why: string): InputError {
  return new InputError('ERR_FILE_CHANGED', `${file} changed while it was read (${why})`, {
    hint: 'Do not modify the package while mse-home reads it.',
  });
}
