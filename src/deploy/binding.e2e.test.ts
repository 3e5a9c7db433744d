// Issue 8 A, with the real CLI, the real Docker engine and the simulated SGX platform: the operator
// spawns a copy of the provider's package whose mse.toml names another entry point (the standard
// library's WSGI demo app); same code, same image. `verify --package ORIGINAL` must refuse the enclave
// (ERR_IDENTITY_APPLICATION_MISMATCH), while the enclave really would serve the demo app: `run` starts
// it and it answers over the enclave's TLS.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import type { InputArgBinding } from '../verify/verify-evidence.js';
import {
  createWorld,
  expectExit,
  freePort,
  jsonOf,
  packageFixture,
  pinnedHttps,
  spawnDeployment,
  story,
  type World,
} from '../testing/e2e.js';
import { rewritePackageConfig } from '../testing/packages.js';

const EVIL_ENTRY_POINT = 'wsgiref.simple_server:demo_app';

interface VerifyJson {
  ok: boolean;
  verdict: {
    accepted: boolean;
    mrenclave: string;
    failures: { stage: string; code: string; policy: boolean; message: string }[];
    inputArgs: InputArgBinding[];
  };
}

describe('verify binds the entry point: an enclave spawned from an edited mse.toml is refused', () => {
  let w: World;
  let original: string;
  let tampered: string;
  let name: string;
  let port: number;
  let workspace: string;
  let mrenclave: string;
  const step = story();

  const verify = async (pkg: string, label: string) => {
    const out = path.join(w.root, 'provider', `verify-${label}`);
    await fs.mkdir(out, { recursive: true });
    const r = await w.mse([
      'verify',
      '--evidence',
      path.join(workspace, 'evidence.json'),
      '--package',
      pkg,
      '--output',
      out,
      '--allow-simulation',
      '--json',
    ]);
    return { r, out };
  };

  before(async () => {
    w = await createWorld('binding');
    name = w.deploymentName('entry');
    port = await freePort();
    workspace = path.join(w.root, 'operator', 'entry');
  });

  after(async () => {
    await w?.cleanup();
  });

  step('the provider packages its app; the operator remakes the package with another entry point', async () => {
    original = await packageFixture(w, 'fastapi-tutorial', 'fastapi_app');
    await fs.mkdir(path.join(w.root, 'operator'), { recursive: true });
    tampered = path.join(w.root, 'operator', path.basename(original));
    await rewritePackageConfig(original, tampered, (toml) => {
      assert.match(toml, /^python_application = "app:app"$/m);
      return toml.replace(/^python_application = .*$/m, `python_application = "${EVIL_ENTRY_POINT}"`);
    });
  });

  step('spawn from the remade package: the evidence carries the other entry point', async () => {
    const r = expectExit(await spawnDeployment(w, { name, packageFile: tampered, port, workspace }), 'spawn');
    mrenclave = jsonOf<{ mrenclave: string }>(r).mrenclave;
    const evidence = JSON.parse(await fs.readFile(path.join(workspace, 'evidence.json'), 'utf8')) as {
      input_args: { application: string };
    };
    assert.equal(evidence.input_args.application, EVIL_ENTRY_POINT);
  });

  step(
    'verify --package ORIGINAL: refused (exit 10) with ERR_IDENTITY_APPLICATION_MISMATCH, nothing written',
    async () => {
      const { r, out } = await verify(original, 'original');
      expectExit(r, 'verify against the original package', 10);
      const v = jsonOf<VerifyJson>(r);
      assert.equal(v.ok, false);
      assert.deepEqual(
        v.verdict.failures.map((f) => [f.stage, f.code, f.policy]),
        [['identity', 'ERR_IDENTITY_APPLICATION_MISMATCH', true]],
      );
      assert.equal(
        v.verdict.mrenclave,
        mrenclave,
        'the measurement alone matches: it takes the entry point from the evidence',
      );
      const app = v.verdict.inputArgs.find((b) => b.field === 'application')!;
      assert.deepEqual(
        [app.value, app.measured, app.package, app.status],
        [EVIL_ENTRY_POINT, 'pass', 'fail', 'mismatch'],
      );
      assert.match(r.stderr, /VALID BUT REJECTED BY POLICY/);
      assert.match(r.stderr, /application +✓ +✗ +"wsgiref\.simple_server:demo_app" +MISMATCH/);
      assert.ok(!existsSync(path.join(out, 'ratls.pem')), 'no certificate to pin, nothing to seal to');
    },
  );

  step('verify --package of the remade package: accepted (it is what runs)', async () => {
    const { r, out } = await verify(tampered, 'tampered');
    expectExit(r, 'verify against the remade package');
    assert.ok(jsonOf<VerifyJson>(r).verdict.inputArgs.every((b) => b.status === 'bound'));
    assert.ok(existsSync(path.join(out, 'ratls.pem')));
  });

  step('what the refusal prevents: run starts the demo app, which answers over the enclave’s TLS', async () => {
    expectExit(await w.mse(['run', name]), 'run');
    const pem = await fs.readFile(path.join(workspace, 'ratls.pem'), 'utf8');
    const answer = await pinnedHttps(port, pem, { path: '/' });
    assert.equal(answer.status, 200);
    assert.match(answer.body.toString(), /^Hello world!/);
  });
});
