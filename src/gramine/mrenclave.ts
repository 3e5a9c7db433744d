/**
 * MRENCLAVE of a Gramine enclave, computed as Gramine's signer (`sgx_sign.get_mrenclave_and_manifest`)
 * and the CPU compute it: SHA-256 over the ECREATE record, then one EADD record per page added to the
 * enclave and, for measured pages, 16 EEXTEND records each followed by 256 bytes of the page.
 *
 * Layout (enclave base 0, pages of 4 KiB, heap from 0x10000): areas are stacked down from the enclave
 * size S in this order and measured in the same order: the manifest (its bytes and a NUL), the SSA frames,
 * the TCS pages, the TLS pages, one stack and then one signal stack per thread, and the PAL's PT_LOAD
 * segments. Without EDMM, every page from 0x10000 to the PAL is then added, not measured (the heap).
 *
 * Records are built in one reused buffer and hashed in 1 MiB chunks: the ~1 million heap records of a
 * 4 GiB enclave cost one buffer fill and two 32-bit stores each.
 */
import { createHash, type Hash } from 'node:crypto';
import { InputError } from '../errors.js';
import { PAGE_SIZE, parsePalElf, roundDown, roundUp, type PalElf } from './elf.js';
import { readFinalManifest, type EnclaveAttributes } from './manifest.js';

/** Where enclave memory starts being usable (Gramine's MMAP_MIN_ADDR): the heap's lower bound. */
export const HEAP_MIN = 0x10000;
const SSA_FRAME_SIZE = 0x4000;
const SSA_FRAME_NUM = 2;
const TCS_SIZE = PAGE_SIZE;
const STACK_SIZE = 0x40000;
const SIG_STACK_SIZE = 0x10000;
const GPR_SIZE = 0xb8;
const STACK_PROTECTOR_CANARY = 0xbadbadbadbad;

/** SECINFO flags of EADD. */
export const SECINFO = { R: 0x1, W: 0x2, X: 0x4, TCS: 0x100, REG: 0x200 } as const;

export type AreaKind = 'manifest' | 'ssa' | 'tcs' | 'tls' | 'stack' | 'sig_stack' | 'pal' | 'free';

/** One memory area of the enclave, in measurement order. */
export interface MemoryArea {
  desc: AreaKind;
  addr: number;
  size: number;
  /** SECINFO flags (for `pal`, the base flags: each segment adds its R/W/X). */
  flags: number;
  /** EEXTENDed (content measured) or only EADDed (the heap). */
  measured: boolean;
}

/** What the measurement needs from the final manifest. */
export type MeasureAttributes = Pick<EnclaveAttributes, 'enclaveSize' | 'maxThreads' | 'edmm'>;

export interface MeasureOptions {
  /**
   * Called after the ECREATE record (`label` = `ECREATE`) and after each area (`area[i] <desc>`), with the
   * number of bytes hashed so far and the SHA-256 of that prefix: a way to find where two implementations
   * diverge (Gramine's vectors record the same running digests in `layout.json`).
   */
  onBoundary?: (label: string, bytesHashed: number, sha256Hex: string) => void;
}

export interface Measurement {
  mrenclave: Uint8Array;
  areas: MemoryArea[];
  /** Length of the hashed record stream. */
  bytesHashed: number;
}

const CHUNK = 1 << 20; // a multiple of every record size used below
const TAG = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.padEnd(8, '\0'), 'latin1'));
const ECREATE = TAG('ECREATE');
const EADD = TAG('EADD');
const EEXTEND = TAG('EEXTEND');
/** Bytes of records per measured page: EADD (64), then 16 EEXTEND (64 + 256 bytes of data each). */
const PAGE_RECORDS = 64 + (PAGE_SIZE / 256) * 320;

/** The record stream: a reused buffer flushed into the hash in large chunks. */
class RecordStream {
  readonly buf = Buffer.alloc(CHUNK);
  readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private pos = 0;
  total = 0;

