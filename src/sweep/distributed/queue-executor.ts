import { memberKey } from '../../family/members.js';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { UsageError } from '../../errors.js';
import type { ResultRecord } from '../../run/results.js';
import { studySeeds, type StudyConfig } from '../../run/study.js';
import { longestUnitsFirst, unitLabel, type RunUnit } from '../../run/units.js';
import type { TrainingEvents } from '../../train/trainer.js';
import type { Executor, SweepReporter, UnitResult, UnitStarted, Work } from '../driver.js';
import { halvingRungs } from '../halving.js';
import { fromQueueReason, queueReasonText } from '../parallel/wire-error.js';
import { jobId, type ArchitectureJob, type JobProgress } from './jobs.js';
import { redactRedisUrl, type RedisConnection } from './redis-url.js';

/** A queue as `featshift sweep --queue` names it. */
export interface QueueOptions {
  url: string;
  connection: RedisConnection;
  name: string;
  attempts: number;
  /** Accept a queue that holds another sweep's jobs. */
  takeOver: boolean;
  pollMs?: number;
}

export interface QueueExecutorOptions extends QueueOptions {
  runId: string;
  dir: string;
  study: StudyConfig;
  /** Units still to train, for the first line about the queue. */
  todo: number;
  shouldStop: () => boolean;
}

/** The Redis key that names the sweep a queue belongs to. */
const ownerKey = (name: string): string => `featshift:${name}:run`;

type Returned = (ResultRecord & { paused?: boolean }) | null;

/** A job handed to the queue and followed until it ends. */
interface Followed {
  work: Work;
  started: UnitStarted;
  resolve: (result: UnitResult) => void;
  reject: (error: Error) => void;
  /** The reporter's events, once a worker took the job. */
  events?: TrainingEvents;
  /** Epochs already shown ended. */
  epochsShown: number;
}

/**
 * The queue as an executor: each unit becomes a BullMQ job (one id per run, unit and rung, so a
 * unit is never trained twice), and the executor follows the jobs by polling, turning a worker's
 * progress into the same training events a local unit gives. A job that fails on every attempt
 * comes back as failed, and the study goes on; a job Redis lost is enqueued again.
 */
export class QueueExecutor implements Executor {
  readonly concurrency = Number.POSITIVE_INFINITY;
  readonly resumeHint: string;
  private readonly o: QueueExecutorOptions;
  private readonly queue: Queue<ArchitectureJob, ResultRecord>;
  private readonly client: Redis;
  private readonly followed = new Map<string, Followed>();
  private toAdd: Followed[] = [];
  private reporter: SweepReporter | undefined;
  private enqueuedBefore = false;
  private closed = false;
  private outage = false;
  private readonly loop: Promise<void>;
  private wake: (() => void) | undefined;
  /** Following the queue failed: no unit can train any more. */
  private broken: Error | undefined;

  private constructor(
    options: QueueExecutorOptions,
    queue: Queue<ArchitectureJob, ResultRecord>,
    client: Redis,
  ) {
    this.o = options;
    this.queue = queue;
    this.client = client;
    this.resumeHint = `stopped following; the workers go on. Re-attach with: featshift sweep --resume '${options.dir}' --queue ${redactRedisUrl(options.url)}`;
    // An outage is told once, not once per retry; BullMQ and ioredis reconnect by themselves.
    const onError = (e: Error): void => {
      if (!this.outage) this.note(`queue error: ${e.message.split('\n')[0]}; retrying`);
      this.outage = true;
    };
    queue.on('error', onError);
    client.on('error', onError);
    client.on('ready', () => {
      if (this.outage) this.note('queue reachable again');
      this.outage = false;
    });
    this.loop = this.follow();
  }

  /** Connects, and claims the queue for this run (refused while another sweep's jobs wait). */
  static async connect(options: QueueExecutorOptions): Promise<QueueExecutor> {
    const queue = new Queue<ArchitectureJob, ResultRecord>(options.name, {
      connection: options.connection,
    });
    const client = new Redis({ ...options.connection, lazyConnect: true });
    try {
      await client.connect();
      const owner = await client.get(ownerKey(options.name));
      if (owner !== null && owner !== options.runId) {
        const counts = await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed');
        const busy = Object.values(counts).reduce((a, b) => a + b, 0);
        if (busy > 0 && !options.takeOver) {
          throw new UsageError(
            `queue '${options.name}' holds ${busy} unfinished jobs of another sweep (${owner}): use another --queue-name, or --take-over-queue to add this sweep beside them`,
            'queue',
          );
        }
      }
      await client.set(ownerKey(options.name), options.runId);
    } catch (error) {
      client.disconnect();
      await queue.close();
      throw error;
    }
    return new QueueExecutor(options, queue, client);
  }

  private note(message: string): void {
    this.reporter?.note?.(message);
  }

  order(units: RunUnit[]): RunUnit[] {
    return longestUnitsFirst(units);
  }

  announce(reporter: SweepReporter): void {
    this.reporter = reporter;
  }

