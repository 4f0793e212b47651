import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baselineArchitecture,
  binnedDensity,
  referenceCapacity,
  skewNormalFamily,
  skewNormalPdf,
} from '../../src/family/skew-normal.js';
import { vggBaseWidths } from '../../src/models/vgg-base.js';
import { UsageError } from '../../src/errors.js';
import { readFixture } from '../helpers/paths.js';

type Member = [number, number, number, number[]];
const reference = readFixture<{ families: Record<string, Member[]> }>('reference-family.json');

describe('vggBaseWidths', () => {
  it('is VGG-D for depth 16, 5248 features in 15 layers', () => {
    const w = vggBaseWidths(16);
    assert.deepEqual(w, [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]);
    assert.equal(
      w.reduce((a, b) => a + b),
      5248,
    );
  });

  it('widens the classifier above 100 px and follows D = 3k + 7', () => {
    assert.deepEqual(vggBaseWidths(16, 224).slice(-2), [4096, 4096]);
    assert.equal(vggBaseWidths(19).length, 18);
    assert.equal(vggBaseWidths(10).length, 9);
  });

  it('refuses depths that are not 3k + 7', () => {
    for (const d of [7, 9, 11, 15, 16.5, -2]) {
      assert.throws(
        () => vggBaseWidths(d),
        (e: unknown) => e instanceof UsageError && e.option === 'depth',
      );
    }
  });
});

describe('skewNormalFamily', () => {
  it('yields exactly 193 members for VGG-16 with the SPEC samples', () => {
    const family = skewNormalFamily();
    assert.equal(family.length, 193);
    const pick = (id: number) => family[id - 1];
    assert.deepEqual(
      { ...pick(1), macs: 0, params: 0 },
      {
        id: 1,
        xi: 0,
        omega: 4,
        alpha: 8,
        macs: 0,
        params: 0,
        widths: [823, 961, 852, 708, 552, 405, 279, 181, 110, 63, 34, 17, 9, 4, 2],
        capacity: 27206551,
        totalFeatures: 5000,
      },
    );
    assert.deepEqual([pick(97)?.xi, pick(97)?.omega, pick(97)?.alpha], [7, 3.5, 0]);
    assert.deepEqual(
      pick(97)?.widths,
      [107, 173, 260, 359, 458, 539, 585, 585, 540, 459, 360, 261, 174, 107, 61],
    );
    assert.equal(pick(97)?.capacity, 18874905);
    assert.deepEqual([pick(193)?.xi, pick(193)?.omega, pick(193)?.alpha], [15, 5.5, -12]);
    assert.deepEqual(
      pick(193)?.widths,
      [24, 38, 58, 85, 123, 170, 229, 298, 375, 457, 539, 615, 679, 724, 617],
    );
    assert.equal(pick(193)?.capacity, 13771031);
  });

  for (const [depth, members] of Object.entries(reference.families)) {
    it(`equals the reference integer for integer at depth ${depth} (${members.length} members)`, () => {
      const family = skewNormalFamily({ depth: Number(depth) });
      const got = family.map((a) => [a.xi, a.omega, a.alpha, a.widths]);
      assert.deepEqual(got, members);
      family.forEach((a, i) => {
        assert.equal(a.id, i + 1);
      });
    });
  }

  it('computes each member exactly as the slow exact path would', () => {
    // The fast path only decides widths it can certify; spot-check it against the exact one.
    const family = skewNormalFamily({ depth: 13 });
    for (const a of family.filter((_, i) => i % 17 === 0)) {
      const bins = binnedDensity(12, a.xi ?? 0, a.omega ?? 0, a.alpha ?? 0);
      const total = vggBaseWidths(13).reduce((x, y) => x + y);
      assert.deepEqual(
        a.widths,
        Array.from(bins, (b) => Math.ceil(b * total)),
      );
    }
  });

  it('has a density whose samples follow the reference formula', () => {
    // alpha = 0 is a plain normal density, times 1/2 from Phi(0), times the reference's 2.
    const v = skewNormalPdf(7.5, 7, 3.5, 0);
    const normal = Math.exp(-(0.5 ** 2) / (2 * 3.5 ** 2)) / (3.5 * Math.sqrt(2 * Math.PI));
    assert.ok(Math.abs(v - normal) < 1e-15);
  });

  it('scales the budget with --total-features and --width-multiplier', () => {
    const quarter = skewNormalFamily({ widthMultiplier: 0.25 });
    assert.ok(quarter.length > 100);
    // At least 95 % of the area falls inside, and ceil adds under one feature per layer.
    for (const a of quarter)
      assert.ok(a.totalFeatures >= 0.95 * 1312 && a.totalFeatures <= 1312 + 15);
    const fixed = skewNormalFamily({ totalFeatures: 5248 });
    assert.deepEqual(
      fixed.map((a) => a.widths),
      skewNormalFamily().map((a) => a.widths),
    );
    assert.throws(() => skewNormalFamily({ totalFeatures: 10, widthMultiplier: 2 }), UsageError);
    assert.throws(() => skewNormalFamily({ widthMultiplier: -1 }), UsageError);
  });

  it('honours the grid, the minimum and the area tolerance', () => {
    const one = skewNormalFamily({
      xi: { min: 7, max: 7, step: 1 },
      omega: { min: 3.5, max: 3.5, step: 1 },
      alpha: { min: 0, max: 0, step: 1 },
    });
    assert.equal(one.length, 1);
    assert.equal(one[0]?.capacity, 18874905);
    const strict = skewNormalFamily({ minFeatures: 20 });
    assert.ok(strict.length < 193 && strict.every((a) => a.widths.every((w) => w >= 20)));
    assert.ok(skewNormalFamily({ areaTolerance: 0.2 }).length > 193);
    assert.throws(() => skewNormalFamily({ areaTolerance: 1 }), UsageError);
    assert.throws(() => skewNormalFamily({ omega: { min: 1, max: 0, step: 1 } }), UsageError);
  });
});

describe('baselineArchitecture', () => {
  it('is the standard VGG with its capacity, parameters and MACs', () => {
    const base = baselineArchitecture();
    assert.equal(base.id, 0);
    assert.equal(base.xi, null);
    assert.deepEqual(base.widths, vggBaseWidths(16));
    assert.equal(base.capacity, referenceCapacity(vggBaseWidths(16), 10));
    assert.equal(base.totalFeatures, 5248);
    // 13 convs at 32, 16, 8, 4, 2 px plus the classifier.
    assert.equal(base.macs, 313725952);
  });

  it('scales with the budget', () => {
    const base = baselineArchitecture({ widthMultiplier: 0.25 });
    assert.deepEqual(base.widths.slice(0, 4), [16, 16, 32, 32]);
  });
});
