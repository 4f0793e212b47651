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
  const { colors, patchSize: P } = model.layout;
  const per = colors * P * P;
  return {
    x: tensor(images.subarray(start * per, (start + n) * per), [n, colors, P, P], model.device),
    y: tensor(labels.subarray(start, start + n), [n], model.device),
  };
}

/**
 * One optimiser step on a batch, in micro-batches of `microBatch` images when the whole batch
 * does not fit: each piece's loss is scaled by pieceSize / batchSize before its backward pass, so
 * the accumulated gradient is the full batch's (docs/method.md §4). As in the reference the scale
 * uses the nominal batch size, also for the last, smaller batch of an epoch.
 * `bnTraining` false keeps batch norm (and dropout) in evaluation mode, for exactness checks.
 */
export function trainStep(
  model: Vgg,
  sgd: Sgd,
  images: Float32Array,
  labels: BigInt64Array,
  batchSize: number,
  microBatch: number,
  bnTraining = true,
  bf16 = false,
): StepStats {
  const count = labels.length;
  const stats: StepStats = { lossSum: 0, correct: 0, count, finite: true };
  sgd.zeroGrad();
  for (let start = 0; start < count; start += microBatch) {
    const n = Math.min(microBatch, count - start);
    tidy(() => {
      const { x, y } = piece(model, images, labels, start, n);
      // The forward pass and the loss in mixed precision; the backward pass outside it, as
      // PyTorch's autocast is used.
      const [logits, loss] = withAutocast(bf16, model.device, () => {
        const out = model.forward(x, bnTraining);
        return [out, ops.crossEntropy(out, y)] as const;
      });
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
  microBatch: number,
  bf16 = false,
): StepStats {
  const count = labels.length;
  const stats: StepStats = { lossSum: 0, correct: 0, count, finite: true };
  noGrad(() => {
    for (let start = 0; start < count; start += microBatch) {
      const n = Math.min(microBatch, count - start);
      tidy(() => {
        const { x, y } = piece(model, images, labels, start, n);
        const [logits, loss] = withAutocast(bf16, model.device, () => {
          const out = model.forward(x, false);
          return [out, ops.crossEntropy(out, y)] as const;
        });
        const value = loss.item();
        if (!Number.isFinite(value)) stats.finite = false;
        stats.lossSum += value * n;
        stats.correct += ops.topkCorrect(logits, y, 1);
      });
    }
  });
  return stats;
}
