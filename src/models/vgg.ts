import { ops } from '../engine/index.js';
import { checkDevice } from '../engine/runtime.js';
import type { DType } from '../engine/native.js';
import { keep, tidy, zeros, type Tensor } from '../engine/tensor.js';
import { initWeight, type InitScheme } from './init.js';
import { vggPlan, countParams, type VggPlan, type VggPlanOptions } from './vgg-plan.js';

export interface VggOptions extends Omit<VggPlanOptions, 'batchNorm'> {
  /**
   * Batch-norm epsilon (`--batch-norm`, default 1e-4). 0 builds the network without batch norm,
   * as the original does; its convolutions and hidden linear layers keep no bias, so they have
   * none at all.
   */
  batchNorm?: number;
  /** Batch-norm running-statistics momentum (default 0.1). */
  batchNormMomentum?: number;
  /** Dropout before the class layer (default 0.5). */
  dropout?: number;
  weightInit?: InitScheme;
  device?: string;
  /**
   * How activations and conv weights sit in memory. Default 'nchw', PyTorch's default; which is
   * faster depends on the architecture and the machine, so training times both (`--layout auto`,
   * src/train/trainer.ts) and builds the model in the faster. Values agree within float rounding.
   */
  memoryFormat?: MemoryFormat;
  /**
   * Element type of the parameters and activations (default float32, as the reference trains).
   * float64 serves the parity tests, whose reference is then independent of any CPU's kernels.
   */
  dtype?: Extract<DType, 'float32' | 'float64'>;
}

/**
 * How a model keeps its activations and convolution weights in memory (PyTorch's memory format):
 * NCHW, PyTorch's default, or channels-last (NHWC). In featshift "layout" names this alone
 * (`--layout`, results.jsonl's `layout`); the widths and shapes of the layers are the plan
 * (`VggPlan`).
 */
export type MemoryFormat = 'nchw' | 'channels-last';
/** A named tensor of the model: a trainable parameter or a buffer (running statistics). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

class BatchNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;

  constructor(features: number, dtype: DType, device: string) {
    this.weight = zeros([features], dtype, device).fill_(1);
    this.bias = zeros([features], dtype, device);
    this.runningMean = zeros([features], dtype, device);
    this.runningVar = zeros([features], dtype, device).fill_(1);
    this.numBatchesTracked = zeros([], 'int64', device);
  }

  forward(x: Tensor, training: boolean, momentum: number, eps: number): Tensor {
    if (training) this.numBatchesTracked.add_(1);
    return ops.batchNorm(x, this, training, momentum, eps);
  }
}

interface ConvUnit {
  prefix: string; // features.blockB
  index: number;
  weight: Tensor;
  bn: BatchNorm | null;
  poolAfter: boolean;
}

interface LinearUnit {
  index: number;
  weight: Tensor;
  bias: Tensor | null;
  bn: BatchNorm | null;
  /** A hidden layer (followed by ReLU), not the class layer. */
  hidden: boolean;
}

/**
 * The VGG of docs/method.md §1 for one width list: blocks of 3x3 conv + batch norm + ReLU, each
 * block ending in a 2x2 max-pool, then Linear + BN + ReLU twice, dropout, and the class layer.
 * Parameter names follow the module tree, e.g. `features.block1.conv1.weight`,
 * `features.block1.bn1.running_mean`, `classifier.fc3.bias`.
 */
export class Vgg {
  readonly plan: VggPlan;
  readonly device: string;
  readonly memoryFormat: MemoryFormat;
  readonly dtype: DType;
  private readonly convs: ConvUnit[] = [];
  private readonly linears: LinearUnit[] = [];
  private readonly eps: number;
  private readonly momentum: number;
  private readonly dropoutP: number;
  private disposed = false;

  constructor(widths: readonly number[], options: VggOptions = {}) {
    this.eps = options.batchNorm ?? 1e-4;
    if (!Number.isFinite(this.eps) || this.eps < 0) {
      throw new RangeError(
        `the batch-norm epsilon must be 0 (no batch norm) or positive, got ${this.eps}`,
      );
    }
    this.plan = vggPlan(widths, { ...options, batchNorm: this.eps > 0 });
    this.device = checkDevice(options.device ?? 'cpu');
    this.memoryFormat = options.memoryFormat ?? 'nchw';
    this.dtype = options.dtype ?? 'float32';
    this.momentum = options.batchNormMomentum ?? 0.1;
    this.dropoutP = options.dropout ?? 0.5;
    const init = options.weightInit ?? 'kaiming-normal';
    const { device, dtype } = this;
    const batchNorm = this.plan.batchNorm;
    tidy(() => {
      this.plan.convs.forEach((c, i) => {
        const next = this.plan.convs[i + 1];
        const weight = zeros([c.outChannels, c.inChannels, 3, 3], dtype, device);
        initWeight(weight, init);
        this.convs.push({
          prefix: `features.block${c.block}`,
          index: c.index,
          weight: this.memoryFormat === 'channels-last' ? weight.channelsLast() : weight,
          bn: batchNorm ? new BatchNorm(c.outChannels, dtype, device) : null,
          poolAfter: next === undefined || next.block !== c.block,
        });
      });
      for (const l of this.plan.linears) {
        const weight = zeros([l.outFeatures, l.inFeatures], dtype, device);
        initWeight(weight, init);
        this.linears.push({
          index: l.index,
          weight,
          bias: l.bias ? zeros([l.outFeatures], dtype, device) : null,
          bn: l.batchNorm ? new BatchNorm(l.outFeatures, dtype, device) : null,
          hidden: l.index < this.plan.linears.length,
        });
      }
      keep(this.state().map((s) => s.tensor));
    });
    for (const p of this.parameters()) p.tensor.setRequiresGrad(true);
  }

