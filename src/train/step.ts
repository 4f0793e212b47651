import { ops, tensor, tidy, type Tensor } from '../engine/index.js';
import { noGrad, withAutocast } from '../engine/runtime.js';
import type { Vgg } from '../models/vgg.js';
import type { Sgd } from './sgd.js';

export interface StepStats {
  /** Sum over the images of their cross-entropy (the unscaled loss times each piece's size). */
  lossSum: number;
  correct: number;
  count: number;
  /** False when a loss was NaN or infinite: the step was not applied. */
  finite: boolean;
}

/** Tensors for images [start, start + n) of a batch, on the model's device. */
function piece(
  model: Vgg,
  images: Float32Array,
  labels: BigInt64Array,
  start: number,
  n: number,
): { x: Tensor; y: Tensor } {
  const { colors, patchSize: P } = model.plan;
  const per = colors * P * P;
  return {
    x: tensor(images.subarray(start * per, (start + n) * per), [n, colors, P, P], model.device),
    y: tensor(labels.subarray(start, start + n), [n], model.device),
  };
}

/** How a forward pass runs: batch norm (and dropout) in training mode or not, fp32 or bf16. */
export interface ForwardOptions {
  /** False keeps batch norm and dropout in evaluation mode (the exactness checks use it). */
  training: boolean;
  /** bf16 mixed precision (autocast) for the forward pass and the loss. */
  bf16: boolean;
}

/**
 * The forward pass and its cross-entropy under the run's precision: the one place that says how.
 * The backward pass stays outside the autocast region, as PyTorch's autocast is used.
 */
export function forwardLoss(
  model: Vgg,
  x: Tensor,
  y: Tensor,
  options: ForwardOptions,
): { logits: Tensor; loss: Tensor } {
  return withAutocast(options.bf16, model.device, () => {
    const logits = model.forward(x, options.training);
    return { logits, loss: ops.crossEntropy(logits, y) };
  });
}

export interface StepOptions {
  /** The nominal mini-batch size the loss is scaled by (also for a smaller last batch). */
  batchSize: number;
  /** Images per forward/backward pass, a divisor of the batch size. */
  microBatch: number;
  /** Batch norm in training mode (the default). */
  training?: boolean;
  bf16?: boolean;
}

/**
 * One optimiser step on a batch, in micro-batches of `microBatch` images when the whole batch
 * does not fit: each piece's loss is scaled by pieceSize / batchSize before its backward pass, so
 * the accumulated gradient is the full batch's (docs/method.md §3). As in the reference the scale
 * uses the nominal batch size, also for the last, smaller batch of an epoch.
 */
export function trainStep(
  model: Vgg,
  sgd: Sgd,
  images: Float32Array,
  labels: BigInt64Array,
  options: StepOptions,
): StepStats {
  const { batchSize, microBatch } = options;
  const forward: ForwardOptions = {
    training: options.training ?? true,
    bf16: options.bf16 ?? false,
  };
  const count = labels.length;
  const stats: StepStats = { lossSum: 0, correct: 0, count, finite: true };
  sgd.zeroGrad();
  for (let start = 0; start < count; start += microBatch) {
    const n = Math.min(microBatch, count - start);
    tidy(() => {
      const { x, y } = piece(model, images, labels, start, n);
      const { logits, loss } = forwardLoss(model, x, y, forward);
      const value = loss.item();
      if (!Number.isFinite(value)) stats.finite = false;
      stats.lossSum += value * n;
      stats.correct += ops.topkCorrect(logits, y, 1);
      if (stats.finite) ops.mul(loss, n / batchSize).backward();
    });
    if (!stats.finite) break;
  }
  if (stats.finite) sgd.step();
  return stats;
}

/** Loss sum and correct count of a batch in evaluation mode, without gradients. */
export function evalStep(
  model: Vgg,
  images: Float32Array,
  labels: BigInt64Array,
  options: { microBatch: number; bf16?: boolean },
): StepStats {
  const count = labels.length;
  const stats: StepStats = { lossSum: 0, correct: 0, count, finite: true };
  const forward: ForwardOptions = { training: false, bf16: options.bf16 ?? false };
  noGrad(() => {
    for (let start = 0; start < count; start += options.microBatch) {
      const n = Math.min(options.microBatch, count - start);
      tidy(() => {
        const { x, y } = piece(model, images, labels, start, n);
        const { logits, loss } = forwardLoss(model, x, y, forward);
        const value = loss.item();
        if (!Number.isFinite(value)) stats.finite = false;
        stats.lossSum += value * n;
        stats.correct += ops.topkCorrect(logits, y, 1);
      });
    }
  });
  return stats;
}
