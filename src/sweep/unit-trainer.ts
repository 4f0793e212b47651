import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINTS_DIR, checkpointPath, singleSeedCheckpointName } from '../run/files.js';
import type { StudyConfig } from '../run/study.js';
import type { RunUnit } from '../run/units.js';
import type { MicroBatchChoice } from '../train/memory.js';
import {
  trainModel,
  TrainingStopped,
  type MemoryFormatChoice,
  type TrainingConfig,
  type TrainingEvents,
  type TrainingOutcome,
} from '../train/trainer.js';
import type { TrainerPool } from './parallel/pool.js';
import { SeedLoaders, type StudyData } from './study-data.js';

/** The trainer's configuration for one seed: the study's recipe, and what the data and device add. */
export function trainingConfig(
  study: StudyConfig,
  seed: number,
  data: Pick<StudyData, 'classes' | 'inputChannels'>,
  device: string,
): TrainingConfig {
  return {
    ...study,
    seed,
    microBatch: study.microBatch ?? study.batchSize,
    classes: data.classes,
    colors: data.inputChannels,
    device,
  };
}

/**
 * A run folder of a featshift older than seeds, stopped mid-architecture, holds its checkpoint
 * under the old name: resumed, it continues from there rather than from scratch.
 */
async function adoptSingleSeedCheckpoint(
  dir: string,
  id: number,
  seed: number,
  seeds: readonly number[],
): Promise<void> {
  const old = join(dir, CHECKPOINTS_DIR, singleSeedCheckpointName(id));
  const current = checkpointPath(dir, id, seed);
  if (seeds.length === 1 && existsSync(old) && !existsSync(current)) await rename(old, current);
}

export interface UnitTrainerOptions {
  dir: string;
  study: StudyConfig;
  seeds: readonly number[];
  data: StudyData;
  device: string;
  memoryLimit: number;
  /** Training processes (--parallel); none: units train in this process, one at a time. */
  pool: TrainerPool | undefined;
  /** Layouts already settled (by --parallel auto's timing), by architecture id. */
  layouts: ReadonlyMap<number, MemoryFormatChoice>;
  shouldStop: () => boolean;
}

/**
 * Trains the units of a local sweep, in this process or in its training processes, with their
 * checkpoints in the run folder. An architecture's first run times its layouts and settles its
 * micro-batch; its other seeds train in the same layout with the same micro-batch.
 */
export class UnitTrainer {
  private readonly o: UnitTrainerOptions;
  private readonly layouts: Map<number, MemoryFormatChoice>;
  private readonly memory = new Map<number, MicroBatchChoice>();
  private readonly loaders: SeedLoaders;

  constructor(options: UnitTrainerOptions) {
    this.o = options;
    this.layouts = new Map(options.layouts);
    this.loaders = new SeedLoaders(options.study, options.data);
  }

  /** Trains a unit (to `untilEpoch`, or to the end); undefined when a stop was requested. */
  async train(
    unit: RunUnit,
    shown: TrainingEvents,
    untilEpoch?: number,
  ): Promise<TrainingOutcome | undefined> {
    const { arch, seed } = unit;
    const { dir, study, data, device, pool } = this.o;
    const events: TrainingEvents = {
      ...shown,
      layout: (choice) => {
        if (!this.layouts.has(arch.id)) this.layouts.set(arch.id, choice);
        shown.layout?.(choice);
      },
      memory: (choice) => {
        if (!this.memory.has(arch.id)) this.memory.set(arch.id, choice);
        shown.memory?.(choice);
      },
    };
    await adoptSingleSeedCheckpoint(dir, arch.id, seed, this.o.seeds);
    const layout = this.layouts.get(arch.id);
    const memory = layout ? this.memory.get(arch.id) : undefined;
    const request = {
      id: arch.id,
      widths: arch.widths,
      config: trainingConfig(study, seed, data, device),
      checkpointPath: checkpointPath(dir, arch.id, seed),
      ...(untilEpoch !== undefined ? { untilEpoch } : {}),
      ...(layout ? { layout } : {}),
      ...(memory ? { memory } : {}),
    };
    if (pool) return pool.train(request, events);
    const loaders = await this.loaders.of(seed);
    try {
      return await trainModel(
        {
          ...request,
          train: loaders.train,
          test: loaders.test,
          trainImages: loaders.trainCount,
          memoryLimit: this.o.memoryLimit,
          shouldStop: this.o.shouldStop,
        },
        events,
      );
    } catch (error) {
      if (error instanceof TrainingStopped) return undefined;
      throw error;
    }
  }

  /** Ends the loaders' worker threads. */
  async close(): Promise<void> {
    await this.loaders.close();
  }
}
