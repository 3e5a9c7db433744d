/**
 * Pinning a deployment's enclave to the RA-TLS certificate `spawn` collected (`ratls.pem` in its
 * workspace), and saying precisely why it cannot be: the file is missing or unreadable, or the enclave
 * presents another certificate (both SHA-256 fingerprints named). `status`, `run` and `restart` use it.
 */
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StateError } from '../errors.js';
import { RATLS_FILE, type DeploymentSummary } from './container.js';
import { certificateFingerprint, fetchPresentedCertificate, type EnclaveEndpoint } from './enclave-client.js';

/** Why a deployment's enclave cannot be checked against its pinned certificate. */
export interface PinProblem {
  code: 'ERR_NO_CERTIFICATE' | 'ERR_CERTIFICATE_UNREADABLE' | 'ERR_CERTIFICATE_MISMATCH';
  message: string;
  hint: string;
}

/** The problem as the error a command throws. */
export function pinProblemError(p: PinProblem): StateError {
  return new StateError(p.code, p.message, { hint: p.hint });
}

/** Pure: the mismatch problem for a presented and a pinned certificate (DER), or undefined when equal. */
export function pinMismatch(
  name: string,
  certFile: string,
  presentedDer: Uint8Array,
  pinnedDer: Uint8Array,
): PinProblem | undefined {
  if (Buffer.from(presentedDer).equals(Buffer.from(pinnedDer))) return undefined;
  return {
    code: 'ERR_CERTIFICATE_MISMATCH',
    message:
      `${name} presents certificate ${certificateFingerprint(presentedDer)}, ` +
      `but ${certFile} pins ${certificateFingerprint(pinnedDer)}`,
    hint:
      `${certFile} is not this enclave's certificate (replaced, or another deployment's). If ${name} is the ` +
      `enclave you spawned, collect it again with 'mse home evidence ${name} --output DIR' and have the ` +
      'code provider verify the new evidence before sending anything.',
  };
}

/** The pinned certificate file of a deployment, or the problem with it (missing, unreadable). */
export async function pinnedCertificate(d: DeploymentSummary): Promise<{ pem: string; der: Buffer } | PinProblem> {
  const file = path.join(d.outputDir, RATLS_FILE);
  const pem = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (pem === undefined) {
    return {
      code: 'ERR_NO_CERTIFICATE',
      message: `${d.name} has no pinned certificate: ${file} is missing`,
      hint:
        d.state === 'running'
          ? `Collect it again with 'mse home evidence ${d.name} --output ${d.outputDir}' (the code provider must verify the new evidence).`
          : `spawn did not complete for ${d.name} or the file was deleted: remove it with 'mse home stop --remove ${d.name}' and spawn again.`,
    };
  }
  try {
    return { pem, der: Buffer.from(new X509Certificate(pem).raw) };
  } catch {
    return {
      code: 'ERR_CERTIFICATE_UNREADABLE',
      message: `${file} is not a PEM certificate`,
      hint: `Collect it again with 'mse home evidence ${d.name} --output ${d.outputDir}'.`,
    };
  }
}

/**
 * Check a running deployment's pinned certificate against the one its enclave presents (read unverified,
 * only to compare). An enclave that does not answer yet is no problem here: the pinned probe then says
 * `initializing`.
 */
export async function checkPinnedCertificate(
  d: DeploymentSummary,
  endpoint: EnclaveEndpoint,
): Promise<{ pem: string; problem?: undefined } | { pem?: undefined; problem: PinProblem }> {
  const pinned = await pinnedCertificate(d);
  if ('code' in pinned) return { problem: pinned };
  let presented: Buffer;
  try {
    presented = await fetchPresentedCertificate(endpoint, 3_000);
  } catch {
    return { pem: pinned.pem };
  }
  const problem = pinMismatch(d.name, path.join(d.outputDir, RATLS_FILE), presented, pinned.der);
  return problem ? { problem } : { pem: pinned.pem };
}
