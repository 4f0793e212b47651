import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualSeed, zeros } from '../../src/engine/index.js';
import { Vgg } from '../../src/models/vgg.js';
import { Sgd } from '../../src/train/sgd.js';
import { trainStep } from '../../src/train/step.js';

const WIDTHS = [4, 4, 6, 6, 8, 8, 8, 10, 10];

function setup(): { model: Vgg; sgd: Sgd } {
  manualSeed(11);
  const model = new Vgg(WIDTHS, { memoryFormat: 'nchw', dropout: 0 });
  const sgd = new Sgd(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  return { model, sgd };
}

describe('gradient accumulation over micro-batches', () => {
  it('makes the same update as the full batch (batch norm in evaluation mode)', () => {
    manualSeed(5);
    const x = zeros([8, 3, 32, 32]).normal_(0, 1).toFloat32();
    const y = BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    const full = setup();
    const a = trainStep(full.model, full.sgd, x, y, {
      batchSize: 8,
      microBatch: 8,
      training: false,
    });
    const split = setup();
    const b = trainStep(split.model, split.sgd, x, y, {
      batchSize: 8,
      microBatch: 2,
      training: false,
    });
    assert.equal(a.count, 8);
    assert.equal(a.correct, b.correct);
    assert.ok(Math.abs(a.lossSum - b.lossSum) < 1e-4);
    const wa = full.model.parameters();
    const wb = split.model.parameters();
    let worst = 0;
    wa.forEach((p, i) => {
      const va = p.tensor.contiguous().toFloat32();
      const vb = wb[i]?.tensor.contiguous().toFloat32() ?? new Float32Array();
      for (let k = 0; k < va.length; k++)
        worst = Math.max(worst, Math.abs((va[k] as number) - (vb[k] as number)));
    });
    assert.ok(worst < 1e-5, `largest difference ${worst}`);
    // And the update did happen.
    const fresh = setup().model.parameters()[0]?.tensor.toFloat32() ?? new Float32Array();
    assert.notDeepEqual(wa[0]?.tensor.toFloat32(), fresh);
  });

  it('reports a NaN loss and leaves the weights alone', () => {
    const { model, sgd } = setup();
    const before = model.parameters()[0]?.tensor.toFloat32();
    const x = new Float32Array(2 * 3 * 32 * 32).fill(NaN);
    const stats = trainStep(model, sgd, x, BigInt64Array.from([0n, 1n]), {
      batchSize: 2,
      microBatch: 2,
    });
    assert.equal(stats.finite, false);
    assert.deepEqual(model.parameters()[0]?.tensor.toFloat32(), before);
  });
});
