/**
 * Trains a small VGG for STEPS synchronous steps (never returning to the event loop, as a timing
 * loop does) and prints its resident memory in MiB after each step and the process's malloc, as
 * JSON {"resident": [...], "malloc": ...}:
 *   node dist/test/helpers/resident-steps.js STEPS
 * In a process of its own, so that no other test's memory is counted.
 */
import { readFileSync } from 'node:fs';
import {
  hostMemory,
  manualSeed,
  ops,
  setThreads,
  tensor,
  tidy,
  zeros,
} from '../../src/engine/index.js';
import { Vgg } from '../../src/models/vgg.js';
import { Sgd } from '../../src/train/sgd.js';

const residentMiB = (): number =>
  (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 2 ** 20;

const steps = Number(process.argv[2] ?? 100);
setThreads(1);
manualSeed(0);
const model = new Vgg([8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64, 64, 64]);
const sgd = new Sgd(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const x = zeros([64, 3, 32, 32]).uniform_(0, 1);
const y = tensor(
  BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i % 10)),
  [64],
);
const resident: number[] = [];
for (let i = 0; i < steps; i++) {
  sgd.zeroGrad();
  tidy(() => {
    ops.crossEntropy(model.forward(x, true), y).backward();
  });
  sgd.step();
  resident.push(Math.round(residentMiB()));
}
console.log(JSON.stringify({ resident, malloc: hostMemory().processMalloc }));
