/**
 * A small, strict ELF64 reader for Gramine's PAL (`libpal.so`): the entry point and the PT_LOAD segments,
 * which is all the enclave measurement needs. Anything malformed, or laid out in a way whose measurement
 * Gramine's vectors do not cover, is refused with `ERR_GRAMINE_ELF` naming the field.
 */
import { InputError } from '../errors.js';

export const PAGE_SIZE = 4096;

/** One PT_LOAD program header. */
export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  /** p_flags: PF_X = 1, PF_W = 2, PF_R = 4. */
  flags: number;
}

/** The parts of the PAL's ELF image that are measured. */
export interface PalElf {
  /** e_entry, relative to the image base. */
  entry: number;
  /** PT_LOAD segments in program-header order (ascending addresses, no shared pages). */
  segments: LoadSegment[];
  /** Page-rounded span of the segments: the size of the enclave's `pal` area. */
  size: number;
}

const PT_LOAD = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_X86_64 = 62;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
/** Addresses and sizes above this are refused (x86-64 user space is 47 bits; keeps Numbers exact). */
const MAX_VALUE = 2 ** 47;

export const roundDown = (n: number): number => n - (n % PAGE_SIZE);
export const roundUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/**
 * Parse `bytes` as a little-endian x86-64 ELF64 executable or shared object and return its entry point
 * and PT_LOAD segments. Refused (`ERR_GRAMINE_ELF`): a bad identification or header, program headers or
 * segment data outside the file, p_filesz > p_memsz, an empty segment, p_offset and p_vaddr not congruent
 * modulo the page size, segments out of order, overlapping or sharing a page, a first segment not at
 * address 0 (a position-independent PAL is expected), an entry point outside the segments.
 */
export function parsePalElf(bytes: Uint8Array, what = 'libpal'): PalElf {
  const fail = (msg: string): never => {
    throw new InputError('ERR_GRAMINE_ELF', `${what}: ${msg}`, {
      hint: 'Pass Gramine’s SGX PAL, libpal.so (by default /usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so).',
    });
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length;
  if (size < EHDR_SIZE) fail(`${size} bytes is too short for an ELF64 header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail('not an ELF file (e_ident magic)');
  }
  if (bytes[4] !== 2) fail(`e_ident[EI_CLASS] = ${bytes[4]}, expected 2 (ELFCLASS64)`);
  if (bytes[5] !== 1) fail(`e_ident[EI_DATA] = ${bytes[5]}, expected 1 (little-endian)`);
  if (bytes[6] !== 1) fail(`e_ident[EI_VERSION] = ${bytes[6]}, expected 1`);
  const type = view.getUint16(16, true);
  if (type !== ET_DYN && type !== ET_EXEC) fail(`e_type = ${type}, expected ET_DYN (3) or ET_EXEC (2)`);
  const machine = view.getUint16(18, true);
  if (machine !== EM_X86_64) fail(`e_machine = ${machine}, expected EM_X86_64 (62)`);
  if (view.getUint32(20, true) !== 1) fail(`e_version = ${view.getUint32(20, true)}, expected 1`);
  const u64 = (at: number, field: string): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(MAX_VALUE)) fail(`${field} = 0x${v.toString(16)} is out of range`);
    return Number(v);
  };
  const entry = u64(24, 'e_entry');
  const phoff = u64(32, 'e_phoff');
  if (view.getUint16(52, true) !== EHDR_SIZE) fail(`e_ehsize = ${view.getUint16(52, true)}, expected 64`);
  const phentsize = view.getUint16(54, true);
  if (phentsize !== PHDR_SIZE) fail(`e_phentsize = ${phentsize}, expected 56`);
  const phnum = view.getUint16(56, true);
  if (phnum === 0 || phnum === 0xffff) fail(`e_phnum = ${phnum} is not supported`);
  if (phoff + phnum * PHDR_SIZE > size) {
    fail(`program headers (e_phoff 0x${phoff.toString(16)}, e_phnum ${phnum}) extend beyond the file (${size} bytes)`);
  }

  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_SIZE;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const field = (name: string): string => `program header ${i} (PT_LOAD) ${name}`;
    const s: LoadSegment = {
      flags: view.getUint32(at + 4, true),
      offset: u64(at + 8, field('p_offset')),
      vaddr: u64(at + 16, field('p_vaddr')),
      filesz: u64(at + 32, field('p_filesz')),
      memsz: u64(at + 40, field('p_memsz')),
    };
    if (s.memsz === 0) fail(`${field('p_memsz')} is 0`);
    if (s.filesz > s.memsz)
      fail(`${field('p_filesz')} 0x${s.filesz.toString(16)} exceeds p_memsz 0x${s.memsz.toString(16)}`);
    if (s.offset + s.filesz > size) {
      fail(
        `${field('p_offset + p_filesz')} 0x${(s.offset + s.filesz).toString(16)} is beyond the end of the file (${size} bytes)`,
      );
    }
    if (s.vaddr + s.memsz > MAX_VALUE) fail(`${field('p_vaddr + p_memsz')} is out of range`);
    if (s.offset % PAGE_SIZE !== s.vaddr % PAGE_SIZE) {
      fail(
        `${field('p_offset')} 0x${s.offset.toString(16)} and p_vaddr 0x${s.vaddr.toString(16)} differ modulo the page size`,
      );
    }
    const prev = segments[segments.length - 1];
    if (prev && roundDown(s.vaddr) < roundUp(prev.vaddr + prev.memsz)) {
      fail(
        `${field('p_vaddr')} 0x${s.vaddr.toString(16)} overlaps or shares a page with the previous PT_LOAD, or is out of order`,
      );
    }
    segments.push(s);
  }
  const first = segments[0] ?? fail('has no PT_LOAD segment');
  if (roundDown(first.vaddr) !== 0) {
    fail(
      `the first PT_LOAD starts at p_vaddr 0x${first.vaddr.toString(16)}; a position-independent PAL starting at 0 is expected`,
    );
  }
  const last = segments[segments.length - 1] ?? first;
  const span = roundUp(last.vaddr + last.memsz);
  if (entry >= span)
    fail(`e_entry 0x${entry.toString(16)} is outside the PT_LOAD segments (0..0x${span.toString(16)})`);
  return { entry, segments, size: span };
}
