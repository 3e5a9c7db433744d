// SGX packages end to end with the real Docker engine: a Gramine-shaped test image (the base image plus
// Gramine's stand-in PAL at Gramine's path, test-fixtures/gramine-test-image), the scaffolded app packaged
// FROM it by `mse home package`, its MRENCLAVE computed by `mse home measure --package`, honest test
// evidence whose quote the simulated quoting machinery signs for that MRENCLAVE (src/testing/sgx-evidence.ts),
// and `mse home verify --package` accepting it and rejecting one changed byte in a code file, in a Python
// stdlib file of the image, and in each spawn argument, naming the differing entry. Also: the image file
// system read from image.tar equals what the engine itself shows in a container (`docker export`); and
// `spawn --platform sgx --dry-run` writes a final manifest and SIGSTRUCT whose MRENCLAVE `measure --package`
// and `verify --package` reproduce, which `sigstruct show` accepts and which passes Gramine 1.9's rules.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { serializeEvidence, type Evidence } from '../launch/evidence.js';
import type { InputArgs } from '../launch/args.js';
import { imageRepository } from '../docker/app-image.js';
import { openImageFs, type ImageFs } from '../image/image-fs.js';
import { readPackage } from '../package/read.js';
import { fileSource } from '../package/tar-read.js';
import { loadOrCreateSimPlatform, type SimPlatform } from '../sim/platform.js';
import { runMse } from '../testing/cli.js';
import {
  edit,
  removeTestDirs,
  removeTestImages,
  testBaseImage,
  testEngine,
  testProject,
  testTempDir,
  TEST_PREFIX,
  type TestProject,
} from '../testing/docker.js';
import { flipByte, tamperPackageCode } from '../testing/e2e.js';
import { buildGramineTestImage } from '../testing/gramine-image.js';
import { sgxTestEvidence } from '../testing/sgx-evidence.js';
import { fromEnclaveArgvFile, parseArgvFile, DEFAULT_SUBJECT } from '../launch/args.js';
import { freeLoopbackPort } from '../docker/localtest.js';
import { spawnDeployment, type SpawnDryRun } from '../deploy/spawn.js';
import { createLogger } from '../base/log.js';
import { PassThrough } from 'node:stream';
import { parseManifestToml, validateManifest } from '../gramine/index.js';
import { loadOrCreateSignerKey } from '../launch/signer.js';

const work = testTempDir('mse-e2e-sgx-');
const gramineRepo = `${TEST_PREFIX}gramine-${randomBytes(3).toString('hex')}`;
const GRAMINE_IMAGE = `${gramineRepo}:1`;
const repos = [gramineRepo];
const containers: string[] = [];
let sim: SimPlatform;

after(async () => {
  const engine = await testEngine();
  for (const c of containers) await engine.removeContainer(c, { force: true }).catch(() => undefined);
  await removeTestImages(repos);
  removeTestDirs();
});

let project: TestProject | undefined;

/** Package the scaffolded Flask app FROM the Gramine-shaped image (`extra` Dockerfile lines appended). */
async function packageApp(extra = ''): Promise<string> {
  if (!project) {
    project = await testProject('flask');
    repos.push(imageRepository(project.name));
    edit(path.join(project.dir, 'Dockerfile'), (t) => t.replace(/^FROM \S+/m, `FROM ${GRAMINE_IMAGE}`));
  }
  const p = project;
  if (extra) appendFileSync(path.join(p.dir, 'Dockerfile'), `\n${extra}\n`);
  const out = testTempDir('mse-e2e-sgx-pkg-');
  const r = await runMse(['home', 'package', '--project', p.dir, '--output', out, '--json'], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { package: string }).package;
}

const ARGS: InputArgs = {
  size: 2048,
  subject: 'CN=localhost,O=MyApp Company,C=FR,L=Paris,ST=Ile-de-France',
  san: 'localhost',
  appId: randomUUID(),
  application: 'app:app',
  expiration: Math.floor(Date.now() / 1000) + 30 * 86_400,
};

