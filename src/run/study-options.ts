import { DATASETS } from '../data/registry.js';
import { HOLD_TOLERANCE, HOLDS, type Hold } from '../family/hold.js';
import { LINEAR_DEFAULTS } from '../family/linear.js';
import { FAMILY_CHOICES, type FamilyChoice } from '../family/members.js';
import type { GridRange } from '../family/skew-normal.js';
import { INIT_SCHEMES, type InitScheme } from '../models/init.js';
import { LAYOUTS, PRECISIONS, type Layout, type Precision } from '../train/recipe.js';

/**
 * Every study option once: the one table the study's type, its defaults (the reference's, from
 * its lib/cmdparser.py), the command-line flags and their help, the range checks, the parser of a
 * stored config.json (with the options older versions did not store or named otherwise) and the
 * options table of docs/study.md are all derived from. A study option is whatever changes a
 * sweep's results; how a machine runs it (threads, device, memory) is not one. Adding an option:
 * one entry here, and its use. Pycls's core/config.py is the model: one commented entry each.
 */

export type Group = 'data' | 'family' | 'selection' | 'recipe' | 'seeds' | 'halving';

type Kind = 'integer' | 'number' | 'text' | 'switch' | 'choice' | 'grid' | 'integers';

export interface OptionSpec<T> {
  kind: Kind;
  default: T;
  /** null is a value: 'not given', shown as `unset`. */
  nullable: boolean;
  group: Group;
  help: string;
  /** How the help and the docs show the default when it is null or not plain. */
  shown?: string;
  /** The argument's name in the flag (--epochs <N>). */
  arg?: string;
  short?: string;
  /**
   * [least, most] of a number (checked for flags and stored studies alike). The upper bounds keep
   * a study within what a machine and the method allow (a patch of 100,000 px or a width
   * multiplier of 1e9 would only end in an allocation failure); the seed is a 32-bit unsigned
   * integer, the size of every generator featshift seeds, so that two recorded seeds never train
   * alike.
   */
  range?: [number, number];
  choices?: readonly string[];
  /** An option that cannot be given with this one. */
  conflicts?: string;
  /** The original code's option, for the docs' comparison. */
  reference?: string;
  /** Added after the first runs were stored: what a config.json without it trained with. */
  absentMeans?: T;
  /** Names older versions stored it under. */
  formerly?: string[];
}

type Meta = Omit<OptionSpec<never>, 'kind' | 'default' | 'nullable' | 'absentMeans'>;

const spec =
  (kind: Kind) =>
  <T>(value: T, meta: Meta & { absentMeans?: T }): OptionSpec<T> => ({
    kind,
    default: value,
    nullable: value === null,
    ...meta,
  });
const integer = spec('integer');
const number = spec('number');
const text = spec('text');
const toggle = spec('switch');
const grid = spec('grid');
const integers = spec('integers');
const choice = <T extends string>(
  choices: readonly T[],
  value: T,
  meta: Meta & { absentMeans?: T },
): OptionSpec<T> => ({ ...spec('choice')(value, meta), choices });

const MAX_IMAGES = 2 ** 31 - 1;

