/**
 * Intel's SGX PCK certificate extension (OID 1.2.840.113741.1.13.1), encoded exactly as Intel's PCK
 * certificates carry it: a DER `SEQUENCE OF SEQUENCE { OBJECT IDENTIFIER, value }` in Intel's order —
 * PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX Type, and for Platform-CA
 * certificates PlatformInstanceID and Configuration. The test suite re-encodes a real Intel Platform-CA
 * leaf's values and compares the bytes.
 */
import { boolean, enumerated, integer, octetString, oid, sequence } from './der.js';

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';

/** The SGX Type enumeration of the extension. */
export const SgxType = { standard: 0, scalable: 1, scalableWithIntegrity: 2 } as const;

export interface SgxExtensionValues {
  /** 16 bytes. */
  ppid: Uint8Array;
  /** 16 SGX TCB component SVNs, each 0..255. */
  tcbComponents: readonly number[];
  pceSvn: number;
  /** 16 bytes. */
  cpuSvn: Uint8Array;
  /** 2 bytes. */
  pceId: Uint8Array;
  /** 6 bytes. */
  fmspc: Uint8Array;
  sgxType: number;
  /** Platform-CA certificates only: 16 bytes. */
  platformInstanceId?: Uint8Array;
  /** Platform-CA certificates only. */
  configuration?: { dynamicPlatform: boolean; cachedKeys: boolean; smtEnabled: boolean };
}

function fixed(name: string, bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length !== length)
    throw new RangeError(`SGX extension ${name} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}

/** DER bytes of the extension value (the content of the extnValue OCTET STRING). */
export function encodeSgxExtension(v: SgxExtensionValues): Uint8Array {
  const base = SGX_EXTENSION_OID;
  const entry = (arc: string, value: Uint8Array): Uint8Array => sequence(oid(`${base}.${arc}`), value);
  if (v.tcbComponents.length !== 16) throw new RangeError('SGX extension needs 16 TCB component SVNs');
  for (const svn of v.tcbComponents) {
    if (!Number.isInteger(svn) || svn < 0 || svn > 255) throw new RangeError(`TCB component SVN out of range: ${svn}`);
  }
  if (!Number.isInteger(v.pceSvn) || v.pceSvn < 0 || v.pceSvn > 0xffff) throw new RangeError('PCESVN out of range');
  const tcb = sequence(
    ...v.tcbComponents.map((svn, i) => entry(`2.${i + 1}`, integer(svn))),
    entry('2.17', integer(v.pceSvn)),
    entry('2.18', octetString(fixed('CPUSVN', v.cpuSvn, 16))),
  );
  const entries = [
    entry('1', octetString(fixed('PPID', v.ppid, 16))),
    entry('2', tcb),
    entry('3', octetString(fixed('PCE-ID', v.pceId, 2))),
    entry('4', octetString(fixed('FMSPC', v.fmspc, 6))),
    entry('5', enumerated(v.sgxType)),
  ];
  if (v.platformInstanceId)
    entries.push(entry('6', octetString(fixed('PlatformInstanceID', v.platformInstanceId, 16))));
  if (v.configuration) {
    const c = v.configuration;
    entries.push(
      entry(
        '7',
        sequence(
          entry('7.1', boolean(c.dynamicPlatform)),
          entry('7.2', boolean(c.cachedKeys)),
          entry('7.3', boolean(c.smtEnabled)),
        ),
      ),
    );
  }
  return sequence(...entries);
}
