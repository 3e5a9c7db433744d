/**
 * Signature checks of APT repository metadata with `gpgv`, the verifier apt itself runs: against a keyring
 * holding only pinned keys (src/sgx/openpgp.ts), with SHA-1 signatures refused as modern apt does, in a
 * throw-away GnuPG home so that the operator's own keys and trust settings play no part. A signature counts
 * only when gpgv reports it good and valid and its primary key's fingerprint is one of the trusted ones.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CryptoError, DockerError } from '../errors.js';
import { formatFingerprint } from './openpgp.js';

export interface SignatureCheck {
  /** Fingerprint of the primary key that made the good signature. */
  primaryFingerprint: string;
  /** Fingerprint of the (sub)key that made it. */
  signingFingerprint: string;
  /** When the signature was made. */
  signedAt: Date;
}

export interface ClearsignedCheck extends SignatureCheck {
  /** The signed text as gpgv extracted it: only this is trusted, never the bytes around the signature. */
  text: string;
}

/** The outcome gpgv's `--status-fd` lines describe. */
export interface GpgvStatus {
  valid: { fingerprint: string; primary: string; timestamp: number }[];
  good: string[];
  bad: string[];
  expiredKey: string[];
  revokedKey: string[];
  expiredSig: string[];
  noPubkey: string[];
  /** ERRSIG: the signature could not be checked; `rc` 9 = no public key, 5 = refused digest (SHA-1), 4 = unknown algorithm. */
  errors: { keyId: string; rc: number; fingerprint?: string }[];
  noData: boolean;
}

/** Parse gpgv's machine-readable status lines (`[GNUPG:] KEYWORD args…`). Pure. */
export function parseGpgvStatus(text: string): GpgvStatus {
  const s: GpgvStatus = {
    valid: [],
    good: [],
    bad: [],
    expiredKey: [],
    revokedKey: [],
    expiredSig: [],
    noPubkey: [],
    errors: [],
    noData: false,
  };
  for (const line of text.split('\n')) {
    const m = /^\[GNUPG:\] (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) continue;
    const args = (m[2] ?? '').split(' ');
    switch (m[1]) {
      case 'VALIDSIG':
        // VALIDSIG <fpr> <date> <timestamp> <expire> <version> <reserved> <algo> <hash> <class> [<primary fpr>]
        s.valid.push({
          fingerprint: (args[0] ?? '').toUpperCase(),
          primary: (args[9] ?? args[0] ?? '').toUpperCase(),
          timestamp: Number(args[2] ?? 0),
        });
        break;
      case 'GOODSIG':
        s.good.push((args[0] ?? '').toUpperCase());
        break;
      case 'BADSIG':
        s.bad.push((args[0] ?? '').toUpperCase());
        break;
      case 'EXPKEYSIG':
        s.expiredKey.push((args[0] ?? '').toUpperCase());
        break;
      case 'REVKEYSIG':
        s.revokedKey.push((args[0] ?? '').toUpperCase());
        break;
      case 'EXPSIG':
        s.expiredSig.push((args[0] ?? '').toUpperCase());
        break;
      case 'NO_PUBKEY':
        s.noPubkey.push((args[0] ?? '').toUpperCase());
        break;
      case 'ERRSIG':
        // ERRSIG <keyid> <pkalgo> <hashalgo> <sig_class> <time> <rc> [<fpr>]
        s.errors.push({
          keyId: (args[0] ?? '').toUpperCase(),
          rc: Number(args[5] ?? NaN),
          ...(args[6] && /^[0-9A-Fa-f]{40}$/.test(args[6]) ? { fingerprint: args[6].toUpperCase() } : {}),
        });
        break;
      case 'NODATA':
        s.noData = true;
        break;
    }
  }
  return s;
}

/**
 * Decide from gpgv's status whether `what` carries a good signature by a trusted key. Pure. Throws
 * `ERR_SGX_GRAMINE_KEY_UNTRUSTED` when it is signed only by keys not in the keyring (their IDs named),
 * `ERR_SGX_GRAMINE_SIGNATURE_INVALID` for a bad, expired or revoked signature or none at all.
 */
