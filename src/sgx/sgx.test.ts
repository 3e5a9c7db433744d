// Our enclave manifest (template v2) and the native SGX measurement of a package's image: the generated
// document and args file, what it refuses, the final manifest over a Gramine-shaped test image (made byte by
// byte, with Gramine's stand-in PAL), how every input moves MRENCLAVE, and how a mismatch is explained.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { toHex } from '../attestation/bytes.js';
import type { Evidence } from '../launch/evidence.js';
import { parseArgvFile, type InputArgs } from '../launch/args.js';
import { computeMrenclave, parseManifestToml, validateManifest, type TomlTable } from '../gramine/index.js';
import { openImageFs } from '../image/image-fs.js';
import type { PackageContents } from '../package/read.js';
import { bufferSource } from '../package/tar-read.js';
import {
  gramineTestImage,
  gramineTestLayers,
  STANDIN_LIBOS,
  testSpawnArgs,
  writeTestPackage,
} from '../testing/gramine-image.js';
import { runPython } from '../testing/python.js';
import { APP_TAR_FILE, ARGS_FILE, CODE_DIR, enclaveManifest, MAX_THREADS, measuredArgv } from './enclave-manifest.js';
import { SGX_MANIFEST_TEMPLATE_VERSION } from './gramine-paths.js';
import { explainGramineMeasurement } from './explain.js';
import { describeDifference, diffManifests } from './manifest-diff.js';
import { measureGramineImage, sgxImageKind, withPackageImage, type GramineMeasurement } from './package-measurement.js';

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const ARGS: InputArgs = testSpawnArgs();
interface Code {
  files: { path: string; sha256: string }[];
  appTarSha256: string;
}
/** Code files and a stand-in for their app.tar's hash (a function of the files, as the real one is). */
const codeOf = (files: { path: string; sha256: string }[]): Code => ({
  files,
  appTarSha256: sha(JSON.stringify(files)),
});
const CODE = codeOf([
  { path: 'templates/index.html', sha256: sha('<html>') },
  { path: 'app.py', sha256: sha('app = 1') },
]);
const CODE2 = codeOf([CODE.files[0]!, { path: 'app.py', sha256: sha('app = 2') }]);

const openTestImage = (image = gramineTestImage()) => openImageFs(bufferSource(image), 'image.tar');
const measure = async (args = ARGS, code = CODE, image?: Buffer): Promise<GramineMeasurement> =>
  measureGramineImage(await openTestImage(image), code, args);
const generate = (image: Parameters<typeof enclaveManifest>[0]['image'], code = CODE, args = ARGS) =>
  enclaveManifest({
    image,
    templateVersion: SGX_MANIFEST_TEMPLATE_VERSION,
    codeFiles: code.files,
    appTarSha256: code.appTarSha256,
    args,
  });

function trusted(t: TomlTable): [string, string | undefined][] {
  const files = (t.get('sgx') as TomlTable).get('trusted_files') as (string | TomlTable)[];
  return files.map((f) =>
    typeof f === 'string' ? [f, undefined] : [f.get('uri') as string, f.get('sha256') as string],
  );
}

