import { parentPort, workerData } from 'node:worker_threads';
import {
  buildFolderBatch,
  channelTables,
  type FolderBatchJob,
  type FolderWorkerData,
} from './image-folder-loader.js';
import { replyWith } from './worker-reply.js';

/** A loader thread of {@link ImageFolderLoader}: reads, decodes and transforms the batches it is asked for. */
const options = workerData as FolderWorkerData;
const tables = channelTables(options.normalize);

parentPort?.on('message', (job: FolderBatchJob & { id: number }) => {
  void replyWith(job.id, () => buildFolderBatch(job, options, tables));
});
