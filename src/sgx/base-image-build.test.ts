// The pure parts of the sgx base image build: the check of a Gramine installation read out of an image,
// the source key of the up-to-date check, and the agreement of the image files with the path constants.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { STANDIN_LIBPAL, testDoubleFiles } from '../testing/gramine-fixtures.js';
import { REPO_ROOT } from '../testing/vectors.js';
import { checkGramineInstall, GRAMINE_CHECK_PATHS, sourceKey, type ImageFile } from './base-image-build.js';
import {
  DPKG_STATUS,
  GRAMINE_LIBOS,
  GRAMINE_LIBPAL,
  GRAMINE_SGX,
  GRAMINELIBOS_INIT_CANDIDATES,
  MSE_BOOTSTRAP,
  MSE_RUN_SGX,
  SGX_APP_NAME,
  SGX_ENCLAVE_DIR,
  SGX_SEALED_DIR,
} from './gramine-paths.js';
import { gramineSourcePlan } from './gramine-source.js';
import { LAUNCHER, LAUNCHER_ARGV, LAUNCHER_SHELL } from '../launch/layout.js';
import { enclavePaths } from '../enclave/paths.js';
import { MSE_SERVE, NODE, PYTHON, SEALED_MOUNTS } from './enclave-manifest.js';

/** The files of a complete installation (the test double's), as read out of an image. */
function installed(version = '1.9'): Map<string, ImageFile | undefined> {
  const files = new Map<string, ImageFile | undefined>(GRAMINE_CHECK_PATHS.map((p) => [p, undefined]));
  for (const f of testDoubleFiles(version)) files.set(`/${f.path}`, { type: 'file', data: f.data });
  files.set(MSE_BOOTSTRAP, { type: 'file', data: Buffer.from('// bootstrap') });
  files.set(DPKG_STATUS, {
    type: 'file',
    data: Buffer.from(
      'Package: python3\nStatus: install ok installed\nVersion: 3.11.2-1+b1\n\nPackage: gramine\nStatus: install ok installed\nVersion: 1.9\n',
    ),
  });
  return files;
}

describe('checkGramineInstall', () => {
  it('accepts a complete installation and reports its version, libpal digest and dpkg version', () => {
    const r = checkGramineInstall(installed(), new Set(), 'image X');
    assert.equal(r.version, '1.9');
    assert.equal(r.libpalSha256, createHash('sha256').update(readFileSync(STANDIN_LIBPAL)).digest('hex'));
    assert.equal(r.graminelibos, GRAMINELIBOS_INIT_CANDIDATES[0]);
    assert.equal(r.dpkgVersion, '1.9');
    const noDpkg = installed();
    noDpkg.set(DPKG_STATUS, undefined);
    assert.equal(checkGramineInstall(noDpkg, new Set(), 'x').dpkgVersion, undefined);
  });

  it('names the first missing piece', () => {
    for (const [p, role] of [
      [GRAMINE_LIBPAL, /SGX PAL/],
      [GRAMINE_LIBOS, /LibOS/],
      [GRAMINE_SGX, /gramine-sgx/],
      [MSE_BOOTSTRAP, /bootstrap/],
      [GRAMINELIBOS_INIT_CANDIDATES[0], /graminelibos/],
    ] as const) {
      const files = installed();
      files.set(p, undefined);
      assert.throws(() => checkGramineInstall(files, new Set(), 'image X'), {
        code: 'ERR_SGX_GRAMINE_INCOMPLETE',
        message: new RegExp(`image X has no .*${role.source}.* at ${p.replace(/\./g, '\\.')}`),
      });
    }
  });

  it('refuses another version, another library directory, a symlinked PAL and spawn-owned paths', () => {
    assert.throws(() => checkGramineInstall(installed('1.8'), new Set(), 'image X'), {
      code: 'ERR_SGX_GRAMINE_VERSION_MISMATCH',
      message: /image X has Gramine 1\.8; mse-home pins Gramine 1\.9/,
    });
    const local = installed();
    local.set(GRAMINELIBOS_INIT_CANDIDATES[0], {
      type: 'file',
      data: Buffer.from("__version__ = '1.9'\n_CONFIG_PKGLIBDIR = '/usr/local/lib/x86_64-linux-gnu/gramine'\n"),
    });
    assert.throws(() => checkGramineInstall(local, new Set(), 'x'), {
      code: 'ERR_SGX_GRAMINE_LAYOUT',
      message: /built for \/usr\/local/,
    });
    const source = installed();
    source.set(GRAMINELIBOS_INIT_CANDIDATES[0], { type: 'file', data: Buffer.from("__version__ = '@VERSION@'\n") });
    assert.throws(() => checkGramineInstall(source, new Set(), 'x'), { code: 'ERR_SGX_GRAMINE_LAYOUT' });
    const linked = installed();
    linked.set(GRAMINE_LIBPAL, { type: 'symlink', linkname: 'libpal-1.9.so' });
    assert.throws(() => checkGramineInstall(linked, new Set(), 'x'), {
      code: 'ERR_SGX_GRAMINE_LAYOUT',
      message: /symlink/,
    });
    for (const p of [SGX_ENCLAVE_DIR, SGX_SEALED_DIR]) {
      assert.throws(() => checkGramineInstall(installed(), new Set([p]), 'x'), {
        code: 'ERR_SGX_GRAMINE_LAYOUT',
        message: new RegExp(`already holds ${p}`),
      });
    }
  });
});

