// MRENCLAVE beyond the vectors: EDMM on and off, the enclave-size bound, and what each input changes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gramineCases } from '../testing/gramine.js';
import { parsePalElf } from './elf.js';
import { enclaveLayout, HEAP_MIN, measureEnclave } from './mrenclave.js';

const [c1] = gramineCases();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('measureEnclave', () => {
  it('without EDMM adds one unmeasured EADD per heap page from 0x10000 up to the PAL; with EDMM none', () => {
    const attrs = { enclaveSize: 2 ** 28, maxThreads: 4 };
    const off = measureEnclave(c1!.finalManifest, c1!.libpal, { ...attrs, edmm: false });
    const on = measureEnclave(c1!.finalManifest, c1!.libpal, { ...attrs, edmm: true });
    const pal = off.areas.find((a) => a.desc === 'pal')!;
    assert.deepEqual(off.areas[off.areas.length - 1], {
      desc: 'free',
      addr: HEAP_MIN,
      size: pal.addr - HEAP_MIN,
      flags: 0x207,
      measured: false,
    });
    assert.equal(off.bytesHashed - on.bytesHashed, ((pal.addr - HEAP_MIN) / 4096) * 64);
    assert.notEqual(hex(off.mrenclave), hex(on.mrenclave));
    assert.equal(
      on.areas.some((a) => a.desc === 'free'),
      false,
    );
  });

  it('changes with every input: a manifest byte, the size, the thread count, a PAL byte', () => {
    const attrs = { enclaveSize: 2 ** 28, maxThreads: 4, edmm: true };
    const base = hex(measureEnclave(c1!.finalManifest, c1!.libpal, attrs).mrenclave);
    const manifest = Buffer.from(c1!.finalManifest);
    manifest[manifest.length - 2]! ^= 1;
    const pal = Buffer.from(c1!.libpal);
    pal[0x600]! ^= 1; // inside the first PT_LOAD
    const variants = [
      measureEnclave(manifest, c1!.libpal, attrs),
      measureEnclave(c1!.finalManifest, c1!.libpal, { ...attrs, enclaveSize: 2 ** 29 }),
      measureEnclave(c1!.finalManifest, c1!.libpal, { ...attrs, maxThreads: 5 }),
      measureEnclave(c1!.finalManifest, pal, attrs),
    ].map((m) => hex(m.mrenclave));
    assert.equal(new Set([base, ...variants]).size, 5);
  });

  it('refuses an enclave too small for its areas (Gramine: "Enclave size is not large enough")', () => {
    const elf = parsePalElf(c1!.libpal);
    // 4 threads need 4 × (32 KiB SSA + 4 KiB TCS + 4 KiB TLS + 256 KiB stack + 64 KiB signal stack).
    assert.throws(
      () => measureEnclave(c1!.finalManifest, c1!.libpal, { enclaveSize: 2 ** 20, maxThreads: 4, edmm: false }),
      {
        code: 'ERR_GRAMINE_ENCLAVE_TOO_SMALL',
      },
    );
    // The smallest size that fits leaves no heap: no free area at all.
    const need = 4096 + 4 * (0x8000 + 0x1000 + 0x1000 + 0x40000 + 0x10000) + elf.size + HEAP_MIN;
    const layout = enclaveLayout(c1!.finalManifest.length, { enclaveSize: need, maxThreads: 4, edmm: false }, elf.size);
    assert.equal(layout[layout.length - 1]!.desc, 'pal');
    assert.equal(layout[layout.length - 1]!.addr, HEAP_MIN);
    assert.throws(
      () => enclaveLayout(c1!.finalManifest.length, { enclaveSize: need - 4096, maxThreads: 4, edmm: false }, elf.size),
      {
        code: 'ERR_GRAMINE_ENCLAVE_TOO_SMALL',
      },
    );
  });
});
