import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError, OutOfMemoryError } from '../../src/engine/errors.js';
import { WarmRestartSchedule } from '../../src/train/schedule.js';
import {
  chooseMicroBatch,
  MemoryBudgetError,
  planMicroBatch,
  divisorsDescending,
  referenceMemoryEstimate,
} from '../../src/train/memory.js';
import { vggPlan } from '../../src/models/vgg-plan.js';
import { vggBaseWidths } from '../../src/models/vgg-base.js';

describe('warm-restart schedule', () => {
  it('follows docs/method.md §3: lr = min + (max - min)(1 + cos(pi t / cycle)) / 2, set before every step', () => {
    const max = 0.01;
    const min = 1e-5;
    const schedule = new WarmRestartSchedule({
      lr: max,
      lrWrMin: min,
      lrWrEpochs: 10,
      lrWrMul: 2,
      datasetSize: 1050,
      batchSize: 100,
    });
    const steps = 11; // the last partial batch of 50 images is a step of its own
    const formula = (t: number, cycle: number): number =>
      min + 0.5 * (max - min) * (1 + Math.cos((t / cycle) * Math.PI));
    const seen: number[][] = [];
    for (let epoch = 0; epoch < 31; epoch++) {
      const lrs: number[] = [];
      for (let step = 1; step <= steps; step++) lrs.push(schedule.rate(step));
      schedule.endEpoch();
      seen.push(lrs);
    }
    const lr = (epoch: number, step: number): number => {
      const v = seen[epoch]?.[step];
      assert.ok(v !== undefined);
      return v;
    };
    // floor(1050 / 100) = 10 steps make one unit of t.
    assert.equal(lr(0, 0), formula(0 + (1 / 10) * 1, 10));
    assert.equal(lr(3, 4), formula(3 + (1 / 10) * 5, 10));
    // The 11th step runs t past the epoch's end, as in the reference.
    assert.equal(lr(9, 10), formula(9 + 1.1, 10));
    // Epoch 10: its first step still ends the old cycle, then the 20-epoch cycle starts again.
    assert.equal(lr(10, 0), formula(10.1, 10));
    assert.equal(lr(10, 1), formula(0.2, 20));
    assert.equal(lr(29, 5), formula(19.6, 20));
    assert.equal(lr(30, 0), formula(20.1, 20));
    assert.equal(lr(30, 1), formula(0.2, 40));
    // The rate falls within a cycle and jumps back up at a restart.
    assert.ok(lr(5, 0) > lr(9, 9));
    assert.ok(lr(10, 1) > 0.0099);
  });

  it('refuses a dataset smaller than one batch', () => {
    assert.throws(
      () =>
        new WarmRestartSchedule({
          lr: 0.1,
          lrWrMin: 0,
          lrWrEpochs: 1,
          lrWrMul: 2,
          datasetSize: 10,
          batchSize: 128,
        }),
      /at least one full batch per epoch/,
    );
  });
});

describe('choosing the micro-batch', () => {
  const plan = vggPlan(vggBaseWidths(16));

  it('takes the largest divisor of the batch whose measured pass fits', () => {
    assert.deepEqual(divisorsDescending(12), [12, 6, 4, 3, 2, 1]);
    const measured: number[] = [];
    const probe = (m: number): number => {
      measured.push(m);
      return 1000 + 100 * m; // bytes
    };
    const choice = chooseMicroBatch(128, 5000, probe, plan);
    assert.equal(choice.microBatch, 32);
    assert.equal(choice.measuredBytes, 4200);
    assert.ok(measured.includes(32), 'the chosen size was measured itself');
    assert.equal(chooseMicroBatch(128, 1e9, probe, plan).microBatch, 128);
  });

  it('steps down when a measurement exceeds the prediction, and treats out-of-memory as too big', () => {
    const probe = (m: number): number => {
      if (m >= 64) throw new OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB');
      return m <= 2 ? 100 * m : 1000 * m;
    };
    assert.equal(chooseMicroBatch(128, 20000, probe, plan).microBatch, 16);
    // Any other failure of a probe is no measurement: it propagates.
    assert.throws(
      () =>
        chooseMicroBatch(
          128,
          20000,
          () => {
            throw new EngineError('CUDA error: an illegal memory access was encountered');
          },
          plan,
        ),
      EngineError,
    );
  });

  it("keeps the study's micro-batch when it fits, whatever the free memory: the same numbers on every host", () => {
    const probe = (m: number): number => 1000 * m;
    for (const budget of [200_000, 1e9]) {
      const choice = planMicroBatch(
        128,
        { requested: 128, allowSplit: true, budgetBytes: budget },
        probe,
        plan,
      );
      assert.deepEqual([choice.microBatch, choice.split], [128, false]);
    }
  });

  it('refuses a micro-batch that does not fit, or splits it where allowed (a GPU out of memory, simulated)', () => {
    const gpu = (m: number): undefined => {
      if (m > 32) throw new OutOfMemoryError('CUDA out of memory. Tried to allocate 1.50 GiB');
      return undefined;
    };
    assert.throws(
      () =>
        planMicroBatch(128, { requested: 128, allowSplit: false, budgetBytes: 1e12 }, gpu, plan),
      (e: unknown) =>
        e instanceof MemoryBudgetError &&
        /a micro-batch of 128 images runs out of memory.*--allow-split/.test(e.message),
    );
    const split = planMicroBatch(
      128,
      { requested: 128, allowSplit: true, budgetBytes: 1e12 },
      gpu,
      plan,
    );
    assert.deepEqual([split.microBatch, split.split], [32, true]);
    // A study's own smaller micro-batch that fits is not a split.
    const own = planMicroBatch(
      128,
      { requested: 16, allowSplit: false, budgetBytes: 1e12 },
      gpu,
      plan,
    );
    assert.deepEqual([own.microBatch, own.split], [16, false]);
  });

  it('refuses when not even the smallest micro-batch fits', () => {
    assert.throws(
      () => chooseMicroBatch(128, 10, () => 1000, plan),
      /not even a micro-batch of 1 fits the memory budget/,
    );
  });

  it("computes the reference's estimate: inputs, 32-bit weights and every layer's output, x4 + 1 GiB", () => {
    const { estimateBytes, requiredBytes } = referenceMemoryEstimate(plan, 128);
    assert.ok(
      estimateBytes > 0.05 * 2 ** 30 && estimateBytes < 0.5 * 2 ** 30,
      String(estimateBytes),
    );
    assert.equal(requiredBytes, 4 * estimateBytes + 2 ** 30);
  });
});
