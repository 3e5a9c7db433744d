/**
 * The sgx platform's base image, by name: our Debian rootfs (the sim base image `mse-home-base`, see
 * src/docker/base-image.ts) plus Gramine, the counterpart of `mse-home-base` for apps that run under
 * Gramine-SGX. Its name and labels are defined here, once; `mse home doctor` reports whether it is
 * present and `mse home base build --platform sgx` builds it (src/sgx/base-image-build.ts).
 */
import { VERSION } from '../version.js';

export const SGX_BASE_IMAGE_REPO = 'mse-home-sgx-base';
/** `mse-home-sgx-base:<VERSION>`: what sgx app images build FROM. */
export const SGX_BASE_IMAGE = `${SGX_BASE_IMAGE_REPO}:${VERSION}`;

/** Labels of the sgx base image (docs/sgx.md, "The SGX base image"). */
export const SGX_LABELS = {
  /** SHA-256 over what the image is made from: rebuilt when it differs. */
  inputs: 'org.mse-home.sgx.inputs',
  /** Image ID of the `mse-home-base` it builds on. */
  base: 'org.mse-home.sgx.base',
  /** Gramine's version, as its installation records it. */
  gramineVersion: 'org.mse-home.sgx.gramine.version',
  /** Where Gramine came from (JSON): repository or folder with the signing key and package digests, or image. */
  gramineSource: 'org.mse-home.sgx.gramine.source',
  /** SHA-256 of Gramine's SGX PAL (`libpal.so`), which is measured into MRENCLAVE. */
  libpalSha256: 'org.mse-home.sgx.gramine.libpal-sha256',
  /** The enclave manifest template version the image is made for. */
  manifestTemplate: 'org.mse-home.sgx.manifest-template',
} as const;