  /** Trainable parameters, in module order. */
  parameters(): NamedTensor[] {
    const out: NamedTensor[] = [];
    for (const c of this.convs) {
      out.push({ name: `${c.prefix}.conv${c.index}.weight`, tensor: c.weight });
      if (c.bn) {
        out.push({ name: `${c.prefix}.bn${c.index}.weight`, tensor: c.bn.weight });
        out.push({ name: `${c.prefix}.bn${c.index}.bias`, tensor: c.bn.bias });
      }
    }
    for (const l of this.linears) {
      out.push({ name: `classifier.fc${l.index}.weight`, tensor: l.weight });
      if (l.bias) out.push({ name: `classifier.fc${l.index}.bias`, tensor: l.bias });
      if (l.bn) {
        out.push({ name: `classifier.bn${l.index}.weight`, tensor: l.bn.weight });
        out.push({ name: `classifier.bn${l.index}.bias`, tensor: l.bn.bias });
      }
    }
    return out;
  }

  /** Batch-norm running statistics and counters. */
  buffers(): NamedTensor[] {
    const out: NamedTensor[] = [];
    const add = (prefix: string, bn: BatchNorm): void => {
      out.push({ name: `${prefix}.running_mean`, tensor: bn.runningMean });
      out.push({ name: `${prefix}.running_var`, tensor: bn.runningVar });
      out.push({ name: `${prefix}.num_batches_tracked`, tensor: bn.numBatchesTracked });
    };
    for (const c of this.convs) if (c.bn) add(`${c.prefix}.bn${c.index}`, c.bn);
    for (const l of this.linears) if (l.bn) add(`classifier.bn${l.index}`, l.bn);
    return out;
  }

  /** Parameters and buffers: everything a checkpoint holds. */
  state(): NamedTensor[] {
    return [...this.parameters(), ...this.buffers()];
  }

  /** Number of trainable parameters (equals `featshift family`'s `params`). */
  get parameterCount(): number {
    return countParams(this.plan);
  }

  /**
   * Logits [N, classes] for images [N, colors, P, P]. Each intermediate activation's handle is
   * released as soon as the next one exists: autograd keeps what its backward pass needs, and
   * frees it during that pass, so memory peaks as in PyTorch instead of holding every activation
   * until the step's scope closes.
   */
  forward(x: Tensor, training: boolean): Tensor {
    if (this.disposed) throw new Error('this model has been disposed');
    let h = x;
    const advance = (next: Tensor): void => {
      if (h !== x && h !== next) h.dispose();
      h = next;
    };
    if (this.memoryFormat === 'channels-last') advance(x.channelsLast());
    for (const c of this.convs) {
      advance(ops.conv2d(h, c.weight, null, 1, 1));
      if (c.bn) advance(c.bn.forward(h, training, this.momentum, this.eps));
      // In place: neither batch norm's backward pass nor a convolution's needs its output.
      advance(ops.relu_(h));
      if (c.poolAfter) advance(ops.maxPool2d(h, 2, 2));
    }
    advance(ops.flatten(h));
    for (const l of this.linears) {
      if (!l.hidden) advance(ops.dropout(h, this.dropoutP, training));
      advance(ops.linear(h, l.weight, l.bias));
      if (l.hidden) {
        if (l.bn) advance(l.bn.forward(h, training, this.momentum, this.eps));
        advance(ops.relu_(h));
      }
    }
    return h;
  }

  /** Copies values into the model's tensors by name; every name must exist with the same shape. */
  loadState(values: ReadonlyMap<string, Tensor>): void {
    const own = new Map(this.state().map((s) => [s.name, s.tensor]));
    for (const [name, value] of values) {
      const target = own.get(name);
      if (!target) throw new Error(`unknown tensor '${name}' for this model`);
      if (target.shape.join() !== value.shape.join()) {
        throw new Error(
          `tensor '${name}' has shape [${value.shape.join(', ')}], the model needs [${target.shape.join(', ')}]`,
        );
      }
      tidy(() => target.copy_(value.to(this.device, target.dtype)));
    }
    const missing = [...own.keys()].filter((n) => !values.has(n));
    if (missing.length > 0) throw new Error(`missing tensors: ${missing.join(', ')}`);
  }

  dispose(): void {
    for (const s of this.state()) s.tensor.dispose();
    this.disposed = true;
  }
}