describe('enclave manifest template v2', () => {
  it('runs the launcher with dash, and every spawn argument from a trusted args file', async () => {
    const argv = measuredArgv(ARGS);
    assert.deepEqual(argv, [
      '/usr/bin/dash',
      '/usr/local/bin/mse-run',
      '--size',
      '1024M',
      '--subject',
      ARGS.subject,
      '--san',
      ARGS.san,
      '--id',
      ARGS.appId,
      '--application',
      'app:app',
      '--expiration',
      String(ARGS.expiration),
      '--host',
      '0.0.0.0',
      '--port',
      '443',
    ]);
    // The args file is Gramine's argv format, the very file of the sim platform (launch/args.ts).
    const m = generate(await openTestImage());
    assert.equal(Buffer.from(m.argsFile).toString(), argv.map((a) => `${a}\0`).join(''));
    assert.deepEqual(parseArgvFile(m.argsFile), argv);
    const libos = m.manifest.get('libos') as TomlTable;
    assert.equal(libos.get('entrypoint'), '/usr/bin/dash', 'single-threaded: its fork is safe under Gramine');
  });

  it('is a pure function of the image listing, the code and the arguments, and passes Gramine 1.9’s rules', async () => {
    const image = await openTestImage();
    const m = generate(image);
    const again = generate(image, { ...CODE, files: [...CODE.files].reverse() }, { ...ARGS });
    assert.equal(m.text, again.text);
    assert.equal(m.python, 'python3.11');
    assert.deepEqual(validateManifest(m.manifest, { strict: true }), []);
    const sgx = m.manifest.get('sgx') as TomlTable;
    assert.equal(sgx.get('enclave_size'), '1024M');
    assert.equal(sgx.get('max_threads'), BigInt(MAX_THREADS));
    assert.equal(sgx.get('debug'), false);
    assert.equal(sgx.get('edmm_enable'), false);
    assert.equal(sgx.get('file_check_policy'), 'strict');
    assert.equal(sgx.get('isvprodid'), 1n);
    assert.equal(sgx.get('isvsvn'), 10n);
    assert.equal((m.manifest.get('loader') as TomlTable).get('argv_src_file'), `file:${ARGS_FILE}`);
    const sys = m.manifest.get('sys') as TomlTable;
    assert.equal(sys.get('enable_sigterm_injection'), true);
    assert.equal(sys.get('disallow_subprocesses'), undefined, 'the launcher forks the bootstrap');
    const mounts = ((m.manifest.get('fs') as TomlTable).get('mounts') as TomlTable[]).filter(
      (x) => x.get('type') === 'encrypted',
    );
    assert.deepEqual(
      mounts.map((x) => [x.get('path'), x.get('uri'), x.get('key_name')]),
      [
        ['/key', 'file:/opt/mse/sealed/key', '_sgx_mrenclave'],
        ['/root', 'file:/opt/mse/sealed/home', '_sgx_mrenclave'],
        ['/mse-app', 'file:/opt/mse/sealed/app', '_sgx_mrenclave'],
      ],
    );
    assert.deepEqual(trusted(m.manifest), [
      ['file:/usr/bin/dash', undefined],
      ['file:/usr/local/bin/mse-run', undefined],
      ['file:/usr/bin/node', undefined],
      ['file:/opt/mse/bootstrap.mjs', undefined],
      ['file:/usr/bin/python3', undefined],
      ['file:/usr/bin/python3.11', undefined],
      ['file:/usr/local/bin/mse-serve', undefined],
      ['file:/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/', undefined],
      // Debian's libraries, not Gramine's own tree (gramine/: PAL, loader, tools); a link to a directory
      // (gconv-link) is skipped as Gramine's signer skips it
      ['file:/usr/lib/x86_64-linux-gnu/gconv/', undefined],
      ['file:/usr/lib/x86_64-linux-gnu/libc.so.6', undefined],
      ['file:/usr/lib/x86_64-linux-gnu/libssl.so', undefined],
      ['file:/usr/lib/x86_64-linux-gnu/libssl.so.3', undefined],
      ['file:/usr/lib/python3.11/', undefined],
      ['file:/usr/lib/python3/', undefined],
      // the system files the image has (openssl.cnf through its link, passwd); absent ones are not listed
      ['file:/usr/lib/ssl/openssl.cnf', undefined],
      ['file:/etc/passwd', undefined],
      [`file:${ARGS_FILE}`, sha(Buffer.from(m.argsFile))],
      [`file:${APP_TAR_FILE}`, CODE.appTarSha256],
      [`file:${CODE_DIR}/app.py`, CODE.files[1]!.sha256],
      [`file:${CODE_DIR}/templates/index.html`, CODE.files[0]!.sha256],
    ]);
  });

  it('refuses an image built for another template, incomplete, or already holding what spawn writes', async () => {
    const image = await openTestImage();
    assert.throws(
      () =>
        enclaveManifest({
          image,
          templateVersion: 'mse-home-gramine-manifest-v1',
          codeFiles: CODE.files,
          appTarSha256: CODE.appTarSha256,
          args: ARGS,
        }),
      { code: 'ERR_SGX_TEMPLATE_VERSION' },
    );
    const [base, top] = gramineTestLayers();
    const without = async (path: string) =>
      openTestImage(gramineTestImage([base!.filter((e) => e.name !== path), top!.filter((e) => e.name !== path)]));
    for (const [path, missing] of [
      ['usr/bin/node', /no file \/usr\/bin\/node/],
      ['usr/bin/python3.11', /python3/],
      ['usr/bin/dash', /no file \/usr\/bin\/dash/],
      ['usr/local/bin/mse-run', /no file \/usr\/local\/bin\/mse-run/],
    ] as const) {
      const img = await without(path);
      assert.throws(() => generate(img), { code: 'ERR_SGX_IMAGE_INCOMPLETE', message: missing }, path);
    }
    const noRuntime = await openTestImage(
      gramineTestImage([base!, top!.filter((e) => !e.name.includes('gramine/runtime'))]),
    );
    assert.throws(() => generate(noRuntime), { code: 'ERR_SGX_IMAGE_INCOMPLETE', message: /runtime\/glibc/ });
    const crowded = await openTestImage(
      gramineTestImage([base!, [...top!, { name: 'opt/mse/enclave/args', data: Buffer.from('x') }]]),
    );
    assert.throws(() => generate(crowded), { code: 'ERR_SGX_IMAGE_LAYOUT', message: /\/opt\/mse\/enclave/ });
    assert.throws(() => generate(image, { ...CODE, appTarSha256: 'x' }), { code: 'ERR_MEASUREMENT_INPUT' });
  });

  it('refuses arguments and code paths that cannot be written into the manifest', async () => {
    const image = await openTestImage();
    const gen = (args: InputArgs, files = CODE.files) => generate(image, codeOf(files), args);
    assert.throws(() => gen({ ...ARGS, subject: 'CN=a\0b' }), { code: 'ERR_SGX_ARGUMENT', message: /subject/ });
    for (const size of [0, 1000, 1.5]) {
      assert.throws(() => gen({ ...ARGS, size }), { code: 'ERR_SGX_ARGUMENT', message: /size .* power of two/ });
    }
    assert.throws(() => gen({ ...ARGS, expiration: -1 }), { code: 'ERR_SGX_ARGUMENT', message: /expiration/ });
    assert.throws(() => gen({ ...ARGS, size: 2 ** 21 }), {
      code: 'ERR_SGX_ARGUMENT',
      message: /more than 65536 MiB \(64 GiB\)/,
    });
    for (const bad of ['../x.py', '/abs.py', 'a//b', 'a/./b', '']) {
      assert.throws(() => gen(ARGS, [{ path: bad, sha256: sha('x') }]), { code: 'ERR_MEASUREMENT_INPUT' }, bad);
    }
    assert.throws(() => gen(ARGS, [CODE.files[0]!, CODE.files[0]!]), {
      code: 'ERR_MEASUREMENT_INPUT',
      message: /twice/,
    });
  });
});

