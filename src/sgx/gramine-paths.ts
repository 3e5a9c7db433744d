/**
 * Where things are in an sgx image, in one place: Gramine's install paths (those of its Debian/Ubuntu
 * packages, `debian/gramine.install` in Gramine's repository: meson prefix `/usr`, pkglibdir
 * `lib/x86_64-linux-gnu/gramine`) and mse-home's own layout on top of them (docs/sgx.md, "The SGX base
 * image"). The base image build checks these paths; the manifest generator and `spawn --platform sgx` use
 * the same constants, so a path cannot drift between what is built, measured and run.
 */

/** The Gramine release mse-home pins: its signer's measurement is what the vendored vectors reproduce. */
export const GRAMINE_VERSION = '1.9';

import { ENCLAVE_DIR } from '../launch/layout.js';
import { GRAMINE_PKGLIBDIR } from '../gramine/manifest.js';

/** Gramine's library directory in its packages (`_CONFIG_PKGLIBDIR` of `graminelibos`). */
export { GRAMINE_PKGLIBDIR };
/** The SGX PAL: the enclave image that is measured into MRENCLAVE with the manifest. */
export const GRAMINE_LIBPAL = `${GRAMINE_PKGLIBDIR}/sgx/libpal.so`;
/** The untrusted SGX loader `gramine-sgx` runs (outside the enclave; not measured). */
export const GRAMINE_SGX_LOADER = `${GRAMINE_PKGLIBDIR}/sgx/loader`;
/** The LibOS, `loader.entrypoint` of every manifest (its SHA-256 is in the final manifest). */
export const GRAMINE_LIBOS = `${GRAMINE_PKGLIBDIR}/libsysdb.so`;
/** Gramine's patched glibc, mounted at /lib inside the enclave. */
export const GRAMINE_RUNTIME = `${GRAMINE_PKGLIBDIR}/runtime/glibc`;
/** Gramine's dynamic loader in that runtime (present in every Gramine build with glibc). */
export const GRAMINE_RUNTIME_LD = `${GRAMINE_RUNTIME}/ld-linux-x86-64.so.2`;
/** The wrapper that starts an enclave: `gramine-sgx <app>` reads `<app>.manifest.sgx` and `<app>.sig`. */
export const GRAMINE_SGX = '/usr/bin/gramine-sgx';
/**
 * Where `graminelibos/__init__.py` may be (it records `__version__` and `_CONFIG_PKGLIBDIR`): Debian's
 * Python path for the packages and for a meson build with prefix `/usr`, then the usual local prefixes.
 */
export const GRAMINELIBOS_INIT_CANDIDATES = [
  '/usr/lib/python3/dist-packages/graminelibos/__init__.py',
  '/usr/local/lib/python3/dist-packages/graminelibos/__init__.py',
  '/usr/local/lib/python3.11/dist-packages/graminelibos/__init__.py',
  '/usr/lib/python3.11/site-packages/graminelibos/__init__.py',
] as const;
/** dpkg's database of installed packages (records the `gramine` package's version when one is installed). */
export const DPKG_STATUS = '/var/lib/dpkg/status';

// ----- mse-home's layout in the sgx image ------------------------------------------------------------

/** The enclave bootstrap (from the sim base image's top layer, unchanged). */
export const MSE_BOOTSTRAP = '/opt/mse/bootstrap.mjs';
/**
 * mse-home's entrypoint of an sgx container (base-image/sgx/mse-run-sgx), outside the enclave: it starts
 * `gramine-sgx` on the final manifest and SIGSTRUCT; Gramine then runs the launcher inside the enclave.
 */
export const MSE_RUN_SGX = '/usr/local/bin/mse-run-sgx';
/** The manifest template the image is built for: its first line names the version (read by the generator). */
export const SGX_TEMPLATE_MARKER = '/opt/mse/sgx-manifest-template';
/** The template version this mse-home generates and its sgx base image is made for. */
export const SGX_MANIFEST_TEMPLATE_VERSION = 'mse-home-gramine-manifest-v2';
/**
 * Mounted read-only by `spawn` from the deployment's private state, never present in an image (the same
 * directory on sim): the args file (`args`), the code (`app.tar`) and, on sgx, the final manifest
 * (`enclave.manifest.sgx`) and the SIGSTRUCT (`enclave.sig`).
 */
export const SGX_ENCLAVE_DIR = ENCLAVE_DIR;
/** The application name `gramine-sgx` is given: `${SGX_ENCLAVE_DIR}/${SGX_APP_NAME}.manifest.sgx` and `.sig`. */
export const SGX_APP_NAME = 'enclave';
/** The final manifest `gramine-sgx` reads. */
export const SGX_MANIFEST_FILE = `${SGX_ENCLAVE_DIR}/${SGX_APP_NAME}.manifest.sgx`;
/** The SIGSTRUCT `gramine-sgx` reads (Gramine's loader opens `<app>.sig`). */
export const SGX_SIGSTRUCT_FILE = `${SGX_ENCLAVE_DIR}/${SGX_APP_NAME}.sig`;
/**
 * Host side of the encrypted mounts sealed to MRENCLAVE (`key/`, `home/`, `app/`): bind-mounted by `spawn`
 * from the deployment's private state, never in an image.
 */
export const SGX_SEALED_DIR = '/opt/mse/sealed';
