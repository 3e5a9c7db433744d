/** `mse home evidence NAME`: collect evidence.json (and ratls.pem) from a running deployment again. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { serializeEvidence } from '../../launch/evidence.js';
import { DockerEngine } from '../../docker/engine.js';
import {
  endpointOf,
  EVIDENCE_FILE,
  findDeployment,
  RATLS_FILE,
  readDeploymentArgv,
  readDeploymentManifest,
} from '../../deploy/deployments.js';
import { collectEvidence, sgxCollateralSource } from '../../deploy/evidence.js';
import { assertRunning } from '../../deploy/wait.js';
import { withCleanup } from '../../docker/cleanup.js';
import { InputError, StateError } from '../../errors.js';
import { checkOutputDirectory, createOutputDirectories, writeFilesAtomic } from '../../fs/files.js';
import { loadSignerKey } from '../../launch/signer.js';
import { loadOrCreateSimPlatform, startSimPccs } from '../../sim/index.js';
import { defaultSignerKeyPath } from '../../deploy/spawn.js';
import { requiredPositional, requiredString, stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'evidence',
  summary: "Collect a deployment's evidence.json (certificate, quote collateral, signer key)",
  options: {
    output: {
      type: 'string',
      placeholder: 'DIR',
      description: 'Directory for evidence.json (mode 0600) and ratls.pem (created 0700 if missing)',
      required: true,
    },
    pccs: {
      type: 'string',
      placeholder: 'URL',
      description: 'PCCS (sgx default: /etc/sgx_default_qcnl.conf, honouring use_secure_cert; sim: the simulated PCCS)',
    },
    'signer-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'The enclave signer key used at spawn (default: the one spawn recorded)',
    },
  },
  description: `Fetches the certificate the enclave presents, checks it (RA-TLS binding), collects the DCAP
collateral for its quote from the PCCS and writes OUTPUT/evidence.json and OUTPUT/ratls.pem. On sgx the PCCS
is --pccs (TLS verified), else /etc/sgx_default_qcnl.conf's collateral_service or pccs_url with its
use_secure_cert setting, and evidence.json also carries the enclave's final Gramine manifest and argv
(gramine_manifest, gramine_argv: verify names what differs with them). evidence.json
holds the deployment UUID (the credential of the configuration request): it is written with mode 0600.
Ctrl-C before the files are written leaves nothing (exit 130); once writing has begun, it finishes (exit 0).`,
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home evidence my_app --output evidence_dir'],
  async run(ctx) {
    const output = requiredString(ctx.values, 'output');
    const missing = await checkOutputDirectory(output, '--output');
    const engine = DockerEngine.fromEnv(ctx.env);
    const d = await findDeployment(engine, requiredPositional(ctx));
    await assertRunning(engine, d);
    // The key the enclave was signed with, never a new one: signer_pk must hash to the quote's MRSIGNER.
    const keyPath = stringOption(ctx.values, 'signer-key') ?? d.signerKeyPath ?? defaultSignerKeyPath();
    const signer = await loadSignerKey(keyPath);
    const mrSigner = Buffer.from(signer.mrSigner).toString('hex');
    if (d.mrSigner && d.mrSigner !== mrSigner) {
      throw new StateError(
        'ERR_SIGNER_KEY_MISMATCH',
        `signer key ${keyPath} (MRSIGNER ${mrSigner}) is not the key ${d.name} was spawned with (MRSIGNER ${d.mrSigner})`,
        { hint: `Pass the --signer-key given to spawn${d.signerKeyPath ? `: ${d.signerKeyPath}` : ''}.` },
      );
    }
    const flag = stringOption(ctx.values, 'pccs');
    // sgx: the operator's PCCS, as the quote provider reaches it; sim: --pccs or the simulated PCCS
    const target = d.platform === 'sgx' ? await sgxCollateralSource(flag) : undefined;
    if (target && !target.secureCert) {
      ctx.log.warn(
        `the PCCS ${target.url} (${target.from}) is used without TLS certificate verification ("use_secure_cert": false)`,
      );
    }
    const gramine =
      d.platform === 'sgx'
        ? { manifest: await readDeploymentManifest(engine, d), argv: await readDeploymentArgv(engine, d) }
        : undefined;
    const pccs =
      !flag && d.platform === 'sim' ? await startSimPccs(await loadOrCreateSimPlatform({ env: ctx.env })) : undefined;
    try {
      const pccsUrl = target?.url ?? flag ?? pccs?.url;
      if (pccsUrl === undefined) throw new InputError('ERR_INTERNAL_PLAN', 'no PCCS for the evidence’s collateral');
      const { evidence, ratlsPem } = await collectEvidence({
        endpoint: endpointOf(d),
        args: d.args,
        platform: d.platform,
        pccsUrl,
        pccsSecureCert: target?.secureCert ?? true,
        signerPublicKeyPem: signer.publicKeyPem,
        ...(gramine ? { gramine } : {}),
      });
      // Until here a signal ends the process with nothing written; from here the writes finish (exit 0),
      // and a failed write leaves the output as it was.
      await withCleanup(
        async (scope) => {
          await createOutputDirectories(missing, '--output', 0o700, (dir) => scope.onFailure(() => fs.rmdir(dir)));
          const evidenceFile = path.join(output, EVIDENCE_FILE);
          // Both files or neither: a failure leaves what the output held (never a half-updated pair).
          await writeFilesAtomic(
            [
              { file: path.join(output, RATLS_FILE), data: ratlsPem },
              // evidence.json carries the deployment UUID: readable by the operator only
              { file: evidenceFile, data: serializeEvidence(evidence) + '\n', mode: 0o600 },
            ],
            scope,
          );
          if (ctx.json) printJson(ctx, { evidence: evidenceFile });
          else ctx.log.success(`wrote ${evidenceFile}`);
        },
        { exitOnSignal: false },
      );
    } finally {
      await pccs?.close();
    }
  },
};
export default spec;