  constructor(readonly hash: Hash) {}

  flush(): void {
    if (this.pos === 0) return;
    this.hash.update(this.buf.subarray(0, this.pos));
    this.total += this.pos;
    this.pos = 0;
  }

  private reserve(n: number): number {
    if (this.pos + n > CHUNK) this.flush();
    const at = this.pos;
    this.buf.fill(0, at, at + n);
    this.pos += n;
    return at;
  }

  u64(at: number, v: number): void {
    this.view.setUint32(at, v % 2 ** 32, true);
    this.view.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
  }

  ecreate(size: number): void {
    const at = this.reserve(64);
    this.buf.set(ECREATE, at);
    this.view.setUint32(at + 8, SSA_FRAME_SIZE / PAGE_SIZE, true);
    this.u64(at + 12, size);
  }

  eadd(offset: number, flags: number): void {
    const at = this.reserve(64);
    this.buf.set(EADD, at);
    this.u64(at + 8, offset);
    this.u64(at + 16, flags);
  }

  /** EADD one page, then EEXTEND its 16 chunks of 256 bytes. */
  measuredPage(offset: number, flags: number, content: Uint8Array): void {
    this.eadd(offset, flags);
    for (let i = 0; i < PAGE_SIZE; i += 256) {
      const at = this.reserve(64 + 256);
      this.buf.set(EEXTEND, at);
      this.u64(at + 8, offset + i);
      this.buf.set(content.subarray(i, i + 256), at + 64);
    }
  }

  /**
   * What {@link measuredPage} writes for every zero page of [start, end) (page-aligned): the EADD record and
   * its 16 EEXTEND records (zero data) are laid out once for as many pages as the buffer holds, then only
   * the offsets change (stacks and SSA frames are thousands of such pages).
   */
  zeroPages(start: number, end: number, flags: number): void {
    this.flush();
    const fill = Math.floor(CHUNK / PAGE_RECORDS) * PAGE_RECORDS;
    this.buf.fill(0, 0, fill);
    for (let at = 0; at < fill; at += PAGE_RECORDS) {
      this.buf.set(EADD, at);
      this.u64(at + 16, flags);
      for (let i = 0; i < PAGE_SIZE / 256; i++) this.buf.set(EEXTEND, at + 64 + i * 320);
    }
    let page = start;
    while (page < end) {
      let at = 0;
      for (; at < fill && page < end; at += PAGE_RECORDS, page += PAGE_SIZE) {
        this.u64(at + 8, page);
        for (let i = 0; i < PAGE_SIZE / 256; i++) this.u64(at + 64 + i * 320 + 8, page + i * 256);
      }
      this.hash.update(this.buf.subarray(0, at));
      this.total += at;
    }
  }

  /**
   * EADD-only records for every page of [start, end) (page-aligned): the buffer is filled once, then only
   * offsets change, computed from the page number (a small integer, where the offset passes 2^32 in
   * enclaves over 4 GiB and would make every record's arithmetic floating point).
   */
  unmeasuredPages(start: number, end: number, flags: number): void {
    this.flush();
    for (let at = 0; at < CHUNK; at += 64) {
      this.buf.fill(0, at, at + 64);
      this.buf.set(EADD, at);
      this.u64(at + 16, flags);
    }
    const view = this.view;
    const last = end / PAGE_SIZE;
    let page = start / PAGE_SIZE;
    while (page < last) {
      let at = 0;
      for (; at < CHUNK && page < last; at += 64, page++) {
        const low = page % 0x100000; // page bits 0..19 are offset bits 12..31
        view.setUint32(at + 8, low * PAGE_SIZE, true);
        view.setUint32(at + 12, (page - low) / 0x100000, true);
      }
      this.hash.update(this.buf.subarray(0, at));
      this.total += at;
    }
  }
}

