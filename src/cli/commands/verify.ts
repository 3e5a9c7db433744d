/**
 * `mse home verify`: verify an operator's evidence.json offline (RA-TLS certificate, full DCAP appraisal
 * with the evidence's collateral, enclave identity) and, when accepted, write the verified certificate to
 * OUTPUT/ratls.pem for `seal`, `run` and `test` to pin. Exit 0 accepted, 10 valid but rejected by the
 * policy, 11 invalid.
 */
import path from 'node:path';
import type { Evidence } from '../../attestation/evidence.js';
import { parseEvidence } from '../../attestation/evidence.js';
import { parseMeasurement } from '../../attestation/policy.js';
import { verifyEvidence, type ExpectedIdentity } from '../../attestation/verify-evidence.js';
import { UsageError } from '../../errors.js';
import { pathExists, readUserText, requireDirectory, writeFileAtomic } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { readPackage } from '../../package/read.js';
import { simMrenclaveOfEvidence } from '../../sim/package-measurement.js';
import { requireOneOf, stringOption, type CommandSpec } from '../command.js';
import { POLICY_OPTIONS, appraisalSettings, reportVerdict } from '../attestation-options.js';

/**
 * What a package binds: the MRENCLAVE it must produce with the evidence's input_args, and the entry point
 * its mse.toml names (which input_args.application must equal: the measurement alone takes the entry point
 * from the evidence, so an operator who spawned an edited mse.toml would otherwise go unnoticed).
 * Simulated platform: recomputed offline (docs/measurement.md). Real SGX: Gramine's measurement needs
 * Gramine's signer, which this build does not ship, so the expected value must be given with --mrenclave.
 */
async function expectedFromPackage(file: string, evidence: Evidence): Promise<ExpectedIdentity> {
  if (evidence.platform !== 'sim') {
    throw new UsageError(
      'ERR_PACKAGE_MEASUREMENT_UNAVAILABLE',
      `--package: measuring a package for real SGX (Gramine) is not available in this build`,
      {
        hint: "Compute the MRENCLAVE with Gramine's gramine-sgx-sign and pass it with --mrenclave HEX.",
      },
    );
  }
  const pkg = await readPackage(file);
  return {
    mrenclave: simMrenclaveOfEvidence(pkg, evidence.inputArgs),
    inputArgsMeasured: true,
    application: pkg.config.pythonApplication,
  };
}

const spec: CommandSpec = {
  name: 'verify',
  summary: 'Verify an enclave’s evidence.json offline and save its RA-TLS certificate',
  description: `Checks, from evidence.json alone: the RA-TLS certificate (signature, validity, subject, SAN and notAfter equal to
input_args, report_data bound to its key), the full Intel DCAP appraisal of its quote with the evidence's
collateral (chain to the pinned Intel SGX Root CA, CRLs, TCB info, QE identity, signatures, TCB level),
MRSIGNER against signer_pk, and the policy (expected MRENCLAVE, debug, TCB status, advisories).
With --package (simulated platform) the MRENCLAVE is recomputed from the package and every input_args
field, and input_args.application must equal the package's mse.toml python_application. With
--mrenclave, size, app_id and application cannot be bound: the report says so with a warning for each.
The report lists every input_args field with what bound it. On acceptance OUTPUT/ratls.pem is written.
Exit codes: 0 accepted, 10 valid but rejected by the policy, 11 invalid.`,
  options: {
    evidence: {
      type: 'string',
      placeholder: 'FILE',
      description: 'evidence.json from `mse home evidence`',
      required: true,
    },
    mrenclave: { type: 'string', placeholder: 'HEX', description: 'Expected MRENCLAVE (64 hex characters)' },
    package: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Bind the evidence to this package: MRENCLAVE recomputed from it, entry point = its mse.toml',
    },
    output: { type: 'string', placeholder: 'DIR', description: 'Existing directory for ratls.pem', required: true },
    ...POLICY_OPTIONS,
  },
  examples: [
    'mse home verify --evidence evidence.json --mrenclave 0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b --output .',
    'mse home verify --evidence evidence.json --package package_my_app_1700000000.tar --output . --accept-tcb-status SWHardeningNeeded --allow-advisory INTEL-SA-00615',
  ],
  async run(ctx) {
    const which = requireOneOf(ctx.values, ['mrenclave', 'package'])!;
    const output = stringOption(ctx.values, 'output')!;
    await requireDirectory(output, 'output directory');
    const settings = await appraisalSettings(ctx);
    const evidenceFile = stringOption(ctx.values, 'evidence')!;
    const evidence = parseEvidence(await readUserText(evidenceFile, 'evidence file', INPUT_LIMITS.evidence));
    const expected: ExpectedIdentity = {
      ...(which === 'mrenclave'
        ? { mrenclave: parseMeasurement(stringOption(ctx.values, 'mrenclave')!, '--mrenclave') }
        : await expectedFromPackage(stringOption(ctx.values, 'package')!, evidence)),
      ...(settings.policy.mrSigner ? { mrsigner: settings.policy.mrSigner } : {}),
      ...(settings.policy.isvProdId !== undefined ? { isvProdId: settings.policy.isvProdId } : {}),
      ...(settings.policy.minIsvSvn !== undefined ? { minIsvSvn: settings.policy.minIsvSvn } : {}),
    };
    if (evidence.platform === 'sim' && settings.policy.allowSimulation !== true) {
      ctx.log.warn('the evidence declares the simulated platform; it is rejected unless --allow-simulation is given');
    }
    const verdict = verifyEvidence({
      evidence,
      expected,
      policy: settings.policy,
      at: settings.at,
      trustedRoots: settings.trustedRoots,
    });
    let written: string | undefined;
    if (verdict.accepted) {
      written = path.join(output, 'ratls.pem');
      await writeFileAtomic(written, evidence.ratlsCertificate.trim() + '\n');
    }
    const code = reportVerdict(ctx, verdict, written ? { ratlsCertificate: written } : {});
    if (written) ctx.log.success(`verified; certificate written to ${written}`);
    else if (await pathExists(path.join(output, 'ratls.pem'))) {
      // spawn/evidence also write a ratls.pem (unverified): never let a rejection leave one looking verified.
      ctx.log.warn(`${path.join(output, 'ratls.pem')} was NOT written by this verification: do not seal secrets to it`);
    }
    return code;
  },
};
export default spec;
