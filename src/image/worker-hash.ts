/**
 * SHA-256 on a second thread, over chunks the caller places in shared memory: lets {@link ImageFs.scan}
 * hash a layer tar (for its diff ID) on one core while it hashes the files inside it on another, reading
 * every byte once. The caller owns a ring of {@link SLOTS} buffers; a slot may be refilled only once the
 * worker has consumed it ({@link WorkerSha256.consumed}).
 */
import { Worker } from 'node:worker_threads';

/** Shared buffers the caller cycles through. */
export const SLOTS = 2;

// Plain script (eval'd): nothing to resolve at run time, so it also works from the bundled CLI.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const shared = new Uint8Array(workerData.buffer);
let hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    hash.update(shared.subarray(m.slot * workerData.slotSize, m.slot * workerData.slotSize + m.length));
    parentPort.postMessage({ op: 'consumed', slot: m.slot });
  } else if (m.op === 'digest') {
    parentPort.postMessage({ op: 'digest', hex: hash.digest('hex') });
    hash = createHash('sha256');
  }
});
`;

type Message = { op: 'consumed'; slot: number } | { op: 'digest'; hex: string };

export class WorkerSha256 {
  private readonly worker: Worker;
  private readonly shared: SharedArrayBuffer;
  private readonly waiting: ((m: Message) => void)[] = [];
  private failure: Error | undefined;
  private readonly inFlight: (Promise<void> | undefined)[] = [];

  constructor(readonly slotSize: number) {
    this.shared = new SharedArrayBuffer(slotSize * SLOTS);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { buffer: this.shared, slotSize } });
    this.worker.on('message', (m: Message) => this.waiting.shift()?.(m));
    const fail = (error: Error): void => {
      this.failure = error;
      for (const w of this.waiting.splice(0)) w({ op: 'digest', hex: '' });
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`hash worker exited with code ${code}`));
    });
  }

  /** The shared buffer of `slot` (fill it, then {@link update}). */
  slot(slot: number): Buffer {
    return Buffer.from(this.shared, slot * this.slotSize, this.slotSize);
  }

  private next(): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.waiting.push((m) => (this.failure ? reject(this.failure) : resolve(m)));
    });
  }

  /** Hash the first `length` bytes of `slot` (asynchronously: wait for {@link consumed} before refilling it). */
  update(slot: number, length: number): void {
    this.inFlight[slot] = this.next().then(() => undefined);
    this.worker.postMessage({ op: 'update', slot, length });
  }

  /** Resolves once the worker no longer reads `slot`. */
  async consumed(slot: number): Promise<void> {
    await this.inFlight[slot];
    this.inFlight[slot] = undefined;
  }

  /** The digest of everything given since the last digest (lowercase hex); the hash starts over. */
  async digest(): Promise<string> {
    const done = this.next();
    this.worker.postMessage({ op: 'digest' });
    const m = await done;
    if (m.op !== 'digest') throw new Error('hash worker answered out of order');
    return m.hex;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
