import type { InitScheme } from '../models/init.js';

/**
 * The training recipe (docs/method.md §3), named as the original code's options are: `--lr`,
 * `--lr-wr-epochs`, `--batch-norm`, `--weight-init` become `lr`, `lrWrEpochs`, `batchNorm`,
 * `weightInit` here, in the study, in config.json and in the trainer alike.
 */
export interface TrainingRecipe {
  epochs: number;
  batchSize: number;
  /** The largest learning rate, at the start of each warm-restart cycle. */
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Batch-norm epsilon; 0 builds the network without batch norm. */
  batchNorm: number;
  /** Epochs of the first warm-restart cycle. */
  lrWrEpochs: number;
  /** Growth of each next cycle. */
  lrWrMul: number;
  /** The smallest learning rate, at the end of each cycle. */
  lrWrMin: number;
  weightInit: InitScheme;
  /** Every random draw derives from it (docs/method.md §3). */
  seed: number;
  /** Split further where the micro-batch does not fit this host's memory (numbers then vary). */
  allowSplit: boolean;
  /** Keep activations channels-last (NHWC) instead of NCHW: the same numbers within rounding. */
  channelsLast: boolean;
}

/** The original code's defaults (its lib/cmdparser.py). */
export const REFERENCE_RECIPE: TrainingRecipe = {
  epochs: 150,
  batchSize: 128,
  lr: 0.01,
  momentum: 0.9,
  nesterov: false,
  weightDecay: 5e-4,
  batchNorm: 1e-4,
  lrWrEpochs: 10,
  lrWrMul: 2,
  lrWrMin: 1e-5,
  weightInit: 'kaiming-normal',
  seed: 0,
  allowSplit: false,
  channelsLast: true,
};
