/**
 * The enclave's spawn arguments (MSE's `input_args`) and their command-line form, `mse-run --size …`.
 * The container's command line is the single source of truth for a deployment's arguments (as in MSE):
 * `spawn` writes it, and `evidence`, `run`, `status` and `verify` read it back. Pure.
 */
import type { InputArgs as EvidenceInputArgs } from '../attestation/evidence.js';
import { InputError, UsageError } from '../errors.js';
import { PYTHON_APPLICATION_PATTERN } from '../project/config.js';

/** What Gramine would measure besides the code and image, as `evidence.json` carries it. */
export interface InputArgs {
  /** Enclave size in MiB. */
  size: number;
  /** RFC 4514 subject of the RA-TLS certificate. */
  subject: string;
  /** The single subjectAltName of the RA-TLS certificate (DNS name or IP). */
  san: string;
  /** Deployment UUID, required in the configuration POST. */
  appId: string;
  /** `module:variable`. */
  application: string;
  /** RA-TLS certificate expiry, Unix seconds. */
  expiration: number;
}

export const DEFAULT_SUBJECT = 'CN=cosmian.com,O=Cosmian Tech,C=FR,L=Paris,ST=Ile-de-France';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A DNS name (labels of letters, digits, hyphens) or an IPv4/IPv6 literal.
const SAN =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9.]{7,15}$|^[0-9A-Fa-f:]{2,39}$/;

/** Enclave size rule of MSE: at least 1024 MiB and a power of two. */
export function checkEnclaveSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 1024 || (size & (size - 1)) !== 0) {
    throw new UsageError('ERR_ENCLAVE_SIZE', `--size must be a power of two of at least 1024 (MiB), got ${size}`, {
      hint: 'For example --size 2048.',
    });
  }
}

/** Check every field; throws `UsageError` naming the field. */
export function checkInputArgs(a: InputArgs): InputArgs {
  checkEnclaveSize(a.size);
  if (!SAN.test(a.san)) {
    throw new UsageError('ERR_SAN', `--san must be one DNS name or IP address, got '${a.san}'`, {
      hint: 'For example --san localhost or --san 192.0.2.10.',
    });
  }
  if (!UUID.test(a.appId)) throw new InputError('ERR_APP_ID', `app id '${a.appId}' is not a version 4 UUID`);
  if (!PYTHON_APPLICATION_PATTERN.test(a.application)) {
    throw new InputError('ERR_APPLICATION', `application '${a.application}' is not "module:variable"`);
  }
  if (!Number.isSafeInteger(a.expiration) || a.expiration <= 0) {
    throw new InputError('ERR_EXPIRATION', `expiration '${a.expiration}' is not a Unix time`);
  }
  if (a.subject.length === 0 || a.subject.length > 1024 || /[\0\n\r]/.test(a.subject)) {
    throw new UsageError('ERR_SUBJECT', 'the certificate subject must be a one-line RFC 4514 name');
  }
  return a;
}

/**
 * The spawn arguments as `evidence.json` records them (`input_args`), for measuring a package with them.
 * Throws `ERR_EVIDENCE_FIELD` when `expiration_date` is null: mse-home's enclaves always have one, and the
 * measurement covers it. (The inverse is `evidenceInputArgs` in ./evidence.ts.)
 */
export function spawnArgsOfEvidence(a: EvidenceInputArgs): InputArgs {
  if (a.expirationDate === null) {
    throw new InputError(
      'ERR_EVIDENCE_FIELD',
      'evidence field input_args.expiration_date is null: cannot measure the package',
      {
        hint: 'Evidence of an mse-home enclave always has an expiration date: collect it again with `mse home evidence`.',
      },
    );
  }
  return {
    size: a.size,
    subject: a.subject,
    san: a.subjectAlternativeName,
    appId: a.appId,
    application: a.application,
    expiration: a.expirationDate,
  };
}

/** The `mse-run` argument vector, in MSE's order. */
export function toEnclaveArgv(a: InputArgs): string[] {
  return [
    '--size',
    `${a.size}M`,
    '--subject',
    a.subject,
    '--san',
    a.san,
    '--id',
    a.appId,
    '--application',
    a.application,
    '--expiration',
    String(a.expiration),
  ];
}

/** Read `input_args` back from a container's command line (MSE's `--key value` pairs). */
export function fromEnclaveArgv(argv: string[]): InputArgs {
  const map = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (!k.startsWith('--'))
      throw new InputError('ERR_CONTAINER_CMD', `unexpected word '${k}' in the enclave command line`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) map.set(k.slice(2), 'true');
    else {
      map.set(k.slice(2), v);
      i++;
    }
  }
  const need = (k: string): string => {
    const v = map.get(k);
    if (v === undefined)
      throw new InputError('ERR_CONTAINER_CMD', `the enclave command line has no --${k}`, {
        hint: 'The container was not created by mse home spawn.',
      });
    return v;
  };
  const size = /^(\d+)M$/.exec(need('size'));
  if (!size) throw new InputError('ERR_CONTAINER_CMD', `bad --size '${need('size')}' in the enclave command line`);
  return {
    size: Number(size[1]),
    subject: need('subject'),
    san: need('san'),
    appId: need('id'),
    application: need('application'),
    expiration: Number(need('expiration')),
  };
}
