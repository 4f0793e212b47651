import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { erf, exp, fastErf, numpyArange, pairwiseSum } from '../../src/family/precise-math.js';
import { readFixture } from '../helpers/paths.js';

interface Facts {
  arangeLengths: [number, number, number, number][];
  pairwiseSums: [number[], number][];
  scipyErf: [number, number][];
  exactErf: [number, number][];
  exactExp: [number, number][];
}
const { facts } = readFixture<{ facts: Facts }>('reference-family.json');

function ulpDistance(a: number, b: number): number {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  return Number(view.getBigInt64(0) - view.getBigInt64(8));
}

describe('erf', () => {
  it('equals the correctly rounded value (256-bit mpmath) at known points', () => {
    for (const [x, expected] of facts.exactErf) assert.equal(erf(x), expected, `erf(${x})`);
  });

  it('is within one ulp of SciPy, which is not always correctly rounded', () => {
    for (const [x, scipy] of facts.scipyErf)
      assert.ok(Math.abs(ulpDistance(erf(x), scipy)) <= 1, `erf(${x})`);
  });

  it('is odd, keeps signed zero, and saturates', () => {
    assert.ok(Object.is(erf(-0), -0));
    assert.equal(erf(0), 0);
    assert.equal(erf(-1.25), -erf(1.25));
    assert.equal(erf(6), 1);
    assert.equal(erf(-40), -1);
    assert.ok(Number.isNaN(erf(NaN)));
    // erf(5.5) is the last double below 1 by 7.4e-15: the tail is not rounded away early.
    assert.equal(erf(5.5), 0.9999999999999927);
  });

  it('has a fast variant within 2 ulp across [-7, 7]', () => {
    let worst = 0;
    for (let i = 0; i <= 140000; i++) {
      const x = -7 + i * 1e-4 + 1e-7;
      worst = Math.max(worst, Math.abs(ulpDistance(fastErf(x), erf(x))));
    }
    assert.ok(worst <= 2, `worst ${worst} ulp`);
  });
});

describe('exp', () => {
  it('is correctly rounded at known points, where Math.exp need not be', () => {
    for (const [x, expected] of facts.exactExp) assert.equal(exp(x), expected, `exp(${x})`);
    assert.equal(exp(0), 1);
  });
});

describe('NumPy reproductions', () => {
  it('numpyArange has NumPy’s lengths and element formula', () => {
    for (const [start, stop, step, length] of facts.arangeLengths) {
      assert.equal(numpyArange(start, stop, step).length, length);
    }
    const a = numpyArange(3, 4, 1 / 100);
    assert.equal(a[1], 3 + 1 / 100);
    assert.equal(a[7], 3 + 7 * (3 + 1 / 100 - 3));
    assert.deepEqual(Array.from(numpyArange(-40, 44, 4)).slice(0, 3), [-40, -36, -32]);
  });

  it('pairwiseSum equals np.sum bit for bit', () => {
    for (const [values, expected] of facts.pairwiseSums) {
      assert.equal(pairwiseSum(Float64Array.from(values)), expected);
    }
    // A naive left-to-right sum of ten 0.1 gives 0.9999999999999999; NumPy's gives 1.
    assert.equal(pairwiseSum(new Float64Array(10).fill(0.1)), 1);
  });
});