/** The enclave's memory areas, stacked down from the enclave size as Gramine lays them out. */
export function enclaveLayout(manifestLength: number, attributes: MeasureAttributes, palSize: number): MemoryArea[] {
  const T = attributes.maxThreads;
  const RW = SECINFO.REG | SECINFO.R | SECINFO.W;
  const planned: Omit<MemoryArea, 'addr'>[] = [
    { desc: 'manifest', size: roundUp(manifestLength + 1), flags: SECINFO.REG | SECINFO.R, measured: true },
    { desc: 'ssa', size: T * SSA_FRAME_SIZE * SSA_FRAME_NUM, flags: RW, measured: true },
    { desc: 'tcs', size: T * TCS_SIZE, flags: SECINFO.TCS, measured: true },
    { desc: 'tls', size: T * PAGE_SIZE, flags: RW, measured: true },
    ...Array.from({ length: T }, () => ({ desc: 'stack' as const, size: STACK_SIZE, flags: RW, measured: true })),
    ...Array.from({ length: T }, () => ({
      desc: 'sig_stack' as const,
      size: SIG_STACK_SIZE,
      flags: RW,
      measured: true,
    })),
    { desc: 'pal', size: palSize, flags: SECINFO.REG, measured: true },
  ];
  const areas: MemoryArea[] = [];
  let last = attributes.enclaveSize;
  for (const a of planned) {
    const addr = last - a.size;
    if (addr < HEAP_MIN) {
      throw new InputError(
        'ERR_GRAMINE_ENCLAVE_TOO_SMALL',
        `sgx.enclave_size (${attributes.enclaveSize} bytes) is too small for ${T} threads, the manifest and the PAL`,
        { hint: 'Raise sgx.enclave_size (a power of two) or lower sgx.max_threads.' },
      );
    }
    areas.push({ ...a, addr });
    last = addr;
  }
  if (!attributes.edmm && last > HEAP_MIN) {
    areas.push({
      desc: 'free',
      addr: HEAP_MIN,
      size: last - HEAP_MIN,
      flags: SECINFO.REG | SECINFO.R | SECINFO.W | SECINFO.X,
      measured: false,
    });
  }
  return areas;
}

