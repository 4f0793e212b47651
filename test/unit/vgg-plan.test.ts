import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countMacs, countParams, vggPlan } from '../../src/models/vgg-plan.js';
import { ArchitectureError } from '../../src/models/errors.js';
import { readFixture } from '../helpers/paths.js';

const { torchParams } = readFixture<{ torchParams: [number[], number][] }>('reference-family.json');

describe('vggPlan', () => {
  it('counts the same trainable parameters as PyTorch for the same network', () => {
    for (const [widths, expected] of torchParams) {
      const wide = widths[widths.length - 1] === 4096;
      const plan = vggPlan(widths, wide ? { patchSize: 224, classes: 1000 } : {});
      assert.equal(countParams(plan), expected, widths.join(' '));
    }
  });

  it('lays out blocks of 2, 2, k, k, k convolutions and shrinks 32 px to 1', () => {
    const plan = vggPlan([64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]);
    assert.deepEqual(
      plan.convs.map((c) => c.block),
      [1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5],
    );
    assert.deepEqual(
      plan.convs.map((c) => c.inputSize),
      [32, 32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2],
    );
    assert.equal(plan.finalSize, 1);
    assert.equal(plan.linears[0]?.inFeatures, 512);
    assert.equal(vggPlan(plan.widths, { patchSize: 224 }).linears[0]?.inFeatures, 512 * 7 * 7);
  });

  it('counts multiply-accumulates of convolutions and linear layers', () => {
    const plan = vggPlan([2, 2, 2, 2, 2, 2, 2, 2, 2], { classes: 3 });
    // convs: 32^2*9*(3*2 + 2*2) + 16^2*9*(2*2*2) + (8^2 + 4^2 + 2^2)*9*4, linears: 2*2*2 + 2*3
    const convs = 1024 * 9 * 10 + 256 * 9 * 8 + (64 + 16 + 4) * 9 * 4;
    assert.equal(countMacs(plan), convs + 8 + 6);
  });

  it('refuses bad width lists, class counts and patch sizes', () => {
    assert.throws(
      () => vggPlan([1, 2, 3]),
      (e: unknown) => e instanceof ArchitectureError && e.field === 'widths',
    );
    assert.throws(() => vggPlan([2, 2, 2, 2, 0, 2, 2, 2, 2]), /positive integer/);
    assert.throws(
      () => vggPlan([2, 2, 2, 2, 2, 2, 2, 2, 2], { classes: 0 }),
      (e: unknown) => e instanceof ArchitectureError && e.field === 'classes',
    );
    assert.throws(() => vggPlan([2, 2, 2, 2, 2, 2, 2, 2, 2], { patchSize: 16 }), /at least 32/);
  });
});
