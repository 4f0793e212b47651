import * as ops from '../engine/ops.js';
import { tidy, keep, type Tensor } from '../engine/tensor.js';
import type { NamedTensor } from '../models/vgg.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with torch.optim.SGD's exact semantics (PyTorch 1.13):
 *   d = grad + weightDecay * p
 *   buf = d on the first step, else momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf
 *   p -= lr * d
 * The learning rate may change before any step (the warm-restart schedule sets it every step).
 */
export class Sgd {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly params: readonly NamedTensor[];
  private readonly buffers = new Map<string, Tensor>();

  constructor(params: readonly NamedTensor[], options: SgdOptions) {
    this.params = params;
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (!(this.lr >= 0)) throw new RangeError(`the learning rate must be >= 0, got ${this.lr}`);
    if (!(this.momentum >= 0))
      throw new RangeError(`the momentum must be >= 0, got ${this.momentum}`);
    if (!(this.weightDecay >= 0))
      throw new RangeError(`the weight decay must be >= 0, got ${this.weightDecay}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RangeError('nesterov momentum needs a momentum > 0 and zero dampening');
    }
  }

  step(): void {
    for (const { name, tensor: p } of this.params) {
      tidy(() => {
        const grad = p.grad;
        if (grad === null) return;
        // As torch.optim.SGD: a new tensor only where weight decay adds to the gradient (the
        // gradient itself is never changed), and no copy of it otherwise.
        let d = this.weightDecay !== 0 ? ops.add(grad, p, this.weightDecay) : grad;
        if (this.momentum !== 0) {
          let buf = this.buffers.get(name);
          if (buf === undefined) {
            buf = keep(d.clone());
            this.buffers.set(name, buf);
          } else {
            buf.mul_(this.momentum).add_(d, 1 - this.dampening);
          }
          d = this.nesterov ? ops.add(d, buf, this.momentum) : buf;
        }
        p.add_(d, -this.lr);
      });
    }
  }

  zeroGrad(): void {
    for (const { tensor } of this.params) tensor.zeroGrad();
  }

  /** Momentum buffers by parameter name, for checkpoints. */
  state(): NamedTensor[] {
    return [...this.buffers].map(([name, tensor]) => ({ name: `momentum_buffer.${name}`, tensor }));
  }

  /** Restores momentum buffers saved by {@link state}. */
  loadState(values: ReadonlyMap<string, Tensor>): void {
    this.dispose();
    for (const [key, value] of values) {
      if (!key.startsWith('momentum_buffer.')) throw new Error(`unknown optimiser state '${key}'`);
      this.buffers.set(key.slice('momentum_buffer.'.length), keep(value.clone()));
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
