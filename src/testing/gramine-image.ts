/**
 * TEST DOUBLES for the SGX measurement: a tiny Gramine-shaped image made byte by byte (no Docker), and
 * packages carrying it. The image is not a working system: its "binaries" are short texts; only its shape
 * is real (paths our enclave manifest needs, Gramine's PAL path holding the stand-in libpal ELF that
 * Gramine's own signer measured in test-fixtures/testvectors/gramine/standin/). The Docker-built variant
 * (test-fixtures/gramine-test-image) is the base image plus the same Gramine test-double tree the sgx
 * base image's tests install as a package (./gramine-fixtures.ts) and mse-home's sgx launcher. Tests only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { InputArgs } from '../launch/args.js';
import { BASE_IMAGE } from '../docker/base-image.js';
import { entriesContext } from '../docker/context.js';
import type { DockerEngine } from '../docker/engine.js';
import { deterministicTar, tarToBuffer, type TarEntrySource } from '../package/tar-write.js';
import {
  GRAMINE_LIBOS,
  GRAMINE_LIBPAL,
  GRAMINE_RUNTIME_LD,
  GRAMINE_SGX,
  MSE_RUN_SGX,
  SGX_MANIFEST_TEMPLATE_VERSION,
  SGX_TEMPLATE_MARKER,
} from '../sgx/gramine-paths.js';
import { testDoubleFiles } from './gramine-fixtures.js';
import { dockerArchive, rawTar, type RawEntry } from './rawtar.js';
import { readVector, REPO_ROOT } from './vectors.js';

/** The stand-in PAL (an ELF linked with Gramine's enclave.lds; see the vectors' README). */
export const STANDIN_LIBPAL = (): Buffer => Buffer.from(readVector('gramine', 'standin', 'libpal_lds.so'));
/** A stand-in LibOS (`loader.entrypoint`): any ELF will do, it is only hashed. */
export const STANDIN_LIBOS = (): Buffer => Buffer.from(readVector('gramine', 'standin', 'libpal_default.so'));

const f = (name: string, text: string | Buffer, mode = 0o644): RawEntry => ({
  name,
  data: typeof text === 'string' ? Buffer.from(text) : text,
  mode,
});
const d = (name: string): RawEntry => ({ name: `${name}/`, type: '5', mode: 0o755 });
const l = (name: string, target: string): RawEntry => ({ name, type: '2', linkname: target, mode: 0o777 });

/** The layers of the test image, bottom first: a "Debian" layer, then the "Gramine + mse-home" layer. */
export function gramineTestLayers(options: { marker?: string | null; libpal?: boolean } = {}): RawEntry[][] {
  const base: RawEntry[] = [
    ...['usr', 'usr/bin', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/lib/python3.11', 'usr/lib/python3.11/json'].map(
      d,
    ),
    ...['usr/lib/python3', 'usr/lib/python3/dist-packages', 'usr/lib/python3/dist-packages/flask', 'etc'].map(d),
    ...['usr/lib/x86_64-linux-gnu/gconv', 'usr/lib/ssl', 'etc/ssl', 'usr/local', 'usr/local/bin'].map(d),
    f('usr/bin/dash', 'dash binary', 0o755),
    l('usr/bin/sh', 'dash'),
    f('usr/local/bin/mse-run', '#!/bin/sh\n# launcher\n', 0o755),
    f('usr/bin/node', 'node binary', 0o755),
    f('usr/bin/python3.11', 'python binary', 0o755),
    l('usr/bin/python3', 'python3.11'),
    l('lib', 'usr/lib'),
    f('usr/lib/x86_64-linux-gnu/libc.so.6', 'libc'),
    f('usr/lib/x86_64-linux-gnu/libssl.so.3', 'libssl'),
    l('usr/lib/x86_64-linux-gnu/libssl.so', 'libssl.so.3'),
    l('usr/lib/x86_64-linux-gnu/gconv-link', 'gconv'),
    f('usr/lib/x86_64-linux-gnu/gconv/UTF-16.so', 'gconv module'),
    f('etc/ssl/openssl.cnf', '# openssl config\n'),
    l('usr/lib/ssl/openssl.cnf', '/etc/ssl/openssl.cnf'),
    f('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n'),
    f('usr/lib/python3.11/os.py', 'import abc\n'),
    f('usr/lib/python3.11/json/__init__.py', '# json\n'),
    f('usr/lib/python3/dist-packages/flask/__init__.py', '# flask\n'),
    f('etc/hostname', 'debian\n'),
  ];
  const top: RawEntry[] = [
    ...['usr/lib/x86_64-linux-gnu/gramine', 'usr/lib/x86_64-linux-gnu/gramine/sgx', 'opt', 'opt/mse'].map(d),
    ...['usr/lib/x86_64-linux-gnu/gramine/runtime', 'usr/lib/x86_64-linux-gnu/gramine/runtime/glibc'].map(d),
    f(GRAMINE_LIBOS.slice(1), STANDIN_LIBOS()),
    f(GRAMINE_RUNTIME_LD.slice(1), 'TEST DOUBLE of Gramine runtime glibc\n'),
    f(GRAMINE_SGX.slice(1), '#!/bin/sh\n# TEST DOUBLE of gramine-sgx\nexit 97\n', 0o755),
    f(MSE_RUN_SGX.slice(1), '#!/bin/sh\n# mse-run-sgx\n', 0o755),
    f('opt/mse/bootstrap.mjs', '// bootstrap\n'),
    f('usr/local/bin/mse-serve', '#!/usr/bin/python3\n', 0o755),
  ];
  if (options.libpal !== false) top.push(f(GRAMINE_LIBPAL.slice(1), STANDIN_LIBPAL()));
  if (options.marker !== null)
    top.push(f(SGX_TEMPLATE_MARKER.slice(1), `${options.marker ?? SGX_MANIFEST_TEMPLATE_VERSION}\n`));
  return [base, top];
}

