/** A throwaway self-signed P-256 certificate made by OpenSSL, for TLS servers in tests. Tests only. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Write `key.pem` and `cert.pem` in `dir` for `san` (e.g. `DNS:localhost`, `IP:127.0.0.1`). */
export function selfSignedCertificate(dir: string, san: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${san}`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key, cert };
}
