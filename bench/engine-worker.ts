/**
 * One engine measurement in a process of its own (so that its peak RSS is its own):
 *   node dist/bench/engine-worker.js WIDTHS BATCH THREADS STEPS [nchw|bf16]
 * (bf16: channels-last in bf16 mixed precision)
 * Prints {"img_s": ..., "rss_mb": ..., "allocator": ..., "malloc": ...}: training throughput (median
 * step after warm-up), peak resident memory, the allocator that held the tensors
 * (FEATSHIFT_HOST_ALLOCATOR) and the process's malloc. With WIDTHS 'limit' it prints this
 * machine's limit instead (bench/engine-limit.ts), STEPS calls of each kernel.
 * FEATSHIFT_BENCH_DEVICE (default cpu) names the device, such as cuda:0 (the GPU check); a GPU step
 * is timed to its end. With FEATSHIFT_BENCH_LOCKSTEP=1 it steps when told (bench/lockstep.ts).
 */
import { createInterface } from 'node:readline';
import {
  hostMemory,
  manualSeed,
  ops,
  setThreads,
  tensor,
  tidy,
  zeros,
} from '../src/engine/index.js';
import { withAutocast } from '../src/engine/runtime.js';
import { Vgg } from '../src/models/vgg.js';
import { Sgd } from '../src/train/sgd.js';
import { median } from './common.js';
import { machineLimit } from './engine-limit.js';

const [widthsArg = '', batchArg = '128', threadsArg = '1', stepsArg = '5', layout = ''] =
  process.argv.slice(2);
const device = process.env.FEATSHIFT_BENCH_DEVICE ?? 'cpu';
const bf16Measured = process.env.FEATSHIFT_BENCH_BF16 !== '0';
setThreads(Number(threadsArg));
if (widthsArg === 'limit') {
  console.log(JSON.stringify(machineLimit(Number(stepsArg), device, bf16Measured)));
  process.exit(0);
}
const widths = widthsArg.split(',').map(Number);
const batch = Number(batchArg);
manualSeed(0);
const model = new Vgg(widths, {
  memoryFormat: layout === 'nchw' ? 'nchw' : 'channels-last',
  device,
});
const bf16 = layout === 'bf16';
const sgd = new Sgd(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const x = zeros([batch, 3, 32, 32], 'float32', device).uniform_(0, 1);
const y = tensor(
  BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10)),
  [batch],
).to(device);
const first = model.parameters()[0]?.tensor;

const step = (): number => {
  const start = performance.now();
  sgd.zeroGrad();
  tidy(() => {
    withAutocast(bf16, device, () => ops.crossEntropy(model.forward(x, true), y)).backward();
  });
  sgd.step();
  // A GPU queues the step: reading a value back waits for it (the CPU has computed it already).
  if (device !== 'cpu' && first) tidy(() => ops.sum(first).item());
  return performance.now() - start;
};

// Back to the event loop after each step, untimed, as the trainer does after every batch.
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const finish = (times: readonly number[]): string => {
  const memory = hostMemory();
  return JSON.stringify({
    img_s: (batch * 1000) / median(times),
    rss_mb: process.resourceUsage().maxRSS / 1024,
    allocator: memory.allocator,
    malloc: memory.processMalloc,
  });
};
for (let i = 0; i < 2; i++) {
  step(); // two warm-up steps
  await settle();
}
if (process.env.FEATSHIFT_BENCH_LOCKSTEP === '1') {
  // bench/lockstep.ts: one step per 'step' line on stdin, its milliseconds on stdout.
  const times: number[] = [];
  console.log('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'step') break;
    const ms = step();
    times.push(ms);
    console.log(String(ms));
  }
  console.log(finish(times));
} else {
  const times: number[] = [];
  for (let i = 0; i < Number(stepsArg); i++) {
    times.push(step());
    await settle();
  }
  console.log(finish(times));
}
