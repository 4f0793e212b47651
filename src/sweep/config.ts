import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import type { GridRange } from '../family/skew-normal.js';
import { INIT_SCHEMES, type InitScheme } from '../models/init.js';

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

/** The largest id --ids accepts: far above any family's size, small enough to list. */
const MAX_ID = 100_000;

/** Sorted ids written back as ranges: [1, 2, 3, 7] as '1-3, 7'. */
export function formatIds(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const start = ids[i] as number;
    while (i + 1 < ids.length && ids[i + 1] === (ids[i] as number) + 1) i++;
    parts.push(start === ids[i] ? String(start) : `${start}-${ids[i] as number}`);
  }
  return parts.join(', ');
}

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
    if (to > MAX_ID) {
      throw new UsageError(
        `'${part.trim()}' goes past ${MAX_ID}: no family has that many members (VGG-16's has 193)`,
        'ids',
      );
    }
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

/** The CLI option that sets each study key, for messages. */
export const STUDY_FLAGS: Record<keyof StudyConfig, string> = {
  dataset: 'dataset',
  trainData: 'train-data',
  valData: 'val-data',
  depth: 'depth',
  patchSize: 'patch-size',
  xi: 'xi',
  omega: 'omega',
  alpha: 'alpha',
  minFeatures: 'min-features',
  areaTolerance: 'area-tolerance',
  totalFeatures: 'total-features',
  widthMultiplier: 'width-multiplier',
  ids: 'ids',
  includeBaseline: 'include-baseline',
  epochs: 'epochs',
  batchSize: 'batch-size',
  microBatch: 'micro-batch',
  allowSplit: 'allow-split',
  lr: 'lr',
  momentum: 'momentum',
  nesterov: 'nesterov',
  weightDecay: 'weight-decay',
  batchNormEps: 'batch-norm',
  lrCycle: 'lr-wr-epochs',
  lrMultiplier: 'lr-wr-mul',
  lrMin: 'lr-wr-min',
  init: 'weight-init',
  normalize: 'normalize-data',
  gcn: 'gcn',
  seed: 'seed',
  trainSubset: 'train-subset',
  valSubset: 'val-subset',
  channelsLast: 'channels-last',
};

/**
 * The range of every numeric study value: [least, most, integer]. The upper bounds keep a study
 * within what a machine and the method allow (a patch of 100,000 px or a width multiplier of 1e9
 * would only end in an allocation failure); the seed is a 32-bit unsigned integer, the size of
 * every generator featshift seeds, so that two recorded seeds never train alike.
 */
const NUMBER_RANGES: Partial<Record<keyof StudyConfig, [number, number, boolean]>> = {
  depth: [10, 100, true],
  patchSize: [32, 1024, true],
  minFeatures: [1, 1_000_000, true],
  areaTolerance: [0, 0.999, false],
  totalFeatures: [1, 10_000_000, true],
  widthMultiplier: [1e-6, 64, false],
  epochs: [1, 100_000, true],
  batchSize: [1, 65_536, true],
  microBatch: [1, 65_536, true],
  lr: [Number.MIN_VALUE, Number.MAX_VALUE, false],
  momentum: [0, 1e6, false],
  weightDecay: [0, 1e6, false],
  batchNormEps: [0, 1e6, false],
  lrCycle: [1, 100_000, true],
  lrMultiplier: [1, 1000, true],
  lrMin: [0, 1e6, false],
  seed: [0, 2 ** 32 - 1, true],
  trainSubset: [1, 2 ** 31 - 1, true],
  valSubset: [1, 2 ** 31 - 1, true],
};

/**
 * Refuses a study whose values are out of range or contradict each other, before anything is
 * written: a negative momentum, a seed beyond 32 bits, a micro-batch that does not divide the
 * batch, an image-folder study without both folders. `where` names a stored file's values.
 */
