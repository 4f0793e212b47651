import type { InitScheme } from '../models/init.js';

/** NCHW is PyTorch's default; channels-last (NHWC) suits oneDNN's convolutions of wide layers. */
export type Layout = 'auto' | 'nchw' | 'channels-last';
export const LAYOUTS: readonly Layout[] = ['auto', 'nchw', 'channels-last'];

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
  /**
   * The memory layout of activations: 'auto' times a few steps in each and trains in the faster
   * (recorded per architecture); the same numbers within float32's reordering either way.
   */
  layout: Layout;
  /**
   * The original's abandon rule: stop an architecture whose training accuracy is below twice
   * chance at the end of the first warm-restart cycle. Off trains every architecture in full.
   */
  abandon: boolean;
  /**
   * fp32 (the reference), or bf16 mixed precision: convolutions and linear layers in bf16 where
   * the device supports it, batch norm, loss, optimiser and master weights in fp32.
   */
  precision: Precision;
}

export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];
