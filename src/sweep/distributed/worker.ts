import { memberKey } from '../../family/members.js';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { checkDevice } from '../../engine/runtime.js';
import type { ResultRecord } from '../../run/results.js';
import { workerSettingsEnv, type ArchitectureJob } from './jobs.js';
import { redactRedisUrl, type RedisConnection } from './redis-url.js';

export interface WorkerOptions {
  url: string;
  connection: RedisConnection;
  queueName: string;
  devices: string[];
  concurrency: number;
  threads: number | null;
  dataDir: string | null;
  checkpointDir: string | null;
  memoryLimit: number | null;
  /** How long a job's lock lives without renewal; a crashed worker's job is taken over after it. */
  lockMs: number;
  log: (line: string) => void;
}

const PROCESSOR = fileURLToPath(new URL('./processor.js', import.meta.url));

/**
 * One BullMQ worker per device, each training its jobs in sandboxed child processes (so a long
 * training step never blocks lock renewal): on a machine with several GPUs, one independent model
 * per GPU, instead of the reference's DataParallel.
 */
export function startWorkers(options: WorkerOptions): {
  workers: Worker[];
  close: () => Promise<void>;
} {
  const devices = options.devices.map((d) => checkDevice(d));
  const state = { running: 0, redisDown: false };
  const workers = devices.map((device) => deviceWorker(device, options, state));
  return {
    workers,
    // With jobs running and Redis up, wait for them; otherwise there is nothing to finish, and
    // waiting for an unreachable Redis would take a second Ctrl-C.
    close: async () => {
      const closing = Promise.all(workers.map((w) => w.close(state.running === 0)));
      if (state.running > 0 && !state.redisDown) {
        await closing;
        return;
      }
      const settle = (p: Promise<unknown>, ms: number): Promise<unknown> =>
        Promise.race([p, new Promise((resolve) => setTimeout(resolve, ms))]);
      await settle(closing, 2000);
      // An unreachable Redis may never answer a disconnect either.
      await settle(Promise.all(workers.map((w) => w.disconnect())), 1000);
    },
  };
}

/** One BullMQ worker for one device, its jobs forked with the worker's settings, its events logged. */
function deviceWorker(
  device: string,
  options: WorkerOptions,
  state: { running: number; redisDown: boolean },
): Worker<ArchitectureJob, ResultRecord> {
  const name = `${hostname()}:${process.pid}:${device}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...workerSettingsEnv({
      device,
      name,
      dataDir: options.dataDir,
      checkpointDir: options.checkpointDir,
      memoryLimit: options.memoryLimit,
    }),
    ...(options.threads !== null ? { FEATSHIFT_THREADS: String(options.threads) } : {}),
  };
  const worker = new Worker<ArchitectureJob, ResultRecord>(options.queueName, PROCESSOR, {
    connection: options.connection,
    name,
    concurrency: options.concurrency,
    useWorkerThreads: false,
    workerForkOptions: { env },
    lockDuration: options.lockMs,
    stalledInterval: Math.max(1000, Math.floor(options.lockMs / 2)),
    maxStalledCount: 3,
  });
  let waiting = false;
  worker.on('error', (e) => {
    if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection is closed/.test(e.message)) {
      if (!waiting)
        options.log(
          `waiting for Redis at ${redactRedisUrl(options.url)} (${e.message.split('\n')[0]}); retrying with back-off`,
        );
      waiting = true;
      state.redisDown = true;
      return;
    }
    options.log(`worker error: ${e.message.split('\n')[0]}`);
  });
  worker.on('ready', () => {
    if (waiting) options.log(`connected to Redis at ${redactRedisUrl(options.url)}`);
    waiting = false;
    state.redisDown = false;
  });
  worker.on('active', (job) => {
    state.running++;
    options.log(
      `${device}: training id ${memberKey(job.data.arch)}, seed ${job.data.seed} (job ${job.id ?? '?'}, attempt ${job.attemptsMade + 1})`,
    );
  });
  worker.on('completed', (job, result) => {
    state.running--;
    options.log(
      `${device}: id ${memberKey(job.data.arch)}, seed ${job.data.seed} done, best val ${result.bestVal.toFixed(2)}%`,
    );
  });
  worker.on('failed', (job, error) => {
    if (job) state.running--;
    options.log(
      `${device}: id ${job ? memberKey(job.data.arch) : '?'} failed: ${error.message.split('\n')[0]}`,
    );
  });
  return worker;
}
