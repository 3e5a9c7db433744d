/**
 * Gramine's measurement vectors (test-fixtures/testvectors/gramine, computed by Gramine's own signer) and a
 * helper that localises a divergence with their `layout.json` running digests. Tests only.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FileSource, SourceEntry } from '../gramine/files.js';
import { HostFileSource } from '../gramine/files.js';
import { readVector, readVectorText, vectorPath } from './vectors.js';

export interface GramineCase {
  name: string;
  dir: string;
  mrenclave: string;
  mrsigner: string;
  date: string;
  /** `input/app.manifest`. */
  manifest: Uint8Array;
  /** `expected/app.manifest.sgx`. */
  finalManifest: Uint8Array;
  libpal: Uint8Array;
  keyPem: string;
  sigstruct: Uint8Array;
  signingData: Uint8Array;
  fields: Record<string, string | number>;
}

/** Every case of the vector set, in index order. */
export function gramineCases(): GramineCase[] {
  const index = JSON.parse(readVectorText('gramine', 'index.json')) as {
    cases: { case: string; mrenclave: string; mrsigner: string }[];
  };
  return index.cases.map((c) => {
    const read = (...p: string[]): Uint8Array => readVector('gramine', c.case, ...p);
    const params = JSON.parse(readVectorText('gramine', c.case, 'input', 'params.json')) as { date: string };
    // Integers beyond 2^53 (the 64-bit masks) are kept as decimal strings.
    const expectedText = readVectorText('gramine', c.case, 'expected', 'expected.json').replace(
      /: ([0-9]{16,})/g,
      ': "$1"',
    );
    const expected = JSON.parse(expectedText) as {
      sigstruct_fields: Record<string, string | number>;
    };
    return {
      name: c.case,
      dir: vectorPath('gramine', c.case),
      mrenclave: c.mrenclave,
      mrsigner: c.mrsigner,
      date: params.date,
      manifest: read('input', 'app.manifest'),
      finalManifest: read('expected', 'app.manifest.sgx'),
      libpal: read('input', 'libpal.so'),
      keyPem: readVectorText('gramine', c.case, 'input', 'enclave-key.pem'),
      sigstruct: read('expected', 'app.sig'),
      signingData: read('expected', 'signing_data.bin'),
      fields: expected.sigstruct_fields,
    };
  });
}

/** One running digest: after ECREATE or after an area, SHA-256 of the record stream so far. */
export interface Boundary {
  label: string;
  bytesHashed: number;
  sha256: string;
}

/** The running digests Gramine's signer produced for a case (`layout.json`). */
export function expectedBoundaries(c: GramineCase): Boundary[] {
  const layout = JSON.parse(readVectorText('gramine', c.name, 'expected', 'layout.json')) as {
    sha256_running_digest_at_boundaries: { after: string; bytes_hashed: number; sha256_of_prefix: string }[];
  };
  return layout.sha256_running_digest_at_boundaries.map((b) => ({
    label: b.after,
    bytesHashed: b.bytes_hashed,
    sha256: b.sha256_of_prefix,
  }));
}

/** The memory areas Gramine's signer measured, in order (`layout.json`). */
export function expectedAreas(
  c: GramineCase,
): { desc: string; addr: number; size: number; flags: number; measured: boolean }[] {
  const layout = JSON.parse(readVectorText('gramine', c.name, 'expected', 'layout.json')) as {
    areas_in_measurement_order: {
      desc: string;
      addr: string;
      size: string;
      secinfo_flags: string;
      measured_eextend: boolean;
    }[];
  };
  return layout.areas_in_measurement_order.map((a) => ({
    desc: a.desc,
    addr: Number(a.addr),
    size: Number(a.size),
    flags: Number(a.secinfo_flags),
    measured: a.measured_eextend,
  }));
}

/**
 * Assert that our running digests equal Gramine's; on a mismatch, the message names the first area where
 * the record streams diverge (and how many bytes had been hashed by each side), not just a different hash.
 */
export function assertBoundaries(c: GramineCase, actual: Boundary[]): void {
  const expected = expectedBoundaries(c);
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = expected[i];
    const a = actual[i];
    if (!e || !a || e.label !== a.label || e.bytesHashed !== a.bytesHashed || e.sha256 !== a.sha256) {
      assert.fail(
        `${c.name}: measurement diverges at boundary ${i}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}` +
          (i > 0 ? ` (the stream agreed up to ${JSON.stringify(expected[i - 1]?.label)})` : ''),
      );
    }
  }
}

/**
 * A test double around {@link HostFileSource} rooted at a vector case's `input/` folder: it records every
 * path the finalization touches and fails the test if it lists or reads one outside `root` (the vectors
 * must be reproducible from the vector folder alone). Outside paths are reported absent to `stat` (Gramine
 * stats pre-hashed files too, e.g. `/opt/prehashed/config.toml`; the host must not change the result).
 */
export class ConfinedTestSource implements FileSource {
  readonly touched: string[] = [];
  private readonly inner: HostFileSource;
  readonly description: string;

  constructor(private readonly root: string) {
    this.inner = new HostFileSource(root);
    this.description = this.inner.description;
  }

  private inside(p: string): boolean {
    const full = path.resolve(this.root, p);
    this.touched.push(full);
    const rel = path.relative(this.root, full);
    return !(rel.startsWith('..') || path.isAbsolute(rel));
  }

  private check(p: string): void {
    if (!this.inside(p)) assert.fail(`finalization read ${p}, outside ${this.root}`);
  }

  stat(p: string): Promise<SourceEntry | undefined> {
    return this.inside(p) ? this.inner.stat(p) : Promise.resolve(undefined);
  }

  list(p: string): Promise<string[]> {
    this.check(p);
    return this.inner.list(p);
  }

  read(p: string): AsyncIterable<Uint8Array> {
    this.check(p);
    return this.inner.read(p);
  }
}

/** Copy a vector case's `input/` folder to `dest` (for tests that write next to the manifest). */
export async function copyCaseInput(c: GramineCase, dest: string): Promise<void> {
  await fs.cp(path.join(c.dir, 'input'), dest, { recursive: true });
}
