// The strict ELF64 reader for libpal: the stand-in PALs Gramine's vectors used, and every refusal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readVector, readVectorText } from '../testing/vectors.js';
import { parsePalElf, type LoadSegment } from './elf.js';

interface Phdr extends LoadSegment {
  type?: number;
}

/** A minimal x86-64 ELF64 shared object with these program headers (file padded to cover them). */
function makeElf(phdrs: Phdr[], entry = 0x10, fileSize = 0x3000): Buffer {
  const b = Buffer.alloc(Math.max(fileSize, 64 + 56 * phdrs.length));
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(62, 18); // EM_X86_64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(entry), 24);
  b.writeBigUInt64LE(64n, 32); // e_phoff
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(phdrs.length, 56);
  phdrs.forEach((p, i) => {
    const at = 64 + 56 * i;
    b.writeUInt32LE(p.type ?? 1, at);
    b.writeUInt32LE(p.flags, at + 4);
    b.writeBigUInt64LE(BigInt(p.offset), at + 8);
    b.writeBigUInt64LE(BigInt(p.vaddr), at + 16);
    b.writeBigUInt64LE(BigInt(p.vaddr), at + 24);
    b.writeBigUInt64LE(BigInt(p.filesz), at + 32);
    b.writeBigUInt64LE(BigInt(p.memsz), at + 40);
    b.writeBigUInt64LE(0x1000n, at + 48);
  });
  return b;
}

const TEXT: Phdr = { offset: 0, vaddr: 0, filesz: 0x800, memsz: 0x800, flags: 5 };
const DATA: Phdr = { offset: 0x1f00, vaddr: 0x2f00, filesz: 0x100, memsz: 0x3000, flags: 6 };

describe('parsePalElf', () => {
  it('reads the PT_LOADs and entry point of Gramine’s stand-in PALs as layout.json records them', () => {
    for (const [file, kase] of [
      ['libpal_lds.so', 'case01_minimal_defaults'],
      ['libpal_default.so', 'case03_1G_t16_debug_dir'],
    ] as const) {
      const elf = parsePalElf(readVector('gramine', 'standin', file));
      const layout = JSON.parse(readVectorText('gramine', kase, 'expected', 'layout.json')) as {
        areas_in_measurement_order: {
          desc: string;
          size: string;
          e_entry?: string;
          pt_load?: Record<string, string>[];
        }[];
      };
      const pal = layout.areas_in_measurement_order.find((a) => a.desc === 'pal')!;
      assert.equal(elf.entry, Number(pal.e_entry));
      assert.equal(elf.size, Number(pal.size));
      assert.deepEqual(
        elf.segments,
        pal.pt_load!.map((p) => ({
          offset: Number(p.p_offset),
          vaddr: Number(p.p_vaddr),
          filesz: Number(p.p_filesz),
          memsz: Number(p.p_memsz),
          flags: Number(p.p_flags),
        })),
      );
    }
  });

  it('accepts a well-formed image and ignores non-PT_LOAD headers', () => {
    const elf = parsePalElf(makeElf([TEXT, { ...TEXT, type: 2, vaddr: 0x9000 }, DATA], 0x100));
    assert.deepEqual(elf, { entry: 0x100, segments: [TEXT, DATA], size: 0x6000 });
  });

  it('refuses malformed or unsupported images, naming the field', () => {
    const patched = (at: number, bytes: number[], base = makeElf([TEXT, DATA])): Buffer => {
      const b = Buffer.from(base);
      b.set(bytes, at);
      return b;
    };
    const u64 = (n: number): number[] => [...Buffer.from(BigInt(n).toString(16).padStart(16, '0'), 'hex').reverse()];
    for (const [bytes, message] of [
      [Buffer.alloc(10), /too short/],
      [patched(0, [0x7f, 0x45, 0x4c, 0x47]), /e_ident magic/],
      [patched(4, [1]), /EI_CLASS\] = 1/],
      [patched(5, [2]), /EI_DATA\] = 2/],
      [patched(6, [0]), /EI_VERSION/],
      [patched(16, [1, 0]), /e_type = 1/],
      [patched(18, [3, 0]), /e_machine = 3/],
      [patched(20, [2, 0, 0, 0]), /e_version = 2/],
      [patched(52, [52, 0]), /e_ehsize = 52/],
      [patched(54, [32, 0]), /e_phentsize = 32/],
      [patched(56, [0, 0]), /e_phnum = 0/],
      [patched(32, u64(0x2fe0)), /program headers .* extend beyond the file/],
      [patched(24, u64(2 ** 60)), /e_entry = 0x1000000000000000 is out of range/],
      [makeElf([{ ...TEXT, type: 6 }]), /no PT_LOAD/],
      [makeElf([TEXT, { ...DATA, filesz: 0x4000 }]), /p_filesz 0x4000 exceeds p_memsz/],
      [
        makeElf([TEXT, { ...DATA, filesz: 0x2000, memsz: 0x2000 }]),
        /p_offset \+ p_filesz 0x3f00 is beyond the end of the file/,
      ],
      [makeElf([TEXT, { ...DATA, memsz: 0, filesz: 0 }]), /p_memsz is 0/],
      [makeElf([TEXT, { ...DATA, offset: 0x1e00 }]), /differ modulo the page size/],
      [makeElf([TEXT, { ...DATA, offset: 0x800, vaddr: 0x800 }]), /shares a page with the previous PT_LOAD/],
      [makeElf([DATA, TEXT]), /overlaps or shares a page with the previous PT_LOAD, or is out of order/],
      [makeElf([{ ...TEXT, offset: 0x1000, vaddr: 0x1000 }]), /first PT_LOAD starts at p_vaddr 0x1000/],
      [makeElf([TEXT, DATA], 0x6000), /e_entry 0x6000 is outside the PT_LOAD segments/],
      [makeElf([TEXT, { ...DATA, vaddr: 2 ** 47 - 0x100 + 0xf00 }]), /out of range/],
    ] as const) {
      assert.throws(() => parsePalElf(bytes), { code: 'ERR_GRAMINE_ELF', message }, String(message));
    }
  });
});
