/**
 * Signature checks of APT repository metadata with `gpgv`, the verifier apt itself runs: against a keyring
 * holding only pinned keys (src/sgx/openpgp.ts), with SHA-1 signatures refused as modern apt does, in a
 * throw-away GnuPG home so that the operator's own keys and trust settings play no part. A signature counts
 * only when gpgv reports it good and valid and its primary key's fingerprint is one of the trusted ones,
 * gpgv reported no error and exited 0 (or 2 for nothing but extra signatures by keys not in the keyring).
 *
 * gpgv is given untrusted input, so what it may do is bounded: an `InRelease` must be exactly one
 * clear-signed message before gpgv sees it (no compressed or binary OpenPGP message, which could expand a
 * few KiB into GiBs), gpgv writes no file (the text it extracts comes through a pipe, counted, and gpgv is
 * killed past the APT release limit), and it is killed after 30 s.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CryptoError, DockerError } from '../errors.js';
import { INPUT_LIMITS } from '../fs/limits.js';
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
  /** `ERROR` and `FAILURE` lines: gpgv met something it could not process (their arguments, as printed). */
  failures: string[];
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
    failures: [],
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
      case 'ERROR':
      case 'FAILURE':
        s.failures.push(`${m[1]} ${m[2] ?? ''}`.trim());
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

/**
 * Whether a good signature may stand beside gpgv's other findings (pure; after {@link judgeSignature} has
 * accepted one). gpgv must report no `ERROR`/`FAILURE` and exit 0, or exit 2 when every signature it could
 * not check is by a key absent from the keyring (ERRSIG with rc 9): a repository signs with its old and new
 * keys while it rotates them, and apt accepts a good signature beside those. Throws
 * `ERR_SGX_GRAMINE_SIGNATURE_INVALID` otherwise (a compressed message smuggled into a signature block, a
 * "detached signature" that is a whole message, …).
 */
export function checkGpgvOutcome(status: GpgvStatus, exitCode: number | null, what: string): void {
  const invalid = (why: string): CryptoError =>
    new CryptoError('ERR_SGX_GRAMINE_SIGNATURE_INVALID', `${what}: ${why}`, {
      hint: 'The metadata was altered or is not the repository’s: download it again from the repository.',
    });
  if (status.failures.length > 0) {
    throw invalid(`gpgv reported an error beside the signature (${status.failures.join('; ')})`);
  }
  if (status.noData) throw invalid('gpgv found data it could not read beside the signature');
  const onlyMissingKeys = status.errors.length > 0 && status.errors.every((e) => e.rc === 9);
  if (exitCode === 0 || (exitCode === 2 && onlyMissingKeys)) return;
  throw invalid(`gpgv did not accept it (exit status ${exitCode ?? 'none: killed'})`);
}

/** What one gpgv run gave: its status lines, the text it extracted (`--output -`), its exit. */
export interface GpgvRun {
  status: string;
  output: Buffer;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why mse-home killed it: its output passed `maxOutput`, or it ran past the deadline. */
  killed?: 'output' | 'timeout';
}

export interface GpgvRunOptions {
  /** The throw-away GnuPG home. */
  home: string;
  /** The gpgv executable (default `gpgv` on PATH). */
  gpgv?: string;
  /** Most bytes accepted on its standard output (the extracted text): past it, gpgv is killed. */
  maxOutput: number;
  /** Deadline (default 30 s). */
  timeoutMs?: number;
}

/** Status lines and diagnostics kept in memory at most (gpgv prints a few lines per signature). */
const MAX_STATUS = 1 << 20;

/**
 * Run gpgv with `args`: status lines on fd 3 (`--status-fd 3` belongs in `args`), the extracted text on
 * standard output, counted as it arrives and never written to a file; gpgv is killed (SIGKILL) as soon as
 * the text passes `maxOutput` or the deadline passes. Rejects with `ERR_SGX_GPGV_MISSING` when gpgv is
 * absent; otherwise resolves, the caller judging the run.
 */
export function runGpgv(args: string[], options: GpgvRunOptions): Promise<GpgvRun> {
  const gpgv = options.gpgv ?? 'gpgv';
  return new Promise((resolve, reject) => {
    const child = spawn(gpgv, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GNUPGHOME: options.home, LC_ALL: 'C', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let killed: GpgvRun['killed'];
    const kill = (why: NonNullable<GpgvRun['killed']>): void => {
      killed ??= why;
      child.kill('SIGKILL');
    };
    const bounded = (chunks: Buffer[]): ((c: Buffer) => void) => {
      let size = 0;
      return (c) => {
        if (size >= MAX_STATUS) return;
        size += c.length;
        chunks.push(c);
      };
    };
    const status: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => {
      if (killed) return;
      outBytes += c.length;
      if (outBytes > options.maxOutput) kill('output');
      else out.push(c);
    });
    child.stderr!.on('data', bounded(err));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', bounded(status));
    const timer = setTimeout(() => kill('timeout'), options.timeoutMs ?? 30_000);
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
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        status: Buffer.concat(status).toString('utf8'),
        output: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
        ...(killed ? { killed } : {}),
      });
    });
  });
}