describe('native SGX measurement of a Gramine-shaped image', () => {
  it('finalizes the manifest over the image (directories walked, symlinks followed inside it) and measures it', async () => {
    const m = await measure();
    const files = new Map(m.final.trustedFiles.map((t) => [t.uri, t.sha256]));
    assert.equal(files.get('file:/usr/bin/python3'), sha('python binary'), 'a link is trusted under its own name');
    assert.equal(files.get('file:/usr/lib/x86_64-linux-gnu/libssl.so'), sha('libssl'));
    assert.equal(files.get('file:/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so'), sha('gconv module'));
    assert.equal(files.get('file:/usr/lib/ssl/openssl.cnf'), sha('# openssl config\n'), 'through its link to /etc');
    // Gramine's own files are not the enclave's to read (its glibc is, and the LibOS is loader.entrypoint)
    assert.equal(files.get('file:/usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so'), undefined);
    assert.equal(files.get('file:/usr/bin/gramine-sgx'), undefined);
    assert.ok(![...files.keys()].some((u) => u.includes('/gramine/') && !u.includes('/gramine/runtime/glibc/')));
    assert.equal(
      files.get('file:/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/ld-linux-x86-64.so.2'),
      sha('TEST DOUBLE of Gramine runtime glibc\n'),
    );
    assert.equal(files.get('file:/usr/lib/python3.11/json/__init__.py'), sha('# json\n'));
    assert.equal(files.get(`file:${CODE_DIR}/app.py`), CODE.files[1]!.sha256);
    assert.equal(files.get(`file:${APP_TAR_FILE}`), CODE.appTarSha256);
    assert.equal(m.final.entrypoint.sha256, sha(STANDIN_LIBOS()));
    assert.equal(m.stats.trustedFiles, m.final.trustedFiles.length);
    assert.equal(m.stats.filesHashed, 15, 'each distinct image file once (pre-hashed code and args not read)');
    // the final manifest passes Gramine 1.9's rules too (what gramine-sgx-sign added: defaults, hashes)
    assert.deepEqual(validateManifest(parseManifestToml(m.final.bytes), { strict: true }), []);
    assert.ok(m.stats.layerBytes > 0);
    // The measurement is Gramine's over the final manifest's bytes with the image's PAL.
    assert.equal(toHex(m.mrenclave), toHex(computeMrenclave(m.final.bytes, m.libpal).mrenclave));
    assert.equal((await sgxImageKind(await openTestImage())).kind, 'gramine');
  });

  it('writes the final manifest exactly as tomli_w does (so gramine-sgx-sign reproduces it)', async () => {
    const m = await measure();
    const again = runPython<string>(
      'import json, sys, tomli, tomli_w; print(json.dumps(tomli_w.dumps(tomli.loads(json.load(sys.stdin)))))',
      m.final.text,
    );
    assert.equal(again, m.final.text);
  });

  it('moves MRENCLAVE with every code file, every argument and every image file', async () => {
    const base = toHex((await measure()).mrenclave);
    const variants: [string, Promise<GramineMeasurement>][] = [
      ['code', measure(ARGS, CODE2)],
      ['size', measure({ ...ARGS, size: 2048 })],
      ['subject', measure({ ...ARGS, subject: 'CN=app.example.com,O=Examplf,C=FR' })],
      ['san', measure({ ...ARGS, san: 'app.example.con' })],
      ['appId', measure({ ...ARGS, appId: '63322f85-1ff8-4483-91ae-f18d7398d158' })],
      ['application', measure({ ...ARGS, application: 'app:apq' })],
      ['expiration', measure({ ...ARGS, expiration: ARGS.expiration + 1 })],
    ];
    const [lower, top] = gramineTestLayers();
    const stdlib = lower!.map((e) =>
      e.name === 'usr/lib/python3.11/os.py' ? { ...e, data: Buffer.from('import abd\n') } : e,
    );
    variants.push(['stdlib', measure(ARGS, CODE, gramineTestImage([stdlib, top!]))]);
    const seen = new Set([base]);
    for (const [what, p] of variants) {
      const v = toHex((await p).mrenclave);
      assert.ok(!seen.has(v), `${what} changes MRENCLAVE`);
      seen.add(v);
    }
  });

  it('refuses images it cannot measure: not Gramine, not ours, or layers that do not match the config', async () => {
    const [base, top] = gramineTestLayers({ libpal: false });
    await assert.rejects(measure(ARGS, CODE, gramineTestImage([base!, top!])), { code: 'ERR_SGX_NOT_GRAMINE_IMAGE' });
    await assert.rejects(measure(ARGS, CODE, gramineTestImage(gramineTestLayers({ marker: null }))), {
      code: 'ERR_SGX_NOT_GRAMINE_IMAGE',
      message: /not built from an mse-home SGX base image/,
    });
    const tampered = gramineTestImage();
    tampered.write('import abd', tampered.indexOf('import abc'), 'latin1');
    await assert.rejects(measure(ARGS, CODE, tampered), { code: 'ERR_PACKAGE_IMAGE_LAYER' });
  });
});

