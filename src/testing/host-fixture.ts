/**
 * Fixture host trees for `mse home doctor`'s checks: a directory holding `proc/cpuinfo`,
 * `proc/sys/kernel/osrelease`, `dev/…` nodes, `var/run/aesmd/aesm.socket` and `etc/sgx_default_qcnl.conf`,
 * given to the host-facts shell as its root. Tests only.
 *
 * Test doubles, named as such: SGX device nodes are symlinks to the real character device `/dev/null`
 * (a character device is what the check looks for; this one cannot run enclaves), or regular files where a
 * test wants "not a device"; aesmd is a real Unix socket server that accepts and hangs up (`listening`), or
 * a real socket file nobody listens on any more (`stale`, left by a process that exited).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AESMD_SOCKET, CPUINFO_FILE, KERNEL_RELEASE_FILE, SGX_DEVICES, type SgxDevice } from '../sgx/host-checks.js';
import { DEFAULT_QCNL_CONF } from '../pccs/config.js';
import { readVectorText } from './vectors.js';

/** /proc/cpuinfo text in the kernel's layout, one block per processor. */
export function cpuinfoText(opts: { vendor?: string; flags: string[]; processors?: number }): string {
  const base =
    'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc nopl xtopology cpuid pni pclmulqdq vmx ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch fsgsbase smep bmi2 erms invpcid avx512f rdseed adx smap clflushopt clwb avx512cd sha_ni xsaveopt xsavec xgetbv1 xsaves';
  const blocks: string[] = [];
  for (let i = 0; i < (opts.processors ?? 2); i++) {
    blocks.push(
      [
        `processor\t: ${i}`,
        `vendor_id\t: ${opts.vendor ?? 'GenuineIntel'}`,
        'cpu family\t: 6',
        'model\t\t: 106',
        'model name\t: Intel(R) Xeon(R) Gold 5318S CPU @ 2.10GHz',
        `flags\t\t: ${[base, ...opts.flags].join(' ')}`,
        'bogomips\t: 4200.00',
        '',
      ].join('\n'),
    );
  }
  return blocks.join('\n');
}

/**
 * Intel's sample QCNL configuration as MSE ships it (the vendored vector), with `pccs_url` and
 * `use_secure_cert` set.
 */
export function qcnlText(pccsUrl: string, useSecureCert = true): string {
  const text = readVectorText('mse', 'sgx_default_qcnl.conf')
    .replace(/"pccs_url": "[^"]*"/, `"pccs_url": ${JSON.stringify(pccsUrl)}`)
    .replace(/"use_secure_cert": true/, `"use_secure_cert": ${useSecureCert}`);
  if (!text.includes(pccsUrl)) throw new Error('the QCNL vector no longer has a pccs_url line');
  return text;
}

export interface FixtureHostOptions {
  cpuFlags: string[];
  vendor?: string;
  kernelRelease?: string;
  /** Device nodes to create as character device doubles (symlinks to /dev/null). */
  charDevices?: SgxDevice[];
  /** Device paths to create as regular files (doubles that are not devices). */
  fileDevices?: SgxDevice[];
  aesmd?: 'listening' | 'stale' | 'absent';
  /** Content of etc/sgx_default_qcnl.conf; absent when undefined. */
  qcnl?: string;
}

export interface FixtureHost {
  root: string;
  close(): Promise<void>;
}

/** Build a fixture host tree in a fresh temporary directory. */
export async function fixtureHost(o: FixtureHostOptions): Promise<FixtureHost> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mse-doctor-'));
  const at = (p: string): string => path.join(root, p);
  const write = async (p: string, data: string): Promise<void> => {
    await fs.mkdir(path.dirname(at(p)), { recursive: true });
    await fs.writeFile(at(p), data);
  };
  let server: net.Server | undefined;
  try {
    await write(CPUINFO_FILE, cpuinfoText({ flags: o.cpuFlags, ...(o.vendor ? { vendor: o.vendor } : {}) }));
    await write(KERNEL_RELEASE_FILE, `${o.kernelRelease ?? '6.1.0-18-amd64'}\n`);
    for (const d of o.charDevices ?? []) {
      await fs.mkdir(path.dirname(at(SGX_DEVICES[d])), { recursive: true });
      await fs.symlink('/dev/null', at(SGX_DEVICES[d]));
    }
    for (const d of o.fileDevices ?? []) await write(SGX_DEVICES[d], '');
    if (o.qcnl !== undefined) await write(DEFAULT_QCNL_CONF, o.qcnl);
    const socket = at(AESMD_SOCKET);
    if (o.aesmd === 'listening' || o.aesmd === 'stale') await fs.mkdir(path.dirname(socket), { recursive: true });
    if (o.aesmd === 'listening') {
      const s = net.createServer((c) => c.end());
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(socket, resolve);
      });
    } else if (o.aesmd === 'stale') {
      // A process that listened and exited without closing leaves the socket file behind.
      const r = spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.exit(0))`,
      ]);
      if (r.status !== 0) throw new Error(`could not leave a stale socket: ${String(r.stderr)}`);
    }
  } catch (error) {
    server?.close();
    await fs.rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    root,
    async close() {
      if (server) await new Promise<void>((r) => server.close(() => r()));
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
