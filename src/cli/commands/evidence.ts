/** `mse home evidence NAME`: collect evidence.json (and ratls.pem) from a running deployment again. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { serializeEvidence } from '../../attestation/evidence.js';
import { DockerEngine } from '../../docker/engine.js';
import { endpointOf, EVIDENCE_FILE, findDeployment, RATLS_FILE } from '../../deploy/deployments.js';
import { collectEvidence } from '../../deploy/evidence.js';
import { assertRunning } from '../../deploy/wait.js';
import { StateError, UsageError } from '../../errors.js';
import { checkOutputDirectory, ensureOutputDirectory, writeFileAtomic } from '../../fs/files.js';
import { readQcnlConfig } from '../../pccs/config.js';
import { loadOrCreateSimPlatform, loadSignerKey, startSimPccs } from '../../sim/index.js';
import { defaultSignerKeyPath } from '../../deploy/spawn.js';
import { stringOption, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const spec: CommandSpec = {
  name: 'evidence',
  summary: "Collect a deployment's evidence.json (certificate, quote collateral, signer key)",
  options: {
    output: {
      type: 'string',
      placeholder: 'DIR',
      description: 'Directory for evidence.json and ratls.pem (created if missing)',
      required: true,
    },
    pccs: {
      type: 'string',
      placeholder: 'URL',
      description: 'PCCS (sgx default: /etc/sgx_default_qcnl.conf; sim: the simulated PCCS)',
    },
    'signer-key': {
      type: 'string',
      placeholder: 'FILE',
      description: 'The enclave signer key used at spawn (default: the one spawn recorded)',
    },
  },
  positionals: [{ name: 'name', description: 'Deployment name', required: true }],
  examples: ['mse home evidence my_app --output evidence_dir'],
  async run(ctx) {
    const output = stringOption(ctx.values, 'output')!;
    await checkOutputDirectory(output);
    const engine = DockerEngine.fromEnv(ctx.env);
    const d = await findDeployment(engine, ctx.positionals[0]!);
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
    let pccsUrl = stringOption(ctx.values, 'pccs');
    const pccs =
      !pccsUrl && d.platform === 'sim'
        ? await startSimPccs(await loadOrCreateSimPlatform({ env: ctx.env }))
        : undefined;
    try {
      pccsUrl ??= pccs?.url ?? (await readQcnlConfig().catch(() => undefined))?.pccsUrl;
      if (!pccsUrl)
        throw new UsageError('ERR_MISSING_OPTION', 'no PCCS: give --pccs URL or configure /etc/sgx_default_qcnl.conf');
      const { evidence, ratlsPem } = await collectEvidence({
        endpoint: endpointOf(d),
        args: d.args,
        platform: d.platform,
        pccsUrl,
        signerPublicKeyPem: signer.publicKeyPem,
      });
      const evidenceFile = path.join(output, EVIDENCE_FILE);
      // Created only now, as spawn and package do, and removed again if the files cannot be written.
      const created = await ensureOutputDirectory(output);
      try {
        await writeFileAtomic(path.join(output, RATLS_FILE), ratlsPem);
        await writeFileAtomic(evidenceFile, serializeEvidence(evidence) + '\n');
      } catch (error) {
        if (created) await fs.rm(created, { recursive: true, force: true });
        throw error;
      }
      if (ctx.json) printJson(ctx, { evidence: evidenceFile });
      else ctx.log.success(`wrote ${evidenceFile}`);
    } finally {
      await pccs?.close();
    }
  },
};
export default spec;
