/**
 * `mse home quote verify`: full offline DCAP appraisal of one quote with collateral from a file or a PCCS.
 * Exit 0 accepted, 10 valid but rejected by the policy, 11 invalid.
 */
import { appraise, quotePckChain } from '../../attestation/appraise.js';
import {
  EMPTY_COLLATERAL,
  parseCollateralJson,
  serializeCollateralJson,
  type Collateral,
} from '../../attestation/collateral.js';
import { parseMeasurement } from '../../attestation/policy.js';
import { parseQuote } from '../../attestation/quote.js';
import { UsageError, isMseError } from '../../errors.js';
import { readUserText, writeFileAtomic } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { PccsClient } from '../../pccs/client.js';
import { DEFAULT_QCNL_CONF, readQcnlConfig } from '../../pccs/config.js';
import { durationOption, requireOneOf, stringOption, type CommandContext, type CommandSpec } from '../command.js';
import { POLICY_OPTIONS, appraisalSettings, reportVerdict } from '../attestation-options.js';
import { readQuoteFile } from '../quote-input.js';

/** The PCCS to use: --pccs, else the QCNL configuration's collateral_service or pccs_url. */
export async function pccsFromFlags(
  ctx: CommandContext,
): Promise<{ url: string; secureCert: boolean; timeoutMs: number }> {
  const timeoutMs = durationOption(ctx.values, 'pccs-timeout', { bare: 'ms', minMs: 100, maxMs: 600_000 }) ?? 30_000;
  const flag = stringOption(ctx.values, 'pccs');
  const confFile = stringOption(ctx.values, 'qcnl-conf') ?? DEFAULT_QCNL_CONF;
  if (flag) return { url: flag, secureCert: ctx.values['pccs-insecure'] !== true, timeoutMs };
  let conf;
  try {
    conf = await readQcnlConfig(confFile);
  } catch (error) {
    if (isMseError(error) && error.code === 'ERR_FILE_NOT_FOUND' && !stringOption(ctx.values, 'qcnl-conf')) {
      throw new UsageError(
        'ERR_MISSING_OPTION',
        `no collateral source: give --collateral FILE or --pccs URL (${confFile} does not exist)`,
        {
          hint: 'On an SGX host the PCCS is configured in /etc/sgx_default_qcnl.conf; elsewhere pass --pccs URL.',
        },
      );
    }
    throw error;
  }
  const url = conf.collateralService ?? conf.pccsUrl;
  if (!url) {
    throw new UsageError('ERR_MISSING_OPTION', `no PCCS URL: ${confFile} has no pccs_url`, {
      hint: 'Pass --collateral FILE or --pccs URL.',
    });
  }
  return { url, secureCert: conf.useSecureCert && ctx.values['pccs-insecure'] !== true, timeoutMs };
}

export const PCCS_OPTIONS = {
  pccs: {
    type: 'string',
    placeholder: 'URL',
    description: 'Fetch collateral from this PCCS (default: pccs_url of the QCNL configuration)',
  },
  'qcnl-conf': {
    type: 'string',
    placeholder: 'FILE',
    description: `QCNL configuration to read the PCCS from (default ${DEFAULT_QCNL_CONF})`,
  },
  'pccs-timeout': {
    type: 'string',
    placeholder: 'DURATION',
    description: 'PCCS request timeout: 30s, 2m (a bare number is milliseconds; default 30s)',
  },
  'pccs-insecure': { type: 'boolean', description: 'Do not verify the PCCS TLS certificate (self-signed PCCS)' },
} as const;

const spec: CommandSpec = {
  name: 'quote verify',
  summary: 'Appraise an SGX DCAP quote offline against Intel collateral and a policy',
  description: `Runs every check of Intel's quote verification library, in its order, plus the policy Intel leaves
to the relying party (see docs/verification.md). Collateral comes from --collateral (JSON with the keys of
sgx_ql_qve_collateral_t) or from a PCCS (--pccs, or pccs_url in ${DEFAULT_QCNL_CONF}).
Exit codes: 0 accepted, 10 valid but rejected by the policy, 11 invalid.`,
  options: {
    quote: {
      type: 'string',
      placeholder: 'FILE|-',
      description: 'Quote: raw bytes, hex, base64 or an RA-TLS certificate; - for stdin',
      required: true,
    },
    collateral: { type: 'string', placeholder: 'FILE', description: 'Collateral JSON (as in testvectors/dcap)' },
    ...PCCS_OPTIONS,
    'save-collateral': {
      type: 'string',
      placeholder: 'FILE',
      description: 'Write the collateral used (JSON) for offline reuse',
    },
    mrenclave: { type: 'string', placeholder: 'HEX', description: 'Expected MRENCLAVE (64 hex characters)' },
    ...POLICY_OPTIONS,
  },
  examples: [
    'mse home quote verify --quote quote.bin --collateral collateral.json --at 2025-07-01T00:00:00Z',
    'mse home quote verify --quote quote.bin --pccs https://pccs.example.com:8081 --accept-tcb-status SWHardeningNeeded --allow-advisory INTEL-SA-00615 --json',
  ],
  async run(ctx) {
    const source = requireOneOf(ctx.values, ['collateral', 'pccs'], false);
    const settings = await appraisalSettings(ctx);
    const mrenclave = stringOption(ctx.values, 'mrenclave');
    if (mrenclave) settings.policy.mrEnclave = parseMeasurement(mrenclave, '--mrenclave');
    const input = await readQuoteFile(stringOption(ctx.values, 'quote')!);
    let collateral: Collateral;
    if (source === 'collateral') {
      collateral = parseCollateralJson(
        await readUserText(stringOption(ctx.values, 'collateral')!, 'collateral file', INPUT_LIMITS.collateral),
      );
    } else {
      let quote;
      try {
        quote = parseQuote(input.bytes);
        quotePckChain(quote);
      } catch {
        quote = undefined; // appraise() reports why; no collateral is needed to say so
      }
      if (quote) {
        const pccs = await pccsFromFlags(ctx);
        const done = ctx.log.phase(`fetching collateral from ${pccs.url}`);
        collateral = await new PccsClient(pccs).getCollateralForQuote(quote);
        done();
      } else collateral = EMPTY_COLLATERAL;
    }
    const save = stringOption(ctx.values, 'save-collateral');
    if (save && collateral !== EMPTY_COLLATERAL) {
      await writeFileAtomic(save, serializeCollateralJson(collateral));
      ctx.log.info(`collateral written to ${save}`);
    }
    const verdict = appraise({ quote: input.bytes, collateral, ...settings });
    return reportVerdict(ctx, verdict);
  },
};
export default spec;
