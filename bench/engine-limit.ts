import { ops, tidy, zeros, type Tensor } from '../src/engine/index.js';
import { withAutocast } from '../src/engine/runtime.js';
import { countMacs, vggPlan } from '../src/models/vgg-plan.js';
import { median } from './common.js';

/**
 * This machine's limit for the models' work: the sustained GFLOP/s of the kernels a VGG spends
 * its time in, through the same libtorch, each the median of several calls after a warm-up: a
 * large 3x3 convolution in channels-last (oneDNN's fastest layout here) and a square matrix
 * product (the classifier's, through the BLAS libtorch loaded), in fp32 and under bf16 autocast.
 */
export interface MachineLimit {
  conv_fp32: number;
  /** null where bf16 was left out. */
  conv_bf16: number | null;
  matmul_fp32: number;
  matmul_bf16: number | null;
}

/** The most time one kernel's measurement takes, once it has two timed calls (ms). */
const KERNEL_BUDGET_MS = 2000;

/**
 * GFLOP/s of `call`, which does `flops` floating-point operations: median of up to `rounds` calls
 * after a warm-up (at least two, fewer than `rounds` where they pass KERNEL_BUDGET_MS: bf16 on a
 * CPU without bf16 instructions is emulated, 100 times slower), each timed to its end (a GPU's by
 * reading a sum of the result back, which waits for it).
 */
function gflops(flops: number, rounds: number, call: () => Tensor, gpu: boolean): number {
  const once = (): number => {
    const start = performance.now();
    tidy(() => {
      const out = call();
      if (gpu) ops.sum(out).item();
    });
    return performance.now() - start;
  };
  once();
  const times: number[] = [];
  let spent = 0;
  while (times.length < rounds && (times.length < 2 || spent < KERNEL_BUDGET_MS)) {
    times.push(once());
    spent += times[times.length - 1] ?? 0;
  }
  return flops / (median(times) * 1e6);
}

/**
 * A convolution of an 8 x 256 x 32 x 32 batch by 256 filters of 3 x 3 (9.7 GFLOP: VGG's wide
 * middle, its input larger than a core's cache) and a 1024 x 1024 matrix product (2.1 GFLOP), on
 * `device`; `bf16` false leaves the bf16 figures out (null).
 */
export function machineLimit(rounds = 5, device = 'cpu', bf16 = true): MachineLimit {
  const gpu = device !== 'cpu';
  const [n, c, size, k] = [8, 256, 32, 256];
  const convFlops = 2 * n * k * size * size * c * 9;
  const m = 1024;
  const matmulFlops = 2 * m * m * m;
  return tidy(() => {
    const x = zeros([n, c, size, size], 'float32', device).uniform_(-1, 1).channelsLast();
    const w = zeros([k, c, 3, 3], 'float32', device).uniform_(-1, 1).channelsLast();
    const a = zeros([m, m], 'float32', device).uniform_(-1, 1);
    const b = zeros([m, m], 'float32', device).uniform_(-1, 1);
    const under = (bf16: boolean, f: () => Tensor) => (): Tensor => withAutocast(bf16, device, f);
    const conv = (bf16: boolean): number =>
      gflops(
        convFlops,
        rounds,
        under(bf16, () => ops.conv2d(x, w, null, 1, 1)),
        gpu,
      );
    const matmul = (bf16: boolean): number =>
      gflops(
        matmulFlops,
        rounds,
        under(bf16, () => ops.linear(a, b, null)),
        gpu,
      );
    return {
      conv_fp32: conv(false),
      conv_bf16: bf16 ? conv(true) : null,
      matmul_fp32: matmul(false),
      matmul_bf16: bf16 ? matmul(true) : null,
    };
  });
}

/**
 * Floating-point operations of one training step of a VGG, per image: the forward pass (2 per
 * multiply-accumulate), the weights' gradients (as many) and the inputs' gradients (as many, save
 * the first convolution's, whose input needs none).
 */
export function trainingFlopsPerImage(widths: readonly number[]): number {
  const plan = vggPlan(widths);
  const first = plan.convs[0];
  const firstMacs = first
    ? first.inputSize * first.inputSize * 9 * first.inChannels * first.outChannels
    : 0;
  return 2 * (3 * countMacs(plan) - firstMacs);
}
