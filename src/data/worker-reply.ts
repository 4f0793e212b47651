import { parentPort } from 'node:worker_threads';
import type { BatchReply } from './batch-workers.js';
import { errorFields } from './errors.js';
import type { Batch } from './loader.js';

/**
 * Answers a job of {@link BatchWorkers} from a loader thread: the batch, moved (it is built in
 * fresh, non-shared buffers), or the error that stopped it, with its class (a file refused by
 * name stays a DataError).
 */
export async function replyWith(id: number, build: () => Batch | Promise<Batch>): Promise<void> {
  let reply: BatchReply;
  try {
    reply = { id, batch: await build() };
  } catch (error) {
    parentPort?.postMessage({ id, error: errorFields(error) } satisfies BatchReply);
    return;
  }
  parentPort?.postMessage(reply, [
    reply.batch.x.buffer as ArrayBuffer,
    reply.batch.y.buffer as ArrayBuffer,
  ]);
}
