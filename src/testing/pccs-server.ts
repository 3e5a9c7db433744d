/**
 * A real HTTP server on loopback that serves the DCAP test vectors' collateral the way a PCCS does
 * (v4 paths and headers). Tests only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { caseCollateral, dcapCase } from './dcap.js';
import { readVector } from './vectors.js';

const c = dcapCase('automata-quotev3-platform@2025-08');
const expectedCollateral = caseCollateral(c);
const dir = 'automata-dcap-attestation/collateral-2025-08';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A real HTTP server on loopback serving the vector's collateral the way a PCCS does. */
export function pccsHandler(opts: { v3Headers?: boolean } = {}): Handler {
  const chain = encodeURIComponent(expectedCollateral.pck_crl_issuer_chain);
  const tcbChain = encodeURIComponent(expectedCollateral.tcb_info_issuer_chain);
  return (req, res) => {
    const u = new URL(req.url!, 'http://x');
    const send = (status: number, body: Uint8Array | string, headers: Record<string, string> = {}) => {
      res.writeHead(status, headers);
      res.end(body);
    };
    switch (u.pathname) {
      case '/sgx/certification/v4/rootcacrl':
        // PCCS API 3.0 style: hex text of the DER.
        return send(200, Buffer.from(readVector('dcap', dir, 'intel_root_ca_crl.der')).toString('hex'));
      case '/sgx/certification/v4/pckcrl':
        if (u.searchParams.get('ca') !== 'platform' || u.searchParams.get('encoding') !== 'der') {
          return send(400, '', { 'Error-Code': 'InvalidParameter', 'Error-Message': 'bad ca' });
        }
        return send(200, readVector('dcap', dir, 'platform_crl.der'), { 'SGX-PCK-CRL-Issuer-Chain': chain });
      case '/sgx/certification/v4/tcb':
        if (u.searchParams.get('fmspc') !== '00606a000000') return send(404, '', { 'Request-ID': 'abc123' });
        return send(200, readVector('dcap', dir, 'sgx_tcbinfov3_00606a000000.json'), {
          [opts.v3Headers ? 'SGX-TCB-Info-Issuer-Chain' : 'TCB-Info-Issuer-Chain']: tcbChain,
        });
      case '/sgx/certification/v4/qe/identity':
        return send(200, readVector('dcap', dir, 'sgx_qeidentity_v4.json'), {
          'SGX-Enclave-Identity-Issuer-Chain': tcbChain,
        });
      default:
        return send(404, 'not found');
    }
  };
}

export async function serve(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
