import { Job, Queue, type JobType } from 'bullmq';
import type { ResultRecord } from '../../run/results.js';
import { unitLabel } from '../../run/units.js';
import { jobDataProblem, type ArchitectureJob, type JobProgress } from './jobs.js';
import { queueReasonText } from '../parallel/wire-error.js';
import { printable } from '../../util/printable.js';
import type { RedisConnection } from './redis-url.js';

const duration = (s: number): string =>
  !Number.isFinite(s)
    ? '?'
    : s >= 3600
      ? `${(s / 3600).toFixed(1)} h`
      : s >= 60
        ? `${Math.round(s / 60)} min`
        : `${Math.round(s)} s`;

/** A job's unit as people read it; jobs of an older featshift carry no seed. */
const unitName = (data: ArchitectureJob): string =>
  unitLabel({ arch: data.arch, seed: data.seed }, (data.study.seeds?.length ?? 1) > 1 ? 2 : 1);

type FeatshiftJob = Job<ArchitectureJob, ResultRecord>;

/**
 * The jobs of some states, read one by one so that a job that is not featshift's (another
 * program's, or edited in Redis: data that is not JSON, or lacks an architecture) is set apart
 * with its reason instead of failing the whole listing.
 */
async function readJobs(
  queue: Queue<ArchitectureJob, ResultRecord>,
  types: JobType[],
  end: number,
  malformed: string[],
): Promise<FeatshiftJob[]> {
  const jobs: FeatshiftJob[] = [];
  for (const id of await queue.getRanges(types, 0, end)) {
    try {
      const job: FeatshiftJob | undefined = await Job.fromId(queue, id);
      if (!job) continue; // finished and removed meanwhile
      const problem = jobDataProblem(job.data);
      if (problem === undefined) jobs.push(job);
      else malformed.push(`${id}: ${problem}`);
    } catch (error) {
      malformed.push(
        `${id}: unreadable (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  return jobs;
}

/**
 * The state of a distributed sweep: jobs done, running (where, which epoch), failed and waiting,
 * each worker's measured throughput (MAC-images per second) and the ETA it implies.
 */
/** The MAC-images a job trains (a fraction of them: what is left of a running one). */
function jobCost(job: { data: ArchitectureJob; progress: unknown }, fraction = 1): number {
  const p = job.progress as Partial<JobProgress> | number;
  const images =
    typeof p === 'object' && p.imagesPerEpoch
      ? p.imagesPerEpoch
      : (job.data.study.trainSubset ?? 50000);
  // A halving job trains to its rung (an estimate: it may continue from an earlier one).
  return job.data.arch.macs * images * (job.data.untilEpoch ?? job.data.study.epochs) * fraction;
}

/** Throughput per worker from its finished jobs. */
function workerThroughput(
  completed: readonly {
    data: ArchitectureJob;
    progress: unknown;
    processedBy?: string | undefined;
    finishedOn?: number | undefined;
    processedOn?: number | undefined;
  }[],
): Map<string, { work: number; seconds: number; jobs: number }> {
  const throughput = new Map<string, { work: number; seconds: number; jobs: number }>();
  for (const job of completed) {
    const who = job.processedBy ?? 'unknown';
    const t = throughput.get(who) ?? { work: 0, seconds: 0, jobs: 0 };
    t.work += jobCost(job);
    t.seconds += Math.max(0.001, ((job.finishedOn ?? 0) - (job.processedOn ?? 0)) / 1000);
    t.jobs += 1;
    throughput.set(who, t);
  }
  return throughput;
}

export async function queueStatus(connection: RedisConnection, name: string): Promise<string> {
  const queue = new Queue<ArchitectureJob, ResultRecord>(name, { connection });
  try {
    const counts = await queue.getJobCounts(
      'completed',
      'active',
      'failed',
      'waiting',
      'prioritized',
      'delayed',
    );
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    const lines = [
      `queue '${name}': ${counts.completed ?? 0} done, ${counts.active ?? 0} running, ${counts.failed ?? 0} failed, ${waiting} waiting`,
    ];
    const malformed: string[] = [];
    const throughput = workerThroughput(await readJobs(queue, ['completed'], 999, malformed));
    let remaining = 0;
    const active = await readJobs(queue, ['active'], -1, malformed);
    if (active.length > 0) lines.push('running:');
    for (const job of active) {
      const p = job.progress as Partial<JobProgress> | number;
      const epoch =
        typeof p === 'object' && p.epochs
          ? `epoch ${Math.min((p.epoch ?? 0) + 1, p.epochs)}/${p.epochs}`
          : 'starting';
      const fraction =
        typeof p === 'object' && p.epochs
          ? 1 - ((p.epoch ?? 0) + (p.images ?? 0) / Math.max(1, p.imagesPerEpoch ?? 1)) / p.epochs
          : 1;
      remaining += jobCost(job, Math.max(0, fraction));
      lines.push(
        `  ${unitName(job.data)} on ${job.processedBy ?? (typeof p === 'object' ? p.worker : undefined) ?? '?'}: ${epoch}${job.data.untilEpoch !== undefined ? ` (halving: to the rung at epoch ${job.data.untilEpoch})` : ''}`,
      );
    }
    for (const job of await readJobs(queue, ['waiting', 'prioritized', 'delayed'], -1, malformed))
      remaining += jobCost(job);
    const failed = await readJobs(queue, ['failed'], 99, malformed);
    if (failed.length > 0) lines.push('failed:');
    for (const job of failed)
      lines.push(
        `  ${unitName(job.data)} after ${job.attemptsMade} attempts: ${queueReasonText(job.failedReason)}`,
      );
    let rate = 0;
    if (throughput.size > 0) lines.push('workers:');
    for (const [who, t] of throughput) {
      const r = t.work / t.seconds;
      rate += r;
      lines.push(`  ${who}: ${t.jobs} jobs, ${(r / 1e9).toFixed(2)} G MAC-images/s`);
    }
    if (malformed.length > 0) {
      lines.push(`not featshift jobs (left alone): ${malformed.length}`);
      for (const m of malformed.slice(0, 10)) lines.push(`  ${printable(m)}`);
      if (malformed.length > 10) lines.push(`  and ${malformed.length - 10} more`);
    }
    lines.push(
      `ETA: ${rate > 0 ? duration(remaining / rate) : 'unknown until a job has finished'}`,
    );
    return lines.join('\n');
  } finally {
    await queue.close();
  }
}
