// APT metadata: Release and Packages parsing, the version pin, and digest checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDigest,
  checkRelease,
  checkSize,
  debFileName,
  MAX_RELEASE_FUTURE_SECONDS,
  matchesUpstreamVersion,
  parseDeb822,
  parsePackages,
  parseRelease,
  selectPackage,
  type PackageEntry,
} from './apt-metadata.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

const RELEASE = `Origin: Gramine
Label: Gramine
Codename: bookworm
Date: Fri, 20 Jun 2025 10:00:00 UTC
Architectures: amd64
Components: main
Description: Gramine packages
SHA256:
 ${H1} 1234 main/binary-amd64/Packages
 ${H2.toUpperCase()} 567 main/binary-amd64/Packages.gz
`;

const entry = (over: Partial<PackageEntry>): string =>
  [
    `Package: ${over.package ?? 'gramine'}`,
    `Version: ${over.version ?? '1.9'}`,
    `Architecture: ${over.architecture ?? 'amd64'}`,
    `Filename: ${over.filename ?? `pool/main/g/gramine/gramine_${over.version ?? '1.9'}_amd64.deb`}`,
    `Size: ${over.size ?? 100}`,
    `SHA256: ${over.sha256 ?? H1}`,
    'Depends: libprotobuf-c1,',
    ' python3-click',
    '',
  ].join('\n');

describe('parseDeb822', () => {
  it('reads paragraphs, continuation lines and case-insensitive field names', () => {
    const [p, q] = parseDeb822('Package: a\nDescription: x\n more\n\tand more\n\npackage: b\n', 't');
    assert.equal(p!.get('description'), 'x\nmore\nand more');
    assert.equal(q!.get('package'), 'b');
  });
  it('refuses a duplicate field, a stray continuation and a line without a colon', () => {
    assert.throws(() => parseDeb822('A: 1\nA: 2\n', 't'), {
      code: 'ERR_SGX_GRAMINE_METADATA_INVALID',
      message: /twice/,
    });
    assert.throws(() => parseDeb822(' orphan\n', 't'), { code: 'ERR_SGX_GRAMINE_METADATA_INVALID' });
    assert.throws(() => parseDeb822('no colon here\n', 't'), { code: 'ERR_SGX_GRAMINE_METADATA_INVALID' });
  });
});

describe('parseRelease / checkRelease', () => {
  it('reads the suite, dates and SHA-256 list (hex lowercased)', () => {
    const r = parseRelease(RELEASE, 'InRelease');
    assert.equal(r.codename, 'bookworm');
    assert.equal(r.date?.toISOString(), '2025-06-20T10:00:00.000Z');
    assert.deepEqual(r.sha256.get('main/binary-amd64/Packages'), { sha256: H1, size: 1234 });
    assert.deepEqual(r.sha256.get('main/binary-amd64/Packages.gz'), { sha256: H2, size: 567 });
    checkRelease(r, 'bookworm', new Date('2025-07-01T00:00:00Z'), 'InRelease');
  });
  it('refuses another suite, expired metadata, no amd64, no SHA256 list', () => {
    const r = parseRelease(RELEASE, 'InRelease');
    assert.throws(() => checkRelease(r, 'jammy', new Date(), 'InRelease'), {
      code: 'ERR_SGX_GRAMINE_METADATA_INVALID',
      message: /describes suite bookworm, not jammy/,
    });
    const expiring = parseRelease(
      RELEASE.replace('Components', 'Valid-Until: Sat, 21 Jun 2025 10:00:00 UTC\nComponents'),
      'x',
    );
    checkRelease(expiring, 'bookworm', new Date('2025-06-21T09:00:00Z'), 'x');
    assert.throws(() => checkRelease(expiring, 'bookworm', new Date('2025-06-22T00:00:00Z'), 'x'), {
      code: 'ERR_SGX_GRAMINE_METADATA_EXPIRED',
    });
    const arm = parseRelease(RELEASE.replace('Architectures: amd64', 'Architectures: arm64'), 'x');
    assert.throws(() => checkRelease(arm, 'bookworm', new Date(), 'x'), { message: /no amd64/ });
    assert.throws(() => parseRelease(RELEASE.slice(0, RELEASE.indexOf('SHA256:')), 'x'), {
      message: /no SHA256 field/,
    });
    assert.throws(() => parseRelease(RELEASE.replace(` ${H1} 1234`, ` ${H1.slice(1)} 1234`), 'x'), {
      code: 'ERR_SGX_GRAMINE_METADATA_INVALID',
    });
  });
  it('refuses a Date more than 10 s ahead of now (apt’s Max-FutureTime); no Date or Valid-Until is required', () => {
    const r = parseRelease(RELEASE, 'InRelease');
    const date = r.date!.getTime();
    assert.equal(MAX_RELEASE_FUTURE_SECONDS, 10);
    checkRelease(r, 'bookworm', new Date(date - 10_000), 'InRelease');
    assert.throws(() => checkRelease(r, 'bookworm', new Date(date - 10_001), 'InRelease'), {
      code: 'ERR_SGX_GRAMINE_METADATA_NOT_YET_VALID',
      message: /dated 2025-06-20T10:00:00\.000Z, after this host's time 2025-06-20T09:59:49\.999Z/,
    });
    const undated = parseRelease(RELEASE.replace(/^Date: .*\n/m, ''), 'x');
    assert.equal(undated.date, undefined);
    assert.equal(undated.validUntil, undefined);
    checkRelease(undated, 'bookworm', new Date(), 'x');
  });
});

