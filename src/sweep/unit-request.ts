import type { StudyConfig } from '../run/study.js';
import type { RunUnit } from '../run/units.js';
import type { TrainingConfig, TrainOptions } from '../train/trainer.js';
import type { buildLoaders, StudyData } from './study-data.js';

/**
 * What the trainer is given for one unit, built in one place for every executor: the request
 * (what the unit is, to which epoch, where its checkpoint lives; it crosses to a training process
 * or a queue's worker as it is) and what the training process adds (its loaders, its memory
 * budget, its stop flag).
 */

export type TrainRequest = Pick<
  TrainOptions,
  'id' | 'widths' | 'config' | 'untilEpoch' | 'layout' | 'memory' | 'peakBytes'
> & {
  checkpointPath: string;
};

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

/** The request to train a unit, to `untilEpoch` or to its end. */
export function trainRequest(
  study: StudyConfig,
  unit: RunUnit,
  data: Pick<StudyData, 'classes' | 'inputChannels'>,
  where: { device: string; checkpointPath: string },
  settled: {
    [K in 'untilEpoch' | 'layout' | 'memory' | 'peakBytes']?: TrainRequest[K] | undefined;
  } = {},
): TrainRequest {
  const { untilEpoch, layout, memory, peakBytes } = settled;
  return {
    id: unit.arch.id,
    widths: unit.arch.widths,
    config: trainingConfig(study, unit.seed, data, where.device),
    checkpointPath: where.checkpointPath,
    ...(untilEpoch !== undefined ? { untilEpoch } : {}),
    ...(layout !== undefined ? { layout } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(peakBytes !== undefined ? { peakBytes } : {}),
  };
}

/** The trainer's options: the request, with the loaders and limits of the process that trains. */
export function unitTrainOptions(
  request: TrainRequest,
  loaders: ReturnType<typeof buildLoaders>,
  process: { memoryLimit: number; shouldStop?: () => boolean },
): TrainOptions {
  return {
    ...request,
    train: loaders.train,
    test: loaders.test,
    trainImages: loaders.trainCount,
    memoryLimit: process.memoryLimit,
    ...(process.shouldStop ? { shouldStop: process.shouldStop } : {}),
  };
}
