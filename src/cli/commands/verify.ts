/**
 * `mse home verify`: verify an operator's evidence.json offline (RA-TLS certificate, full DCAP appraisal
 * with the evidence's collateral, enclave identity) and, when accepted, write the verified certificate to
 * OUTPUT/ratls.pem for `seal`, `run` and `test` to pin. Exit 0 accepted, 10 valid but rejected by the
 * policy, 11 invalid.
 */
import path from 'node:path';
import type { Evidence } from '../../launch/evidence.js';
import { parseEvidence } from '../../launch/evidence.js';
import { parseMeasurement } from '../../attestation/policy.js';
import type { Check } from '../../attestation/appraise.js';
import {
  authenticationFailures,
  verifyEvidence,
  type EvidenceVerificationInput,
  type ExpectedIdentity,
} from '../../verify/verify-evidence.js';
import { spawnArgsOfEvidence } from '../../launch/args.js';
import { isMseError } from '../../errors.js';
import { pathExists, readUserText, requireDirectory, writeFileAtomic } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { withPackage } from '../../package/read.js';
import { measuredArgv } from '../../sgx/enclave-manifest.js';
import { explainGramineMeasurement, notMeasured, unmeasurableArguments } from '../../sgx/explain.js';
import { measureGramineImage, withOpenPackageImage } from '../../sgx/package-measurement.js';
import { simMrenclaveOfEvidence } from '../../sim/package-measurement.js';
import { requiredString, requireOneOf, type CommandContext, type CommandSpec } from '../command.js';
import { POLICY_OPTIONS, appraisalSettings, reportVerdict } from '../attestation-options.js';

/**
 * What a package binds: the MRENCLAVE it must produce with the evidence's input_args, and the entry point
 * its mse.toml names (which input_args.application must equal: the measurement alone takes the entry point
 * from the evidence, so an operator who spawned an edited mse.toml would otherwise go unnoticed). Both are
 * recomputed offline with no Docker. Simulated platform: the sim construction (docs/measurement.md). Real
 * SGX: Gramine's measurement of our enclave manifest over the package's image (docs/sgx.md), with a check
 * that explains a mismatch (the differing manifest entries).
 *
 * Measuring for SGX hashes the image's trusted files and a record per enclave page (up to seconds), all
 * chosen by the evidence's input_args: it is done only once `unauthenticated` (the checks of the evidence
 * without any expected MRENCLAVE, see `authenticationFailures`) is empty and the arguments are within the
 * measured bounds (`measuredArgv`). Forged or unbounded evidence costs the verifier a package read, no more.
 */
async function expectedFromPackage(
  ctx: CommandContext,
  file: string,
  evidence: Evidence,
  unauthenticated: () => Check[],
): Promise<{ expected: ExpectedIdentity; explain?: EvidenceVerificationInput['explainMeasurement'] }> {
  return withPackage(file, {}, async (pkg, member, fh) => {
    const bound: ExpectedIdentity = { inputArgsMeasured: true, application: pkg.config.pythonApplication };
    if (evidence.platform === 'sim') {
      return { expected: { ...bound, mrenclave: simMrenclaveOfEvidence(pkg, evidence.inputArgs) } };
    }
    const failing = unauthenticated();
    if (failing.length > 0) {
      const reason =
        'the package was not measured: the evidence does not authenticate ' +
        `(${failing.map((x) => x.id).join(', ')} failed)`;
      return { expected: { ...bound, mrenclaveSkipped: reason }, explain: notMeasured(reason) };
    }
    const args = spawnArgsOfEvidence(evidence.inputArgs);
    const started = performance.now();
    let m;
    try {
      measuredArgv(args); // the bounds on the arguments (size, strings), before the image is opened
      // the image of the file that was checked, through the same descriptor (never reopened by path)
      m = await withOpenPackageImage(pkg, member, fh, (image) =>
        measureGramineImage(image, { files: pkg.appFiles, appTarSha256: pkg.appTarSha256 }, args),
      );
    } catch (error) {
      // Arguments no enclave can run with: a rejection naming the argument, not a failure to verify.
      if (isMseError(error) && error.code === 'ERR_SGX_ARGUMENT') {
        return { expected: bound, explain: unmeasurableArguments(error) };
      }
      throw error;
    }
    const seconds = (performance.now() - started) / 1000;
    ctx.log.info(
      `measured the package for SGX in ${seconds.toFixed(2)} s: ${m.stats.filesHashed} files hashed ` +
        `(${(m.stats.fileBytes / 1e6).toFixed(1)} MB), ${(m.stats.layerBytes / 1e6).toFixed(1)} MB of layers checked`,
    );
    return { expected: { ...bound, mrenclave: m.mrenclave }, explain: explainGramineMeasurement(m, evidence) };
  });
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
    const which = requireOneOf(ctx.values, ['mrenclave', 'package']);
    const output = requiredString(ctx.values, 'output');
    await requireDirectory(output, 'output directory');
    const settings = await appraisalSettings(ctx);
    const evidenceFile = requiredString(ctx.values, 'evidence');
    const evidence = parseEvidence(await readUserText(evidenceFile, 'evidence file', INPUT_LIMITS.evidence));
    const signer: ExpectedIdentity = {
      ...(settings.policy.mrSigner ? { mrsigner: settings.policy.mrSigner } : {}),
      ...(settings.policy.isvProdId !== undefined ? { isvProdId: settings.policy.isvProdId } : {}),
      ...(settings.policy.minIsvSvn !== undefined ? { minIsvSvn: settings.policy.minIsvSvn } : {}),
    };
    const appraisal = { evidence, policy: settings.policy, at: settings.at, trustedRoots: settings.trustedRoots };
    const measured: Awaited<ReturnType<typeof expectedFromPackage>> =
      which === 'mrenclave'
        ? { expected: { mrenclave: parseMeasurement(requiredString(ctx.values, 'mrenclave'), '--mrenclave') } }
        : await expectedFromPackage(ctx, requiredString(ctx.values, 'package'), evidence, () =>
            authenticationFailures(verifyEvidence({ ...appraisal, expected: signer })),
          );
    const expected: ExpectedIdentity = { ...measured.expected, ...signer };
    if (evidence.platform === 'sim' && settings.policy.allowSimulation !== true) {
      ctx.log.warn('the evidence declares the simulated platform; it is rejected unless --allow-simulation is given');
    }
    const verdict = verifyEvidence({
      ...appraisal,
      expected,
      ...(measured.explain ? { explainMeasurement: measured.explain } : {}),
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
