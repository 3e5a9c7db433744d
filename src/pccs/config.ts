/**
 * Where the PCCS is: Intel's QCNL configuration `/etc/sgx_default_qcnl.conf` (JSON with `//` and `/* *\/`
 * comments since DCAP 1.14; case-sensitive keys) or a URL given on the command line.
 */
import { InputError } from '../errors.js';
import { readUserText } from '../fs/files.js';
import { INPUT_LIMITS } from '../fs/limits.js';

export const DEFAULT_QCNL_CONF = '/etc/sgx_default_qcnl.conf';

export interface QcnlConfig {
  /** `pccs_url`, e.g. `https://localhost:8081/sgx/certification/v4/`. */
  pccsUrl?: string;
  /** `collateral_service`: where verification collateral comes from when set (else pccs_url). */
  collateralService?: string;
  /** `use_secure_cert`: verify the PCCS TLS certificate (default true). */
  useSecureCert: boolean;
}

/** Remove `//` and `/* *\/` comments outside strings, as the QCNL's JSON reader allows them. */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i); // i < text.length: one character
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Parse the QCNL configuration text. Throws InputError `ERR_QCNL_CONFIG` naming the problem. */
export function parseQcnlConfig(text: string, file = DEFAULT_QCNL_CONF): QcnlConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stripJsonComments(text));
  } catch (error) {
    const legacy = /^\s*PCCS_URL\s*=/m.exec(text);
    if (legacy) {
      // The pre-1.14 KEY=VALUE format.
      const url = /^\s*PCCS_URL\s*=\s*(\S+)/m.exec(text)?.[1];
      const secure = /^\s*USE_SECURE_CERT\s*=\s*(\S+)/m.exec(text)?.[1];
      return { ...(url ? { pccsUrl: url } : {}), useSecureCert: secure ? !/^false$/i.test(secure) : true };
    }
    throw new InputError('ERR_QCNL_CONFIG', `${file} is not valid JSON (with comments): ${(error as Error).message}`, {
      hint: 'Fix the file or pass the PCCS URL explicitly with --pccs URL.',
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError('ERR_QCNL_CONFIG', `${file} must hold a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  const url = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) {
      throw new InputError('ERR_QCNL_CONFIG', `${file}: ${k} must be an http(s) URL`);
    }
    return v;
  };
  const secure = o.use_secure_cert;
  if (secure !== undefined && typeof secure !== 'boolean') {
    throw new InputError('ERR_QCNL_CONFIG', `${file}: use_secure_cert must be true or false`);
  }
  const pccsUrl = url('pccs_url');
  const collateralService = url('collateral_service');
  return {
    ...(pccsUrl ? { pccsUrl } : {}),
    ...(collateralService ? { collateralService } : {}),
    useSecureCert: secure !== false,
  };
}

/** Read and parse the QCNL configuration file. */
export async function readQcnlConfig(file = DEFAULT_QCNL_CONF): Promise<QcnlConfig> {
  return parseQcnlConfig(await readUserText(file, 'QCNL configuration', INPUT_LIMITS.config), file);
}

/**
 * Normalise a PCCS URL to the base of its certification API: an origin alone (`https://pccs:8081`) gets
 * `/sgx/certification/v4/`; a URL with a path is kept and given a trailing slash.
 */
export function pccsBaseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError('ERR_PCCS_URL', `PCCS URL '${url}' is not a valid URL`, {
      hint: 'Use e.g. https://pccs.example.com:8081 or https://pccs.example.com:8081/sgx/certification/v4/.',
    });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new InputError('ERR_PCCS_URL', `PCCS URL '${url}' must use http or https`);
  }
  if (u.search || u.hash) throw new InputError('ERR_PCCS_URL', `PCCS URL '${url}' must not have a query or fragment`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/sgx/certification/v4/';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/** A PCCS to ask, where its URL came from, and whether its TLS certificate is verified. */
export interface PccsTarget {
  url: string;
  from: '--pccs' | 'collateral_service' | 'pccs_url';
  /** Whether the server's TLS certificate is verified. */
  secureCert: boolean;
}

/**
 * Pure: the PCCS to use. `--pccs` wins, its TLS certificate verified. Otherwise the QCNL configuration,
 * with its `use_secure_cert` setting (what Intel's quote provider itself does): for `pck` (what the quote
 * provider fetches: `doctor`'s probe) its `pccs_url`; for `collateral` (verification collateral:
 * `evidence`) its `collateral_service` when set, else `pccs_url`, as the QCNL reads it. Undefined when
 * there is none.
 */
export function pccsTarget(
  flag: string | undefined,
  qcnl: QcnlConfig | undefined,
  use: 'pck' | 'collateral',
): PccsTarget | undefined {
  if (flag) return { url: flag, from: '--pccs', secureCert: true };
  const secureCert = qcnl?.useSecureCert ?? true;
  if (use === 'collateral' && qcnl?.collateralService) {
    return { url: qcnl.collateralService, from: 'collateral_service', secureCert };
  }
  if (qcnl?.pccsUrl) return { url: qcnl.pccsUrl, from: 'pccs_url', secureCert };
  return undefined;
}
