/**
 * The sgx platform's base image: our Debian rootfs plus Gramine and Intel's DCAP quote provider library,
 * the counterpart of `mse-home-base` (see src/docker/base-image.ts) for apps that run under Gramine-SGX.
 * Its name is defined here, once; `mse home doctor` reports whether it is present.
 */
import { VERSION } from '../version.js';

export const SGX_BASE_IMAGE_REPO = 'mse-home-sgx-base';
/** `mse-home-sgx-base:<VERSION>`: what sgx app images build FROM. */
export const SGX_BASE_IMAGE = `${SGX_BASE_IMAGE_REPO}:${VERSION}`;