describe('explaining a MRENCLAVE mismatch', () => {
  const evidence = (m: GramineMeasurement, over: Partial<Evidence> = {}): Evidence =>
    ({ gramineManifest: m.final.text, gramineArgv: m.enclave.argv, ...over }) as Evidence;

  it('names the differing trusted file, argument and option', async () => {
    const ours = await measure();
    const code = await measure(ARGS, CODE2);
    assert.deepEqual(diffManifests({ table: ours.final.table }, { table: code.final.table }), [
      { kind: 'trusted-file', name: `file:${APP_TAR_FILE}`, package: CODE.appTarSha256, enclave: CODE2.appTarSha256 },
      { kind: 'trusted-file', name: `file:${CODE_DIR}/app.py`, package: sha('app = 1'), enclave: sha('app = 2') },
    ]);
    const other = await measure({ ...ARGS, size: 2048, appId: '63322f85-1ff8-4483-91ae-f18d7398d158' });
    const d = diffManifests(
      { table: ours.final.table, argv: ours.enclave.argv },
      { table: other.final.table, argv: other.enclave.argv },
    );
    assert.deepEqual(d.map(describeDifference), [
      'sgx.enclave_size: package "1024M", enclave "2048M"',
      'argument --size: package "1024M", enclave "2048M"',
      // the deployment UUID is a credential: named, its values masked (review L3)
      'argument --id: package "63322f85…", enclave "63322f85…"',
    ]);
    // Without the enclave's argv (or with one that is not its args file), the args file itself is named.
    const noArgv = diffManifests({ table: ours.final.table, argv: ours.enclave.argv }, { table: other.final.table });
    assert.deepEqual(
      noArgv.map((x) => x.name),
      ['sgx.enclave_size', `file:${ARGS_FILE}`],
    );
    const lying = diffManifests(
      { table: ours.final.table, argv: ours.enclave.argv },
      { table: other.final.table, argv: ours.enclave.argv },
    );
    assert.deepEqual(
      lying.map((x) => x.name),
      ['sgx.enclave_size', `file:${ARGS_FILE}`],
    );
  });

  it('trusts the evidence’s manifest only when it measures to the quoted MRENCLAVE', async () => {
    const ours = await measure();
    const enclave = await measure({ ...ARGS, application: 'app:apq' });
    const quoted = toHex(enclave.mrenclave);
    const explain = (e: Evidence) => explainGramineMeasurement(ours, e)(quoted);

    const ok = explainGramineMeasurement(ours, evidence(ours))(toHex(ours.mrenclave));
    assert.equal(ok.check.status, 'pass');
    assert.match(ok.check.message!, /trusted files, template mse-home-gramine-manifest-v2/);
    assert.equal(explainGramineMeasurement(ours, evidence(ours))(null).check.status, 'skip');

    const named = explain(evidence(enclave));
    assert.equal(named.check.status, 'fail');
    assert.equal(named.check.policy, true);
    assert.equal(named.check.code, 'ERR_SGX_MEASUREMENT_MISMATCH');
    assert.match(
      named.check.message!,
      /1 manifest entry differs: argument --application: package "app:app", enclave "app:apq"/,
    );
    assert.equal(named.details.enclaveManifest, 'trusted');
    assert.deepEqual(named.details.differences, [
      { kind: 'argument', name: '--application', package: '"app:app"', enclave: '"app:apq"' },
    ]);

    const absent = explain({} as Evidence);
    assert.equal(absent.details.enclaveManifest, 'absent');
    assert.match(absent.check.message!, /carries no enclave manifest/);

    // A manifest that does not measure to the quote says nothing, however plausible.
    const forged = explain(evidence(ours));
    assert.equal(forged.details.enclaveManifest, 'untrusted');
    assert.match(forged.check.message!, /not the quoted MRENCLAVE: it is not the enclave's manifest and is ignored/);
    assert.equal(forged.details.differences, undefined);

    const broken = explain(evidence(enclave, { gramineManifest: 'not = [toml' }));
    assert.equal(broken.details.enclaveManifest, 'unreadable');

    // An operator's manifest that would cost too much to measure is not measured (bounded work).
    for (const [from, to] of [
      ['enclave_size = "1024M"', 'enclave_size = "2048G"'],
      [`max_threads = ${MAX_THREADS}`, 'max_threads = 100000'],
    ] as const) {
      const started = Date.now();
      const huge = explain(evidence(enclave, { gramineManifest: enclave.final.text.replace(from, to) }));
      assert.equal(huge.details.enclaveManifest, 'unreadable', to);
      assert.match(huge.check.message!, /mse-home measures/);
      assert.ok(Date.now() - started < 5000, 'refused before measuring');
    }
  });

  it('lists every differing file of another image in the JSON details, the first ones in the message', async () => {
    const ours = await measure();
    const [lower, top] = gramineTestLayers();
    const changed = lower!.map((e) =>
      e.name.startsWith('usr/lib/python3.11/') && e.data
        ? { ...e, data: Buffer.concat([e.data, Buffer.from('#')]) }
        : e,
    );
    const enclave = await measure(ARGS, CODE, gramineTestImage([changed, top!]));
    const r = explainGramineMeasurement(ours, evidence(enclave))(toHex(enclave.mrenclave));
    assert.equal(r.details.differenceCount, 2);
    assert.match(r.check.message!, /trusted file file:\/usr\/lib\/python3\.11\/os\.py: package [0-9a-f]{64}, enclave/);
  });
});

describe('withPackageImage: the image measured is the one in the package checked (review info a)', () => {
  const codeOfPackage = (pkg: PackageContents): Code => ({ files: pkg.appFiles, appTarSha256: pkg.appTarSha256 });
  it('reads the image through the descriptor the package was checked through, whatever the path becomes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-toctou-'));
    try {
      const file = path.join(dir, 'package_app_1.tar');
      const other = path.join(dir, 'package_other_1.tar');
      const [base, top] = gramineTestLayers({ libpal: false });
      await writeTestPackage(file, { 'app.py': 'x = 1\n' });
      await writeTestPackage(other, { 'app.py': 'x = 1\n' }, gramineTestImage([base!, top!]));
      const expected = await withPackageImage(file, (pkg, image) =>
        measureGramineImage(image, codeOfPackage(pkg), ARGS),
      );
      let inside: GramineMeasurement | undefined;
      const outcome = await withPackageImage(file, async (pkg, image) => {
        // Another package renamed over the path once it was checked: not what is read from here on.
        renameSync(other, file);
        inside = await measureGramineImage(image, codeOfPackage(pkg), ARGS);
        return inside;
      }).catch((error: unknown) => error);
      // what was measured is the checked image (the other one is not even a Gramine image) ...
      assert.equal(toHex(inside!.mrenclave), toHex(expected.mrenclave));
      // ... and the unlinked file is then reported as changed (its change time moved), not silently used
      assert.equal((outcome as { code?: string }).code, 'ERR_FILE_CHANGED');
      // the path now names a package whose image is not a Gramine image at all
      await assert.rejects(
        withPackageImage(file, (pkg, image) => measureGramineImage(image, codeOfPackage(pkg), ARGS)),
        { code: 'ERR_SGX_NOT_GRAMINE_IMAGE' },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