export const STUDY_OPTIONS = {
  // The data (docs/method.md §4).
  dataset: text('CIFAR10', {
    group: 'data',
    arg: '<NAME>',
    help: `dataset: ${Object.keys(DATASETS).join(', ')}`,
    reference: '--dataset',
  }),
  trainData: text(null as string | null, {
    group: 'data',
    arg: '<DIR>',
    help: "train on an image folder, one sub-folder per class (the reference's IMAGENET; needs --val-data)",
    shown: '-',
    reference: '--train-data',
    absentMeans: null,
  }),
  valData: text(null as string | null, {
    group: 'data',
    arg: '<DIR>',
    help: 'the validation image folder, with the same class sub-folders',
    shown: '-',
    reference: '--val-data',
    absentMeans: null,
  }),
  normalizeData: toggle(false, {
    group: 'data',
    help: "per-channel normalisation with the dataset's mean and std",
    reference: '--normalize-data',
    formerly: ['normalize'],
  }),
  gcn: toggle(false, {
    group: 'data',
    help: 'global contrast normalisation of each image',
    reference: '--preprocessing',
  }),
  trainSubset: integer(null as number | null, {
    group: 'data',
    arg: '<N>',
    range: [1, MAX_IMAGES],
    help: 'train on the first N training images',
    shown: 'all',
  }),
  valSubset: integer(null as number | null, {
    group: 'data',
    arg: '<N>',
    range: [1, MAX_IMAGES],
    help: 'validate on the first N test images',
    shown: 'all',
  }),

  // The family (docs/method.md §2).
  depth: integer(16, {
    group: 'family',
    short: '-d',
    arg: '<D>',
    range: [10, 100],
    help: 'VGG depth, 3k + 7 (16 is VGG-D, 19 is VGG-E)',
    reference: '--vgg-depth',
  }),
  patchSize: integer(32, {
    group: 'family',
    short: '-p',
    arg: '<P>',
    range: [32, 1024],
    help: 'input patch size in pixels; above 100 the classifier is 4096 wide, else 512',
    reference: '-p, --patch-size',
  }),
  xi: grid(null as GridRange | null, {
    group: 'family',
    arg: '<MIN:MAX:STEP>',
    help: 'grid of the location xi',
    shown: '0:L:1, L = D - 1 layers',
    reference: 'SkewNormalModels (fixed)',
  }),
  omega: grid(
    { min: 0, max: 5.5, step: 0.5 },
    {
      group: 'family',
      arg: '<MIN:MAX:STEP>',
      help: 'grid of the scale omega; 0 is skipped',
      reference: 'SkewNormalModels (fixed)',
    },
  ),
  alpha: grid(
    { min: -40, max: 40, step: 4 },
    {
      group: 'family',
      arg: '<MIN:MAX:STEP>',
      help: 'grid of the skew alpha',
      reference: 'SkewNormalModels (fixed)',
    },
  ),
  minFeatures: integer(2, {
    group: 'family',
    arg: '<N>',
    range: [1, 1_000_000],
    help: 'fewest features any layer may get',
    reference: 'SkewNormalModels (fixed)',
  }),
  areaTolerance: number(0.05, {
    group: 'family',
    arg: '<EPS>',
    range: [0, 0.999],
    help: 'largest share of the density that may fall outside the network',
    reference: 'SkewNormalModels (fixed)',
  }),
  totalFeatures: integer(null as number | null, {
    group: 'family',
    arg: '<N>',
    range: [1, 10_000_000],
    help: 'total features to distribute',
    shown: 'the base VGG total',
    conflicts: 'widthMultiplier',
  }),
  widthMultiplier: number(null as number | null, {
    group: 'family',
    arg: '<M>',
    range: [1e-6, 64],
    help: 'scale the base VGG total by M (shapes kept)',
    shown: '1',
  }),
  includeBaseline: toggle(false, {
    group: 'family',
    help: 'add the standard VGG widths, scaled to the budget, as id 0',
  }),

  // Design spaces beyond the paper's (docs/method.md §8).
  family: choice<FamilyChoice>(FAMILY_CHOICES, 'skew-normal', {
    group: 'family',
    arg: '<KIND>',
    help: "skew-normal (the paper's), linear (RegNet's w_j = w0 + wa j), or both in one study",
    absentMeans: 'skew-normal',
  }),
  hold: choice<Hold>(HOLDS, 'features', {
    group: 'family',
    arg: '<COST>',
    help: "what every member keeps at the baseline VGG's figure: features (the paper's total), macs (per image) or params",
    absentMeans: 'features',
  }),
  holdTolerance: number(HOLD_TOLERANCE, {
    group: 'family',
    arg: '<EPS>',
    range: [0, 0.5],
    help: 'largest relative miss of a held MAC or parameter count',
    absentMeans: HOLD_TOLERANCE,
  }),
  w0: grid(
    { ...LINEAR_DEFAULTS.w0 },
    {
      group: 'family',
      arg: '<MIN:MAX:STEP>',
      help: 'linear family: grid of the first width before scaling',
      absentMeans: { ...LINEAR_DEFAULTS.w0 },
    },
  ),
  wa: grid(
    { ...LINEAR_DEFAULTS.wa },
    {
      group: 'family',
      arg: '<MIN:MAX:STEP>',
      help: 'linear family: grid of the slope (below 0 falling, 0 uniform, above 0 rising)',
      absentMeans: { ...LINEAR_DEFAULTS.wa },
    },
  ),
  wm: grid(null as GridRange | null, {
    group: 'family',
    arg: '<MIN:MAX:STEP>',
    help: 'linear family: grid of the quantisation multiplier, above 1 (widths constant over stages)',
    shown: 'none',
    absentMeans: null,
  }),
  q: integer(LINEAR_DEFAULTS.q as number, {
    group: 'family',
    arg: '<N>',
    range: [1, 1024],
    help: 'linear family: quantised widths are multiples of N',
    absentMeans: LINEAR_DEFAULTS.q,
  }),

  // The selection.
  ids: text(null as string | null, {
    group: 'selection',
    arg: '<LIST>',
    help: 'train only these ids, such as 1-10,17 (0 is the baseline; linear:1-4 names linear members beside skew-normal ones)',
    shown: 'all',
    reference: '--resume-model-id N is --ids N- up to the last id',
  }),

  // The training recipe (docs/method.md §3).
  epochs: integer(150, {
    group: 'recipe',
    arg: '<N>',
    range: [1, 100_000],
    help: 'epochs',
    reference: '--epochs',
  }),
  batchSize: integer(128, {
    group: 'recipe',
    short: '-b',
    arg: '<N>',
    range: [1, 65_536],
    help: 'mini-batch size',
    reference: '-b, --batch-size',
  }),
  microBatch: integer(null as number | null, {
    group: 'recipe',
    arg: '<N>',
    range: [1, 65_536],
    help: 'images per forward/backward pass, a divisor of the batch size; gradients are accumulated',
    shown: 'the whole batch',
    reference: 'the GPU memory split, fixed',
    absentMeans: null,
  }),
  allowSplit: toggle(false, {
    group: 'recipe',
    help: 'split further where the micro-batch does not fit this machine (numbers then depend on its memory; always on a GPU)',
    reference: 'the GPU memory split',
    absentMeans: false,
  }),
  lr: number(0.01, {
    group: 'recipe',
    arg: '<LR>',
    range: [Number.MIN_VALUE, Number.MAX_VALUE],
    help: 'maximum learning rate',
    reference: '-lr, --learning-rate',
  }),
  momentum: number(0.9, {
    group: 'recipe',
    arg: '<M>',
    range: [0, 1e6],
    help: 'SGD momentum',
    reference: '--momentum',
  }),
  nesterov: toggle(false, { group: 'recipe', help: 'Nesterov momentum', reference: '--nesterov' }),
  weightDecay: number(5e-4, {
    group: 'recipe',
    shown: '5e-4',
    arg: '<W>',
    range: [0, 1e6],
    help: 'weight decay',
    reference: '-wd, --weight-decay',
  }),
  batchNorm: number(1e-4, {
    group: 'recipe',
    shown: '1e-4',
    arg: '<EPS>',
    range: [0, 1e6],
    help: 'batch-norm epsilon; 0 builds the network without batch norm',
    reference: '-bn, --batch-norm',
    formerly: ['batchNormEps'],
  }),
  lrWrEpochs: integer(10, {
    group: 'recipe',
    arg: '<N>',
    range: [1, 100_000],
    help: 'epochs of the first warm-restart cycle',
    reference: '--lr-wr-epochs',
    formerly: ['lrCycle'],
  }),
  lrWrMul: integer(2, {
    group: 'recipe',
    arg: '<N>',
    range: [1, 1000],
    help: 'growth of each next cycle',
    reference: '--lr-wr-mul',
    formerly: ['lrMultiplier'],
  }),
  lrWrMin: number(1e-5, {
    group: 'recipe',
    shown: '1e-5',
    arg: '<LR>',
    range: [0, 1e6],
    help: 'minimum learning rate of the cycles',
    reference: '--lr-wr-min',
    formerly: ['lrMin'],
  }),
  weightInit: choice<InitScheme>(INIT_SCHEMES, 'kaiming-normal', {
    group: 'recipe',
    arg: '<SCHEME>',
    help: 'weight initialisation',
    reference: '--weight-init',
    formerly: ['init'],
  }),
  abandon: toggle(true, {
    group: 'recipe',
    help: "train every architecture in full: off the reference's rule that stops one below twice chance at the end of the first cycle",
    shown: 'the rule on',
    absentMeans: true,
  }),
  precision: choice<Precision>(PRECISIONS, 'fp32', {
    group: 'recipe',
    arg: '<PRECISION>',
    help: 'fp32 (the reference), or bf16 mixed precision where the device supports it',
    absentMeans: 'fp32',
  }),
  layout: choice<Layout>(LAYOUTS, 'auto', {
    group: 'recipe',
    arg: '<LAYOUT>',
    help: 'memory layout of activations: auto times a few steps of each and trains in the faster',
  }),

  // Seeds (docs/method.md §6).
  seed: integer(0, {
    group: 'seeds',
    arg: '<N>',
    range: [0, 2 ** 32 - 1],
    help: 'seed of initialisation, data order, augmentation and dropout',
    reference: '- (the reference was not seeded)',
  }),
  seeds: integers(null as number[] | null, {
    group: 'seeds',
    arg: '<N|LIST>',
    help: 'train every architecture with N seeds (--seed, --seed + 1, ...) or with the seeds listed, such as 3,7,11',
    shown: '--seed alone',
    absentMeans: null,
  }),

  // Successive halving (docs/method.md §7).
  halving: toggle(false, {
    group: 'halving',
    help: 'successive halving: at each rung (a warm-restart cycle end) only the best 1/eta architectures go on',
    absentMeans: false,
  }),
  eta: integer(3, {
    group: 'halving',
    arg: '<N>',
    range: [2, 1000],
    help: 'keep the best 1/N at each rung',
    absentMeans: 3,
  }),
  rungs: integers(null as number[] | null, {
    group: 'halving',
    arg: '<LIST>',
    help: 'the rungs, cycle ends such as 10,30,70',
    shown: 'every cycle end up to --epochs',
    absentMeans: null,
  }),
};