  train(work: Work, started: UnitStarted): Promise<UnitResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.toAdd.push({ work, started, resolve, reject, epochsShown: 0 });
      this.wake?.();
    });
  }

  private label(unit: RunUnit): string {
    return unitLabel(unit, studySeeds(this.o.study).length);
  }

  private spec({ unit, untilEpoch }: Work, priority: number) {
    const { study, runId } = this.o;
    const { arch, seed } = unit;
    // Under halving a unit has a job per rung, named by the epoch it trains to.
    const rung = study.halving ? (untilEpoch ?? study.epochs) : undefined;
    return {
      name: `arch-${memberKey(arch)}-seed-${seed}${rung !== undefined ? `-epoch-${rung}` : ''}`,
      data: { runId, study, arch, seed, ...(untilEpoch !== undefined ? { untilEpoch } : {}) },
      opts: {
        jobId: jobId(runId, arch, seed, rung),
        priority,
        attempts: this.o.attempts,
        backoff: { type: 'exponential' as const, delay: 2000 },
      },
    };
  }

  /** Hands the new work to the queue: the first batch longest first, later ones ahead of it. */
  private async enqueue(): Promise<void> {
    const batch = this.toAdd;
    this.toAdd = [];
    if (batch.length === 0) return;
    const specs = batch.map((f, i) => this.spec(f.work, this.enqueuedBefore ? 1 : i + 1));
    // A job that failed for good in an earlier attempt of the sweep gets a new chance on resume.
    for (const spec of specs) {
      const existing = await this.queue.getJob(spec.opts.jobId);
      if (existing && (await existing.getState()) === 'failed') await existing.retry('failed');
    }
    await this.queue.addBulk(specs);
    for (const [i, f] of batch.entries()) this.followed.set(specs[i]?.opts.jobId as string, f);
    if (!this.enqueuedBefore) {
      const { study, url, name, dir } = this.o;
      this.note(
        `${redactRedisUrl(url)} queue '${name}': ${batch.length} jobs for ${dir}, longest first${study.halving ? `; successive halving (ASHA) at epochs ${halvingRungs(study).join(', ')}, eta ${study.eta}` : ''}`,
      );
    }
    this.enqueuedBefore = true;
  }

  /** Until closed: enqueue what came in, read every followed job's state, wait a moment. */
  private async follow(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.o.shouldStop()) this.stopFollowing();
        else {
          await this.enqueue();
          for (const [id, f] of [...this.followed]) await this.check(id, f);
        }
        await this.pause();
      }
    } catch (error) {
      // The queue refused a command (not an outage, which BullMQ rides out): every unit fails
      // with the error, which the driver throws once the others have settled.
      this.broken = error instanceof Error ? error : new Error(String(error));
      for (const f of [...this.followed.values(), ...this.toAdd]) f.reject(this.broken);
      this.followed.clear();
      this.toAdd = [];
    }
  }

  /** Waits a poll interval, or until new work or close() wakes it. */
  private async pause(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.o.pollMs ?? 1000);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async check(id: string, f: Followed): Promise<void> {
    const job = await this.queue.getJob(id);
    if (!job) {
      // Redis lost it (restarted without persistence, flushed): enqueue it again, first.
      this.note(
        `${this.label(f.work.unit)}: its job is gone from the queue (Redis lost it); enqueued again`,
      );
      const spec = this.spec(f.work, 1);
      await this.queue.add(spec.name, spec.data, spec.opts);
      return;
    }
    const state = await job.getState();
    if (state === 'completed') {
      // A job that completed between the read above and getState carries no result in that
      // read: read it again, or take it up next round.
      const returned =
        (job.returnvalue as Returned) ??
        ((await this.queue.getJob(id))?.returnvalue as Returned | undefined);
      if (!returned) return;
      const { paused, ...record } = returned;
      f.events ??= f.started(job.processedBy ? { where: job.processedBy } : {});
      this.end(id, f, { kind: 'trained', record, paused: paused === true });
    } else if (state === 'failed' && job.attemptsMade >= this.o.attempts) {
      const error = fromQueueReason(job.failedReason);
      this.end(id, f, {
        kind: 'failed',
        reason: queueReasonText(job.failedReason),
        error: error.name,
        attempts: job.attemptsMade,
      });
    } else if (state === 'active') this.progress(f, job);
  }

  private end(id: string, f: Followed, result: UnitResult): void {
    this.followed.delete(id);
    f.resolve(result);
  }

  /** A worker's progress as the training events a local unit gives. */
  private progress(f: Followed, job: Job<ArchitectureJob, ResultRecord>): void {
    const p = job.progress as Partial<JobProgress> | number;
    if (typeof p !== 'object') return;
    f.events ??= f.started({
      ...(p.worker !== undefined ? { where: p.worker } : {}),
      ...(p.imagesPerEpoch !== undefined ? { imagesPerEpoch: p.imagesPerEpoch } : {}),
    });
    const last = p.lastEpoch;
    if (last && last.epoch + 1 > f.epochsShown) {
      f.epochsShown = last.epoch + 1;
      f.events.epoch?.(last);
    }
    if (p.batch !== undefined && p.batches !== undefined && p.epoch !== undefined)
      f.events.step?.({
        epoch: p.epoch,
        batch: p.batch,
        batches: p.batches,
        images: p.images ?? 0,
        loss: p.loss ?? Number.NaN,
        accuracy: p.accuracy ?? 0,
        lr: p.lr ?? 0,
      });
  }

  /** A stop: every unit comes back stopped, and the workers go on with their jobs. */
  private stopFollowing(): void {
    for (const [id, f] of [...this.followed]) this.end(id, f, { kind: 'stopped' });
    for (const f of this.toAdd) f.resolve({ kind: 'stopped' });
    this.toAdd = [];
  }

  /** The driver gives up (a unit failed here): stop following; the workers go on with their jobs. */
  stop(): void {
    this.stopFollowing();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
    this.client.disconnect();
    await this.queue.close();
  }
}
