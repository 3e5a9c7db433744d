/** `mse home quote show FILE`: decode an SGX DCAP quote for humans (or JSON), without verifying it. */
import { quotePckChain, type PckChain } from '../../attestation/appraise.js';
import { bytesEqual, toHex } from '../../attestation/bytes.js';
import { INTEL_SGX_ROOT_CA_DER } from '../../attestation/intel-root.js';
import { SGX_TYPE_NAMES } from '../../attestation/pck.js';
import {
  INTEL_QE_VENDOR_ID,
  certificationDataTypeName,
  parseQuote,
  reportBodyToJson,
  type Quote,
  type ReportBody,
} from '../../attestation/quote.js';
import { isMseError } from '../../errors.js';
import { requiredPositional, type CommandSpec } from '../command.js';
import { printJson } from '../output.js';
import { readQuoteFile } from '../quote-input.js';

const FLAG_NAMES: [bigint, string][] = [
  [0x01n, 'INIT'],
  [0x02n, 'DEBUG'],
  [0x04n, 'MODE64BIT'],
  [0x10n, 'PROVISIONKEY'],
  [0x20n, 'EINITTOKEN_KEY'],
  [0x80n, 'KSS'],
  [0x400n, 'AEXNOTIFY'],
];

function flagNames(flags: bigint): string {
  const names = FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  return names.length ? names.join(' | ') : 'none';
}

function chainJson(chain: PckChain): Record<string, unknown> {
  const e = chain.extension;
  return {
    caType: chain.caType,
    rootIsIntel: bytesEqual(chain.root.der, INTEL_SGX_ROOT_CA_DER),
    certificates: [chain.leaf, chain.intermediate, chain.root].map((c) => ({
      subject: c.subject.text,
      issuer: c.issuer.text,
      serial: c.serialHex,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      sha256: c.sha256,
    })),
    fmspc: toHex(e.fmspc).toUpperCase(),
    pceId: toHex(e.pceId).toUpperCase(),
    sgxType: SGX_TYPE_NAMES[e.sgxType] ?? e.sgxType,
    tcb: { components: e.tcb.components, pceSvn: e.tcb.pceSvn, cpuSvn: toHex(e.tcb.cpuSvn) },
    ppid: toHex(e.ppid),
    ...(e.platformInstanceId ? { platformInstanceId: toHex(e.platformInstanceId) } : {}),
    ...(e.configuration ? { configuration: e.configuration } : {}),
  };
}

function reportLines(r: ReportBody, indent: string): string[] {
  const row = (k: string, v: string | number): string => `${indent}${k.padEnd(18)}${v}`;
  const lines = [
    row('MRENCLAVE', toHex(r.mrEnclave)),
    row('MRSIGNER', toHex(r.mrSigner)),
    row('ISV prod ID / SVN', `${r.isvProdId} / ${r.isvSvn}`),
    row(
      'Attributes',
      `flags 0x${r.flags.toString(16).padStart(16, '0')} (${flagNames(r.flags)}), xfrm 0x${r.xfrm.toString(16).padStart(16, '0')}`,
    ),
    row('Debug', r.debug ? 'YES: enclave memory is readable by the host' : 'no'),
    row('MISCSELECT', `0x${r.miscSelect.toString(16).padStart(8, '0')}`),
    row('CPUSVN', toHex(r.cpuSvn)),
    row('CONFIGSVN', r.configSvn),
    row('Report data', toHex(r.reportData.subarray(0, 32))),
    row('', toHex(r.reportData.subarray(32))),
  ];
  if (r.configId.some((b) => b)) lines.push(row('CONFIGID', toHex(r.configId)));
  if (r.isvExtProdId.some((b) => b)) lines.push(row('ISV ext prod ID', toHex(r.isvExtProdId)));
  if (r.isvFamilyId.some((b) => b)) lines.push(row('ISV family ID', toHex(r.isvFamilyId)));
  return lines;
}

