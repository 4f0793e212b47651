import { native, type BinaryOp } from './native.js';
import { Tensor } from './tensor.js';

/** The operations featshift's VGG needs, each a thin call into libtorch (ATen). */

/** 2-D convolution; `stride` and `padding` apply to both sides. */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  stride = 1,
  padding = 0,
): Tensor {
  return new Tensor(
    native().conv2d(x.handle, weight.handle, bias?.handle ?? null, stride, padding),
  );
}

export interface BatchNormState {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
}

/**
 * Batch normalisation over dimension 1 (BatchNorm1d and BatchNorm2d alike). In training mode it
 * normalises with the batch's statistics and updates the running ones in place, as PyTorch does.
 */
export function batchNorm(
  x: Tensor,
  state: BatchNormState,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  return new Tensor(
    native().batchNorm(
      x.handle,
      state.weight?.handle ?? null,
      state.bias?.handle ?? null,
      state.runningMean?.handle ?? null,
      state.runningVar?.handle ?? null,
      training,
      momentum,
      eps,
    ),
  );
}

/**
 * ReLU in place (nn.ReLU(inplace=True)): no new activation buffer. Allowed on the output of
 * batch norm, whose backward pass does not need that output. Returns a new handle to the same
 * storage; the argument's handle may be disposed.
 */
export const relu_ = (x: Tensor): Tensor => new Tensor(native().relu_(x.handle));

export const maxPool2d = (x: Tensor, kernel = 2, stride = kernel): Tensor =>
  new Tensor(native().maxPool2d(x.handle, kernel, stride));

/** x W^T + b. */
export const linear = (x: Tensor, weight: Tensor, bias: Tensor | null): Tensor =>
  new Tensor(native().linear(x.handle, weight.handle, bias?.handle ?? null));

export const dropout = (x: Tensor, p: number, training: boolean): Tensor =>
  new Tensor(native().dropout(x.handle, p, training));

export const reshape = (x: Tensor, shape: readonly number[]): Tensor =>
  new Tensor(native().reshape(x.handle, shape));

/** Keeps the first dimension and flattens the rest. */
export const flatten = (x: Tensor): Tensor => reshape(x, [x.shape[0] ?? 1, -1]);

/** Mean softmax cross-entropy of logits [N, C] against int64 class indices [N]. */
export const crossEntropy = (logits: Tensor, targets: Tensor): Tensor =>
  new Tensor(native().crossEntropy(logits.handle, targets.handle));

/** How many rows have their target among the k largest logits. */
export const topkCorrect = (logits: Tensor, targets: Tensor, k = 1): number =>
  native().topkCorrect(logits.handle, targets.handle, k);

const binary = (op: BinaryOp, a: Tensor, b: Tensor | number, alpha?: number): Tensor =>
  new Tensor(native().binary(op, a.handle, typeof b === 'number' ? b : b.handle, alpha));

/** a + alpha * b, a new tensor (Tensor.add). */
export const add = (a: Tensor, b: Tensor | number, alpha = 1): Tensor => binary('add', a, b, alpha);
export const mul = (a: Tensor, b: Tensor | number): Tensor => binary('mul', a, b);

export const sum = (x: Tensor): Tensor => new Tensor(native().unary('sum', x.handle));
export const square = (x: Tensor): Tensor => new Tensor(native().unary('square', x.handle));