export interface GpgvOptions {
  /** A private directory the check may write to (keyring, GnuPG home, the input); the caller removes it. */
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

const BASE_ARGS = ['--status-fd', '3', '--weak-digest', 'SHA1'];
/** The most text a verified Release may hold: the limit of the file it comes from. */
const MAX_RELEASE = INPUT_LIMITS.aptRelease.maxBytes;

/** Judge a run: killed, then the signature, then gpgv's other findings. */
function judgeRun(run: GpgvRun, trusted: ReadonlySet<string>, what: string): SignatureCheck {
  if (run.killed === 'output') {
    throw new CryptoError(
      'ERR_SGX_GRAMINE_SIGNATURE_INVALID',
      `${what}: the signed text gpgv extracts is larger than the ${INPUT_LIMITS.aptRelease.name} limit of ${MAX_RELEASE} bytes (gpgv was stopped there)`,
      { hint: 'A Release is a few KiB of text: this is not the repository’s metadata. Download it again.' },
    );
  }
  if (run.killed === 'timeout') {
    throw new CryptoError('ERR_SGX_GRAMINE_SIGNATURE_INVALID', `${what}: gpgv did not finish within 30 s`, {
      hint: 'A Release is checked in milliseconds: this is not the repository’s metadata. Download it again.',
    });
  }
  const status = parseGpgvStatus(run.status);
  const check = judgeSignature(status, trusted, what);
  checkGpgvOutcome(status, run.signal ? null : run.code, what);
  return check;
}

const SIGNED_BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_BEGIN = '-----BEGIN PGP SIGNATURE-----';
const SIGNATURE_END = '-----END PGP SIGNATURE-----';

/**
 * Check that `data` is exactly one clear-signed OpenPGP message, as apt requires of an `InRelease`: blank
 * lines at most around it; the `BEGIN PGP SIGNED MESSAGE` line, armor headers (`Hash: …`), a blank line,
 * the text (lines starting with `-` dash-escaped), then one `PGP SIGNATURE` armor block. Anything else (a
 * binary or armored signed message, which may be compressed; text outside the block; two blocks) is
 * refused before gpgv runs. Pure. Throws `ERR_SGX_GRAMINE_SIGNATURE_INVALID`.
 */
export function checkClearsignedStructure(data: Uint8Array, what: string): void {
  const refuse = (why: string): CryptoError =>
    new CryptoError('ERR_SGX_GRAMINE_SIGNATURE_INVALID', `${what} is not one clear-signed message: ${why}`, {
      hint: 'An InRelease is a single "-----BEGIN PGP SIGNED MESSAGE-----" block, as apt requires (no compressed or binary OpenPGP message, nothing around it): download it again from the repository.',
    });
  // Trailing spaces and CR are not significant on armor lines (RFC 4880, 7.1); latin1 keeps every byte one char.
  const lines = Buffer.from(data)
    .toString('latin1')
    .split('\n')
    .map((l) => l.replace(/[ \t\r]+$/, ''));
  let i = 0;
  const blank = (): void => {
    while (i < lines.length && lines[i] === '') i++;
  };
  blank();
  if (lines[i] !== SIGNED_BEGIN) {
    throw refuse(i < lines.length ? `it does not start with "${SIGNED_BEGIN}" (line ${i + 1})` : 'it is empty');
  }
  i++;
  while (i < lines.length && lines[i] !== '') {
    if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(lines[i]!)) throw refuse(`line ${i + 1} is not an armor header`);
    i++;
  }
  if (i >= lines.length) throw refuse('no blank line ends its armor headers');
  i++;
  for (; i < lines.length && lines[i] !== SIGNATURE_BEGIN; i++) {
    if (lines[i]!.startsWith('-') && !lines[i]!.startsWith('- ')) {
      throw refuse(`line ${i + 1} starts with "-" without dash-escaping (a second armor block?)`);
    }
  }
  if (i >= lines.length) throw refuse(`it has no "${SIGNATURE_BEGIN}" line`);
  i++;
  while (i < lines.length && lines[i] !== '') {
    if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(lines[i]!)) throw refuse(`line ${i + 1} is not an armor header`);
    i++;
  }
  for (; i < lines.length && lines[i] !== SIGNATURE_END; i++) {
    if (!/^(?:[A-Za-z0-9+/]*={0,2}|=[A-Za-z0-9+/]{4})$/.test(lines[i]!)) {
      throw refuse(`line ${i + 1} of the signature block is not base64`);
    }
  }
  if (i >= lines.length) throw refuse(`it has no "${SIGNATURE_END}" line`);
  i++;
  blank();
  if (i < lines.length) throw refuse(`line ${i + 1} follows the signature block: nothing may be outside it`);
}

/**
 * Verify a clear-signed file (`InRelease`) against `keyring`; returns the signed text as gpgv extracted it
 * (through a pipe, at most the APT release limit). Only the structure above reaches gpgv.
 */
export async function verifyClearsigned(
  signed: Uint8Array,
  keyring: Uint8Array,
  trusted: ReadonlySet<string>,
  what: string,
  options: GpgvOptions,
): Promise<ClearsignedCheck> {
  checkClearsignedStructure(signed, what);
  const { home, keyringFile } = await prepare(options.workDir, keyring);
  const input = path.join(options.workDir, 'signed.asc');
  await fs.writeFile(input, signed, { mode: 0o600 });
  const run = await runGpgv([...BASE_ARGS, '--keyring', keyringFile, '--output', '-', input], {
    home,
    maxOutput: MAX_RELEASE,
    ...(options.gpgv ? { gpgv: options.gpgv } : {}),
  });
  const check = judgeRun(run, trusted, what);
  return { ...check, text: run.output.toString('utf8') };
}

/** Verify a detached signature (`Release.gpg` over `Release`) against `keyring`. gpgv writes nothing. */
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
  // No --output: a "signature" that is a whole signed message has nowhere to write its text.
  const run = await runGpgv([...BASE_ARGS, '--keyring', keyringFile, sigFile, dataFile], {
    home,
    maxOutput: 0,
    ...(options.gpgv ? { gpgv: options.gpgv } : {}),
  });
  return judgeRun(run, trusted, what);
}