function render(q: Quote, format: string, chain: PckChain | undefined, chainError: string | undefined): string {
  const vendor = toHex(q.header.qeVendorId);
  const row = (k: string, v: string | number): string => `  ${k.padEnd(18)}${v}`;
  const out = [
    `SGX DCAP quote v${q.version}, ${q.bytes.length} bytes (${format}), attestation key ECDSA-256-with-P-256`,
    'Not verified: use `mse home quote verify` for that.',
    '',
    'Header',
    row('QE SVN / PCE SVN', `${q.header.qeSvn} / ${q.header.pceSvn}`),
    row('QE vendor ID', `${vendor}${vendor === INTEL_QE_VENDOR_ID ? ' (Intel)' : ' (NOT Intel)'}`),
    row('User data', toHex(q.header.userData)),
    '',
    'Enclave report',
    ...reportLines(q.body, '  '),
    '',
    'Signature data',
    row('Signature', toHex(q.signature)),
    row('Attestation key', toHex(q.attestationKey)),
    row('QE auth data', `${q.qeAuthData.length} bytes`),
    row(
      'Certification',
      `type ${q.certificationData.type} (${certificationDataTypeName(q.certificationData.type)}), ${q.certificationData.data.length} bytes`,
    ),
    '  Quoting enclave report',
    ...reportLines(q.qeReport, '    '),
  ];
  if (chain) {
    const e = chain.extension;
    out.push('', 'PCK certificate chain');
    for (const [label, c] of [
      ['PCK', chain.leaf],
      ['CA', chain.intermediate],
      ['Root', chain.root],
    ] as const) {
      out.push(
        row(label, `${c.subject.text}`),
        row('', `valid ${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()}, serial ${c.serialHex}`),
      );
    }
    out.push(
      row('Root is Intel’s', bytesEqual(chain.root.der, INTEL_SGX_ROOT_CA_DER) ? 'yes (pinned SHA-256 matches)' : 'NO'),
      row('FMSPC / PCE ID', `${toHex(e.fmspc).toUpperCase()} / ${toHex(e.pceId).toUpperCase()}`),
      row('SGX type', `${SGX_TYPE_NAMES[e.sgxType] ?? e.sgxType}${chain.caType ? `, ${chain.caType} CA` : ''}`),
      row('TCB components', e.tcb.components.join(',')),
      row('PCESVN', e.tcb.pceSvn),
      row('CPUSVN (PCK)', toHex(e.tcb.cpuSvn)),
    );
    if (e.configuration) out.push(row('Configuration', JSON.stringify(e.configuration)));
  } else if (chainError) {
    out.push('', `PCK certificate chain: ${chainError}`);
  }
  return out.join('\n') + '\n';
}

const spec: CommandSpec = {
  name: 'quote show',
  summary: 'Decode an SGX DCAP quote (header, enclave report, QE report, PCK chain)',
  description: `FILE holds the quote as raw bytes, hex or base64, or is an RA-TLS certificate carrying one;
- reads it from stdin. Nothing is verified: use 'mse home quote verify' to appraise the quote.`,
  options: {},
  positionals: [
    { name: 'file', description: 'Quote (binary, hex, base64) or RA-TLS certificate; - for stdin', required: true },
  ],
  examples: [
    'mse home quote show quote.bin',
    'mse home quote show ratls.pem --json',
    'xxd -p quote.bin | mse home quote show -',
  ],
  async run(ctx) {
    const input = await readQuoteFile(requiredPositional(ctx));
    const q = parseQuote(input.bytes);
    let chain: PckChain | undefined;
    let chainError: string | undefined;
    if (q.pckChainPem !== null) {
      try {
        chain = quotePckChain(q);
      } catch (error) {
        if (!isMseError(error)) throw error;
        chainError = `${error.code}: ${error.message}`;
        ctx.log.warn(`the PCK certificate chain cannot be read: ${error.message}`);
      }
    }
    if (ctx.json) {
      printJson(ctx, {
        format: input.format,
        version: q.version,
        size: q.bytes.length,
        header: {
          version: q.header.version,
          attestationKeyType: q.header.attestationKeyType,
          teeType: q.header.teeType,
          qeSvn: q.header.qeSvn,
          pceSvn: q.header.pceSvn,
          qeVendorId: toHex(q.header.qeVendorId),
          userData: toHex(q.header.userData),
        },
        body: reportBodyToJson(q.body),
        signature: toHex(q.signature),
        attestationKey: toHex(q.attestationKey),
        qeReport: reportBodyToJson(q.qeReport),
        qeReportSignature: toHex(q.qeReportSignature),
        qeAuthData: toHex(q.qeAuthData),
        certificationData: {
          type: q.certificationData.type,
          name: certificationDataTypeName(q.certificationData.type),
          size: q.certificationData.data.length,
        },
        pckChain: chain ? chainJson(chain) : null,
        ...(chainError ? { pckChainError: chainError } : {}),
      });
    } else {
      ctx.stdout.write(render(q, input.format, chain, chainError));
    }
  },
};
export default spec;
