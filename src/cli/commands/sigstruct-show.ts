/**
 * `mse home sigstruct show FILE`: decode an SGX SIGSTRUCT (Gramine's `.sig`), every field, MRENCLAVE,
 * MRSIGNER, and check its signature as EINIT would. Exit 0 when the check passes, 4 when it does not
 * (the fields are still shown).
 */
import { toHex } from '../../attestation/bytes.js';
import { CryptoError } from '../../errors.js';
import { readUserFile } from '../../fs/files.js';
import { INPUT_LIMITS } from '../../fs/limits.js';
import { parseSigstruct, verifySigstruct, type Sigstruct, type SigstructCheck } from '../../gramine/index.js';
import { requiredPositional, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';

const hex64 = (n: bigint): string => `0x${n.toString(16).padStart(16, '0')}`;
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
const dateText = (s: Sigstruct): string => s.date ?? `invalid BCD ${hex32(s.dateRaw)}`;

function json(s: Sigstruct, check: SigstructCheck): Record<string, unknown> {
  return {
    mrenclave: toHex(s.mrenclave),
    mrsigner: toHex(s.mrsigner),
    signature: { valid: check.valid, problems: check.problems },
    fields: {
      vendor: s.vendor,
      date: s.date ?? null,
      dateRaw: hex32(s.dateRaw),
      swDefined: s.swDefined,
      modulus: toHex(s.modulus),
      exponent: s.exponent,
      signature: toHex(s.signature),
      miscSelect: hex32(s.miscSelect),
      miscMask: hex32(s.miscMask),
      cetAttributes: s.cetAttributes,
      cetAttributesMask: s.cetAttributesMask,
      isvFamilyId: toHex(s.isvFamilyId),
      attributes: { flags: hex64(s.flags), xfrm: hex64(s.xfrm) },
      attributeMask: { flags: hex64(s.flagsMask), xfrm: hex64(s.xfrmMask) },
      enclaveHash: toHex(s.mrenclave),
      isvExtProdId: toHex(s.isvExtProdId),
      isvProdId: s.isvProdId,
      isvSvn: s.isvSvn,
      q1: toHex(s.q1),
      q2: toHex(s.q2),
    },
    debug: (s.flags & 2n) !== 0n,
  };
}

function render(s: Sigstruct, check: SigstructCheck): string {
  const row = (k: string, v: string | number): string => `  ${k.padEnd(20)}${v}`;
  const flagNames = [
    [1n, 'INIT'],
    [2n, 'DEBUG'],
    [4n, 'MODE64BIT'],
    [0x10n, 'PROVISIONKEY'],
    [0x20n, 'EINITTOKEN_KEY'],
    [0x80n, 'KSS'],
  ] as const;
  const names = flagNames.filter(([bit]) => s.flags & bit).map(([, n]) => n);
  const lines = [
    'SGX SIGSTRUCT, 1808 bytes',
    row('MRENCLAVE', toHex(s.mrenclave)),
    row('MRSIGNER', toHex(s.mrsigner)),
    row('Signature check', check.valid ? 'valid (RSA-3072, e=3, PKCS#1 v1.5 SHA-256; Q1/Q2 consistent)' : 'INVALID'),
    ...check.problems.map((p) => row('', `${p.code}: ${p.message}`)),
    '',
    row('ISV prod ID / SVN', `${s.isvProdId} / ${s.isvSvn}`),
    row('Attributes', `flags ${hex64(s.flags)} (${names.join(' | ') || 'none'}), xfrm ${hex64(s.xfrm)}`),
    row('Attribute mask', `flags ${hex64(s.flagsMask)}, xfrm ${hex64(s.xfrmMask)}`),
    row('Debug', s.flags & 2n ? 'YES: enclave memory is readable by the host' : 'no'),
    row('MISCSELECT / mask', `${hex32(s.miscSelect)} / ${hex32(s.miscMask)}`),
    row('Date', dateText(s)),
    row('Vendor', `${hex32(s.vendor)}${s.vendor === 0x8086 ? ' (Intel)' : ''}`),
    row('SW defined', hex32(s.swDefined)),
    row('Exponent', s.exponent),
    row('Modulus (LE)', toHex(s.modulus)),
    row('Signature (LE)', toHex(s.signature)),
    row('Q1 (LE)', toHex(s.q1)),
    row('Q2 (LE)', toHex(s.q2)),
  ];
  if (s.isvFamilyId.some((b) => b)) lines.push(row('ISV family ID', toHex(s.isvFamilyId)));
  if (s.isvExtProdId.some((b) => b)) lines.push(row('ISV ext prod ID', toHex(s.isvExtProdId)));
  if (s.cetAttributes || s.cetAttributesMask)
    lines.push(row('CET attributes/mask', `${s.cetAttributes} / ${s.cetAttributesMask}`));
  return lines.join('\n') + '\n';
}

const spec: CommandSpec = {
  name: 'sigstruct show',
  summary: 'Decode an SGX SIGSTRUCT (.sig): fields, MRENCLAVE, MRSIGNER, signature check',
  description: `FILE is a 1808-byte SIGSTRUCT as written by gramine-sgx-sign --sigfile or mse home measure --sigfile.
The signature is checked as the CPU's EINIT would (exponent 3, 3072-bit modulus, PKCS#1 v1.5 SHA-256 over
the signed fields, Q1/Q2, reserved bytes zero). Exit 0 when it is valid, 4 when it is not.`,
  options: {},
  positionals: [{ name: 'file', description: 'SIGSTRUCT file (1808 bytes)', required: true }],
  examples: ['mse home sigstruct show app.sig', 'mse home sigstruct show app.sig --json'],
  async run(ctx) {
    const file = requiredPositional(ctx);
    const s = parseSigstruct(await readUserFile(file, 'SIGSTRUCT', INPUT_LIMITS.gramine), file);
    const check = verifySigstruct(s);
    const error = check.valid
      ? undefined
      : new CryptoError(check.problems[0]!.code, `${file}: ${check.problems.map((p) => p.message).join('; ')}`, {
          hint: 'The SIGSTRUCT was changed after signing, or was not signed with an SGX key: EINIT would refuse it.',
        });
    if (ctx.json) {
      const body = json(s, check);
      if (error) ctx.stdout.write(JSON.stringify({ ok: false, error: error.toJSON(), ...body }, null, 2) + '\n');
      else printJson(ctx, body);
      return error ? error.exitCode : 0;
    }
    ctx.stdout.write(render(s, check));
    if (error) throw error; // reported on stderr as error[CODE] with its hint, exit 4
  },
};
export default spec;
