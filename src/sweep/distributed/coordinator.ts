import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { UsageError } from '../../errors.js';
import { FAILED_FILE, RESULTS_FILE } from '../../run/files.js';
import {
  packageVersion,
  withRunFolder,
  readRunId,
  writeEnvironment,
  writeFailed,
  writeRunConfig,
  writeStoredSeeds,
  type RunFolder,
} from '../../run/folder.js';
import {
  readResults,
  recordResult,
  unitKey,
  writeReferenceCsvs,
  type ResultRecord,
  type RunSelection,
} from '../../run/results.js';
import { checkStudy, selectArchitectures, studySeeds } from '../../run/study.js';
import { runUnits, unitLabel, type RunUnit } from '../../run/units.js';
import { studyDataShape } from '../study-data.js';
import { sweepConclusion } from '../summary.js';
import type { SweepOutcome, SweepRequest } from '../sweep.js';
import { jobId, longestUnitsFirst, type ArchitectureJob, type JobProgress } from './jobs.js';
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
  if (study.halving) {
    throw new UsageError(
      'successive halving (--halving) runs on the local runner; the queue does not promote between rungs yet: drop --queue, or --halving',
      'halving',
    );
  }
  await probeRedis(options.connection, options.url);
  const architectures = selectArchitectures(study, await studyDataShape(study));
  const seeds = studySeeds(study);
  const selection: RunSelection = { ids: architectures.map((a) => a.id), seeds };
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
      seeds,
      started: new Date().toISOString(),
      note: 'trained by featshift workers: see each result',
    });
  } else if (folder.seedsAdded) await writeStoredSeeds(dir, seeds);
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

    const records = readResults(dir, study.seed);
    await writeReferenceCsvs(dir, records, selection, resumed);
    const done = new Set(records.map((r) => unitKey(r.id, r.seed)));
    const todo = longestUnitsFirst(
      runUnits(architectures, seeds).filter((u) => !done.has(unitKey(u.arch.id, u.seed))),
    );
    const failedUnits = new Set<string>();
    // A job that failed for good in an earlier attempt of the sweep gets a new chance on resume.
    for (const { arch, seed } of todo) {
      const existing = await queue.getJob(jobId(runId, arch.id, seed));
      if (existing && (await existing.getState()) === 'failed') await existing.retry('failed');
    }
    const jobOf = ({ arch, seed }: RunUnit, priority: number) => ({
      name: `arch-${arch.id}-seed-${seed}`,
      data: { runId, study, arch, seed },
      opts: {
        jobId: jobId(runId, arch.id, seed),
        priority,
        attempts: options.attempts,
        backoff: { type: 'exponential' as const, delay: 2000 },
      },
    });
    await queue.addBulk(todo.map((unit, i) => jobOf(unit, i + 1)));
    options.log(
      `${redactRedisUrl(options.url)} queue '${options.name}': ${todo.length} jobs for ${dir} (${done.size} ${seeds.length > 1 ? 'runs' : 'architectures'} already done), longest first`,
    );

    const pending = new Map<string, RunUnit>(todo.map((u) => [unitKey(u.arch.id, u.seed), u]));
    const lastSeen = new Map<string, string>();
    const failures: { id: number; seed: number; reason: string; attempts: number }[] = [];
    const label = (unit: RunUnit): string => unitLabel(unit, seeds.length);
    while (pending.size > 0) {
      if (request.shouldStop()) {
        options.log(
          `stopped following; the workers go on. Re-attach with: featshift sweep --resume '${dir}' --queue ${redactRedisUrl(options.url)}`,
        );
        return { dir, records, stopped: true };
      }
      for (const [key, unit] of [...pending]) {
        const job = await queue.getJob(jobId(runId, unit.arch.id, unit.seed));
        if (!job) {
          // Redis lost it (restarted without persistence, flushed): enqueue it again, first.
          options.log(
            `${label(unit)}: its job is gone from the queue (Redis lost it); enqueued again`,
          );
          const again = jobOf(unit, 1);
          await queue.add(again.name, again.data, again.opts);
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          const result = job.returnvalue;
          if (!done.has(key)) {
            done.add(key);
            await recordResult(dir, records, result, selection);
            const by = job.processedBy ? ` on ${job.processedBy}` : '';
            options.log(
              `${label(unit)} done${by}: best val ${result.bestVal.toFixed(2)}%; ${pending.size - 1} left`,
            );
          }
          pending.delete(key);
        } else if (state === 'failed' && job.attemptsMade >= options.attempts) {
          pending.delete(key);
          failedUnits.add(label(unit));
          failures.push({
            id: unit.arch.id,
            seed: unit.seed,
            reason: job.failedReason,
            attempts: job.attemptsMade,
          });
          await writeFailed(dir, failures);
          options.log(
            `${label(unit)} FAILED after ${job.attemptsMade} attempts: ${job.failedReason}; the sweep goes on`,
          );
        } else {
          const p = job.progress as Partial<JobProgress> | number;
          const where =
            typeof p === 'object' && p.worker
              ? ` on ${p.worker}, epoch ${(p.epoch ?? 0) + 0}/${p.epochs ?? '?'}`
              : '';
          const line = `${state}${where}`;
          if (lastSeen.get(key) !== line && state === 'active')
            options.log(`${label(unit)} ${line}`);
          lastSeen.set(key, line);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
    process.stdout.write(
      `\n${sweepConclusion(records, dir)}\n\nresults: ${join(dir, RESULTS_FILE)}${failedUnits.size ? `; failed: ${[...failedUnits].join('; ')} (see ${FAILED_FILE})` : ''}\n`,
    );
    return { dir, records, stopped: false, failed: [...failedUnits] };
  } finally {
    client.disconnect();
    await queue.close();
  }
}
