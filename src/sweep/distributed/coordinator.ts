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
import { longestUnitsFirst, runUnits, unitLabel, type RunUnit } from '../../run/units.js';
import { studyDataShape } from '../study-data.js';
import { sweepConclusion } from '../summary.js';
import type { SweepOutcome, SweepRequest } from '../sweep.js';
import { readHalvingState, unpause, writeHalvingState } from '../../run/halving-state.js';
import { halvingRungs, promote as promotionRule } from '../halving.js';
import { ashaPromotions } from './asha.js';
import { jobId, type ArchitectureJob, type JobProgress } from './jobs.js';
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
  /**
   * Says the sweep is done, with every result (the summary as --json-log writes it); without it
   * the conclusion is printed as text.
   */
  conclude?: (records: ResultRecord[], dir: string) => void;
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
  if (study.halving) halvingRungs(study); // refuses rungs that end no cycle, before anything is written
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

    const records = readResults(dir, study.seed, selection);
    const rungs = study.halving ? halvingRungs(study) : [study.epochs];
    // Checked before anything is written: a damaged state must not record a different study.
    const halving = study.halving
      ? readHalvingState(dir, {
          ...selection,
          rungs,
          eta: study.eta,
          records,
          promote: promotionRule,
        })
      : undefined;
    await writeReferenceCsvs(dir, records, selection, resumed);
    const done = new Set(records.map((r) => unitKey(r.id, r.seed)));
    const label = (unit: RunUnit): string => unitLabel(unit, seeds.length);
    // Successive halving on the queue (ASHA): a job trains a unit to a rung; promotions follow.
    const promoted = halving ? (halving.promoted ??= rungs.map(() => [])) : [];
    /** A job: a unit trained to rung k (the last: to the end). */
    interface Work extends RunUnit {
      k: number;
    }
    const workKey = (w: Work): string => `${unitKey(w.arch.id, w.seed)}@${w.k}`;
    const jobOf = ({ arch, seed, k }: Work, priority: number) => {
      const last = k === rungs.length - 1;
      return {
        name: `arch-${arch.id}-seed-${seed}${study.halving ? `-epoch-${rungs[k]}` : ''}`,
        data: { runId, study, arch, seed, ...(last ? {} : { untilEpoch: rungs[k] }) },
        opts: {
          jobId: jobId(runId, arch.id, seed, study.halving ? rungs[k] : undefined),
          priority,
          attempts: options.attempts,
          backoff: { type: 'exponential' as const, delay: 2000 },
        },
      };
    };
    const byId = new Map(architectures.map((a) => [a.id, a]));
    /** The work a rung still owes: its entrants' seeds not ended and not yet paused there. */
    const owed = (k: number, ids: readonly number[]): Work[] =>
      runUnits(
        ids.map((id) => byId.get(id)).filter((x) => x !== undefined),
        seeds,
      )
        .filter((u) => {
          const key = unitKey(u.arch.id, u.seed);
          return !done.has(key) && (halving?.paused[key]?.valAcc.length ?? 0) < (rungs[k] ?? 0);
        })
        .map((unit) => ({ ...unit, k }));
    const pending = new Map<string, Work>();
    const enqueue = async (work: Work[], priority: (i: number) => number): Promise<void> => {
      // A job that failed for good in an earlier attempt of the sweep gets a new chance on resume.
      for (const w of work) {
        const existing = await queue.getJob(jobOf(w, 1).opts.jobId);
        if (existing && (await existing.getState()) === 'failed') await existing.retry('failed');
      }
      await queue.addBulk(work.map((w, i) => jobOf(w, priority(i))));
      for (const w of work) pending.set(workKey(w), w);
    };
    const initial = [
      ...owed(
        0,
        architectures.map((a) => a.id),
      ),
      ...promoted.flatMap((ids, k) => (k === 0 ? [] : owed(k, ids))),
    ];
    await enqueue(longestUnitsFirst(initial), (i) => i + 1);
    options.log(
      `${redactRedisUrl(options.url)} queue '${options.name}': ${pending.size} jobs for ${dir} (${done.size} ${seeds.length > 1 ? 'runs' : 'architectures'} already done), longest first${study.halving ? `; successive halving at epochs ${rungs.join(', ')}, eta ${study.eta}` : ''}`,
    );
    const failedUnits = new Set<string>();
    const lastSeen = new Map<string, string>();
    const failures: { id: number; seed: number; reason: string; attempts: number }[] = [];
    /** ASHA: send on whoever the results so far allow; with nothing left to run, end the race. */
    const promote = async (): Promise<void> => {
      if (!halving) return;
      const input = {
        rungs,
        eta: study.eta,
        seeds,
        ids: architectures.map((a) => a.id),
        promoted,
        paused: halving.paused,
        ended: new Map(records.map((r) => [unitKey(r.id, r.seed), r])),
      };
      const next = ashaPromotions(input, pending.size === 0);
      for (const [k, id] of next) {
        (promoted[k] as number[]).push(id);
        await writeHalvingState(dir, halving);
        options.log(`id ${id} goes on to epoch ${rungs[k]}`);
        await enqueue(owed(k, [id]), () => 1);
      }
      if (pending.size > 0) return;
      // Nothing runs and no one goes on: every paused run stops at the rung it reached.
      for (const [key, paused] of Object.entries(halving.paused)) {
        if (done.has(key)) continue;
        done.add(key);
        await recordResult(
          dir,
          records,
          { ...paused, stoppedAtRung: paused.valAcc.length },
          selection,
        );
      }
      halving.paused = {};
      await writeHalvingState(dir, halving);
    };
    await promote();
    while (pending.size > 0) {
      if (request.shouldStop()) {
        options.log(
          `stopped following; the workers go on. Re-attach with: featshift sweep --resume '${dir}' --queue ${redactRedisUrl(options.url)}`,
        );
        return { dir, records, stopped: true };
      }
      for (const [wkey, unit] of [...pending]) {
        const key = unitKey(unit.arch.id, unit.seed);
        const spec = jobOf(unit, 1);
        const job = await queue.getJob(spec.opts.jobId);
        if (!job) {
          // Redis lost it (restarted without persistence, flushed): enqueue it again, first.
          options.log(
            `${label(unit)}: its job is gone from the queue (Redis lost it); enqueued again`,
          );
          await queue.add(spec.name, spec.data, spec.opts);
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          type Returned = (ResultRecord & { paused?: boolean }) | null;
          // A job that completed between the read above and getState carries no result in that
          // read: read it again, or take it up next round.
          const returned =
            (job.returnvalue as Returned) ??
            ((await queue.getJob(spec.opts.jobId))?.returnvalue as Returned | undefined);
          if (!returned) continue;
          const { paused, ...result } = returned;
          pending.delete(wkey);
          const by = job.processedBy ? ` on ${job.processedBy}` : '';
          if (halving && paused === true) {
            halving.paused[key] = result;
            await writeHalvingState(dir, halving);
            options.log(
              `${label(unit)} reached epoch ${result.valAcc.length}${by}: best val ${result.bestVal.toFixed(2)}%`,
            );
          } else if (!done.has(key)) {
            done.add(key);
            await recordResult(dir, records, result, selection);
            if (halving) {
              unpause(halving, key);
              await writeHalvingState(dir, halving);
            }
            options.log(
              `${label(unit)} done${by}: best val ${result.bestVal.toFixed(2)}%; ${pending.size} jobs left`,
            );
          }
          await promote();
        } else if (state === 'failed' && job.attemptsMade >= options.attempts) {
          pending.delete(wkey);
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
          await promote();
        } else {
          const p = job.progress as Partial<JobProgress> | number;
          const where =
            typeof p === 'object' && p.worker
              ? ` on ${p.worker}, epoch ${(p.epoch ?? 0) + 0}/${p.epochs ?? '?'}`
              : '';
          const line = `${state}${where}`;
          if (lastSeen.get(wkey) !== line && state === 'active')
            options.log(`${label(unit)} ${line}`);
          lastSeen.set(wkey, line);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
    if (options.conclude) options.conclude(records, dir);
    else
      process.stdout.write(
        `\n${sweepConclusion(records, dir)}\n\nresults: ${join(dir, RESULTS_FILE)}${failedUnits.size ? `; failed: ${[...failedUnits].join('; ')} (see ${FAILED_FILE})` : ''}\n`,
      );
    return { dir, records, stopped: false, failed: [...failedUnits] };
  } finally {
    client.disconnect();
    await queue.close();
  }
}
