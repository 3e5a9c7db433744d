/**
 * The simulated platform's artefacts read by independent implementations: the OpenSSL CLI and Debian's
 * Python `cryptography` parse our certificates and CRLs and verify their signatures; Python verifies the TCB
 * Info / QE Identity signatures over the exact bytes cut out of the PCS bodies; and the Python reference
 * implementation printed in docs/measurement.md reproduces computeSimMrenclave.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPython } from '../testing/python.js';
import { REPO_ROOT } from '../testing/vectors.js';
import { computeSimMrenclave } from './measurement.js';
import { loadOrCreateSimPlatform, type SimCollateral, type SimPlatform } from './platform.js';

let dir: string;
let p: SimPlatform;
let c: SimCollateral;
const file = (name: string) => path.join(dir, name);

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-sim-interop-'));
  p = await loadOrCreateSimPlatform({ dir: path.join(dir, 'sim') });
  c = p.buildCollateral();
  await fs.writeFile(file('root.pem'), p.root.pem);
  await fs.writeFile(file('pckca.pem'), p.pckCa.pem);
  await fs.writeFile(file('pck.pem'), p.pck.pem);
  await fs.writeFile(file('tcb.pem'), p.tcbSigning.pem);
  await fs.writeFile(file('rootcrl.der'), c.rootCaCrlDer);
  await fs.writeFile(file('pckcrl.der'), c.pckCrlDer);
  await fs.writeFile(file('pckcrl.pem'), c.pckCrlPem);
});
after(() => fs.rm(dir, { recursive: true }));

const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('openssl verifies the PCK and TCB signing chains, with CRL checking', () => {
  assert.match(
    openssl('verify', '-CAfile', file('root.pem'), '-untrusted', file('pckca.pem'), file('pck.pem')),
    /pck\.pem: OK/,
  );
  assert.match(openssl('verify', '-CAfile', file('root.pem'), file('tcb.pem')), /tcb\.pem: OK/);
  // With both CRLs: nothing of ours is revoked.
  const crls = file('crls.pem');
  const rootCrlPem = openssl('crl', '-inform', 'DER', '-in', file('rootcrl.der'));
  execFileSync('sh', ['-c', `cat > ${crls}`], { input: rootCrlPem + c.pckCrlPem });
  const out = openssl(
    'verify',
    '-crl_check_all',
    '-CRLfile',
    crls,
    '-CAfile',
    file('root.pem'),
    '-untrusted',
    file('pckca.pem'),
    file('pck.pem'),
  );
  assert.match(out, /pck\.pem: OK/);
});

test('openssl verifies both CRLs against their issuers and reads them as v2 CRLs', () => {
  for (const [crl, issuer] of [
    ['rootcrl.der', 'root.pem'],
    ['pckcrl.der', 'pckca.pem'],
  ] as const) {
    const r = execFileSync(
      'openssl',
      ['crl', '-inform', 'DER', '-in', file(crl), '-CAfile', file(issuer), '-noout', '-text'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    assert.match(r, /Version 2 \(0x1\)/);
    assert.match(r, /X509v3 CRL Number/);
    assert.match(r, /X509v3 Authority Key Identifier/);
  }
  const pck = openssl('crl', '-inform', 'DER', '-in', file('pckcrl.der'), '-noout', '-text');
  assert.match(pck, /Key Compromise/);
  // The issuer's key verifies; another key does not.
  assert.throws(() =>
    openssl('crl', '-inform', 'DER', '-in', file('pckcrl.der'), '-CAfile', file('root.pem'), '-noout'),
  );
});

test('Python cryptography parses everything and verifies every signature', () => {
  const result = runPython<Record<string, unknown>>(
    `
import json, sys, re
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
inp = json.load(sys.stdin)
certs = {k: x509.load_pem_x509_certificate(v.encode()) for k, v in inp["certs"].items()}
def signed_by(child, parent):
    parent.public_key().verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
    return True
out = {}
out["chain"] = signed_by(certs["pck"], certs["pckCa"]) and signed_by(certs["pckCa"], certs["root"]) and signed_by(certs["root"], certs["root"]) and signed_by(certs["tcb"], certs["root"])
out["cn"] = {k: c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for k, c in certs.items()}
sgx = certs["pck"].extensions.get_extension_for_oid(x509.ObjectIdentifier("1.2.840.113741.1.13.1"))
out["sgx_critical"] = sgx.critical
out["sgx_len"] = len(sgx.value.value)
bc = certs["pckCa"].extensions.get_extension_for_class(x509.BasicConstraints)
out["ca_pathlen"] = [bc.critical, bc.value.ca, bc.value.path_length]
ku = certs["pck"].extensions.get_extension_for_class(x509.KeyUsage)
out["leaf_ku"] = [ku.critical, ku.value.digital_signature, ku.value.content_commitment, ku.value.key_cert_sign]
root_crl = x509.load_der_x509_crl(bytes.fromhex(inp["rootCrl"]))
pck_crl = x509.load_der_x509_crl(bytes.fromhex(inp["pckCrl"]))
out["crl_sig"] = [root_crl.is_signature_valid(certs["root"].public_key()), pck_crl.is_signature_valid(certs["pckCa"].public_key()), pck_crl.is_signature_valid(certs["root"].public_key())]
out["crl_issuer_matches"] = [root_crl.issuer == certs["root"].subject, pck_crl.issuer == certs["pckCa"].subject]
out["pck_revoked"] = pck_crl.get_revoked_certificate_by_serial_number(certs["pck"].serial_number) is not None
out["pck_crl_entries"] = len(list(pck_crl))
# TCB Info / QE Identity: cut the signed text out of the body, byte for byte, and verify r||s.
def verify_body(body, member, key):
    m = re.fullmatch(r'\\{"' + member + r'":(\\{.*\\}),"signature":"([0-9a-f]{128})"\\}', body, re.S)
    raw, sig = m.group(1).encode(), bytes.fromhex(m.group(2))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.verify(der, raw, ec.ECDSA(hashes.SHA256()))
    parsed = json.loads(raw)
    return [True, parsed["version"], parsed["issueDate"], parsed["nextUpdate"]]
tcbkey = certs["tcb"].public_key()
out["tcb_info"] = verify_body(inp["tcbInfo"], "tcbInfo", tcbkey)
out["qe_identity"] = verify_body(inp["qeIdentity"], "enclaveIdentity", tcbkey)
try:
    verify_body(inp["tcbInfo"].replace('"tcbType":0', '"tcbType":1'), "tcbInfo", tcbkey)
    out["tampered_rejected"] = False
except Exception:
    out["tampered_rejected"] = True
print(json.dumps(out))
`,
    {
      certs: { root: p.root.pem, pckCa: p.pckCa.pem, pck: p.pck.pem, tcb: p.tcbSigning.pem },
      rootCrl: Buffer.from(c.rootCaCrlDer).toString('hex'),
      pckCrl: Buffer.from(c.pckCrlDer).toString('hex'),
      tcbInfo: c.tcbInfo.body,
      qeIdentity: c.qeIdentity.body,
    },
  );
  assert.equal(result['chain'], true);
  const cn = result['cn'] as Record<string, string>;
  for (const name of Object.values(cn)) assert.match(name, /SIMULATION/);
  assert.equal(cn['root'], 'mse-home SIMULATION SGX Root CA — not Intel');
  assert.equal(result['sgx_critical'], false);
  assert.ok((result['sgx_len'] as number) > 500);
  assert.deepEqual(result['ca_pathlen'], [true, true, 0]);
  assert.deepEqual(result['leaf_ku'], [true, true, true, false]);
  assert.deepEqual(result['crl_sig'], [true, true, false]);
  assert.deepEqual(result['crl_issuer_matches'], [true, true]);
  assert.equal(result['pck_revoked'], false);
  assert.equal(result['pck_crl_entries'], 1);
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  assert.deepEqual(result['tcb_info'], [true, 3, iso(c.issuedAt), iso(c.nextUpdate)]);
  assert.deepEqual(result['qe_identity'], [true, 2, iso(c.issuedAt), iso(c.nextUpdate)]);
  assert.equal(result['tampered_rejected'], true);
});

test('Python sees a revoked PCK on the revocation variant', () => {
  const revoked = p.buildCollateral({ revoke: { pck: true } });
  const r = runPython<boolean>(
    `
import json, sys
from cryptography import x509
i = json.load(sys.stdin)
crl = x509.load_der_x509_crl(bytes.fromhex(i["crl"]))
cert = x509.load_pem_x509_certificate(i["pck"].encode())
print(json.dumps(crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None))
`,
    { crl: Buffer.from(revoked.pckCrlDer).toString('hex'), pck: p.pck.pem },
  );
  assert.equal(r, true);
});

test('the Python reference implementation in docs/measurement.md agrees with computeSimMrenclave', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'measurement.md'), 'utf8');
  const m = /<!-- reference-implementation[^>]*-->\n```python\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/measurement.md has the reference implementation block');
  const inputs = [
    {
      imageConfigDigest: `sha256:${'ab'.repeat(32)}`,
      codeFiles: [
        { path: 'src/app.py', sha256: '01'.repeat(32) },
        { path: 'src/ä/é.py', sha256: '02'.repeat(32) },
        { path: '\u{10FFFF}', sha256: '03'.repeat(32) },
        { path: 'src', sha256: '04'.repeat(32) },
        { path: 'src-x', sha256: '05'.repeat(32) },
      ],
      args: { size: 16384, subject: 'CN=ü', san: 'x.example', appId: 'id', application: 'a:b', expiration: 2 ** 40 },
    },
    {
      imageConfigDigest: `sha256:${'cd'.repeat(32)}`,
      codeFiles: [],
      args: { size: 1, subject: '', san: '', appId: '', application: '', expiration: 0 },
    },
  ];
  const py = runPython<string[]>(
    `${m[1]}
import json, sys
out = []
for i in json.load(sys.stdin):
    a = i["args"]
    out.append(sim_mrenclave(i["imageConfigDigest"], [(f["path"], f["sha256"]) for f in i["codeFiles"]], a["size"], a["subject"], a["san"], a["appId"], a["application"], a["expiration"]).hex())
print(json.dumps(out))
`,
    inputs,
  );
  assert.deepEqual(
    py,
    inputs.map((i) => Buffer.from(computeSimMrenclave(i)).toString('hex')),
  );
  // The vectors printed in the doc are the ones the unit tests check.
  for (const v of [
    '43b4966886f94e44f8d1fcf8962b23af565e61123b57ec06a257b12622cc64e8',
    'fc42c721273ab04f35763f444871df2bcde864d8e1496d2399e6f9a26c65a293',
    '6ba97104783f0a6b86459094c3975e706f7586a81715121013b76164a85bd0ee',
  ]) {
    assert.ok(doc.includes(`MRENCLAVE         = ${v}`), v);
  }
});
