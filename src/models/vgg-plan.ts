import { ArchitectureError } from './errors.js';
import { convsPerDeepBlock } from './vgg-base.js';

/** One 3x3 convolution (stride 1, padding 1, no bias) followed by batch norm (when on) and ReLU. */
export interface ConvLayerSpec {
  readonly kind: 'conv';
  readonly block: number; // 1-based VGG block
  readonly index: number; // 1-based position inside its block
  readonly inChannels: number;
  readonly outChannels: number;
  readonly inputSize: number; // spatial side length of the input to this layer
}

/** A linear layer; the two hidden ones have no bias and are followed by batch norm and ReLU. */
export interface LinearLayerSpec {
  readonly kind: 'linear';
  readonly index: number; // 1-based position in the classifier
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  readonly batchNorm: boolean;
}

/** The VGG of docs/method.md §1 for one width list, as data. */
export interface VggPlan {
  readonly depth: number;
  readonly widths: readonly number[];
  readonly colors: number;
  readonly classes: number;
  /** Batch norm after every hidden layer; off as the reference's `--batch-norm 0`. */
  readonly batchNorm: boolean;
  readonly patchSize: number;
  readonly convs: readonly ConvLayerSpec[];
  readonly linears: readonly LinearLayerSpec[];
  /** Spatial side after the five max-pools (1 for 32 px input). */
  readonly finalSize: number;
}

export interface VggPlanOptions {
  classes?: number;
  patchSize?: number;
  /** Input channels (3, or 1 for KMNIST as the reference feeds it). */
  colors?: number;
  /** Batch norm after the hidden layers (default true; the reference's `--batch-norm 0` is false). */
  batchNorm?: boolean;
}

/**
 * Lay out the network for a width list of length D - 1: blocks of 2, 2, k, k, k convolutions, each
 * block ending in a 2x2 max-pool, then Linear + BN + ReLU twice, dropout, and the class layer.
 */
export function vggPlan(widths: readonly number[], options: VggPlanOptions = {}): VggPlan {
  const classes = options.classes ?? 10;
  const patchSize = options.patchSize ?? 32;
  const colors = options.colors ?? 3;
  const batchNorm = options.batchNorm ?? true;
  const depth = widths.length + 1;
  if ((depth - 7) % 3 !== 0 || depth < 10) {
    throw new ArchitectureError(
      `a VGG width list has D - 1 entries with D = 3k + 7 (9, 12, 15, 18, ... widths), got ${widths.length}`,
      'widths',
    );
  }
  for (const w of widths) {
    if (!Number.isInteger(w) || w < 1) {
      throw new ArchitectureError(
        `every width must be a positive integer, got ${String(w)}`,
        'widths',
      );
    }
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new ArchitectureError(
      `the class count must be a positive integer, got ${classes}`,
      'classes',
    );
  }
  if (!Number.isInteger(patchSize) || patchSize < 32) {
    throw new ArchitectureError(
      `the patch size must be an integer of at least 32 (five 2x2 max-pools), got ${patchSize}`,
      'patchSize',
    );
  }
  if (!Number.isInteger(colors) || colors < 1) {
    throw new ArchitectureError(
      `the input channel count must be a positive integer, got ${colors}`,
      'colors',
    );
  }
  const k = convsPerDeepBlock(depth);
  const blockSizes = [2, 2, k, k, k];
  const convs: ConvLayerSpec[] = [];
  let channels = colors;
  let size = patchSize;
  let layer = 0;
  blockSizes.forEach((count, b) => {
    for (let i = 0; i < count; i++) {
      const out = widths[layer++] as number;
      convs.push({
        kind: 'conv',
        block: b + 1,
        index: i + 1,
        inChannels: channels,
        outChannels: out,
        inputSize: size,
      });
      channels = out;
    }
    size = Math.floor(size / 2);
  });
  const hidden1 = widths[layer] as number;
  const hidden2 = widths[layer + 1] as number;
  const linears: LinearLayerSpec[] = [
    {
      kind: 'linear',
      index: 1,
      inFeatures: channels * size * size,
      outFeatures: hidden1,
      bias: false,
      batchNorm,
    },
    {
      kind: 'linear',
      index: 2,
      inFeatures: hidden1,
      outFeatures: hidden2,
      bias: false,
      batchNorm,
    },
    {
      kind: 'linear',
      index: 3,
      inFeatures: hidden2,
      outFeatures: classes,
      bias: true,
      batchNorm: false,
    },
  ];
  return { depth, widths, colors, classes, batchNorm, patchSize, convs, linears, finalSize: size };
}

/** Trainable parameters: conv and linear weights, the class layer's bias, batch-norm scale and shift. */
export function countParams(plan: VggPlan): number {
  let n = 0;
  for (const c of plan.convs)
    n += c.inChannels * c.outChannels * 9 + (plan.batchNorm ? 2 * c.outChannels : 0);
  for (const l of plan.linears) {
    n += l.inFeatures * l.outFeatures;
    if (l.bias) n += l.outFeatures;
    if (l.batchNorm) n += 2 * l.outFeatures;
  }
  return n;
}

/** Multiply-accumulates of the convolutions and linear layers for one image. */
export function countMacs(plan: VggPlan): number {
  let n = 0;
  for (const c of plan.convs) n += c.inputSize * c.inputSize * 9 * c.inChannels * c.outChannels;
  for (const l of plan.linears) n += l.inFeatures * l.outFeatures;
  return n;
}
