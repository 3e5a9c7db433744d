// The MSE Home tutorial end to end, command by command, with the real CLI, the real Docker engine and the
// simulated SGX platform: a scaffolded Flask app and a FastAPI fixture, each scaffolded/written →
// packaged → spawned (the seed's flags) → verified offline → sealed → run → tested → results fetched over
// TLS pinned to ratls.pem → decrypted. Between the steps, what must fail does: verify without
// --allow-simulation, tampered packages and evidence, secrets sealed for the other enclave. After them:
// no secret on the host, status through its states, stop/restart and a killed container.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { readRatlsCertificate } from '../ratls/index.js';
import type { CliResult } from '../testing/cli.js';
import {
  containerChanges,
  copyFixture,
  createWorld,
  derToPem,
  expectExit,
  findInFiles,
  freePort,
  freshSecrets,
  jsonOf,
  PACKAGE_TIMEOUT_MS,
  pemToDer,
  pinnedHttps,
  story,
  tamperPackageCode,
  waitStopped,
  type World,
} from '../testing/e2e.js';

interface App {
  label: 'flask' | 'fastapi';
  /** The provider's project directory (holds secrets.json and secrets_to_seal.json). */
  project: string;
  /** The provider's output directory: package, verified ratls.pem, sealed secrets, result key. */
  provider: string;
  /** The operator's `spawn --output` workspace. */
  workspace: string;
  name: string;
  port: number;
  /** Exact plaintexts of /result/secrets and /result/sealed_secrets. */
  messages: { secrets: string; sealed: string };
  secrets?: { aes_key: string };
  sealed?: { result_sk: string };
  packageFile?: string;
  appId?: string;
  mrenclave?: string;
  /** The certificate the provider verified (provider/ratls.pem). */
  verifiedPem?: string;
}

interface VerifyJson {
  ok: boolean;
  exitCode: number;
  ratlsCertificate?: string;
  verdict: {
    accepted: boolean;
    simulated: boolean;
    mrenclave: string | null;
    failures: { code: string; message: string; hint: string; policy: boolean }[];
    trustAnchor: { kind: string; subject: string } | null;
  };
}

const statusOf = async (w: World, name: string): Promise<string> =>
  jsonOf<{ status: string }>(expectExit(await w.mse(['status', name, '--json']), `status ${name}`)).status;

const failureCodes = (v: VerifyJson): string[] => v.verdict.failures.map((f) => f.code);

