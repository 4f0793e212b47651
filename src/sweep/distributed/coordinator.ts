import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { UsageError } from '../../errors.js';
import type { Architecture } from '../../family/skew-normal.js';
import { FAILED_FILE, RESULTS_FILE } from '../../run/files.js';
import {
  packageVersion,
  withRunFolder,
  readRunId,
  writeEnvironment,
  writeFailed,
  writeRunConfig,
  type RunFolder,
} from '../../run/folder.js';
import {
  readResults,
  recordResult,
  writeReferenceCsvs,
  type ResultRecord,
} from '../../run/results.js';
import { checkStudy, selectArchitectures } from '../../run/study.js';
import { studyDataShape } from '../study-data.js';
import { summaryTable } from '../summary.js';
import type { SweepOutcome, SweepRequest } from '../sweep.js';
import { jobId, longestFirst, type ArchitectureJob, type JobProgress } from './jobs.js';
import { probeRedis, QueueUnreachableError } from './redis-probe.js';
import { redactRedisUrl, type RedisConnection } from './redis-url.js';

export interface QueueOptions {
  url: string;
  connection: RedisConnection;
  name: string;
  attempts: number;
  /** Accept a queue that holds another sweep's jobs. */
  takeOver: boolean;
  pollMs?: number;
  log: (line: string) => void;
}

/** The Redis key that names the sweep a queue belongs to. */
const ownerKey = (name: string): string => `featshift:${name}:run`;

/**
 * Enqueues a sweep (one job per architecture, longest first) and follows it: each finished job's
 * result is written into the run folder exactly as a local sweep writes it, once per
 * architecture however often a job was delivered. Stopping the coordinator leaves the jobs to the
 * workers; `--resume` re-attaches to the queue's state.
 */
export function runDistributedSweep(
  request: SweepRequest,
  options: QueueOptions,
): Promise<SweepOutcome> {
  return withRunFolder(
    request,
    (error) => error instanceof UsageError || error instanceof QueueUnreachableError,
    (folder) => followQueue(folder, request, options),
  );
}

