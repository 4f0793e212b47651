import type { ImageSet } from './image-set.js';
import { BatchWorkers, prefetched } from './batch-workers.js';
import { BatchLoader, type Batch, type LoaderOptions } from './loader.js';

function shared(array: Uint8Array | Int32Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(array.byteLength);
  new Uint8Array(buffer).set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return buffer;
}

/** A job of loader-worker.ts: the images of one batch, by index into the shared set. */
export interface SetBatchJob {
  indices: Uint32Array;
  epoch: number;
  index: number;
}

/**
 * {@link BatchLoader}'s batches built by worker threads, ahead of the consumer: while the engine
 * trains on one batch, the next ones are being cropped, flipped and normalised elsewhere. The
 * batches are identical to BatchLoader's (the same seeded streams), in the same order.
 */
export class ParallelBatchLoader {
  readonly loader: BatchLoader;
  private readonly workers: BatchWorkers<SetBatchJob>;
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
    this.prefetch = prefetch;
    this.workers = new BatchWorkers(new URL('./loader-worker.js', import.meta.url), data, threads);
  }

  get batchesPerEpoch(): number {
    return this.loader.batchesPerEpoch;
  }

  batches(epoch: number, start = 0): AsyncGenerator<Batch> {
    const order = this.loader.order(epoch);
    const size = this.loader.batchSize;
    return prefetched(start, this.batchesPerEpoch, this.prefetch, (index) =>
      this.workers.request({
        indices: order.slice(index * size, (index + 1) * size),
        epoch,
        index,
      }),
    );
  }

  close(): Promise<void> {
    return this.workers.close();
  }
}