/** The test image as a docker-archive. */
export function gramineTestImage(layers: RawEntry[][] = gramineTestLayers()): Buffer {
  return dockerArchive(
    layers.map((layer) => rawTar(layer)),
    { repoTag: 'gramine_test_app:1' },
  ).tar;
}

/**
 * Spawn arguments for tests: 1 GiB keeps each measurement short (the heap's EADD records dominate its
 * cost); the certificate expires in a day.
 */
export function testSpawnArgs(): InputArgs {
  return {
    size: 1024,
    subject: 'CN=app.example.com,O=Example,C=FR',
    san: 'app.example.com',
    appId: '63322f85-1ff8-4483-91ae-f18d7398d157',
    application: 'app:app',
    expiration: Math.floor(Date.now() / 1000) + 86_400,
  };
}

export const TEST_MSE_TOML =
  'name = "gramine_test_app"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\ntests_cmd = "pytest"\ntests_requirements = []\n';

/** Write a package (MSE layout) with `image` and the code `files` to `file`. */
export async function writeTestPackage(
  file: string,
  files: Record<string, string>,
  image: Buffer = gramineTestImage(),
): Promise<void> {
  const code = (entries: Record<string, string>): Promise<Buffer> =>
    tarToBuffer(
      deterministicTar(
        Object.entries(entries).map(([p, t]) => ({ path: p, type: 'file' as const, data: Buffer.from(t) })),
      ),
    );
  writeFileSync(
    file,
    rawTar([
      { name: 'app.tar', data: await code(files) },
      { name: 'image.tar', data: image },
      { name: 'mse.toml', data: Buffer.from(TEST_MSE_TOML) },
      { name: 'tests.tar', data: await code({ 'test_app.py': 'def test(): pass\n' }) },
    ]),
  );
}

/**
 * The build context of test-fixtures/gramine-test-image: its Dockerfile, the Gramine test-double tree
 * (`gramine/`, the files the test-double package installs), mse-home's sgx launcher and the marker.
 */
export function gramineTestImageContext(): TarEntrySource[] {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'test-fixtures', 'gramine-test-image', 'Dockerfile'));
  return [
    { path: 'Dockerfile', type: 'file', data: dockerfile },
    ...testDoubleFiles().map((f) => ({
      path: `gramine/${f.path}`,
      type: 'file' as const,
      data: f.data,
      executable: f.executable,
    })),
    {
      path: 'mse-run-sgx',
      type: 'file',
      data: readFileSync(path.join(REPO_ROOT, 'base-image', 'sgx', 'mse-run-sgx')),
      executable: true,
    },
    { path: 'sgx-manifest-template', type: 'file', data: Buffer.from(`${SGX_MANIFEST_TEMPLATE_VERSION}\n`) },
  ];
}

/** Build the Gramine-shaped test image FROM this version's base image (which must exist), tagged `tag`. */
export async function buildGramineTestImage(engine: DockerEngine, tag: string): Promise<string> {
  const r = await engine.build({
    context: entriesContext(gramineTestImageContext()),
    tags: [tag],
    buildArgs: { BASE: BASE_IMAGE },
  });
  return r.id;
}
