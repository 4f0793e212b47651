import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { memberKey, type MemberKey } from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';
import { CHECKPOINTS_DIR, checkpointPath, singleSeedCheckpointName } from '../run/files.js';
import type { ResultRecord } from '../run/results.js';
import type { StudyConfig } from '../run/study.js';
import { seedRoundsLongestFirst, type RunUnit } from '../run/units.js';
import type { MicroBatchChoice } from '../train/memory.js';
import {
  trainModel,
  TrainingStopped,
  type MemoryFormatChoice,
  type TrainingEvents,
  type TrainingOutcome,
} from '../train/trainer.js';
import type { Executor, SweepReporter, UnitResult, UnitStarted, Work } from './driver.js';
import { unitRecord } from './halving.js';
import type { ParallelChoice } from './parallel/choose.js';
import type { TrainerPool } from './parallel/pool.js';
import { loaderThreadsFor, SeedLoaders, type StudyData } from './study-data.js';
import { trainRequest, unitTrainOptions } from './unit-request.js';

/**
 * A run folder of a featshift older than seeds, stopped mid-architecture, holds its checkpoint
 * under the old name: resumed, it continues from there rather than from scratch.
 */
async function adoptSingleSeedCheckpoint(
  dir: string,
  arch: Architecture,
  seed: number,
  seeds: readonly number[],
): Promise<void> {
  // Linear members came after seeds: only the paper's family has checkpoints of the old name.
  if (arch.family === 'linear') return;
  const old = join(dir, CHECKPOINTS_DIR, singleSeedCheckpointName(arch.id));
  const current = checkpointPath(dir, arch, seed);
  if (seeds.length === 1 && existsSync(old) && !existsSync(current)) await rename(old, current);
}

export interface LocalExecutorOptions {
  dir: string;
  study: StudyConfig;
  seeds: readonly number[];
  data: StudyData;
  device: string;
  memoryLimit: number;
  keepCheckpoints: boolean;
  /** How the cores are shared; with more than one process, `pool` trains. */
  split: ParallelChoice;
  /** Training processes (--parallel); none: units train in this process, one at a time. */
  pool: TrainerPool | undefined;
  /** Layouts already settled (by --parallel auto's timing), by architecture id. */
  layouts: ReadonlyMap<MemberKey, MemoryFormatChoice>;
  /** Peak bytes of a step measured by that timing at the training processes' threads, by id. */
  peaks: ReadonlyMap<MemberKey, number>;
  shouldStop: () => boolean;
}

/**
 * Trains a local sweep's units, in this process or in its training processes, with their
 * checkpoints in the run folder. An architecture's first run times its layouts and settles its
 * micro-batch; its other seeds train in the same layout with the same micro-batch.
 */
export class LocalExecutor implements Executor {
  readonly concurrency: number;
  private readonly o: LocalExecutorOptions;
  private readonly layouts: Map<MemberKey, MemoryFormatChoice>;
  private readonly memory = new Map<MemberKey, MicroBatchChoice>();
  private readonly loaders: SeedLoaders;
  private readonly watch: NodeJS.Timeout | undefined;
  private stopAsked = false;

  constructor(options: LocalExecutorOptions) {
    this.o = options;
    this.concurrency = options.split.processes;
    this.layouts = new Map(options.layouts);
    this.loaders = new SeedLoaders(options.study, options.data, loaderThreadsFor(options.device));
    const { pool, shouldStop } = options;
    // The training processes learn of a stop by message; this process by its own flag.
    this.watch = pool
      ? setInterval(() => {
          if (shouldStop()) pool.stop();
        }, 50)
      : undefined;
  }

  order(units: RunUnit[]): RunUnit[] {
    // Several at once: longest first, so that the last to finish is a short one.
    return this.o.pool ? seedRoundsLongestFirst(units) : units;
  }

  announce(reporter: SweepReporter): void {
    reporter.parallel(this.o.split);
  }

  async train(work: Work, started: UnitStarted): Promise<UnitResult> {
    const outcome = await this.trainUnit(work, started({}));
    if (!outcome) return { kind: 'stopped' };
    const record = unitRecord(this.o.study, work.unit.arch, work.unit.seed, outcome);
    return { kind: 'trained', record, paused: outcome.paused };
  }

  /** Trains a unit (to its rung, or to the end); undefined when a stop was requested. */
  private async trainUnit(
    { unit, untilEpoch }: Work,
    shown: TrainingEvents,
  ): Promise<TrainingOutcome | undefined> {
    const { arch, seed } = unit;
    const key = memberKey(arch);
    const { dir, study, data, device, pool } = this.o;
    const events: TrainingEvents = {
      ...shown,
      layout: (choice) => {
        if (!this.layouts.has(key)) this.layouts.set(key, choice);
        shown.layout?.(choice);
      },
      memory: (choice) => {
        if (!this.memory.has(key)) this.memory.set(key, choice);
        shown.memory?.(choice);
      },
    };
    await adoptSingleSeedCheckpoint(dir, arch, seed, this.o.seeds);
    const layout = this.layouts.get(key);
    const request = trainRequest(
      study,
      unit,
      data,
      { device, checkpointPath: checkpointPath(dir, arch, seed) },
      {
        untilEpoch,
        layout,
        memory: layout ? this.memory.get(key) : undefined,
        peakBytes: this.o.peaks.get(key),
      },
    );
    if (pool) return pool.train(request, events);
    const loaders = await this.loaders.of(seed);
    const shouldStop = (): boolean => this.stopAsked || this.o.shouldStop();
    try {
      return await trainModel(
        unitTrainOptions(request, loaders, { memoryLimit: this.o.memoryLimit, shouldStop }),
        events,
      );
    } catch (error) {
      if (error instanceof TrainingStopped) return undefined;
      throw error;
    }
  }

  stop(): void {
    this.stopAsked = true;
    this.o.pool?.stop();
  }

  /** A recorded run's checkpoint goes, unless kept. */
  async ended(record: ResultRecord): Promise<void> {
    if (!this.o.keepCheckpoints)
      await rm(checkpointPath(this.o.dir, record, record.seed), { force: true });
  }

  async finished(): Promise<void> {
    if (!this.o.keepCheckpoints)
      await rm(join(this.o.dir, CHECKPOINTS_DIR), { recursive: true, force: true });
  }

  /** Ends the loaders' worker threads and the training processes. */
  async close(): Promise<void> {
    clearInterval(this.watch);
    await this.loaders.close();
    await this.o.pool?.close();
  }
}