export function checkStudy(study: StudyConfig, where?: string): void {
  const fail = (key: keyof StudyConfig, message: string): never => {
    const flag = STUDY_FLAGS[key];
    throw new UsageError(
      where ? `${where}: study.${key} ${message}` : `--${flag} ${message}`,
      where ? 'resume' : flag,
    );
  };
  for (const [key, [least, most, integer]] of Object.entries(NUMBER_RANGES) as [
    keyof StudyConfig,
    [number, number, boolean],
  ][]) {
    const value = study[key];
    if (value === null) continue;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (integer && !Number.isInteger(value))
    )
      fail(key, `must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
    else if (value < least || value > most) {
      const range =
        most === Number.MAX_VALUE
          ? `above ${least === Number.MIN_VALUE ? 0 : least}`
          : `between ${least === Number.MIN_VALUE ? 'above 0' : least} and ${most}`;
      fail(key, `must be ${range}, got ${value}`);
    }
  }
  if (study.nesterov && study.momentum <= 0) fail('nesterov', 'needs a --momentum above 0');
  if (study.microBatch !== null && study.batchSize % study.microBatch !== 0) {
    throw new UsageError(
      `${where ? `${where}: ` : ''}a micro-batch of ${study.microBatch} does not divide the batch size ${study.batchSize}: give a divisor of it`,
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

type Kind = 'number' | 'string' | 'boolean' | 'grid';

/** The JSON kind of every stored study value, and whether it may be null. */
function kindOf(key: keyof StudyConfig): { kind: Kind; nullable: boolean } {
  const sample = REFERENCE_DEFAULTS[key];
  const nullable = sample === null;
  if (['xi', 'omega', 'alpha'].includes(key)) return { kind: 'grid', nullable: key === 'xi' };
  if (['totalFeatures', 'widthMultiplier', 'trainSubset', 'valSubset', 'microBatch'].includes(key))
    return { kind: 'number', nullable: true };
  if (['ids', 'trainData', 'valData'].includes(key)) return { kind: 'string', nullable: true };
  return { kind: typeof sample as Kind, nullable };
}

/** Keys that older featshift versions did not store, with the value their runs used. */
const ADDED_LATER: Partial<StudyConfig> = {
  trainData: null,
  valData: null,
  microBatch: null,
  allowSplit: false,
};

/**
 * A study read back from a run folder's config.json, every value checked: a file edited by hand
 * or damaged is refused with the file and the key, never trained with.
 */
export function parseStoredStudy(raw: unknown, path: string): StudyConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new UsageError(
      `${path}: 'study' is not an object: restore the file or start a new run`,
      'resume',
    );
  const given: Record<string, unknown> = { ...ADDED_LATER, ...(raw as Record<string, unknown>) };
  const study: Record<string, unknown> = {};
  for (const key of Object.keys(REFERENCE_DEFAULTS) as (keyof StudyConfig)[]) {
    const value = given[key];
    const { kind, nullable } = kindOf(key);
    const ok =
      (value === null && nullable) ||
      (kind === 'grid'
        ? value !== null &&
          typeof value === 'object' &&
          ['min', 'max', 'step'].every((k) =>
            Number.isFinite((value as Record<string, unknown>)[k]),
          )
        : typeof value === kind);
    if (!ok) {
      throw new UsageError(
        `${path}: study.${key} is ${value === undefined ? 'missing' : JSON.stringify(value)}, expected ${nullable ? `${kind} or null` : kind}: the file was edited or damaged; restore it or start a new run`,
        'resume',
      );
    }
    study[key] = value;
  }
  const parsed = study as unknown as StudyConfig;
  if (!(INIT_SCHEMES as readonly string[]).includes(parsed.init))
    throw new UsageError(
      `${path}: study.init '${parsed.init}' is no weight initialisation`,
      'resume',
    );
  checkStudy(parsed, path);
  return parsed;
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

/** The most threads a run may ask for: oversubscribing the cores beyond this only slows it. */
export const maxThreads = (): number => 4 * availableParallelism();

/** Refuses runtime options this machine cannot honour, before anything is written. */
export function checkRuntime(
  runtime: Pick<RuntimeConfig, 'threads' | 'memoryLimit' | 'dataDir'>,
): void {
  if (runtime.threads !== null && runtime.threads > maxThreads()) {
    throw new UsageError(
      `--threads ${runtime.threads} is more than 4 times this machine's ${availableParallelism()} cores: give at most ${maxThreads()}`,
      'threads',
    );
  }
  if (runtime.memoryLimit !== null && runtime.memoryLimit < 1) {
    throw new UsageError('--memory-limit must be above 0, such as 4G', 'memory-limit');
  }
  if (runtime.dataDir !== null) {
    let folder = false;
    try {
      folder = statSync(runtime.dataDir).isDirectory();
    } catch {
      folder = false;
    }
    if (!folder) {
      throw new UsageError(
        `--data-dir ${runtime.dataDir} is not a folder: give the folder that holds the dataset files`,
        'data-dir',
      );
    }
  }
}
