// Our enclave manifest (template v1) and the native SGX measurement of a package's image: the generated
// document and args file, what it refuses, the final manifest over a Gramine-shaped test image (made byte by
// byte, with Gramine's stand-in PAL), how every input moves MRENCLAVE, and how a mismatch is explained.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { toHex } from '../attestation/bytes.js';
import type { Evidence } from '../attestation/evidence.js';
import { parseArgvFile, type InputArgs } from '../launch/args.js';
import { computeMrenclave, type TomlTable } from '../gramine/index.js';
import { openImageFs } from '../image/image-fs.js';
import { bufferSource } from '../package/tar-read.js';
import {
  gramineTestImage,
  gramineTestLayers,
  STANDIN_LIBOS,
  STANDIN_LIBPAL,
  testSpawnArgs,
  writeTestPackage,
} from '../testing/gramine-image.js';
import { runPython } from '../testing/python.js';
import { ARGS_FILE, CODE_DIR, enclaveArgv, enclaveManifest } from './enclave-manifest.js';
import { SGX_MANIFEST_TEMPLATE_VERSION } from './gramine-paths.js';
import { explainGramineMeasurement } from './explain.js';
import { describeDifference, diffManifests } from './manifest-diff.js';
import { measureGramineImage, sgxImageKind, withPackageImage, type GramineMeasurement } from './package-measurement.js';

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const ARGS: InputArgs = testSpawnArgs();
const CODE = [
  { path: 'templates/index.html', sha256: sha('<html>') },
  { path: 'app.py', sha256: sha('app = 1') },
];

const openTestImage = (image = gramineTestImage()) => openImageFs(bufferSource(image), 'image.tar');
const measure = async (args = ARGS, code = CODE, image?: Buffer): Promise<GramineMeasurement> =>
  measureGramineImage(await openTestImage(image), code, args);

function trusted(t: TomlTable): [string, string | undefined][] {
  const files = (t.get('sgx') as TomlTable).get('trusted_files') as (string | TomlTable)[];
  return files.map((f) =>
    typeof f === 'string' ? [f, undefined] : [f.get('uri') as string, f.get('sha256') as string],
  );
}