describe('sourceKey', () => {
  it('identifies a repository request without network, a folder by its packages, an image by its ID', () => {
    const a = sourceKey(gramineSourcePlan({}));
    assert.deepEqual(a, sourceKey(gramineSourcePlan({ suite: 'bookworm' })));
    assert.notDeepEqual(a, sourceKey(gramineSourcePlan({ suite: 'jammy' })));
    assert.notDeepEqual(
      a,
      sourceKey(gramineSourcePlan({ keyFingerprints: ['DB41A78718DE9B2E2165B5AA925413478CA9DB7B'] })),
    );
    assert.deepEqual(sourceKey(gramineSourcePlan({ image: 'i' }), undefined, 'sha256:1'), {
      kind: 'image',
      imageId: 'sha256:1',
    });
  });
});

describe('the sgx image files agree with the path constants', () => {
  it('the launcher runs gramine-sgx on the manifest and SIGSTRUCT spawn places, and the Dockerfile says where', () => {
    const launcher = readFileSync(path.join(REPO_ROOT, 'base-image', 'sgx', 'mse-run-sgx'), 'utf8');
    assert.match(launcher, new RegExp(`^dir=${SGX_ENCLAVE_DIR}$`, 'm'));
    assert.match(launcher, new RegExp(`^app="\\$dir/${SGX_APP_NAME}"$`, 'm'));
    assert.match(launcher, new RegExp(`exec ${GRAMINE_SGX} "\\$app"`));
    assert.match(launcher, /"\$app\.manifest\.sgx" "\$app\.sig" "\$dir\/args"/);
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'base-image', 'sgx', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^COPY bin\/ \/usr\/local\/bin\/$/m);
    assert.equal(path.dirname(MSE_RUN_SGX), '/usr/local/bin');
    assert.ok(dockerfile.includes(SGX_ENCLAVE_DIR) && dockerfile.includes(SGX_SEALED_DIR));
  });

  it('the enclave launcher runs what the manifest trusts, and mse-run-sgx checks the sealed mounts spawn makes', () => {
    const launcher = readFileSync(path.join(REPO_ROOT, 'base-image', 'mse-run'), 'utf8');
    assert.equal(LAUNCHER, '/usr/local/bin/mse-run', 'the base image installs bin/mse-run there');
    assert.deepEqual(LAUNCHER_ARGV, [LAUNCHER_SHELL, LAUNCHER]);
    assert.match(launcher, /^#!\/bin\/sh\n/);
    // the bootstrap to completion with the launcher's own arguments, then exec of the app server
    assert.match(launcher, new RegExp(`^${NODE} ${MSE_BOOTSTRAP} "\\$@" &$`, 'm'));
    assert.match(launcher, new RegExp(`^exec ${PYTHON} ${MSE_SERVE} --launch ${enclavePaths('/').launchFile}$`, 'm'));
    // nothing from the environment decides what runs (on sgx this file is measured)
    assert.doesNotMatch(launcher.replace(/^#.*$/gm, ''), /\$\{?[A-Z_]+/);
    const sgx = readFileSync(path.join(REPO_ROOT, 'base-image', 'sgx', 'mse-run-sgx'), 'utf8');
    const sealed = /^for d in ([a-z ]+); do$/m.exec(sgx)?.[1]?.split(' ');
    assert.deepEqual(
      sealed,
      SEALED_MOUNTS.map((m) => m.dir),
    );
    assert.match(sgx, new RegExp(`"${SGX_SEALED_DIR}/\\$d"`));
  });
});
