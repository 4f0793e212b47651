import { Queue } from 'bullmq';
import type { ResultRecord } from '../../run/results.js';
import { unitLabel } from '../../run/units.js';
import type { ArchitectureJob, JobProgress } from './jobs.js';
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

/**
 * The state of a distributed sweep: jobs done, running (where, which epoch), failed and waiting,
 * each worker's measured throughput (MAC-images per second) and the ETA it implies.
 */
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
    const cost = (job: { data: ArchitectureJob; progress: unknown }, fraction = 1): number => {
      const p = job.progress as Partial<JobProgress> | number;
      const images =
        typeof p === 'object' && p.imagesPerEpoch
          ? p.imagesPerEpoch
          : (job.data.study.trainSubset ?? 50000);
      // A halving job trains to its rung (an estimate: it may continue from an earlier one).
      return (
        job.data.arch.macs * images * (job.data.untilEpoch ?? job.data.study.epochs) * fraction
      );
    };
    // Throughput per worker from its finished jobs.
    const throughput = new Map<string, { work: number; seconds: number; jobs: number }>();
    for (const job of await queue.getCompleted(0, 999)) {
      const who = job.processedBy ?? 'unknown';
      const t = throughput.get(who) ?? { work: 0, seconds: 0, jobs: 0 };
      t.work += cost(job);
      t.seconds += Math.max(0.001, ((job.finishedOn ?? 0) - (job.processedOn ?? 0)) / 1000);
      t.jobs += 1;
      throughput.set(who, t);
    }
    let remaining = 0;
    const active = await queue.getActive();
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
      remaining += cost(job, Math.max(0, fraction));
      lines.push(
        `  ${unitName(job.data)} on ${job.processedBy ?? (typeof p === 'object' ? p.worker : undefined) ?? '?'}: ${epoch}${job.data.untilEpoch !== undefined ? ` (halving: to the rung at epoch ${job.data.untilEpoch})` : ''}`,
      );
    }
    for (const job of [
      ...(await queue.getWaiting()),
      ...(await queue.getPrioritized()),
      ...(await queue.getDelayed()),
    ])
      remaining += cost(job);
    const failed = await queue.getFailed(0, 99);
    if (failed.length > 0) lines.push('failed:');
    for (const job of failed)
      lines.push(`  ${unitName(job.data)} after ${job.attemptsMade} attempts: ${job.failedReason}`);
    let rate = 0;
    if (throughput.size > 0) lines.push('workers:');
    for (const [who, t] of throughput) {
      const r = t.work / t.seconds;
      rate += r;
      lines.push(`  ${who}: ${t.jobs} jobs, ${(r / 1e9).toFixed(2)} G MAC-images/s`);
    }
    lines.push(
      `ETA: ${rate > 0 ? duration(remaining / rate) : 'unknown until a job has finished'}`,
    );
    return lines.join('\n');
  } finally {
    await queue.close();
  }
}
