import { UsageError } from '../errors.js';
import type { GridRange } from '../family/skew-normal.js';
import type { InitScheme } from '../models/init.js';

/** Everything that decides a sweep's results; stored in the run folder's config.json. */
export interface StudyConfig {
  dataset: string;
  /** Image folders (the reference's --train-data / --val-data), for the dataset ImageFolder. */
  trainData: string | null;
  valData: string | null;
  depth: number;
  patchSize: number;
  xi: GridRange | null;
  omega: GridRange;
  alpha: GridRange;
  minFeatures: number;
  areaTolerance: number;
  totalFeatures: number | null;
  widthMultiplier: number | null;
  /** The selection, as given (such as '1-10,17'); null for every member. */
  ids: string | null;
  includeBaseline: boolean;
  epochs: number;
  batchSize: number;
  /** Images per forward and backward pass (a divisor of the batch size); null: the whole batch. */
  microBatch: number | null;
  /** Split further where the micro-batch does not fit this host's memory (numbers then vary). */
  allowSplit: boolean;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  batchNormEps: number;
  lrCycle: number;
  lrMultiplier: number;
  lrMin: number;
  init: InitScheme;
  normalize: boolean;
  gcn: boolean;
  seed: number;
  trainSubset: number | null;
  valSubset: number | null;
  channelsLast: boolean;
}

/** How a sweep runs on this machine; may change between a run and its resume. */
export interface RuntimeConfig {
  device: string;
  threads: number | null;
  memoryLimit: number | null;
  dataDir: string | null;
  keepCheckpoints: boolean;
  quiet: boolean;
  jsonLog: boolean;
}

/** The reference's defaults (SPEC.md section 3, lib/cmdparser.py). */
export const REFERENCE_DEFAULTS: StudyConfig = {
  dataset: 'CIFAR10',
  trainData: null,
  valData: null,
  depth: 16,
  patchSize: 32,
  xi: null,
  omega: { min: 0, max: 5.5, step: 0.5 },
  alpha: { min: -40, max: 40, step: 4 },
  minFeatures: 2,
  areaTolerance: 0.05,
  totalFeatures: null,
  widthMultiplier: null,
  ids: null,
  includeBaseline: false,
  epochs: 150,
  batchSize: 128,
  microBatch: null,
  allowSplit: false,
  lr: 0.01,
  momentum: 0.9,
  nesterov: false,
  weightDecay: 5e-4,
  batchNormEps: 1e-4,
  lrCycle: 10,
  lrMultiplier: 2,
  lrMin: 1e-5,
  init: 'kaiming-normal',
  normalize: false,
  gcn: false,
  seed: 0,
  trainSubset: null,
  valSubset: null,
  channelsLast: true,
};

/**
 * The embedded default (`featshift sweep` with no arguments): a small but meaningful study that
 * runs offline in about 10 minutes on 2 cores. Fashion-MNIST from Debian's package, the VGG-16
 * family at 1/8 of its features, one member for each of five locations spread over the layers
 * plus the baseline, 4 epochs (one warm-restart cycle) on the first 6000 training and 2000 test
 * images.
 */
export const EMBEDDED_DEFAULT: Partial<StudyConfig> = {
  dataset: 'FashionMNIST',
  widthMultiplier: 0.125,
  includeBaseline: true,
  epochs: 4,
  lrCycle: 4,
  trainSubset: 6000,
  valSubset: 2000,
};

/** Parses '1-10,17' into sorted unique ids; refuses malformed ranges. */
export function parseIds(text: string): number[] {
  const ids = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m)
      throw new UsageError(
        `'${part}' is not an id or a range such as 1-10 (use --ids 1-10,17)`,
        'ids',
      );
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new UsageError(`the range '${part.trim()}' runs backwards`, 'ids');
    for (let i = from; i <= to; i++) ids.add(i);
  }
  return [...ids].sort((a, b) => a - b);
}

/** The keys whose values differ between a stored study and a requested one. */
export function changedKeys(stored: StudyConfig, requested: Partial<StudyConfig>): string[] {
  return (Object.keys(requested) as (keyof StudyConfig)[]).filter(
    (k) => requested[k] !== undefined && JSON.stringify(requested[k]) !== JSON.stringify(stored[k]),
  );
}

/**
 * Refuses a study whose options are out of range or contradict each other, before anything is
 * written: a negative momentum, a micro-batch that does not divide the batch, an image-folder
 * study without both folders.
 */
export function checkStudy(study: StudyConfig): void {
  const atLeastZero: [keyof StudyConfig, string][] = [
    ['momentum', 'momentum'],
    ['weightDecay', 'weight-decay'],
    ['lrMin', 'lr-wr-min'],
  ];
  for (const [key, option] of atLeastZero) {
    const value = study[key] as number;
    if (!(value >= 0)) throw new UsageError(`--${option} must be 0 or more, got ${value}`, option);
  }
  if (study.nesterov && study.momentum <= 0) {
    throw new UsageError('Nesterov momentum needs a --momentum above 0', 'nesterov');
  }
  if (study.microBatch !== null && study.batchSize % study.microBatch !== 0) {
    throw new UsageError(
      `a micro-batch of ${study.microBatch} does not divide the batch size ${study.batchSize}: give a divisor of it`,
      'micro-batch',
    );
  }
  const folders = study.trainData !== null || study.valData !== null;
  if (study.dataset === 'ImageFolder' || folders) {
    if (study.trainData === null || study.valData === null) {
      throw new UsageError(
        'an image-folder study needs both --train-data DIR and --val-data DIR',
        study.trainData === null ? 'train-data' : 'val-data',
      );
    }
    if (study.dataset !== 'ImageFolder') {
      throw new UsageError(
        `--train-data and --val-data train on image folders, not on ${study.dataset}: drop --dataset`,
        'dataset',
      );
    }
    if (study.gcn) {
      throw new UsageError(
        'global contrast normalisation (--gcn) is not offered for image folders',
        'gcn',
      );
    }
  }
}

/** Refuses a training set too small for the warm-restart schedule (one full batch per epoch). */
export function checkTrainingSetSize(study: StudyConfig, images: number): void {
  if (images < study.batchSize) {
    throw new UsageError(
      `the training set has ${images} images, fewer than one batch of ${study.batchSize}: the warm-restart schedule needs a full batch per epoch; give a larger --train-subset or a smaller --batch-size`,
      images === study.trainSubset ? 'train-subset' : 'batch-size',
    );
  }
}
