#!/usr/bin/env node
// Our verifier and @phala/dcap-qvl side by side on the real vectors and on crafted inputs that exercise
// checks the peer skips. Evidence for docs/verification.md ("what @phala/dcap-qvl does not check").
// Run `npm run build` first: node scripts/compare-peer.js
import { createRequire } from 'node:module';
import { appraise } from '../dist/attestation/appraise.js';
import { caseCollateral, caseQuote, dcapCase, dcapCases, trustAnchorDer } from '../dist/testing/dcap.js';
import { readVectorText } from '../dist/testing/vectors.js';

const require = createRequire(import.meta.url);
const phala = require('@phala/dcap-qvl');

const lenient = {
  acceptedTcbStatuses: [
    'UpToDate',
    'SWHardeningNeeded',
    'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded',
    'OutOfDate',
    'OutOfDateConfigurationNeeded',
  ],
  allowedAdvisoryIds: [],
};

function ours(quote, collateral, atSecs, root) {
  const anchors = root ? { trustedRoots: [root], trustIntelRoot: false } : {};
  const v = appraise({ quote, collateral, at: new Date(atSecs * 1000), policy: lenient, ...anchors });
  if (v.valid) {
    const pol = v.failures.filter((f) => f.policy && f.code !== 'ERR_POLICY_ADVISORY').map((f) => f.code);
    return `valid ${v.tcbStatus}${pol.length ? ` (policy: ${pol.join(',')})` : ''}`;
  }
  return `INVALID ${v.failures
    .filter((f) => !f.policy)
    .map((f) => f.code)
    .join(',')}`;
}

function peer(quote, json, atSecs, root) {
  try {
    const verifier = root ? phala.QuoteVerifier.newWithRootCa(Buffer.from(root)) : phala;
    return `accepted ${verifier.verify(quote, json, atSecs).status}`;
  } catch (e) {
    return `rejected: ${e.message}`;
  }
}

const rows = [];
for (const c of dcapCases()) {
  if (!c.collateral || c.id.startsWith('oasis-2022')) continue;
  const json = JSON.parse(readVectorText('dcap', c.collateral));
  const q = caseQuote(c);
  const root = c.trusted_root.includes('intel-root') ? undefined : trustAnchorDer(c.trusted_root);
  rows.push([c.id, ours(q, caseCollateral(c), c.verify_at, root), peer(q, json, c.verify_at, root)]);
}

const base = dcapCase('phala-sgx-v3-processor');
const bq = caseQuote(base);
const bjson = JSON.parse(readVectorText('dcap', base.collateral));
const flipHex = (h, i) => h.slice(0, i) + (parseInt(h[i], 16) ^ 1).toString(16) + h.slice(i + 1);
const crafted = [
  ['PCK CRL signature byte flipped', { ...bjson, pck_crl: flipHex(bjson.pck_crl, bjson.pck_crl.length - 4) }, bq],
  [
    'root CA CRL signature byte flipped',
    { ...bjson, root_ca_crl: flipHex(bjson.root_ca_crl, bjson.root_ca_crl.length - 4) },
    bq,
  ],
  ['PCK CRL replaced by garbage', { ...bjson, pck_crl: 'deadbeef' }, bq],
  ['root CA CRL replaced by garbage', { ...bjson, root_ca_crl: '3000' }, bq],
  ['one byte appended to the quote', bjson, Buffer.concat([bq, Buffer.from([0])])],
];
for (const [name, json, q] of crafted) {
  let col;
  try {
    col = (await import('../dist/attestation/collateral.js')).parseCollateralJson(JSON.stringify(json));
  } catch (e) {
    rows.push([name, `INVALID ${e.code}`, peer(q, json, base.verify_at)]);
    continue;
  }
  rows.push([name, ours(q, col, base.verify_at), peer(q, json, base.verify_at)]);
}

const w = [40, 62];
console.log(`${'case'.padEnd(w[0])}${'mse-home'.padEnd(w[1])}@phala/dcap-qvl`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0])}${b.slice(0, w[1] - 2).padEnd(w[1])}${c}`);
