import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jStat from 'jstat';
import {
  bestDesign,
  parseDesign,
  pilotVariances,
  PilotError,
  planDesign,
  type PilotVariances,
} from '../../src/analysis/design-power.js';
import { detectableDifference } from '../../src/analysis/stats.js';

import { syntheticRun } from '../helpers/synthetic.js';

/**
 * Planning a design from a pilot (issue: answers on equal terms, item 5): the variances a pilot
 * shows, the difference each design would detect, the choice within a budget, and `featshift plan`
 * as a user runs it.
 */

const close = (a: number, b: number, what: string): void => {
  assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);
};

/**
 * A VGG-16 pilot: per location, architecture means `means`, each with seeds at mean - d and
 * mean + d (seed variance 2 d²); a baseline of three seeds at 80 - b, 80, 80 + b.
 */
function pilot(
  means: Record<'early' | 'middle' | 'late', number[]>,
  d: number,
  b: number,
  seconds = 10,
) {
  const xi = { early: 2, middle: 7, late: 13 };
  const runs = [];
  let id = 1;
  for (const [where, list] of Object.entries(means) as [keyof typeof xi, number[]][])
    for (const m of list) {
      for (const [seed, v] of [m - d, m + d].entries())
        runs.push({ ...syntheticRun(id, seed, xi[where], v), runSeconds: seconds });
      id++;
    }
  for (const [seed, v] of [80 - b, 80, 80 + b].entries())
    runs.push({ ...syntheticRun(0, seed, null, v), runSeconds: seconds / 2 });
  return runs;
}

describe('a pilot split into variance between architectures and between seeds', () => {
  it('pools the seed variance over members and takes each location’s own spread of means less its seed noise', () => {
    const v = pilotVariances(
      pilot({ early: [50, 60, 70], middle: [60, 62], late: [70, 70, 76] }, 2, 3),
      16,
    );
    close(v.seeds.variance, 8, 'seed variance (2 d² with d = 2)');
    assert.equal(v.seeds.dof, 8);
    const by = Object.fromEntries(v.groups.map((g) => [g.name, g]));
    // The spread of the means less the seed noise of a mean of two seeds (8 / 2).
    close(by.early?.between ?? NaN, 100 - 4, 'early');
    close(by.middle?.between ?? NaN, 0, 'middle: a spread of 2 is all seed noise, floored at 0');
    close(by.late?.between ?? NaN, 12 - 4, 'late');
    assert.equal(by.early?.seconds, 10);
    assert.deepEqual(v.baseline, { runs: 3, variance: 9, seconds: 5 });
  });

  it('refuses a pilot of one seed, or with one architecture in a location, saying what to run', () => {
    const one = pilot({ early: [50, 60], middle: [60, 62], late: [70, 72] }, 2, 3).filter(
      (r) => r.seed === 0 || r.id === 0,
    );
    assert.throws(() => pilotVariances(one, 16), PilotError);
    assert.throws(() => pilotVariances(one, 16), /--seeds 2 or more/);
    const lone = pilot({ early: [50], middle: [60, 62], late: [70, 72] }, 2, 3);
    assert.throws(
      () => pilotVariances(lone, 16),
      /one architecture early .* add members with --ids/,
    );
  });
});

describe('the difference a design detects', () => {
  const v: PilotVariances = {
    groups: [
      { name: 'early', architectures: 4, runs: 8, between: 30, seconds: 20 },
      { name: 'late', architectures: 4, runs: 8, between: 10, seconds: 5 },
    ],
    seeds: { variance: 8, dof: 8 },
    baseline: { runs: 3, variance: 2, seconds: 4 },
  };

  it('is Welch’s (t at 95 % + t at 80 %) times the standard error of the planned units', () => {
    const plan = planDesign(v, { perLocation: 4, seeds: 2 });
    const ve = (30 + 8 / 2) / 4;
    const vl = (10 + 8 / 2) / 4;
    const dof = (ve + vl) ** 2 / (ve ** 2 / 3 + vl ** 2 / 3);
    const expected =
      (jStat.studentt.inv(0.975, dof) + jStat.studentt.inv(0.8, dof)) * Math.sqrt(ve + vl);
    const earlyLate = plan.differences.find(
      (d) => d.minuend === 'early' && d.subtrahend === 'late',
    );
    close(earlyLate?.detectable ?? NaN, expected, 'early - late');
    assert.equal(plan.runs, (4 + 4 + 1) * 2);
    assert.equal(plan.seconds, 4 * 2 * 20 + 4 * 2 * 5 + 2 * 4);
  });

  it('agrees with what the analysis states afterwards from data of exactly those variances', () => {
    // Units of sample variance 4 and 25, three each: planned from those variances (between
    // plus seeds over one seed), the two are one formula.
    const stated = detectableDifference([[48], [50], [52]], [[55], [60], [65]]);
    const planned = planDesign(
      {
        groups: [
          { name: 'early', architectures: 3, runs: 3, between: 4 - 1, seconds: null },
          { name: 'late', architectures: 3, runs: 3, between: 25 - 1, seconds: null },
        ],
        seeds: { variance: 1, dof: 3 },
        baseline: null,
      },
      { perLocation: 3, seeds: 1 },
    ).differences[0]?.detectable;
    close(planned ?? NaN, stated ?? NaN, 'planned vs stated');
  });

  it('shrinks with more architectures and more seeds, and gives no verdict under three per location', () => {
    const dd = (k: number, s: number): number =>
      planDesign(v, { perLocation: k, seeds: s }).differences[0]?.detectable ?? NaN;
    assert.ok(dd(6, 1) < dd(4, 1));
    assert.ok(dd(4, 3) < dd(4, 1));
    const two = planDesign(v, { perLocation: 2, seeds: 3 });
    assert.equal(two.differences[0]?.overArchitectures, false);
    assert.equal(two.worst, null);
    const single = planDesign(v, { perLocation: 1, seeds: 3 });
    assert.equal(single.differences[0]?.detectable, null);
  });

  it('plans no location - VGG difference from one baseline seed, so such a design cannot be chosen', () => {
    const oneSeed = planDesign(v, { perLocation: 5, seeds: 1 });
    assert.equal(oneSeed.differences.find((d) => d.subtrahend === 'VGG')?.detectable, null);
    assert.equal(oneSeed.worst, null);
    const twoSeeds = planDesign(v, { perLocation: 5, seeds: 2 });
    assert.ok((twoSeeds.worst ?? NaN) > 0);
  });

  it('chooses the smallest worst detectable difference within the budget', () => {
    const plans = [
      planDesign(v, { perLocation: 3, seeds: 2 }),
      planDesign(v, { perLocation: 4, seeds: 2 }),
      planDesign(v, { perLocation: 6, seeds: 3 }),
    ];
    assert.equal(bestDesign(plans, null)?.design.perLocation, 6);
    const budget = plans[1]?.seconds ?? NaN;
    assert.deepEqual(bestDesign(plans, budget)?.design, { perLocation: 4, seeds: 2 });
    assert.equal(bestDesign(plans, 1), null);
  });

  it('reads designs as KxS', () => {
    assert.deepEqual(parseDesign('3x2'), { perLocation: 3, seeds: 2 });
    assert.deepEqual(parseDesign(' 10X1 '), { perLocation: 10, seeds: 1 });
    for (const bad of ['3', 'x2', '0x2', '3x0', '3x2x1', '-1x2'])
      assert.equal(parseDesign(bad), null);
  });
});
