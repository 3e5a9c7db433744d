/**
 * The enclave's identity: its X25519 key pair (recipient of sealed secrets), its RA-TLS key and the RA-TLS
 * certificate carrying the quote. Created once at first start, persisted in `/key` (directory 0700, files
 * 0600; under Gramine this directory is an encrypted mount bound to MRENCLAVE), and reused verbatim on
 * restart, with no new quote.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { StateError } from '../errors.js';
import { readUserFile, readUserText, writeFileAtomic } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';
import { generateX25519KeyPair, x25519PublicKey } from '../crypto/sealedbox.js';
import { createRatlsCertificate } from '../ratls/certificate.js';
import { normalizeSan, ratlsReportData } from '../ratls/format.js';
import { normalizeSubject } from '../ratls/subject.js';
import type { BootstrapArgs } from './args.js';
import type { EnclaveLogger } from './log.js';
import { checkOwnCertificateValidity, readOwnCertificate, type OwnCertificate } from './own-certificate.js';
import type { EnclavePaths } from './paths.js';
import { checkQuoteReportData, type QuoteProvider } from './quote.js';
import { pathExists } from '../fs/files.js';

export interface EnclaveState {
  x25519: { publicKey: Uint8Array; privateKey: Uint8Array };
  ratlsKey: KeyObject;
  /** PEM of the RA-TLS private key (PKCS#8) and certificate, as served over TLS. */
  ratlsKeyPem: string;
  certPem: string;
  cert: OwnCertificate;
  /** True when the state was created by this start (a quote was taken). */
  created: boolean;
}

function stateError(code: string, message: string, cause?: unknown): StateError {
  return new StateError(code, message, {
    hint: 'The enclave state in /key is inconsistent; remove the deployment and spawn it again.',
    cause,
  });
}

/** Load the persisted identity. Throws `StateError` when a file is missing or the files disagree. */
export async function loadEnclaveState(paths: EnclavePaths, args: BootstrapArgs): Promise<EnclaveState> {
  let privateKey: Uint8Array, publicKey: Uint8Array, ratlsKeyPem: string, certPem: string;
  try {
    privateKey = new Uint8Array(await readUserFile(paths.enclaveKey, 'enclave key', INPUT_LIMITS.state));
    publicKey = new Uint8Array(await readUserFile(paths.enclavePub, 'enclave public key', INPUT_LIMITS.state));
    ratlsKeyPem = await readUserText(paths.ratlsKey, 'RA-TLS key', INPUT_LIMITS.state);
    certPem = await readUserText(paths.ratlsCert, 'RA-TLS certificate', INPUT_LIMITS.state);
  } catch (error) {
    throw stateError(
      'ERR_ENCLAVE_STATE_MISSING',
      `enclave key material is incomplete: ${(error as Error).message}`,
      error,
    );
  }
  if (privateKey.length !== 32 || publicKey.length !== 32) {
    throw stateError('ERR_ENCLAVE_STATE_CORRUPT', "malformed enclave's X25519 key pair");
  }
  if (!Buffer.from(await x25519PublicKey(privateKey)).equals(Buffer.from(publicKey))) {
    throw stateError('ERR_ENCLAVE_STATE_CORRUPT', "enclave's X25519 public key does not match its private key");
  }
  let ratlsKey: KeyObject;
  let cert: OwnCertificate;
  try {
    ratlsKey = createPrivateKey(ratlsKeyPem);
    // Well-formed, self-signed and bound to its key. Validity dates are left to TLS clients: a restart
    // after expiry still serves, and clients refuse the certificate.
    cert = readOwnCertificate(certPem);
  } catch (error) {
    throw stateError(
      'ERR_ENCLAVE_STATE_CORRUPT',
      `stored RA-TLS certificate or key is unusable: ${(error as Error).message}`,
      error,
    );
  }
  const keyPoint = createPublicKey(ratlsKey).export({ type: 'spki', format: 'der' });
  const certPoint = cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!keyPoint.equals(certPoint))
    throw stateError('ERR_ENCLAVE_STATE_CORRUPT', 'stored RA-TLS key does not match the certificate');
  if (!Buffer.from(cert.x25519PublicKey).equals(Buffer.from(publicKey))) {
    throw stateError('ERR_ENCLAVE_STATE_CORRUPT', 'the certificate quote does not carry the stored X25519 key');
  }
  if (cert.subject !== normalizeSubject(args.subject) || normalizeSan(cert.san) !== normalizeSan(args.san)) {
    throw stateError(
      'ERR_ENCLAVE_STATE_MISMATCH',
      `stored certificate is for subject ${cert.subject} / SAN ${cert.san}, not for this command line`,
    );
  }
  return { x25519: { publicKey, privateKey }, ratlsKey, ratlsKeyPem, certPem, cert, created: false };
}

/**
 * Create the identity: X25519 key pair, P-256 RA-TLS key, a quote for SHA-256(point) ‖ X25519 public key,
 * the RA-TLS certificate (read back and checked before anything is written: self-signed, valid now, its
 * quote binding the key), then the files, certificate last (its presence marks a complete state).
 */
export async function createEnclaveState(
  paths: EnclavePaths,
  args: BootstrapArgs,
  provider: QuoteProvider,
  log: EnclaveLogger,
): Promise<EnclaveState> {
  const x25519 = await generateX25519KeyPair();
  const { privateKey: ratlsKey, publicKey: ratlsPublicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const reportData = ratlsReportData(ratlsPublicKey, x25519.publicKey);
  log.info(`Requesting a quote from the ${provider.platform} platform...`);
  const quote = await provider.getQuote(reportData);
  checkQuoteReportData(quote, reportData);
  log.info(`Quote received (${quote.length} bytes)`);
  const { pem: certPem } = createRatlsCertificate({
    privateKey: ratlsKey,
    publicKey: ratlsPublicKey,
    quote,
    subject: args.subject,
    san: args.san,
    notAfter: args.expiration,
  });
  const cert = readOwnCertificate(certPem);
  checkOwnCertificateValidity(cert, new Date());
  const ratlsKeyPem = ratlsKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await fs.mkdir(paths.keyDir, { recursive: true, mode: 0o700 });
  await fs.chmod(paths.keyDir, 0o700);
  await writeFileAtomic(paths.enclaveKey, x25519.privateKey, { mode: 0o600 });
  await writeFileAtomic(paths.enclavePub, x25519.publicKey, { mode: 0o600 });
  await writeFileAtomic(paths.ratlsKey, ratlsKeyPem, { mode: 0o600 });
  await writeFileAtomic(paths.ratlsCert, certPem, { mode: 0o600 });
  return { x25519, ratlsKey, ratlsKeyPem, certPem, cert, created: true };
}

/** Reuse the persisted identity when the certificate exists, else create it (see {@link createEnclaveState}). */
export async function loadOrCreateEnclaveState(
  paths: EnclavePaths,
  args: BootstrapArgs,
  provider: () => Promise<QuoteProvider>,
  log: EnclaveLogger,
): Promise<EnclaveState> {
  if (await pathExists(paths.ratlsCert)) {
    const state = await loadEnclaveState(paths, args);
    log.info(`Reusing the enclave keys and RA-TLS certificate (fingerprint sha256:${state.cert.fingerprint})`);
    return state;
  }
  return createEnclaveState(paths, args, await provider(), log);
}
