/**
 * Loading the DCAP test vectors (`testvectors/dcap/vectors.json`) for tests and benchmarks: the quote
 * bytes, the collateral, the verification time and the expectations of each case.
 */
import { parseCollateralJson, type Collateral } from '../attestation/collateral.js';
import { readVector, readVectorText, vectorPath } from './vectors.js';

export interface DcapCase {
  id: string;
  quote: string;
  quote_encoding: 'binary' | 'hex';
  collateral: string | null;
  tcb_info_only?: string;
  trusted_root: string;
  verify_at: number;
  expect: Record<string, unknown> & { result: string };
  notes?: string;
}

/** All cases of vectors.json. */
export function dcapCases(): DcapCase[] {
  return (JSON.parse(readVectorText('dcap', 'vectors.json')) as { cases: DcapCase[] }).cases;
}

/** One case by id (throws when absent: a test data problem). */
export function dcapCase(id: string): DcapCase {
  const c = dcapCases().find((x) => x.id === id);
  if (!c) throw new Error(`no DCAP vector ${id}`);
  return c;
}

/** A case's quote bytes (hex vectors decoded). */
export function caseQuote(c: DcapCase): Uint8Array {
  const raw = readVector('dcap', c.quote);
  if (c.quote_encoding === 'hex') return new Uint8Array(Buffer.from(Buffer.from(raw).toString('ascii').trim(), 'hex'));
  return raw;
}

/** A case's collateral (throws the parser's typed error when it is incomplete). */
export function caseCollateral(c: DcapCase): Collateral {
  if (!c.collateral) throw new Error(`vector ${c.id} has no collateral`);
  return parseCollateralJson(readVectorText('dcap', c.collateral));
}

/** A case's verification time. */
export function caseTime(c: DcapCase): Date {
  return new Date(c.verify_at * 1000);
}

/** DER of a trust anchor file (DER or PEM). */
export function trustAnchorDer(file: string): Uint8Array {
  const raw = readVector('dcap', file);
  const text = Buffer.from(raw).toString('latin1');
  if (text.startsWith('-----BEGIN')) {
    return new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64'));
  }
  return raw;
}

/**
 * `mse home quote verify` arguments for Phala's vector (an SGX quote with its collateral): the input files,
 * a verification time inside the collateral's validity, and the policy that accepts its TCB status
 * (ConfigurationAndSWHardeningNeeded, with its advisories).
 */
export const PHALA_CLI = {
  input: [
    '--quote',
    vectorPath('dcap', 'phala-dcap-qvl/sgx_quote.bin'),
    '--collateral',
    vectorPath('dcap', 'phala-dcap-qvl/sgx_quote_collateral.json'),
  ],
  at: ['--at', '2025-07-01T00:00:00Z'],
  accept: [
    '--accept-tcb-status',
    'ConfigurationAndSWHardeningNeeded',
    '--allow-advisory',
    'INTEL-SA-00289',
    '--allow-advisory',
    '00615',
  ],
};