interface Verdict {
  accepted: boolean;
  mrenclave: string;
  failures: { code: string; message: string }[];
  measurement: { enclaveManifest?: string; differences?: { kind: string; name: string }[] };
}

async function verify(evidence: Evidence, packageFile: string): Promise<{ code: number; stderr: string; v?: Verdict }> {
  const dir = testTempDir('mse-e2e-sgx-verify-');
  const file = path.join(dir, 'evidence.json');
  writeFileSync(file, serializeEvidence(evidence));
  const r = await runMse(
    ['home', 'verify', '--evidence', file, '--package', packageFile, '--output', dir, '--allow-simulation', '--json'],
    { timeoutMs: 120_000 },
  );
  const v = r.stdout ? (JSON.parse(r.stdout) as { verdict?: Verdict }).verdict : undefined;
  return { code: r.code, stderr: r.stderr, ...(v ? { v } : {}) };
}

function mismatch(v: Verdict | undefined): string {
  const f = v?.failures.find((x) => x.code === 'ERR_SGX_MEASUREMENT_MISMATCH');
  assert.ok(f, 'an identity.manifest failure');
  return f.message;
}

describe('SGX package: measure, then verify with no Docker and no Gramine (real engine)', () => {
  let pkg: string;
  let mrenclave: string;
  let evidence: Evidence;

  before(async () => {
    const engine = await testEngine();
    await testBaseImage();
    await buildGramineTestImage(engine, GRAMINE_IMAGE);
    sim = await loadOrCreateSimPlatform({ dir: path.join(work, 'sim') });
    pkg = await packageApp();
  });

  it('measure --package prints the MRENCLAVE and writes the final manifest and the args file', async () => {
    const out = testTempDir('mse-e2e-sgx-measure-');
    const flags = ['--size', String(ARGS.size), '--san', ARGS.san, '--subject', ARGS.subject];
    const r = await runMse(
      [
        'home',
        'measure',
        '--package',
        pkg,
        ...flags,
        '--app-id',
        ARGS.appId,
        '--expiration',
        String(ARGS.expiration),
      ].concat(['--output', out, '--json']),
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { mrenclave: string; filesHashed: number; trustedFiles: number };
    mrenclave = j.mrenclave;
    assert.ok(j.filesHashed > 2000, `the image's Python, Node and libraries are hashed (${j.filesHashed})`);
    evidence = sgxTestEvidence({
      sim,
      mrenclave: new Uint8Array(Buffer.from(mrenclave, 'hex')),
      args: ARGS,
      gramineManifest: readFileSync(path.join(out, 'enclave.manifest.sgx'), 'utf8'),
      gramineArgv: parseArgvFile(readFileSync(path.join(out, 'args'))),
    });
  });

  it('verify --package accepts evidence carrying that MRENCLAVE', async () => {
    const r = await verify(evidence, pkg);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.v!.accepted, true);
    assert.equal(r.v!.mrenclave, mrenclave);
  });

  it('rejects one changed byte in a code file, naming the file (and app.tar, which holds it)', async () => {
    const tampered = path.join(testTempDir('mse-e2e-sgx-code-'), path.basename(pkg));
    await tamperPackageCode(pkg, tampered, 'app.py');
    const r = await verify(evidence, tampered);
    assert.equal(r.code, 10, r.stderr);
    assert.deepEqual(
      r.v!.measurement.differences!.map((d) => d.name),
      ['file:/opt/mse/enclave/app.tar', 'file:/opt/mse/enclave/app/app.py'],
    );
    assert.match(
      mismatch(r.v),
      /2 manifest entries differ: trusted file file:\/opt\/mse\/enclave\/app\.tar: package [0-9a-f]{64}, enclave [0-9a-f]{64}; trusted file file:\/opt\/mse\/enclave\/app\/app\.py: package/,
    );
  });

  it('rejects one changed byte in a Python stdlib file of the image, naming the file', async () => {
    // Another image of the same app, built by the engine: one byte of os.py flipped in a layer of its own.
    const flip =
      "RUN python3 -c \"p='/usr/lib/python3.11/os.py'; b=bytearray(open(p,'rb').read()); b[100]^=1; open(p,'wb').write(b)\"";
    const other = await packageApp(flip);
    const r = await verify(evidence, other);
    assert.equal(r.code, 10, r.stderr);
    assert.deepEqual(
      r.v!.measurement.differences!.map((d) => d.name),
      ['file:/usr/lib/python3.11/os.py'],
    );
    assert.match(
      mismatch(r.v),
      /trusted file file:\/usr\/lib\/python3\.11\/os\.py: package [0-9a-f]{64}, enclave [0-9a-f]{64}/,
    );
  });

  it('rejects one changed byte in each spawn argument, naming the argument', async () => {
    const flip = (s: string): string => s.slice(0, -1) + String.fromCharCode(s.charCodeAt(s.length - 1) ^ 1);
    const cases: [Partial<Evidence['inputArgs']>, string[]][] = [
      [{ size: 4096 }, ['sgx.enclave_size', '--size']], // 2048 → 4096: the one-character change that stays a power of two
      [{ subject: flip(ARGS.subject) }, ['--subject']],
      [{ san: flip(ARGS.san) }, ['--san']],
      [{ appId: flip(ARGS.appId) }, ['--id']],
      [{ application: flip(ARGS.application) }, ['--application']],
      [{ expiration: ARGS.expiration ^ 1 }, ['--expiration']],
    ];
    for (const [change, names] of cases) {
      const r = await verify({ ...evidence, inputArgs: { ...evidence.inputArgs, ...change } }, pkg);
      assert.notEqual(r.code, 0, JSON.stringify(change));
      assert.deepEqual(
        r.v!.measurement.differences!.map((d) => d.name),
        names,
        JSON.stringify(change),
      );
      assert.equal(r.v!.measurement.enclaveManifest, 'trusted');
    }
  });

  it('spawn --platform sgx --dry-run: a manifest and SIGSTRUCT that measure, sigstruct show and verify reproduce', async () => {
    const out = testTempDir('mse-e2e-sgx-dryrun-');
    const state = testTempDir('mse-e2e-sgx-state-');
    const keyFile = path.join(testTempDir('mse-e2e-sgx-key-'), 'enclave-key.pem');
    const name = `${TEST_PREFIX}sgx-dry-${randomBytes(3).toString('hex')}`;
    const port = await freeLoopbackPort();
    const env = { MSE_HOME_STATE_DIR: state };
    const r = await runMse(
      ['home', 'spawn', name, '--platform', 'sgx', '--dry-run', '--package', pkg, '--san', 'localhost'].concat([
        '--size',
        '2048',
        '--port',
        String(port),
        '--output',
        out,
        '--signer-key',
        keyFile,
        '--json',
      ]),
      { env, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    // this host has no SGX: the plan is made all the same, and says so
    assert.match(r.stderr, /platform: sgx \(--platform sgx\)/);
    assert.match(r.stderr, /not ready .*planning only \(--dry-run\)/);
    const plan = JSON.parse(r.stdout) as SpawnDryRun & { dryRun: boolean; hostReady: boolean };
    const p = await readPackage(pkg);
    assert.deepEqual([plan.dryRun, plan.hostReady], [true, false]);
    assert.equal(plan.image, p.imageConfigDigest);
    assert.deepEqual([...plan.entrypoint, ...plan.cmd], ['/usr/local/bin/mse-run-sgx']);
    assert.deepEqual(plan.devices, [], 'no SGX device on this host, none passed');
    assert.deepEqual(plan.missingDevices, ['/dev/sgx_enclave', '/dev/sgx_provision']);
    // spawn names the state directory when it makes it (review L1): the plan shows mkdtemp's template
    const stateDir = path.join(state, 'deployments', name, 'state-XXXXXX');
    assert.deepEqual(plan.mounts, [
      { host: path.join(stateDir, 'enclave'), container: '/opt/mse/enclave', readOnly: true },
      { host: path.join(stateDir, 'sealed'), container: '/opt/mse/sealed', readOnly: false },
    ]);
    assert.deepEqual(plan.ports, [{ host: `127.0.0.1:${port}`, container: '443/tcp' }]);
    assert.equal(plan.enclaveFiles.manifest, '/opt/mse/enclave/enclave.manifest.sgx');
    assert.equal(plan.enclaveFiles.sigstruct, '/opt/mse/enclave/enclave.sig');
    assert.equal(plan.template, 'mse-home-gramine-manifest-v2');
    assert.deepEqual([plan.enclaveSize, plan.maxThreads], [2048 * 2 ** 20, 64]);
    // nothing created but the output files: no state, no container, no image tag
    assert.ok(!existsSync(path.join(state, 'deployments')), 'no deployment state');
    const engine = await testEngine();
    assert.equal(await engine.inspectContainer(name), undefined);
    assert.deepEqual(readdirSync(out).sort(), ['args', 'enclave.manifest.sgx', 'enclave.sig']);
    assert.equal(statSync(plan.written.args).mode & 0o777, 0o600, 'the args file holds a UUID');
    assert.ok(
      !r.stdout.includes(fromEnclaveArgvFile(readFileSync(plan.written.args)).appId),
      'the UUID is not printed',
    );

    // the operator's key signed it: MRSIGNER is that key's
    const signer = await loadOrCreateSignerKey(keyFile);
    assert.equal(plan.mrsigner, Buffer.from(signer.mrSigner).toString('hex'));

    // the final manifest passes Gramine 1.9's rules, strictly
    const finalManifest = readFileSync(plan.written.manifest);
    assert.deepEqual(validateManifest(parseManifestToml(finalManifest), { strict: true }), []);

    // sigstruct show accepts the SIGSTRUCT: signature valid, the same MRENCLAVE and MRSIGNER
    const shown = await runMse(['home', 'sigstruct', 'show', plan.written.sigstruct, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const sig = JSON.parse(shown.stdout) as {
      mrenclave: string;
      mrsigner: string;
      signature: { valid: boolean };
      fields: { isvProdId?: number; isvSvn?: number; date: string };
    };
    assert.deepEqual([sig.mrenclave, sig.mrsigner, sig.signature.valid], [plan.mrenclave, plan.mrsigner, true]);

    // measure --package with the same arguments reproduces MRENCLAVE and the final manifest byte for byte
    const args = fromEnclaveArgvFile(readFileSync(plan.written.args));
    assert.deepEqual([args.size, args.san, args.subject], [2048, 'localhost', DEFAULT_SUBJECT]);
    const measured = testTempDir('mse-e2e-sgx-dryrun-measure-');
    const m = await runMse(
      ['home', 'measure', '--package', pkg, '--size', '2048', '--san', 'localhost', '--app-id', args.appId].concat([
        '--expiration',
        String(args.expiration),
        '--output',
        measured,
        '--json',
      ]),
      { timeoutMs: 120_000 },
    );
    assert.equal(m.code, 0, m.stderr);
    assert.equal((JSON.parse(m.stdout) as { mrenclave: string }).mrenclave, plan.mrenclave);
    assert.deepEqual(readFileSync(path.join(measured, 'enclave.manifest.sgx')), finalManifest);
    assert.deepEqual(readFileSync(path.join(measured, 'args')), readFileSync(plan.written.args));

    // verify --package accepts evidence whose quote carries that MRENCLAVE and the operator's MRSIGNER
    const dryEvidence = sgxTestEvidence({
      sim,
      mrenclave: new Uint8Array(Buffer.from(plan.mrenclave, 'hex')),
      args,
      signerPk: signer.publicKeyPem,
      gramineManifest: finalManifest.toString('utf8'),
      gramineArgv: parseArgvFile(readFileSync(plan.written.args)),
    });
    const v = await verify(dryEvidence, pkg);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.v!.accepted, true);
    assert.equal(v.v!.mrenclave, plan.mrenclave);
  });

  it('spawn --platform sgx --dry-run writes its three files all or none, and never removes one it did not write (review L2, L6)', async () => {
    const out = testTempDir('mse-e2e-sgx-dryrun-none-');
    const state = testTempDir('mse-e2e-sgx-state-none-');
    // the operator's own args file is there, and enclave.sig cannot be written (a directory)
    writeFileSync(path.join(out, 'args'), 'mine', { mode: 0o600 });
    mkdirSync(path.join(out, 'enclave.sig'));
    const r = await runMse(
      ['home', 'spawn', `${TEST_PREFIX}sgx-none`, '--platform', 'sgx', '--dry-run', '--package', pkg].concat([
        '--san',
        'localhost',
        '--size',
        '2048',
        '--port',
        String(await freeLoopbackPort()),
        '--output',
        out,
        '--signer-key',
        path.join(testTempDir('mse-e2e-sgx-key-none-'), 'enclave-key.pem'),
      ]),
      { env: { MSE_HOME_STATE_DIR: state }, timeoutMs: 120_000 },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ERR_FILE_IS_DIRECTORY/);
    // nothing written, the operator's file kept as it was
    assert.deepEqual(readdirSync(out).sort(), ['args', 'enclave.sig']);
    assert.equal(readFileSync(path.join(out, 'args'), 'utf8'), 'mine');
    assert.ok(!existsSync(path.join(state, 'deployments')), 'no deployment state');
  });

  it('spawn --platform sgx for real, here: files mounted, container started, mse-run-sgx stops at the missing device, all undone', async () => {
    // The readiness gate is the CLI's (this host is not ready); the deployment function runs the real apply
    // path: state directory, image load, the sgx container FROM the package's image, the wait.
    const engine = await testEngine();
    const state = testTempDir('mse-e2e-sgx-real-state-');
    const out = path.join(testTempDir('mse-e2e-sgx-real-out-'), 'deployment');
    const name = `${TEST_PREFIX}sgx-real-${randomBytes(3).toString('hex')}`;
    containers.push(name);
    const stderr = new PassThrough();
    let logs = '';
    stderr.on('data', (c: Buffer) => (logs += c.toString()));
    const spawned = spawnDeployment({
      engine,
      log: createLogger({ stream: stderr, env: { NO_COLOR: '1' } }),
      env: { MSE_HOME_STATE_DIR: state },
      name,
      packageFile: pkg,
      outputDir: out,
      san: 'localhost',
      host: '127.0.0.1',
      port: await freeLoopbackPort(),
      size: 2048,
      subject: DEFAULT_SUBJECT,
      days: 30,
      signerKeyPath: path.join(testTempDir('mse-e2e-sgx-real-key-'), 'enclave-key.pem'),
      platform: 'sgx',
      sgxHost: { devices: [], aesmd: false },
      pccsUrl: 'https://pccs.invalid:8081', // never reached: the enclave does not start here
      timeoutMs: 60_000,
    });
    // mse-run-sgx checked the final manifest, SIGSTRUCT, args file, app.tar and the three sealed
    // directories (all mounted), then refused without the SGX device, before gramine-sgx
    await assert.rejects(spawned, (e: { code?: string; message?: string }) => {
      assert.equal(e.code, 'ERR_ENCLAVE_EXITED', e.message);
      assert.match(e.message!, /stopped \(exit code 70\) before it was configured/);
      assert.match(e.message!, /mse-run-sgx: \/dev\/sgx_enclave is not a character device/);
      return true;
    });
    assert.match(logs, /measuring the enclave/);
    // everything spawn created is gone: container, private state, output directory
    assert.equal(await engine.inspectContainer(name), undefined);
    assert.ok(!existsSync(path.join(state, 'deployments', name)), 'no deployment state');
    assert.ok(!existsSync(out), 'no output directory');
  });

  it('refuses an image.tar whose layer bytes no longer match the image config', async () => {
    const copy = path.join(testTempDir('mse-e2e-sgx-layer-'), path.basename(pkg));
    copyFileSync(pkg, copy);
    const p = await readPackage(copy);
    const region = p.image.layerRegions[0]!;
    const fh = await open(copy, 'r+');
    try {
      await flipByte(fh, p.members['image.tar'].offset + region.offset + Math.floor(region.size / 2), 0x20);
    } finally {
      await fh.close();
    }
    const r = await verify(evidence, copy);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /ERR_PACKAGE_IMAGE_LAYER/);
  });

  it('reads the same file system from image.tar as the engine shows in a container', async () => {
    const p = await readPackage(pkg);
    const fh = await open(pkg, 'r');
    try {
      const member = p.members['image.tar'];
      const image = await openImageFs(fileSource(fh, member.offset, member.size), 'image.tar');
      const ours = await imageTree(image);
      const engine = await testEngine();
      const name = `${TEST_PREFIX}sgx-export-${randomBytes(3).toString('hex')}`;
      containers.push(name);
      await engine.createContainer({ name, image: p.imageConfigDigest, cmd: ['true'] });
      const exported = await exportTree((await engine.docker.getContainer(name).export()) as unknown as Readable);
      assert.ok(ours.size > 5000, `${ours.size} entries`);
      const missing = [...exported.keys()].filter((k) => !ours.has(k));
      const extra = [...ours.keys()].filter((k) => !exported.has(k));
      assert.deepEqual(missing, [], 'in the container, not in image.tar');
      assert.deepEqual(extra, [], 'in image.tar, not in the container');
      const differ = [...ours].filter(([k, v]) => exported.get(k) !== v).map(([k]) => k);
      assert.deepEqual(differ, []);
    } finally {
      await fh.close();
    }
  });
});

// What the runtime adds to every container (never in an image): compared neither way.
const RUNTIME = /^\/(\.dockerenv|proc|sys|dev|etc\/(hostname|hosts|resolv\.conf|mtab))(\/|$)/;

/** Every path of the image (outside RUNTIME) → `dir` / `symlink TARGET` / `file SHA256`. */
async function imageTree(image: ImageFs): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of image.readdir(dir)) {
      const p = `${dir === '/' ? '' : dir}/${name}`;
      if (RUNTIME.test(p)) continue;
      const s = image.lstat(p)!;
      if (s.kind === 'directory') {
        out.set(p, 'dir');
        walk(p);
      } else if (s.kind === 'symlink') out.set(p, `symlink ${s.target}`);
      else if (s.kind === 'file') files.push(p);
      else out.set(p, s.kind);
    }
  };
  walk('/');
  const scan = await image.scan(files);
  for (const p of files) out.set(p, `file ${scan.hashes.get(p)}`);
  return out;
}

/** The same map from a `docker export` stream (hard links resolved to their target's content). */
async function exportTree(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const p = '/' + header.name.replace(/^\.?\/+/, '').replace(/\/$/, '');
      const hash = createHash('sha256');
      body.on('data', (c: unknown) => void hash.update(c as Buffer));
      body.on('end', () => {
        if (p !== '/' && !RUNTIME.test(p)) {
          if (header.type === 'directory') out.set(p, 'dir');
          else if (header.type === 'symlink') out.set(p, `symlink ${header.linkname}`);
          else if (header.type === 'link') out.set(p, out.get('/' + header.linkname.replace(/^\.?\/+/, ''))!);
          else if (header.type === 'file') out.set(p, `file ${hash.digest('hex')}`);
          else out.set(p, header.type ?? 'unknown');
        }
        next();
      });
      body.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}