describe('the version pin', () => {
  it('matches the upstream release with any Debian revision or epoch, nothing else', () => {
    for (const v of ['1.9', '1.9-1', '1:1.9-1~bookworm1', '1.9-0+deb12u1'])
      assert.ok(matchesUpstreamVersion(v, '1.9'), v);
    for (const v of ['1.9.1', '1.9~rc2', '1.90', '11.9', '1.8', '1x9', '1.9-', '']) {
      assert.ok(!matchesUpstreamVersion(v, '1.9'), v);
    }
  });

  it('selects the pinned package, preferring the exact version, and names what exists otherwise', () => {
    const text =
      entry({ version: '1.8' }) + '\n' + entry({ version: '1.9-1', sha256: H2 }) + '\n' + entry({ version: '1.9' });
    const all = parsePackages(text, 'Packages');
    const e = selectPackage(all, 'gramine', 'amd64', '1.9', 'Packages');
    assert.equal(e.version, '1.9');
    assert.equal(e.sha256, H1);
    assert.equal(e.depends, 'libprotobuf-c1,\npython3-click');
    assert.equal(debFileName(e), 'gramine_1.9_amd64.deb');
    const only18 = parsePackages(entry({ version: '1.8' }) + '\n' + entry({ package: 'gramine-ratls-dcap' }), 'P');
    assert.throws(() => selectPackage(only18, 'gramine', 'amd64', '1.9', 'the bookworm suite'), {
      code: 'ERR_SGX_GRAMINE_VERSION_UNAVAILABLE',
      message: /the bookworm suite has no gramine 1\.9 for amd64 \(it has: 1\.8\)/,
    });
    assert.throws(
      () => selectPackage(parsePackages(entry({ architecture: 'arm64' }), 'P'), 'gramine', 'amd64', '1.9', 'P'),
      {
        code: 'ERR_SGX_GRAMINE_VERSION_UNAVAILABLE',
        message: /no gramine at all/,
      },
    );
  });

  it('refuses ambiguous, unhashed and unsafe entries', () => {
    const twoRevisions = parsePackages(
      entry({ version: '1.9-1' }) + '\n' + entry({ version: '1.9-2', sha256: H2 }),
      'P',
    );
    assert.throws(() => selectPackage(twoRevisions, 'gramine', 'amd64', '1.9', 'P'), { message: /ambiguous/ });
    const noHash = parsePackages(entry({ sha256: 'xyz' }), 'P');
    assert.throws(() => selectPackage(noHash, 'gramine', 'amd64', '1.9', 'P'), { message: /no SHA256/ });
    for (const filename of ['../../etc/passwd.deb', 'pool/../x.deb', '/abs/gramine.deb', 'pool/g/gramine_1.9.tar']) {
      const bad = parsePackages(entry({ filename }), 'P');
      assert.throws(() => selectPackage(bad, 'gramine', 'amd64', '1.9', 'P'), { message: /unsafe Filename/ }, filename);
    }
  });
});

describe('checkDigest', () => {
  it('passes equal digests and names both on a mismatch', () => {
    checkDigest({ sha256: H1, size: 3 }, { sha256: H1, size: 3 }, 'f');
    assert.throws(() => checkDigest({ sha256: H1, size: 3 }, { sha256: H2, size: 3 }, 'f'), {
      code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
    });
    assert.throws(() => checkDigest({ sha256: H1, size: 3 }, { sha256: H1, size: 4 }, 'f'), {
      code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
    });
  });
  it('checkSize refuses a file of another size before it is read', () => {
    checkSize(3, { sha256: H1, size: 3 }, 'f');
    assert.throws(() => checkSize(2 ** 40, { sha256: H1, size: 3 }, 'f'), {
      code: 'ERR_SGX_GRAMINE_CHECKSUM_MISMATCH',
      message: /f is 1099511627776 bytes, not the 3 bytes/,
    });
  });
});
