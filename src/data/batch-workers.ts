import { Worker } from 'node:worker_threads';
import { errorFrom, type ErrorFields } from './errors.js';
import type { Batch } from './loader.js';

/** What a loader thread answers: the batch asked for, or why it could not build it. */
export type BatchReply = { id: number; batch: Batch } | { id: number; error: ErrorFields };

/**
 * Worker threads that build batches on request: a job goes to the thread of its batch index
 * (round robin), its batch comes back moved, not copied. Idle threads do not keep the process
 * alive; busy ones do, or it would exit mid-epoch.
 */
export class BatchWorkers<Job extends { index: number }> {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { resolve: (b: Batch) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;

  constructor(script: URL, workerData: unknown, threads: number) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const worker = new Worker(script, { workerData });
      worker.on('message', (m: BatchReply) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.holdProcess(false);
        if ('error' in m) p?.reject(errorFrom(m.error));
        else p?.resolve(m.batch);
      });
      worker.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      worker.unref();
      return worker;
    });
  }

  get threads(): number {
    return this.workers.length;
  }

  private holdProcess(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }

  request(job: Job): Promise<Batch> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.holdProcess(true);
      this.pending.set(id, { resolve, reject });
      (this.workers[job.index % this.workers.length] as Worker).postMessage({ ...job, id });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Batches `start` .. `total - 1` in order, `ahead` of them requested before they are consumed:
 * while the engine trains on one batch, the next ones are being built elsewhere.
 */
export async function* prefetched(
  start: number,
  total: number,
  ahead: number,
  request: (index: number) => Promise<Batch>,
): AsyncGenerator<Batch> {
  const queue: Promise<Batch>[] = [];
  let next = start;
  const fill = (): void => {
    while (queue.length < Math.max(1, ahead) && next < total) {
      const batch = request(next++);
      // A batch that fails while an earlier one is consumed is reported when its turn comes.
      batch.catch(() => undefined);
      queue.push(batch);
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
