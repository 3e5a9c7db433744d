/**
 * SHA-256 on a second thread for {@link ImageFs} (./image-fs.ts), reading the image archive by itself from
 * an open file descriptor, so that the two threads never wait on each other chunk by chunk:
 * - {@link HashWorker.layers}: each layer tar's digest, for the diff-ID check, started as soon as the image
 *   is opened and running while the main thread indexes, walks and hashes;
 * - {@link HashWorker.files}: once the layers are done, the worker takes its share of the trusted files:
 *   both threads claim jobs (runs of files, or one large file) from one shared counter, largest first, and
 *   the worker writes its digests into shared memory.
 * The descriptor must stay open until both have settled or {@link HashWorker.close} has resolved.
 */
import { Worker } from 'node:worker_threads';

/** Bytes read at a time by the worker. */
export const WORKER_CHUNK = 4 << 20;

/** One file to hash: where its bytes lie in the descriptor's file. */
export interface FileRegion {
  offset: number;
  size: number;
}

/** Shared file-hashing state: the job counter, the worker's activity, failures, and its digests. */
export interface FileJobs {
  /** Files in job order (each job's files are consecutive). */
  files: FileRegion[];
  /** Job `j` holds files `[starts[j], starts[j + 1])`. */
  starts: number[];
  /** [0] next job to claim, [1] 1 while the worker holds a job, [2] 1 + index of a file found truncated. */
  control: Int32Array;
  /** 32 bytes per file: the digests of the files the worker hashed. */
  digests: Uint8Array;
  /** 1 per file whose digest the worker has written (a worker that died holding a job leaves gaps). */
  done: Uint8Array;
}

/** Create the shared state for `files` split into jobs at `starts`. */
export function fileJobs(files: FileRegion[], starts: number[]): FileJobs {
  return {
    files,
    starts,
    control: new Int32Array(new SharedArrayBuffer(3 * 4)),
    digests: new Uint8Array(new SharedArrayBuffer(Math.max(1, files.length) * 32)),
    done: new Uint8Array(new SharedArrayBuffer(Math.max(1, files.length))),
  };
}

/**
 * Claim the next job: its file indexes, or undefined when none is left. The main thread and the worker
 * (the same logic, in WORKER_SOURCE) claim from the same counter.
 */
export function claimJob(jobs: FileJobs): [number, number] | undefined {
  const j = Atomics.add(jobs.control, 0, 1);
  return j + 1 < jobs.starts.length ? [jobs.starts[j]!, jobs.starts[j + 1]!] : undefined;
}

// Plain script (eval'd): nothing to resolve at run time, so it also works from the bundled CLI. Reads are
// synchronous: this thread does nothing else.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const CHUNK = ${WORKER_CHUNK};
let buffer;
function readFull(fd, length, position) {
  buffer ??= Buffer.allocUnsafe(CHUNK);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
/** SHA-256 of size bytes at offset, or undefined when the file ends before. */
function digest(fd, offset, size) {
  const hash = createHash('sha256');
  for (let pos = 0; pos < size; ) {
    const want = Math.min(CHUNK, size - pos);
    const got = readFull(fd, want, offset + pos);
    if (got !== want) return undefined;
    hash.update(buffer.subarray(0, got));
    pos += got;
  }
  return hash.digest();
}
function layers(m) {
  return m.regions.map((r) => digest(m.fd, r.offset, r.size)?.toString('hex') ?? null);
}
function files(m) {
  const { control, digests } = m.jobs;
  Atomics.store(control, 1, 1);
  try {
    claimAndHash(m, control, digests);
  } catch (error) {
    Atomics.compareExchange(control, 2, 0, -1); // before the job is released: the caller reads this after
    throw error;
  } finally {
    Atomics.store(control, 1, 0);
    Atomics.notify(control, 1);
  }
}
function claimAndHash(m, control, digests) {
  {
    for (;;) {
      const j = Atomics.add(control, 0, 1);
      if (j + 1 >= m.jobs.starts.length) break;
      for (let i = m.jobs.starts[j]; i < m.jobs.starts[j + 1]; i++) {
        const f = m.jobs.files[i];
        const d = digest(m.fd, f.offset, f.size);
        if (d === undefined) {
          Atomics.compareExchange(control, 2, 0, i + 1);
          return;
        }
        digests.set(d, i * 32);
        m.jobs.done[i] = 1;
      }
    }
  }
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'layers') parentPort.postMessage({ op: 'layers', digests: layers(m) });
    else if (m.op === 'files') files(m);
  } catch (error) {
    parentPort.postMessage({ op: 'error', message: String((error && error.message) || error) });
  }
});
`;

/** `Atomics.waitAsync` (Node 16+; not yet in TypeScript's ES2022 library). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync.bind(Atomics);

type Message = { op: 'layers'; digests: (string | null)[] } | { op: 'error'; message: string };

/** The second thread. Create it early (it takes tens of milliseconds to start); close it when done. */
export class HashWorker {
  private readonly worker: Worker;
  private readonly waiting: ((m: Message | Error) => void)[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (m: Message) => {
      if (m.op === 'error') this.fail(new Error(`hash worker: ${m.message}`));
      else this.waiting.shift()?.(m);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited with code ${code}`)));
    this.worker.unref(); // idle, it never keeps the process alive; awaited work refs it
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.splice(0)) w(this.failure);
  }

  /**
   * SHA-256 (lowercase hex) of each region of the file open as `fd`, or null for one the file ends inside.
   * Requests are answered in order.
   */
  async layers(fd: number, regions: FileRegion[]): Promise<(string | null)[]> {
    if (this.failure) throw this.failure;
    const answer = new Promise<Message | Error>((resolve) => this.waiting.push(resolve));
    this.worker.ref();
    this.worker.postMessage({ op: 'layers', fd, regions });
    const m = await answer;
    if (this.waiting.length === 0) this.worker.unref();
    if (m instanceof Error) throw m;
    if (m.op !== 'layers') throw new Error('hash worker answered out of order');
    return m.digests;
  }

  /**
   * Let the worker take jobs of `jobs` once it has answered every earlier request (the caller takes jobs
   * meanwhile). {@link filesDone} waits until it holds none.
   */
  files(fd: number, jobs: FileJobs): void {
    if (this.failure) return; // the caller hashes every job itself
    this.worker.postMessage({ op: 'files', fd, jobs });
  }

  /** Resolves once the worker holds no job of `jobs` (every job it claimed is hashed, or it failed). */
  async filesDone(jobs: FileJobs): Promise<void> {
    while (Atomics.load(jobs.control, 1) !== 0 && this.failure === undefined) {
      const wait = waitAsync(jobs.control, 1, 1, 100);
      if (wait.async) {
        this.worker.ref();
        await wait.value;
        this.worker.unref();
      }
    }
  }

  /** Stop the worker (it may be reading: wait for this before closing the descriptor). */
  async close(): Promise<void> {
    this.failure ??= new Error('hash worker closed');
    await this.worker.terminate();
  }
}