describe('the MSE Home tutorial end to end (real CLI, real Docker engine, simulated SGX)', () => {
  let w: World;
  let flask: App;
  let fastapi: App;
  let apps: App[];
  const step = story();

  const need = <T>(value: T | undefined, what: string): T => {
    assert.ok(value !== undefined, `an earlier step did not produce ${what}`);
    return value;
  };

  /** `verify --json` with the seed's flags (plus extra ones); the output directory is created fresh. */
  const verify = async (evidence: string, pkg: string, out: string, ...extra: string[]): Promise<CliResult> => {
    await fs.mkdir(out, { recursive: true });
    return w.mse(['verify', '--evidence', evidence, '--package', pkg, '--output', out, '--json', ...extra]);
  };

  const fetchResults = async (app: App): Promise<{ secrets: string; sealed: string }> => {
    const pem = need(app.verifiedPem, 'a verified certificate');
    const results = path.join(w.root, 'operator', 'results');
    await fs.mkdir(results, { recursive: true });
    const out = { secrets: path.join(results, `${app.label}.bin`), sealed: path.join(results, `${app.label}.fernet`) };
    for (const [endpoint, file] of [
      ['/result/secrets', out.secrets],
      ['/result/sealed_secrets', out.sealed],
    ] as const) {
      const answer = await pinnedHttps(app.port, pem, { path: endpoint });
      assert.equal(answer.status, 200, `${app.label} ${endpoint}: HTTP ${answer.status} ${answer.body.toString()}`);
      assert.deepEqual(answer.peerDer, pemToDer(pem), 'the enclave presents the verified certificate');
      await fs.writeFile(file, answer.body);
    }
    return out;
  };

  /** The provider decrypts both results with `mse home decrypt` and gets the exact messages. */
  const decryptResults = async (app: App, files: { secrets: string; sealed: string }): Promise<void> => {
    const aes = need(app.secrets, 'secrets').aes_key;
    const keyFile = path.join(app.provider, 'result_sk.key');
    await fs.writeFile(keyFile, need(app.sealed, 'sealed secrets').result_sk, { mode: 0o600 });
    const a = expectExit(await w.mse(['decrypt', '--aes', aes, '--output', '-', files.secrets]), 'decrypt --aes');
    assert.equal(a.stdout, app.messages.secrets);
    const f = expectExit(await w.mse(['decrypt', '--key', keyFile, '--output', '-', files.sealed]), 'decrypt --key');
    assert.equal(f.stdout, app.messages.sealed);
  };

  before(async () => {
    w = await createWorld('flow');
    const mk = async (label: App['label'], messages: App['messages']): Promise<App> => ({
      label,
      project: path.join(w.root, 'provider', `${label}_app`),
      provider: path.join(w.root, 'provider', `out-${label}`),
      workspace: path.join(w.root, 'operator', label),
      name: w.deploymentName(label),
      port: await freePort(),
      messages,
    });
    flask = await mk('flask', {
      secrets: 'message encrypted with the AES key from SECRETS',
      sealed: 'message encrypted with result_sk from SEALED_SECRETS',
    });
    fastapi = await mk('fastapi', {
      secrets: 'FastAPI result under the AES key from SECRETS',
      sealed: 'FastAPI result under result_sk from SEALED_SECRETS',
    });
    apps = [flask, fastapi];
  });

  after(async () => {
    await w?.cleanup();
  });

  step('scaffold: a Flask project with fresh secrets (and the FastAPI fixture beside it)', async () => {
    await fs.mkdir(path.join(w.root, 'provider'));
    const r = expectExit(await w.mse(['scaffold', flask.project]), 'scaffold');
    assert.match(r.stderr, /created .*flask_app/);
    for (const f of ['mse.toml', 'Dockerfile', 'mse_src/app.py', 'tests/test_app.py', 'tests/conftest.py']) {
      assert.ok(existsSync(path.join(flask.project, f)), `scaffold wrote ${f}`);
    }
    for (const f of ['secrets.json', 'secrets_to_seal.json']) {
      assert.equal(statSync(path.join(flask.project, f)).mode & 0o777, 0o600, `${f} is private`);
    }
    flask.secrets = JSON.parse(await fs.readFile(path.join(flask.project, 'secrets.json'), 'utf8')) as App['secrets'];
    flask.sealed = JSON.parse(
      await fs.readFile(path.join(flask.project, 'secrets_to_seal.json'), 'utf8'),
    ) as App['sealed'];
    assert.match(flask.secrets!.aes_key, /^[0-9a-f]{64}$/);
    assert.match(flask.sealed!.result_sk, /^[A-Za-z0-9_-]{43}=$/);

    await copyFixture('fastapi-tutorial', fastapi.project);
    const fresh = freshSecrets();
    fastapi.secrets = fresh.secrets;
    fastapi.sealed = fresh.sealed;
    await fs.writeFile(path.join(fastapi.project, 'secrets.json'), JSON.stringify(fresh.secrets), { mode: 0o600 });
    await fs.writeFile(path.join(fastapi.project, 'secrets_to_seal.json'), JSON.stringify(fresh.sealed), {
      mode: 0o600,
    });
  });

  step('package: one deterministic tar per project', async () => {
    const results = await Promise.all(
      apps.map((a) =>
        w.mse(['package', '--project', a.project, '--output', a.provider, '--json'], { timeoutMs: PACKAGE_TIMEOUT_MS }),
      ),
    );
    apps.forEach((a, i) => {
      const p = jsonOf<{ package: string; name: string; image: string; appFiles: number; encrypted: boolean }>(
        expectExit(results[i]!, `package ${a.label}`),
      );
      w.trackImage(p.image);
      w.trackImage(`${p.name}:latest`);
      assert.equal(p.name, `${a.label}_app`);
      assert.equal(p.encrypted, false);
      assert.equal(p.appFiles, 1);
      assert.match(path.basename(p.package), new RegExp(`^package_${a.label}_app_\\d+\\.tar$`));
      a.packageFile = p.package;
    });
  });

  step(
    'spawn NAME --package --san localhost --size 2048 --port P --output DIR: both enclaves wait for secrets',
    async () => {
      // Both at once, on a fresh state directory and signer key: first-use creation must be race-free.
      const results = await Promise.all(
        apps.map((a) =>
          w.mse([
            'spawn',
            a.name,
            '--package',
            need(a.packageFile, 'a package'),
            '--san',
            'localhost',
            '--size',
            '2048',
            '--port',
            String(a.port),
            '--output',
            a.workspace,
            '--signer-key',
            w.signerKey,
            '--json',
          ]),
        ),
      );
      const signerPks = new Set<string>();
      for (const [i, a] of apps.entries()) {
        const r = expectExit(results[i]!, `spawn ${a.label}`);
        const s = jsonOf<{ name: string; platform: string; mrenclave: string; evidence: string }>(r);
        assert.equal(s.name, a.name);
        assert.equal(s.platform, 'sim');
        assert.match(r.stderr, /SIMULATED enclave/);
        assert.match(s.mrenclave, /^[0-9a-f]{64}$/);
        a.mrenclave = s.mrenclave;
        const evidence = JSON.parse(await fs.readFile(path.join(a.workspace, 'evidence.json'), 'utf8')) as {
          platform: string;
          signer_pk: string;
          ratls_certificate: string;
          input_args: Record<string, unknown>;
        };
        a.appId = evidence.input_args.app_id as string;
        assert.match(a.appId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.equal(evidence.platform, 'sim');
        assert.deepEqual(evidence.input_args, {
          subject: 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France',
          subject_alternative_name: 'localhost',
          expiration_date: evidence.input_args.expiration_date,
          size: 2048,
          app_id: a.appId,
          application: 'app:app',
        });
        const served = await fs.readFile(path.join(a.workspace, 'ratls.pem'), 'utf8');
        assert.equal(evidence.ratls_certificate.trim(), served.trim());
        assert.equal(readRatlsCertificate(served).san, 'localhost');
        signerPks.add(evidence.signer_pk);
      }
      assert.equal(signerPks.size, 1, 'both spawns used the one signer key created for them');
      assert.equal(statSync(w.signerKey).mode & 0o777, 0o600);
      assert.notEqual(flask.mrenclave, fastapi.mrenclave);
    },
  );

  step('status, list, logs and evidence while the enclaves wait for their secrets', async () => {
    for (const a of apps) assert.equal(await statusOf(w, a.name), 'waiting for secrets');
    const list = jsonOf<{ deployments: { name: string; state: string; platform: string; port: number }[] }>(
      expectExit(await w.mse(['list', '--json']), 'list'),
    );
    for (const a of apps) {
      const d = list.deployments.find((x) => x.name === a.name);
      assert.ok(d, `list shows ${a.name}`);
      assert.deepEqual([d.state, d.platform, d.port], ['running', 'sim', a.port]);
      const logs = expectExit(await w.mse(['logs', a.name]), `logs ${a.label}`).stdout;
      assert.match(logs, /Configuration server listening/);
    }
    // `evidence` collects the same certificate and arguments again (no --signer-key: the deployment's).
    const again = path.join(w.root, 'operator', 'flask-again');
    await fs.mkdir(again, { recursive: true });
    expectExit(await w.mse(['evidence', flask.name, '--output', again]), 'evidence');
    const first = JSON.parse(await fs.readFile(path.join(flask.workspace, 'evidence.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const second = JSON.parse(await fs.readFile(path.join(again, 'evidence.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['ratls_certificate', 'input_args', 'signer_pk', 'platform'])
      assert.deepEqual(second[k], first[k], k);
    const r = await verify(
      path.join(again, 'evidence.json'),
      need(flask.packageFile, 'a package'),
      again,
      '--allow-simulation',
    );
    expectExit(r, 'verify of the re-collected evidence');
    // never with another signer key: a missing one is not created, a different one is refused
    const missing = path.join(w.root, 'home', 'no-such-key.pem');
    const r2 = await w.mse(['evidence', flask.name, '--output', again, '--signer-key', missing]);
    expectExit(r2, 'evidence with a missing signer key', 3);
    assert.match(r2.stderr, /ERR_FILE_NOT_FOUND/);
    assert.ok(!existsSync(missing), 'evidence created no key');
    const other = path.join(w.root, 'home', 'other-key.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    await fs.writeFile(other, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    const r3 = await w.mse(['evidence', flask.name, '--output', again, '--signer-key', other]);
    expectExit(r3, 'evidence with another signer key', 7);
    assert.match(r3.stderr, /ERR_SIGNER_KEY_MISMATCH.*is not the key .* was spawned with/);
  });

  step('verify without --allow-simulation: invalid (exit 11), the simulated root named, no ratls.pem', async () => {
    for (const a of apps) {
      const r = await verify(path.join(a.workspace, 'evidence.json'), need(a.packageFile, 'a package'), a.provider);
      expectExit(r, `verify ${a.label}`, 11);
      const v = jsonOf<VerifyJson>(r);
      assert.equal(v.ok, false);
      assert.deepEqual(failureCodes(v), ['ERR_DCAP_PCK_CHAIN_UNTRUSTED']);
      assert.match(v.verdict.failures[0]!.message, /SIMULATION SGX Root CA/);
      assert.match(v.verdict.failures[0]!.hint, /simulated SGX platform.*--allow-simulation/);
      assert.match(r.stderr, /the evidence declares the simulated platform/);
      assert.match(r.stderr, /INVALID: ERR_DCAP_PCK_CHAIN_UNTRUSTED/);
      assert.ok(!existsSync(path.join(a.provider, 'ratls.pem')), 'nothing to pin was written');
    }
  });

  step('verify --package --allow-simulation: accepted, ratls.pem = the certificate the enclave serves', async () => {
    for (const a of apps) {
      const r = await verify(
        path.join(a.workspace, 'evidence.json'),
        need(a.packageFile, 'a package'),
        a.provider,
        '--allow-simulation',
      );
      expectExit(r, `verify ${a.label}`);
      const v = jsonOf<VerifyJson>(r);
      assert.equal(v.verdict.accepted, true);
      assert.equal(v.verdict.simulated, true);
      assert.equal(v.verdict.trustAnchor?.kind, 'simulation');
      assert.equal(v.verdict.mrenclave, a.mrenclave, 'the package measures to what the enclave runs');
      assert.match(r.stderr, /ACCEPTED: UpToDate \(SIMULATED PLATFORM\)/);
      a.verifiedPem = await fs.readFile(path.join(a.provider, 'ratls.pem'), 'utf8');
      const presented = await pinnedHttps(a.port, a.verifiedPem, { path: '/' });
      assert.deepEqual(presented.peerDer, pemToDer(a.verifiedPem));
      assert.equal(presented.headers['mse-status'], 'Waiting');
    }
    // Pinning this operator's simulation root instead of accepting any: the same verdict.
    const root = path.join(w.stateDir, 'sim', 'root-ca.pem');
    const out = path.join(w.root, 'provider', 'pinned-sim-root');
    for (const a of apps) {
      const r = await verify(path.join(a.workspace, 'evidence.json'), a.packageFile!, out, '--trusted-root', root);
      expectExit(r, `verify ${a.label} --trusted-root`);
      assert.equal(jsonOf<VerifyJson>(r).verdict.trustAnchor?.kind, 'extra');
    }
  });

  describe('verify refuses tampered packages and evidence (no Docker)', () => {
    const tamperDir = (): string => path.join(w.root, 'tamper');
    const writeEvidence = async (name: string, e: unknown): Promise<string> => {
      await fs.mkdir(tamperDir(), { recursive: true });
      const file = path.join(tamperDir(), name);
      await fs.writeFile(file, JSON.stringify(e, null, 2));
      return file;
    };
    /** Verify with --allow-simulation into a fresh directory; assert nothing was written there. */
    const refused = async (evidenceFile: string, pkg: string, exit: number, label: string): Promise<VerifyJson> => {
      const out = path.join(tamperDir(), `out-${label}`);
      const r = await verify(evidenceFile, pkg, out, '--allow-simulation');
      expectExit(r, label, exit);
      assert.ok(!existsSync(path.join(out, 'ratls.pem')), `${label}: no ratls.pem written`);
      return jsonOf<VerifyJson>(r);
    };

    const evidence = async (): Promise<Record<string, unknown>> =>
      JSON.parse(await fs.readFile(path.join(flask.workspace, 'evidence.json'), 'utf8')) as Record<string, unknown>;

    step(
      'one changed code byte in app.tar → MRENCLAVE mismatch, named as such (exit 10)',
      async () => {
        const tampered = path.join(tamperDir(), 'package_flask_app_tampered.tar');
        await fs.mkdir(tamperDir(), { recursive: true });
        await tamperPackageCode(need(flask.packageFile, 'a package'), tampered, 'app.py');
        const v = await refused(path.join(flask.workspace, 'evidence.json'), tampered, 10, 'code-byte');
        assert.deepEqual(failureCodes(v), ['ERR_POLICY_MRENCLAVE_MISMATCH']);
        const m = /^MRENCLAVE is ([0-9a-f]{64}), expected ([0-9a-f]{64})$/.exec(v.verdict.failures[0]!.message);
        assert.ok(m, v.verdict.failures[0]!.message);
        assert.equal(m[1], flask.mrenclave, 'the enclave runs the original code');
        assert.notEqual(m[2], flask.mrenclave, 'the tampered package measures differently');
      },
      { independent: true },
    );

    step(
      'evidence from another deployment (the FastAPI enclave) → MRENCLAVE mismatch',
      async () => {
        const v = await refused(path.join(fastapi.workspace, 'evidence.json'), flask.packageFile!, 10, 'other');
        assert.deepEqual(failureCodes(v), ['ERR_POLICY_MRENCLAVE_MISMATCH']);
        assert.match(v.verdict.failures[0]!.message, new RegExp(`^MRENCLAVE is ${fastapi.mrenclave}, expected`));
      },
      { independent: true },
    );

    step(
      'edited input_args.subject_alternative_name → SAN mismatch named (exit 11)',
      async () => {
        const e = (await evidence()) as { input_args: Record<string, unknown> };
        e.input_args.subject_alternative_name = 'attacker.example';
        const v = await refused(await writeEvidence('san.json', e), flask.packageFile!, 11, 'san');
        const codes = failureCodes(v);
        assert.ok(codes.includes('ERR_RATLS_SAN_MISMATCH'), codes.join());
        const san = v.verdict.failures.find((f) => f.code === 'ERR_RATLS_SAN_MISMATCH')!;
        assert.match(san.message, /"localhost" differs from input_args.subject_alternative_name "attacker.example"/);
        // the SAN is measured too: the package no longer measures to the quote's MRENCLAVE
        assert.ok(codes.includes('ERR_POLICY_MRENCLAVE_MISMATCH'), codes.join());
      },
      { independent: true },
    );

    step(
      'edited input_args.app_id → MRENCLAVE mismatch',
      async () => {
        const e = (await evidence()) as { input_args: Record<string, unknown> };
        e.input_args.app_id = '00000000-0000-4000-8000-000000000000';
        const v = await refused(await writeEvidence('app-id.json', e), flask.packageFile!, 10, 'app-id');
        assert.deepEqual(failureCodes(v), ['ERR_POLICY_MRENCLAVE_MISMATCH']);
      },
      { independent: true },
    );

    step(
      'one flipped byte of the quote inside the certificate → signatures fail (exit 11)',
      async () => {
        const original = await evidence();
        const pem = original.ratls_certificate as string;
        const der = pemToDer(pem);
        const quote = Buffer.from(readRatlsCertificate(pem).quote);
        const at = der.indexOf(quote);
        assert.ok(at > 0, 'the quote is in the certificate');
        der[at + 112] = der[at + 112]! ^ 0x01; // first byte of the enclave report's MRENCLAVE (48-byte header + 64)
        const e = { ...original, ratls_certificate: derToPem(der) };
        const v = await refused(await writeEvidence('quote-byte.json', e), flask.packageFile!, 11, 'quote-byte');
        const codes = failureCodes(v);
        assert.ok(codes.includes('ERR_RATLS_SIGNATURE'), codes.join());
        assert.ok(codes.includes('ERR_DCAP_QUOTE_SIGNATURE'), codes.join());
      },
      { independent: true },
    );
  });

  step(
    'run with secrets sealed for the other enclave: refused with the enclave’s reason, app not started',
    async () => {
      const wrong = path.join(w.root, 'tamper', 'sealed-for-fastapi');
      expectExit(
        await w.mse([
          'seal',
          '--secrets',
          path.join(flask.project, 'secrets_to_seal.json'),
          '--cert',
          path.join(fastapi.provider, 'ratls.pem'),
          '--output',
          wrong,
        ]),
        'seal to the other enclave',
      );
      const r = await w.mse([
        'run',
        flask.name,
        '--secrets',
        path.join(flask.project, 'secrets.json'),
        '--sealed-secrets',
        wrong,
      ]);
      expectExit(r, 'run with the wrong sealed secrets', 6);
      assert.match(r.stderr, /ERR_CONFIGURATION_REFUSED/);
      assert.match(r.stderr, /HTTP 400.*does not open with this enclave's key/);
      assert.equal(await statusOf(w, flask.name), 'waiting for secrets');
      const changes = await containerChanges(w.engine, flask.name);
      assert.ok(!changes.includes('/mse-app'), 'no code installed');
      assert.ok(!changes.some((p) => p.startsWith('/root/.cache/mse/')), `no secret written: ${changes.join(' ')}`);
      assert.match(expectExit(await w.mse(['logs', flask.name]), 'logs').stdout, /ERR_CONFIG_SEALED_OPEN/);
    },
  );

  step('seal --cert ratls.pem, run, test: the apps start and their tests pass (exit 0)', async () => {
    for (const a of apps) {
      const plain = path.join(a.project, 'secrets_to_seal.json');
      expectExit(
        await w.mse(['seal', '--secrets', plain, '--cert', path.join(a.provider, 'ratls.pem'), '--output', a.provider]),
        `seal ${a.label}`,
      );
      const sealedFile = path.join(a.provider, 'secrets_to_seal.json.sealed');
      assert.equal(statSync(sealedFile).size, statSync(plain).size + 48, 'a sealed box: 32-byte key + 16-byte tag');
      const run = expectExit(
        await w.mse(['run', a.name, '--secrets', path.join(a.project, 'secrets.json'), '--sealed-secrets', sealedFile]),
        `run ${a.label}`,
      );
      assert.match(run.stderr, new RegExp(`application ready at https://localhost:${a.port}`));
      assert.equal(await statusOf(w, a.name), 'running');
      const again = await w.mse(['run', a.name, '--secrets', path.join(a.project, 'secrets.json')]);
      expectExit(again, `second run ${a.label}`, 7);
      assert.match(again.stderr, /ERR_ALREADY_CONFIGURED/);

      const test = await w.mse(
        [
          'test',
          a.name,
          '--test',
          path.join(a.project, 'tests'),
          '--config',
          path.join(a.project, 'mse.toml'),
          '--secrets',
          path.join(a.project, 'secrets.json'),
        ],
        // the provider's view: with the sealed plaintext, the sealed-secrets test runs too
        { env: { TEST_SEALED_SECRET_JSON: plain } },
      );
      expectExit(test, `test ${a.label}`);
      assert.match(test.stdout, /4 passed/);
    }
    // exit code = test result: wrong secrets make a test fail
    const wrong = path.join(w.root, 'tamper', 'wrong-secrets.json');
    await fs.writeFile(wrong, JSON.stringify(freshSecrets().secrets));
    const failing = await w.mse([
      'test',
      flask.name,
      '--test',
      path.join(flask.project, 'tests'),
      '--config',
      path.join(flask.project, 'mse.toml'),
      '--secrets',
      wrong,
    ]);
    expectExit(failing, 'test with wrong secrets', 8);
    assert.match(failing.stdout, /1 failed/);
  });

  step('results fetched over TLS pinned to ratls.pem decrypt to the exact messages', async () => {
    for (const a of apps) await decryptResults(a, await fetchResults(a));
  });

  step('no secret is written on the host outside the deployments’ private state', async () => {
    const needles = apps.flatMap((a) => [need(a.secrets, 'secrets').aes_key, need(a.sealed, 'sealed').result_sk]);
    // everything but the provider's own files: operator workspaces (with the extracted packages), the
    // state directory, the signer key, fetched results, HOME
    const operatorSide = (await fs.readdir(w.root)).filter((n) => n !== 'provider').map((n) => path.join(w.root, n));
    assert.deepEqual(await findInFiles(operatorSide, needles), []);
    // what the provider ships to the operator
    assert.deepEqual(
      await findInFiles(
        apps.map((a) => need(a.packageFile, 'a package')),
        needles,
      ),
      [],
    );
    for (const a of apps) {
      const logs = expectExit(await w.mse(['logs', a.name]), 'logs').stdout;
      for (const n of needles) assert.ok(!logs.includes(n), `${a.label} logs hold no secret`);
      // where they are: inside the container, where the app reads them
      const changes = await containerChanges(w.engine, a.name);
      for (const f of ['/root/.cache/mse/secrets.json', '/root/.cache/mse/sealed_secrets.json']) {
        assert.ok(changes.includes(f), `${a.label}: ${f} in the container`);
      }
    }
  });

  step(
    'status through its states: running → stop → stopped → restart → running, same certificate, no new secrets',
    async () => {
      assert.equal(await statusOf(w, flask.name), 'running');
      expectExit(await w.mse(['stop', flask.name]), 'stop');
      assert.equal(await statusOf(w, flask.name), 'stopped');
      const gone = await pinnedHttps(flask.port, need(flask.verifiedPem, 'certificate'), { path: '/' }).catch(
        (e: Error) => e,
      );
      assert.ok(gone instanceof Error, 'nothing serves while stopped');
      expectExit(await w.mse(['restart', flask.name]), 'restart');
      assert.equal(await statusOf(w, flask.name), 'running');
      await decryptResults(flask, await fetchResults(flask)); // same certificate (pinned), same secrets
      const logs = expectExit(await w.mse(['logs', flask.name]), 'logs').stdout;
      assert.match(logs, /Already configured: reusing the keys, certificate and secrets/);
      assert.equal(logs.match(/RA-TLS certificate created/g)?.length, 1, 'one quote, at the first start only');
    },
  );

  step('a killed container is on error; restart brings it back with the same certificate and secrets', async () => {
    await w.engine.docker.getContainer(flask.name).kill();
    await waitStopped(w.engine, flask.name);
    assert.equal(await statusOf(w, flask.name), 'on error');
    expectExit(await w.mse(['restart', flask.name]), 'restart after kill');
    assert.equal(await statusOf(w, flask.name), 'running');
    await decryptResults(flask, await fetchResults(flask));
  });

  step('stop --remove: the deployments are gone', async () => {
    for (const a of apps) {
      const state = path.join(w.stateDir, 'deployments', a.name);
      assert.ok(existsSync(state), 'the deployment has operator-side state (its quoting socket directory)');
      expectExit(await w.mse(['stop', '--remove', a.name]), `stop --remove ${a.label}`);
      assert.ok(!existsSync(state), 'removed with the deployment');
      const r = await w.mse(['status', a.name]);
      expectExit(r, 'status of a removed deployment', 7);
      assert.match(r.stderr, /ERR_DEPLOYMENT_NOT_FOUND/);
    }
    const list = jsonOf<{ deployments: { name: string }[] }>(expectExit(await w.mse(['list', '--json']), 'list'));
    assert.ok(!list.deployments.some((d) => apps.some((a) => a.name === d.name)));
  });
});
