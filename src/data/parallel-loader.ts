import { Worker } from 'node:worker_threads';
import type { ImageSet } from './image-set.js';
import { BatchLoader, type Batch, type LoaderOptions } from './loader.js';

function shared(array: Uint8Array | Int32Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(array.byteLength);
  new Uint8Array(buffer).set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return buffer;
}

/**
 * {@link BatchLoader}'s batches built by worker threads, ahead of the consumer: while the engine
 * trains on one batch, the next ones are being cropped, flipped and normalised elsewhere. The
 * batches are identical to BatchLoader's (the same seeded streams), in the same order.
 */
export class ParallelBatchLoader {
  readonly loader: BatchLoader;
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { resolve: (b: Batch) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;
  private readonly prefetch: number;

  constructor(set: ImageSet, options: LoaderOptions, threads: number, prefetch = 2 * threads) {
    this.loader = new BatchLoader(set, options);
    const resized = this.loader.set;
    const data = {
      images: shared(resized.images),
      labels: shared(resized.labels),
      wideLabels: resized.labels instanceof Int32Array,
      set: { count: resized.count, channels: resized.channels, size: resized.size },
      options,
    };
    this.prefetch = Math.max(1, prefetch);
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const worker = new Worker(new URL('./loader-worker.js', import.meta.url), {
        workerData: data,
      });
      worker.on('message', (m: { id: number; batch: Batch }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.holdProcess(false);
        p?.resolve(m.batch);
      });
      worker.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      worker.unref();
      return worker;
    });
  }

  get batchesPerEpoch(): number {
    return this.loader.batchesPerEpoch;
  }

  // Idle workers must not keep the process alive; busy ones must, or it exits mid-epoch.
  private holdProcess(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }

  private request(indices: Uint32Array, epoch: number, index: number): Promise<Batch> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.holdProcess(true);
      this.pending.set(id, { resolve, reject });
      (this.workers[index % this.workers.length] as Worker).postMessage({
        id,
        indices,
        epoch,
        index,
      });
    });
  }

  async *batches(epoch: number, start = 0): AsyncGenerator<Batch> {
    const order = this.loader.order(epoch);
    const size = this.loader.batchSize;
    const total = this.batchesPerEpoch;
    const queue: Promise<Batch>[] = [];
    let next = start;
    const fill = (): void => {
      while (queue.length < this.prefetch && next < total) {
        queue.push(this.request(order.slice(next * size, (next + 1) * size), epoch, next));
        next++;
      }
    };
    fill();
    try {
      while (queue.length > 0) {
        const batch = await (queue.shift() as Promise<Batch>);
        fill();
        yield batch;
      }
    } finally {
      // A consumer that stops early (Ctrl-C, an abandoned architecture) leaves no work in flight.
      await Promise.allSettled(queue);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
