import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gridName, REFERENCE_DEFAULTS } from '../../src/run/study.js';

/** Ids are positions in one grid: every listing of ids names the grid once (issue: the report). */
describe('the grid a study numbers', () => {
  it('names the family, the depth, the scale and the (xi, omega, alpha) grid', () => {
    assert.equal(
      gridName({ ...REFERENCE_DEFAULTS, widthMultiplier: 0.125 }),
      "the skew-normal family of VGG-16, x0.125 of VGG-16's features (xi 0:15:1, omega 0:5.5:0.5, alpha -40:40:4, at least 2 features a layer)",
    );
    assert.match(
      gridName({
        ...REFERENCE_DEFAULTS,
        depth: 10,
        totalFeatures: 300,
        xi: { min: 0, max: 9, step: 3 },
      }),
      /^the skew-normal family of VGG-10, 300 features in all \(xi 0:9:3, /,
    );
    assert.match(gridName(REFERENCE_DEFAULTS), /VGG-16, VGG-16's features \(/);
  });
});