export function judgeSignature(status: GpgvStatus, trusted: ReadonlySet<string>, what: string): SignatureCheck {
  const invalid = (why: string): CryptoError =>
    new CryptoError('ERR_SGX_GRAMINE_SIGNATURE_INVALID', `${what}: ${why}`, {
      hint: 'The metadata was altered or is not the repository’s: download it again from the repository.',
    });
  if (status.bad.length > 0) throw invalid(`BAD signature by key ${status.bad.join(', ')}`);
  const rejected = [...status.expiredKey, ...status.revokedKey, ...status.expiredSig];
  const ok = status.valid.find(
    (v) => trusted.has(v.primary) && !rejected.some((r) => v.fingerprint.endsWith(r) || v.primary.endsWith(r)),
  );
  if (ok && status.good.length > 0) {
    return {
      primaryFingerprint: ok.primary,
      signingFingerprint: ok.fingerprint,
      signedAt: new Date(ok.timestamp * 1000),
    };
  }
  if (status.expiredKey.length > 0) throw invalid(`signed by expired key ${status.expiredKey.join(', ')}`);
  if (status.revokedKey.length > 0) throw invalid(`signed by revoked key ${status.revokedKey.join(', ')}`);
  if (status.expiredSig.length > 0) throw invalid(`the signature expired (${status.expiredSig.join(', ')})`);
  const uncheckable = status.errors.filter((e) => e.rc !== 9);
  if (uncheckable.length > 0) {
    const why = uncheckable.map((e) =>
      e.rc === 5
        ? 'its digest algorithm is refused (SHA-1, as apt refuses it)'
        : `gpgv cannot check it (error ${e.rc})`,
    );
    throw invalid(
      `the signature by key ${uncheckable.map((e) => e.keyId).join(', ')} cannot be accepted: ${why.join('; ')}`,
    );
  }
  if (status.noPubkey.length > 0 || status.errors.length > 0) {
    const ids = [
      ...new Set(
        [...status.errors.map((e) => e.fingerprint ?? e.keyId), ...status.noPubkey].map((id) => formatFingerprint(id)),
      ),
    ].filter(
      (id, _, all) => !all.some((other) => other !== id && other.replace(/ /g, '').endsWith(id.replace(/ /g, ''))),
    );
    throw new CryptoError(
      'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
      `${what} is signed by key ${ids.join(', ')}, which is not one of the trusted keys (${[...trusted].map(formatFingerprint).join('; ')})`,
      {
        hint: 'If the repository has a new signing key, check its full fingerprint through a channel you trust (Gramine’s documentation, its maintainers) and pass it with --gramine-fingerprint (and the key with --gramine-key).',
      },
    );
  }
  if (status.valid.length > 0) {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_KEY_UNTRUSTED',
      `${what} is signed by ${status.valid.map((v) => formatFingerprint(v.primary)).join(', ')}, not by a trusted key`,
      { hint: 'Pass the fingerprint you verified with --gramine-fingerprint.' },
    );
  }
  throw invalid(status.noData ? 'it carries no OpenPGP signature' : 'no good signature');
}

interface GpgvRun {
  status: string;
  stderr: string;
  code: number;
}

function runGpgv(args: string[], home: string, gpgv: string): Promise<GpgvRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(gpgv, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GNUPGHOME: home, LC_ALL: 'C', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new DockerError(
              'ERR_SGX_GPGV_MISSING',
              `${gpgv} is not installed (it checks the Gramine repository's signature)`,
              {
                hint: 'apt-get install gpgv (Debian and Ubuntu ship it with apt).',
                cause: error,
              },
            )
          : error,
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        status: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? -1,
      });
    });
  });
}

export interface GpgvOptions {
  /** A private directory the check may write to (keyring, GnuPG home, extracted text); the caller removes it. */
  workDir: string;
  /** The gpgv executable (default `gpgv` on PATH). */
  gpgv?: string;
}

async function prepare(workDir: string, keyring: Uint8Array): Promise<{ home: string; keyringFile: string }> {
  const home = path.join(workDir, 'gnupg');
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const keyringFile = path.join(workDir, 'trusted-keys.gpg');
  await fs.writeFile(keyringFile, keyring, { mode: 0o600 });
  return { home, keyringFile };
}

const BASE_ARGS = ['--status-fd', '1', '--weak-digest', 'SHA1'];

/** Verify a clear-signed file (`InRelease`) against `keyring`; returns the signed text. */
export async function verifyClearsigned(
  signed: Uint8Array,
  keyring: Uint8Array,
  trusted: ReadonlySet<string>,
  what: string,
  options: GpgvOptions,
): Promise<ClearsignedCheck> {
  const { home, keyringFile } = await prepare(options.workDir, keyring);
  const input = path.join(options.workDir, 'signed.asc');
  const output = path.join(options.workDir, 'signed.txt');
  await fs.writeFile(input, signed, { mode: 0o600 });
  await fs.rm(output, { force: true });
  const run = await runGpgv(
    [...BASE_ARGS, '--keyring', keyringFile, '--output', output, input],
    home,
    options.gpgv ?? 'gpgv',
  );
  const check = judgeSignature(parseGpgvStatus(run.status), trusted, what);
  const text = await fs.readFile(output, 'utf8');
  return { ...check, text };
}

/** Verify a detached signature (`Release.gpg` over `Release`) against `keyring`. */
export async function verifyDetached(
  data: Uint8Array,
  signature: Uint8Array,
  keyring: Uint8Array,
  trusted: ReadonlySet<string>,
  what: string,
  options: GpgvOptions,
): Promise<SignatureCheck> {
  const { home, keyringFile } = await prepare(options.workDir, keyring);
  const dataFile = path.join(options.workDir, 'data');
  const sigFile = path.join(options.workDir, 'data.sig');
  await fs.writeFile(dataFile, data, { mode: 0o600 });
  await fs.writeFile(sigFile, signature, { mode: 0o600 });
  const run = await runGpgv([...BASE_ARGS, '--keyring', keyringFile, sigFile, dataFile], home, options.gpgv ?? 'gpgv');
  return judgeSignature(parseGpgvStatus(run.status), trusted, what);
}