type Options = typeof STUDY_OPTIONS;

/** A study: everything that decides a sweep's results, as config.json stores it. */
export type StudyConfig = { [K in keyof Options]: Options[K]['default'] };

export type StudyKey = keyof StudyConfig;

export const STUDY_KEYS = Object.keys(STUDY_OPTIONS) as StudyKey[];

/** Each study option's spec, typed loosely for code that walks the table. */
export const studyOption = (key: StudyKey): OptionSpec<unknown> => STUDY_OPTIONS[key];

/** The reference's defaults, every key. */
export const REFERENCE_DEFAULTS = Object.fromEntries(
  STUDY_KEYS.map((k) => [k, studyOption(k).default]),
) as StudyConfig;

/** The CLI flag of each study key: the key in kebab case. */
export const studyFlag = (key: StudyKey): string =>
  key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** A default as help and docs show it. */
export function shownDefault(key: StudyKey): string {
  const o = studyOption(key);
  if (o.shown !== undefined) return o.shown;
  const v = o.default;
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (v !== null && typeof v === 'object' && 'step' in v) {
    const g = v as GridRange;
    return `${g.min}:${g.max}:${g.step}`;
  }
  return String(v);
}

/** Keys that older featshift versions did not store, with the value their runs used. */
export const ADDED_LATER = Object.fromEntries(
  STUDY_KEYS.flatMap((k) => {
    const o = studyOption(k);
    return 'absentMeans' in o ? [[k, o.absentMeans]] : [];
  }),
) as Partial<StudyConfig>;

/** Keys that older featshift versions stored under other names. */
export const RENAMED: Record<string, StudyKey> = Object.fromEntries(
  STUDY_KEYS.flatMap((k) => (studyOption(k).formerly ?? []).map((old) => [old, k])),
);
