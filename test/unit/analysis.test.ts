import assert from 'node:assert/strict';

import { describe, it } from 'node:test';

import { architectureStats, topVerdict } from '../../src/analysis/architectures.js';
import {
  bootstrapDifference,
  bootstrapGroup,
  mean,
  median,
  tInterval,
  welchInterval,
} from '../../src/analysis/stats.js';
import { analyzeStudy } from '../../src/analysis/study-analysis.js';
import type { RunResult } from '../../src/run/load.js';
import { syntheticRun, syntheticStudy } from '../helpers/synthetic.js';
import { summaryTable } from '../../src/sweep/summary.js';
import type { ResultRecord } from '../../src/run/results.js';

const close = (a: number | null, b: number, tol = 1e-6): void => {
  assert.ok(a !== null && Math.abs(a - b) < tol, `${String(a)} is not ${b}`);
};

const result = syntheticRun;
const study = syntheticStudy;

/** Three seeds of each id around `center` with a spread of `spread` points. */
const seeds3 = (id: number, xi: number | null, center: number, spread: number): RunResult[] =>
  [-1, 0, 1].map((k, seed) => result(id, seed, xi, center + k * spread));

describe('statistics over seeds', () => {
  it('gives Student t intervals: [1, 2, 3] is 2 ± 4.3027/sqrt(3), one value has none', () => {
    const t = tInterval([1, 2, 3]);
    close(t.mean, 2);
    close(t.sd, 1);
    close(t.halfWidth, 4.302652729 / Math.sqrt(3), 1e-6);
    const one = tInterval([5]);
    assert.equal(one.mean, 5);
    assert.equal(one.halfWidth, null);
    assert.equal(one.low, null);
  });

  it("gives Welch's interval of a difference: [1,2,3] - [4,5,6] is -3 ± 2.7764 sqrt(2/3) at 4 dof", () => {
    const d = welchInterval([1, 2, 3], [4, 5, 6]);
    close(d?.value ?? null, -3);
    close(d?.high ?? null, -3 + 2.776445105 * Math.sqrt(2 / 3), 1e-6);
    assert.equal(welchInterval([1], [2, 3]), null);
  });

  it('bootstraps groups reproducibly, with intervals that hold the estimate, and none for one run', () => {
    const group = [
      [80, 81, 82],
      [84, 85, 86],
    ];
    const options = { resamples: 2000, seed: 7 };
    const a = bootstrapGroup(group, mean, options);
    assert.deepEqual(bootstrapGroup(group, mean, options), a, 'the same seed, the same interval');
    assert.equal(a.value, 83);
    assert.ok(a.low !== null && a.high !== null && a.low < 83 && a.high > 83);
    assert.ok(a.low >= 80 && a.high <= 86);
    assert.deepEqual(bootstrapGroup([[70]], median, options), { value: 70, low: null, high: null });
    const apart = bootstrapDifference(group, [[60, 61, 62]], mean, options);
    assert.ok(apart.low !== null && apart.low > 15, 'groups 20 points apart differ');
    const same = bootstrapDifference(group, [[81, 85, 83]], mean, options);
    assert.ok(same.low !== null && same.high !== null && same.low < 0 && same.high > 0);
  });
});

describe('the study analysis', () => {
  it('finds early better than late, and says which groups the data cannot separate', () => {
    const results = [
      ...seeds3(1, 1, 90, 0.5),
      ...seeds3(2, 3, 89.5, 0.5),
      ...seeds3(3, 7, 86, 1),
      ...seeds3(4, 8, 85, 1),
      ...seeds3(5, 13, 80, 0.5),
      ...seeds3(6, 14, 80.5, 0.5),
      ...seeds3(7, 2, 89.8, 0.5),
      ...seeds3(8, 9, 85.5, 1),
      ...seeds3(9, 13, 80.2, 0.5),
      ...seeds3(0, null, 85.5, 1),
    ];
    const a = analyzeStudy([study(results, 30)], { resamples: 2000, seed: 0 });
    assert.equal(a.finished, 30);
    assert.deepEqual(
      a.groups.filter((g) => g.scheme === 'location').map((g) => [g.name, g.ids]),
      [
        ['early', [1, 2, 7]],
        ['middle', [3, 4, 8]],
        ['late', [5, 6, 9]],
        ['VGG', [0]],
      ],
    );
    const earlyLate = a.differences.find((d) => d.minuend === 'early' && d.subtrahend === 'late');
    assert.ok(earlyLate?.decided);
    assert.ok(earlyLate.mean.value > 9);
    const middleVgg = a.differences.find((d) => d.minuend === 'middle' && d.subtrahend === 'VGG');
    assert.equal(middleVgg?.decided, false, JSON.stringify(middleVgg));
    const text = a.finding.join('\n');
    assert.match(text, /early − late: \+9\.\d\d points \(95 % CI [^)]*\): early is better/);
    assert.match(text, /middle − VGG: [^:]*: the data cannot decide/);
    assert.match(
      text,
      /Best architecture: id 1, 90\.00 ± [\d.]+ %; ids? [\d, ]*\b2\b[\d, ]* cannot be told apart/,
    );
    const edf = a.groups.find((g) => g.name === 'late')?.errors ?? [];
    assert.deepEqual(
      edf,
      [...edf].sort((x, y) => x - y),
    );
    assert.equal(edf.length, 9);
    assert.equal(a.pareto.macs[0], 6, 'the cheapest member (xi 14) starts the Pareto front');
    assert.ok(!a.pareto.macs.includes(5), 'id 5 costs more than id 6 and is less accurate');
  });

  it('says a single seed cannot rank, and that a partial run is partial', () => {
    const results = [result(1, 0, 1, 90), result(5, 0, 13, 80)];
    const a = analyzeStudy([study(results, 10)], { resamples: 500, seed: 0 });
    const text = a.finding.join('\n');
    assert.match(text, /2 of 10 planned runs finished: a partial answer/);
    assert.match(text, /early − late: \+10\.00 points \(no interval: one run\)/);
    assert.match(text, /one seed per architecture/);
    assert.match(
      text,
      /Highest mean: id 1, 90\.00 \(n=1\) %; no ranking: one seed per architecture cannot rank/,
    );
  });

  it('summarises a sweep as mean ± half-width per architecture, marking ties with the best', () => {
    const records = [
      ...seeds3(1, 1, 90, 0.5),
      ...seeds3(2, 3, 89.8, 1),
      ...seeds3(5, 13, 70, 0.5),
    ] as unknown as ResultRecord[];
    const table = summaryTable(records);
    assert.match(table, /^\s+1\s+1\s.*\s3\s+90\.00 ± 1\.24 .* best$/m);
    assert.match(table, /^\s+2\s+2\s.*=best$/m);
    assert.doesNotMatch(table, /^\s+3\s+5\s.*best/m);
    assert.match(table, /ids? 2\.?$/m);
    const single = summaryTable([result(1, 0, 1, 90)] as unknown as ResultRecord[]);
    assert.match(single, /No ranking: one architecture: nothing to rank it against/);
    assert.doesNotMatch(single, /better than every other/);
    const stats = architectureStats(records);
    assert.deepEqual(topVerdict(stats).tiedWithBest, [2]);
  });
});