async function followQueue(
  folder: RunFolder,
  request: SweepRequest,
  options: QueueOptions,
): Promise<SweepOutcome> {
  const { dir, study, resumed } = folder;
  checkStudy(study);
  await probeRedis(options.connection, options.url);
  const architectures = selectArchitectures(study, await studyDataShape(study));
  const selection = architectures.map((a) => a.id);
  // A run's jobs are named after an id stored in its config.json, not after how its path is spelt.
  const runId = resumed ? (readRunId(dir) ?? resolve(dir)) : randomUUID();
  if (!resumed) {
    await writeRunConfig(dir, study, architectures, {
      runId,
      queue: redactRedisUrl(options.url),
      queueName: options.name,
    });
    await writeEnvironment(dir, {
      featshift: packageVersion(),
      queue: redactRedisUrl(options.url),
      queueName: options.name,
      seed: study.seed,
      started: new Date().toISOString(),
      note: 'trained by featshift workers: see each result',
    });
  }
  const queue = new Queue<ArchitectureJob, ResultRecord>(options.name, {
    connection: options.connection,
  });
  // An outage is told once, not once per retry; BullMQ and ioredis reconnect by themselves.
  let outage = false;
  const onError = (e: Error): void => {
    if (!outage) options.log(`queue error: ${e.message.split('\n')[0]}; retrying`);
    outage = true;
  };
  queue.on('error', onError);
  const client = new Redis({ ...options.connection, lazyConnect: true });
  client.on('error', onError);
  client.on('ready', () => {
    if (outage) options.log('queue reachable again');
    outage = false;
  });
  try {
    await client.connect();
    const owner = await client.get(ownerKey(options.name));
    if (owner !== null && owner !== runId) {
      const counts = await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed');
      const busy = Object.values(counts).reduce((a, b) => a + b, 0);
      if (busy > 0 && !options.takeOver) {
        throw new UsageError(
          `queue '${options.name}' holds ${busy} unfinished jobs of another sweep (${owner}): use another --queue-name, or --take-over-queue to add this sweep beside them`,
          'queue',
        );
      }
    }
    await client.set(ownerKey(options.name), runId);

    const records = readResults(dir);
    await writeReferenceCsvs(dir, records, selection, resumed);
    const done = new Set(records.map((r) => r.id));
    const todo = longestFirst(architectures.filter((a) => !done.has(a.id)));
    const failedIds = new Set<number>();
    // A job that failed for good in an earlier attempt of the sweep gets a new chance on resume.
    for (const arch of todo) {
      const existing = await queue.getJob(jobId(runId, arch.id));
      if (existing && (await existing.getState()) === 'failed') await existing.retry('failed');
    }
    const jobOf = (arch: Architecture, priority: number) => ({
      name: `arch-${arch.id}`,
      data: { runId, study, arch },
      opts: {
        jobId: jobId(runId, arch.id),
        priority,
        attempts: options.attempts,
        backoff: { type: 'exponential' as const, delay: 2000 },
      },
    });
    await queue.addBulk(todo.map((arch, i) => jobOf(arch, i + 1)));
    options.log(
      `${redactRedisUrl(options.url)} queue '${options.name}': ${todo.length} jobs for ${dir} (${done.size} architectures already done), longest first`,
    );

    const pending = new Map<number, Architecture>(todo.map((a) => [a.id, a]));
    const lastSeen = new Map<number, string>();
    const failures: { id: number; reason: string; attempts: number }[] = [];
    while (pending.size > 0) {
      if (request.shouldStop()) {
        options.log(
          `stopped following; the workers go on. Re-attach with: featshift sweep --resume '${dir}' --queue ${redactRedisUrl(options.url)}`,
        );
        return { dir, records, stopped: true };
      }
      for (const [id, arch] of [...pending]) {
        const job = await queue.getJob(jobId(runId, id));
        if (!job) {
          // Redis lost it (restarted without persistence, flushed): enqueue it again, first.
          options.log(`id ${id}: its job is gone from the queue (Redis lost it); enqueued again`);
          await queue.add(jobOf(arch, 1).name, jobOf(arch, 1).data, jobOf(arch, 1).opts);
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          const result = job.returnvalue;
          if (!done.has(id)) {
            done.add(id);
            await recordResult(dir, records, result, selection);
            const by = job.processedBy ? ` on ${job.processedBy}` : '';
            options.log(
              `id ${id} done${by}: best val ${result.bestVal.toFixed(2)}%; ${pending.size - 1} left`,
            );
          }
          pending.delete(id);
        } else if (state === 'failed' && job.attemptsMade >= options.attempts) {
          pending.delete(id);
          failedIds.add(id);
          failures.push({ id, reason: job.failedReason, attempts: job.attemptsMade });
          await writeFailed(dir, failures);
          options.log(
            `id ${arch.id} FAILED after ${job.attemptsMade} attempts: ${job.failedReason}; the sweep goes on`,
          );
        } else {
          const p = job.progress as Partial<JobProgress> | number;
          const where =
            typeof p === 'object' && p.worker
              ? ` on ${p.worker}, epoch ${(p.epoch ?? 0) + 0}/${p.epochs ?? '?'}`
              : '';
          const line = `${state}${where}`;
          if (lastSeen.get(id) !== line && state === 'active') options.log(`id ${id} ${line}`);
          lastSeen.set(id, line);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
    process.stdout.write(
      `\n${summaryTable(records)}\n\nresults: ${join(dir, RESULTS_FILE)}${failedIds.size ? `; failed: ${[...failedIds].join(', ')} (see ${FAILED_FILE})` : ''}\n`,
    );
    return { dir, records, stopped: false, failed: [...failedIds] };
  } finally {
    client.disconnect();
    await queue.close();
  }
}