describe('enclave manifest template v1', () => {
  it('runs node with our bootstrap and every spawn argument from a trusted args file', async () => {
    const argv = enclaveArgv(ARGS);
    assert.deepEqual(argv, [
      '/usr/bin/node',
      '/opt/mse/bootstrap.mjs',
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
    // The args file is Gramine's argv format (launch/args.ts's argv file, also the sim platform's).
    const file = enclaveManifest({
      image: await openTestImage(),
      templateVersion: SGX_MANIFEST_TEMPLATE_VERSION,
      codeFiles: CODE,
      args: ARGS,
    }).argsFile;
    assert.equal(Buffer.from(file).toString(), argv.map((a) => `${a}\0`).join(''));
    assert.deepEqual(parseArgvFile(file), argv);
  });

  it('is a pure function of the image listing, the code files and the arguments', async () => {
    const image = await openTestImage();
    const m = enclaveManifest({ image, templateVersion: SGX_MANIFEST_TEMPLATE_VERSION, codeFiles: CODE, args: ARGS });
    const again = enclaveManifest({
      image,
      templateVersion: SGX_MANIFEST_TEMPLATE_VERSION,
      codeFiles: [...CODE].reverse(),
      args: { ...ARGS },
    });
    assert.equal(m.text, again.text);
    assert.equal(m.python, 'python3.11');
    const sgx = m.manifest.get('sgx') as TomlTable;
    assert.equal(sgx.get('enclave_size'), '1024M');
    assert.equal(sgx.get('max_threads'), 32n);
    assert.equal(sgx.get('debug'), false);
    assert.equal(sgx.get('edmm_enable'), false);
    assert.equal((m.manifest.get('loader') as TomlTable).get('argv_src_file'), `file:${ARGS_FILE}`);
    assert.deepEqual(trusted(m.manifest), [
      ['file:/usr/bin/node', undefined],
      ['file:/usr/bin/python3', undefined],
      ['file:/usr/bin/python3.11', undefined],
      ['file:/usr/local/bin/mse-serve', undefined],
      ['file:/opt/mse/bootstrap.mjs', undefined],
      ['file:/usr/lib/x86_64-linux-gnu/', undefined],
      ['file:/usr/lib/python3.11/', undefined],
      ['file:/usr/lib/python3/', undefined],
      [`file:${ARGS_FILE}`, sha(Buffer.from(m.argsFile))],
      [`file:${CODE_DIR}/app.py`, CODE[1]!.sha256],
      [`file:${CODE_DIR}/templates/index.html`, CODE[0]!.sha256],
    ]);
  });

  it('refuses an image built for another template, incomplete, or already holding what spawn writes', async () => {
    const image = await openTestImage();
    const gen = (over: Partial<Parameters<typeof enclaveManifest>[0]>) =>
      enclaveManifest({ image, templateVersion: SGX_MANIFEST_TEMPLATE_VERSION, codeFiles: CODE, args: ARGS, ...over });
    assert.throws(() => gen({ templateVersion: 'mse-home-gramine-manifest-v0' }), { code: 'ERR_SGX_TEMPLATE_VERSION' });
    const [base, top] = gramineTestLayers();
    const without = async (path: string) =>
      openTestImage(gramineTestImage([base!.filter((e) => e.name !== path), top!]));
    await assert.rejects(async () => gen({ image: await without('usr/bin/node') }), {
      code: 'ERR_SGX_IMAGE_INCOMPLETE',
      message: /no file \/usr\/bin\/node/,
    });
    await assert.rejects(async () => gen({ image: await without('usr/bin/python3.11') }), {
      code: 'ERR_SGX_IMAGE_INCOMPLETE',
    });
    const crowded = await openTestImage(
      gramineTestImage([base!, [...top!, { name: 'opt/mse/enclave/args', data: Buffer.from('x') }]]),
    );
    assert.throws(() => gen({ image: crowded }), { code: 'ERR_SGX_IMAGE_LAYOUT', message: /\/opt\/mse\/enclave/ });
  });

  it('refuses arguments and code paths that cannot be written into the manifest', async () => {
    const image = await openTestImage();
    const gen = (args: InputArgs, codeFiles = CODE) =>
      enclaveManifest({ image, templateVersion: SGX_MANIFEST_TEMPLATE_VERSION, codeFiles, args });
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
    assert.throws(() => gen(ARGS, [CODE[0]!, CODE[0]!]), { code: 'ERR_MEASUREMENT_INPUT', message: /twice/ });
  });
});

describe('native SGX measurement of a Gramine-shaped image', () => {
  it('finalizes the manifest over the image (directories walked, symlinks followed inside it) and measures it', async () => {
    const m = await measure();
    const files = new Map(m.final.trustedFiles.map((t) => [t.uri, t.sha256]));
    assert.equal(files.get('file:/usr/bin/python3'), sha('python binary'), 'a link is trusted under its own name');
    assert.equal(files.get('file:/usr/lib/x86_64-linux-gnu/libssl.so'), sha('libssl'));
    assert.equal(files.get('file:/usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so'), sha(STANDIN_LIBPAL()));
    assert.equal(files.get('file:/usr/lib/python3.11/json/__init__.py'), sha('# json\n'));
    assert.equal(files.get(`file:${CODE_DIR}/app.py`), CODE[1]!.sha256);
    assert.equal(m.final.entrypoint.sha256, sha(STANDIN_LIBOS()));
    assert.equal(m.stats.trustedFiles, m.final.trustedFiles.length);
    assert.equal(m.stats.filesHashed, 11, 'each distinct image file once (pre-hashed code and args not read)');
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
      ['code', measure(ARGS, [CODE[0]!, { path: 'app.py', sha256: sha('app = 2') }])],
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
    const code = await measure(ARGS, [CODE[0]!, { path: 'app.py', sha256: sha('app = 2') }]);
    assert.deepEqual(diffManifests({ table: ours.final.table }, { table: code.final.table }), [
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
    assert.match(ok.check.message!, /trusted files, template mse-home-gramine-manifest-v1/);
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
      ['max_threads = 32', 'max_threads = 100000'],
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
  it('reads the image through the descriptor the package was checked through, whatever the path becomes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mse-toctou-'));
    try {
      const file = path.join(dir, 'package_app_1.tar');
      const other = path.join(dir, 'package_other_1.tar');
      const [base, top] = gramineTestLayers({ libpal: false });
      await writeTestPackage(file, { 'app.py': 'x = 1\n' });
      await writeTestPackage(other, { 'app.py': 'x = 1\n' }, gramineTestImage([base!, top!]));
      const expected = await withPackageImage(file, (pkg, image) => measureGramineImage(image, pkg.appFiles, ARGS));
      let inside: GramineMeasurement | undefined;
      const outcome = await withPackageImage(file, async (pkg, image) => {
        // Another package renamed over the path once it was checked: not what is read from here on.
        renameSync(other, file);
        inside = await measureGramineImage(image, pkg.appFiles, ARGS);
        return inside;
      }).catch((error: unknown) => error);
      // what was measured is the checked image (the other one is not even a Gramine image) ...
      assert.equal(toHex(inside!.mrenclave), toHex(expected.mrenclave));
      // ... and the unlinked file is then reported as changed (its change time moved), not silently used
      assert.equal((outcome as { code?: string }).code, 'ERR_FILE_CHANGED');
      // the path now names a package whose image is not a Gramine image at all
      await assert.rejects(
        withPackageImage(file, (pkg, image) => measureGramineImage(image, pkg.appFiles, ARGS)),
        { code: 'ERR_SGX_NOT_GRAMINE_IMAGE' },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
