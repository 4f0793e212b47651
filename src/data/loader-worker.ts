import { parentPort, workerData } from 'node:worker_threads';
import type { ImageSet } from './image-set.js';
import { BatchLoader, type LoaderOptions } from './loader.js';
import type { SetBatchJob } from './parallel-loader.js';
import { replyWith } from './worker-reply.js';

/** A worker of {@link ParallelBatchLoader}: builds the batches it is asked for, from shared images. */
interface Init {
  images: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  wideLabels: boolean;
  set: Omit<ImageSet, 'images' | 'labels'>;
  options: LoaderOptions;
}

const init = workerData as Init;
const set: ImageSet = {
  ...init.set,
  images: new Uint8Array(init.images),
  labels: init.wideLabels ? new Int32Array(init.labels) : new Uint8Array(init.labels),
};
// The shared images are already at the patch size, or kept at their own for a float resize.
const loader = new BatchLoader(set, init.options);

parentPort?.on('message', (job: SetBatchJob & { id: number }) => {
  void replyWith(job.id, () => loader.build(job.indices, job.epoch, job.index));
});