function setU64(view: DataView, at: number, v: number): void {
  view.setUint32(at, v % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

/**
 * Measure a Gramine enclave: `manifest` is the final manifest's bytes (without the NUL, which is added
 * here), `libpal` the PAL's ELF file, `attributes` the size, thread count and EDMM setting read from that
 * manifest. Throws `ERR_GRAMINE_ELF` for a malformed PAL and `ERR_GRAMINE_ENCLAVE_TOO_SMALL`.
 */
export function measureEnclave(
  manifest: Uint8Array,
  libpal: Uint8Array | { bytes: Uint8Array; elf: PalElf },
  attributes: MeasureAttributes,
  options: MeasureOptions = {},
): Measurement {
  const palBytes = libpal instanceof Uint8Array ? libpal : libpal.bytes;
  const elf = libpal instanceof Uint8Array ? parsePalElf(libpal) : libpal.elf;
  const areas = enclaveLayout(manifest.length, attributes, elf.size);
  const find = (d: AreaKind): MemoryArea[] => areas.filter((a) => a.desc === d);
  const [ssa, tcs, tls, pal] = [find('ssa')[0]!, find('tcs')[0]!, find('tls')[0]!, find('pal')[0]!];
  const stacks = find('stack');
  const sigStacks = find('sig_stack');

  const out = new RecordStream(createHash('sha256'));
  const boundary = (label: string): void => {
    if (!options.onBoundary) return;
    out.flush();
    options.onBoundary(label, out.total, out.hash.copy().digest('hex'));
  };
  out.ecreate(attributes.enclaveSize);
  boundary('ECREATE');

  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  areas.forEach((area, index) => {
    switch (area.desc) {
      case 'manifest':
        for (let off = 0; off < area.size; off += PAGE_SIZE) {
          page.fill(0);
          page.set(manifest.subarray(off, off + PAGE_SIZE)); // the NUL and the padding stay zero
          out.measuredPage(area.addr + off, area.flags, page);
        }
        break;
      case 'tcs':
        for (let t = 0; t < attributes.maxThreads; t++) {
          page.fill(0);
          setU64(view, 0x10, ssa.addr + t * SSA_FRAME_SIZE * SSA_FRAME_NUM); // OSSA
          view.setUint32(0x1c, SSA_FRAME_NUM, true); // NSSA
          setU64(view, 0x20, pal.addr + elf.entry); // OENTRY
          setU64(view, 0x38, tls.addr + t * PAGE_SIZE); // OGSBASGX
          view.setUint32(0x40, 0xfff, true); // FSLIMIT
          view.setUint32(0x44, 0xfff, true); // GSLIMIT
          out.measuredPage(area.addr + t * TCS_SIZE, area.flags, page);
        }
        break;
      case 'tls':
        for (let t = 0; t < attributes.maxThreads; t++) {
          const ssaT = ssa.addr + t * SSA_FRAME_SIZE * SSA_FRAME_NUM;
          page.fill(0);
          setU64(view, 0x000, tls.addr + t * PAGE_SIZE); // self
          setU64(view, 0x008, STACK_PROTECTOR_CANARY);
          setU64(view, 0x110, attributes.enclaveSize);
          setU64(view, 0x118, tcs.addr + t * TCS_SIZE);
          setU64(view, 0x120, stacks[t]!.addr + STACK_SIZE); // initial stack
          setU64(view, 0x130, sigStacks[t]!.addr);
          setU64(view, 0x138, sigStacks[t]!.addr + SIG_STACK_SIZE);
          setU64(view, 0x148, ssaT);
          setU64(view, 0x150, ssaT + SSA_FRAME_SIZE - GPR_SIZE); // GPR area of the first SSA frame
          setU64(view, 0x1a0, manifest.length + 1); // manifest size, NUL included
          setU64(view, 0x1a8, HEAP_MIN);
          setU64(view, 0x1b0, pal.addr); // heap max
          out.measuredPage(area.addr + t * PAGE_SIZE, area.flags, page);
        }
        break;
      case 'pal':
        for (const s of elf.segments) {
          const flags =
            area.flags | (s.flags & 4 ? SECINFO.R : 0) | (s.flags & 2 ? SECINFO.W : 0) | (s.flags & 1 ? SECINFO.X : 0);
          for (let p = roundDown(s.vaddr); p < roundUp(s.vaddr + s.memsz); p += PAGE_SIZE) {
            // Only the file bytes of this segment; everything else in the page is zero (not an mmap).
            page.fill(0);
            const lo = Math.max(p, s.vaddr);
            const hi = Math.min(p + PAGE_SIZE, s.vaddr + s.filesz);
            if (lo < hi) page.set(palBytes.subarray(s.offset + (lo - s.vaddr), s.offset + (hi - s.vaddr)), lo - p);
            out.measuredPage(pal.addr + p, flags, page);
          }
        }
        break;
      case 'free':
        out.unmeasuredPages(area.addr, area.addr + area.size, area.flags);
        break;
      default: // ssa, stack, sig_stack: zero pages, still measured
        out.zeroPages(area.addr, area.addr + area.size, area.flags);
    }
    boundary(`area[${index}] ${area.desc}`);
  });
  out.flush();
  return { mrenclave: new Uint8Array(out.hash.digest()), areas, bytesHashed: out.total };
}

/**
 * MRENCLAVE of a final manifest (`.manifest.sgx` bytes, as written by Gramine's signer or by
 * `finalizeManifest`) with this PAL: its size, thread count and EDMM setting are read from the manifest.
 */
export function computeMrenclave(
  finalManifest: Uint8Array,
  libpal: Uint8Array,
  options: MeasureOptions = {},
): Measurement & { attributes: EnclaveAttributes } {
  const { attributes } = readFinalManifest(finalManifest);
  return { ...measureEnclave(finalManifest, libpal, attributes, options), attributes };
}
