import assert from 'node:assert/strict';

import { describe, it } from 'node:test';
import { architectureStats, plusMinus, topVerdict } from '../../src/analysis/architectures.js';
import { PERCENT, tInterval } from '../../src/analysis/stats.js';
import { analyzeStudy } from '../../src/analysis/study-analysis.js';

import type { LoadedStudy, RunResult } from '../../src/run/load.js';

import type { ResultRecord } from '../../src/run/results.js';
import { skewNormalFamily } from '../../src/family/skew-normal.js';
import { locationSample } from '../../src/run/study.js';
import { summaryTable } from '../../src/sweep/summary.js';

import { syntheticRun, syntheticStudy } from '../helpers/synthetic.js';

/**
 * Answers on equal terms (issue: answers): what featshift prints to compare architectures says
 * what the data cannot decide, and a study that cannot do what was asked is stopped before it
 * trains.
 */

const run = syntheticRun;
const loaded = (list: RunResult[]): LoadedStudy => syntheticStudy(list);

describe('honest small samples', () => {
  it('two seeds: no tie marks and no ranking, said in words; intervals cut at 0-100 % and marked', () => {
    const list = [
      run(1, 0, 1, 1),
      run(1, 1, 1, 70),
      run(2, 0, 3, 30),
      run(2, 1, 3, 38),
      run(3, 0, 13, 20),
      run(3, 1, 13, 24),
    ];
    const stats = architectureStats(list);
    assert.deepEqual(topVerdict(stats).tiedWithBest, []);
    const table = summaryTable(list as unknown as ResultRecord[]);
    assert.doesNotMatch(table, /=best| best$/m);
    assert.match(table, /No ranking: 2 seeds per architecture cannot rank architectures/);
    const wide = stats.find((a) => a.id === 1);
    assert.ok(wide?.bestVal.clipped);
    assert.equal(wide.bestVal.low, 0);
    assert.equal(plusMinus(wide.bestVal), '35.50 [0.00, 100.00]');
    for (const a of stats)
      for (const t of [a.bestVal, a.lastVal, a.bestValTrain])
        assert.ok((t.low ?? 0) >= 0 && (t.high ?? 100) <= 100, JSON.stringify(t));
    assert.ok(stats.every((a) => a.valAcc.low.every((v) => v === null || v >= 0)));
    const finding = analyzeStudy([loaded(list)], { resamples: 500, seed: 0 }).finding.join('\n');
    assert.match(
      finding,
      /Highest mean: id 1, 35\.50 \[0\.00, 100\.00\] %; no ranking: 2 seeds per architecture/,
    );
  });

  it('keeps the t interval where it fits the scale', () => {
    const t = tInterval([80, 82, 84], 0.95, PERCENT);
    assert.equal(t.clipped, undefined);
    assert.ok(Math.abs((t.halfWidth ?? 0) - (4.302652729 * 2) / Math.sqrt(3)) < 1e-6);
  });

  it('a group of two architectures gets no verdict over architectures, only what its members show', () => {
    const list = [
      ...[0, 1, 2].flatMap((s) => [run(1, s, 1, 90 + s * 0.1), run(2, s, 3, 89 + s * 0.1)]),
      ...[0, 1, 2].flatMap((s) => [run(5, s, 13, 70 + s * 0.1), run(6, s, 14, 71 + s * 0.1)]),
    ];
    const a = analyzeStudy([loaded(list)], { resamples: 500, seed: 0 });
    const earlyLate = a.differences.find((d) => d.minuend === 'early' && d.subtrahend === 'late');
    assert.ok(earlyLate);
    assert.equal(earlyLate.decided, false);
    assert.equal(earlyLate.overArchitectures, false);
    assert.match(
      a.finding.join('\n'),
      /early − late: .*: no verdict over architectures \(a group of 2 cannot stand for its location; 3 or more are needed\); these 2 and 2 architectures alone \(their seeds pooled\): .*early is better/,
    );
  });
});

describe('location at matched cost', () => {
  // Members whose cost falls with xi: accuracy grows with log MACs and, at equal cost, with xi.
  // Raw, early members look better (they cost more); at matched cost later is better.
  const noise = [0.31, -0.22, 0.05, -0.41, 0.27, -0.09, 0.44, -0.35, 0.12, -0.18, 0.38, -0.03];
  const list: RunResult[] = noise.flatMap((u, k) => {
    const xi = 1 + k;
    const macs = Math.exp(14 - 0.4 * xi + u);
    const params = Math.exp(10 + 0.05 * xi + (noise[(k * 5 + 3) % noise.length] ?? 0));
    const acc = 20 + 3 * Math.log(macs) + 0.5 * xi;
    return [-0.1, 0, 0.1].map((e, seed) => ({ ...run(k + 1, seed, xi, acc + e), macs, params }));
  });

  it('gives the raw and the cost-matched effect of xi, with intervals, here of opposite signs', () => {
    const a = analyzeStudy([{ ...loaded(list), depth: 16 }], { resamples: 1000, seed: 0 });
    const effect = a.location;
    assert.ok(effect);
    assert.equal(effect.architectures, 12);
    assert.ok(effect.raw.value < 0 && (effect.raw.high ?? 0) < 0, JSON.stringify(effect.raw));
    assert.ok(effect.adjusted, effect.note ?? '');
    assert.ok(Math.abs(effect.adjusted.value - 0.5) < 0.05, JSON.stringify(effect.adjusted));
    assert.ok((effect.adjusted.low ?? 0) > 0, JSON.stringify(effect.adjusted));
    assert.deepEqual(
      effect.covariates,
      ['log MACs', 'log parameters', 'omega', 'alpha'].filter((c) => c.startsWith('log')),
    );
    const text = a.finding.join('\n');
    assert.match(
      text,
      /raw −[\d.]+ points per layer \(95 % CI [^)]*\), earlier is better; at matched cost \(log MACs, log parameters held fixed\) \+0\.[45]\d points per layer \(95 % CI [^)]*\), later is better: the raw answer is the members' cost/,
    );
  });

  it("reweights each location group to the members' cost distribution (normalised EDFs)", () => {
    const a = analyzeStudy([loaded(list)], { resamples: 200, seed: 0 });
    assert.deepEqual(
      a.normalizedEdf.map((e) => e.group),
      ['early', 'middle', 'late'],
    );
    for (const edf of a.normalizedEdf) {
      assert.ok(Math.abs((edf.cdf[edf.cdf.length - 1] ?? 0) - 1) < 1e-9);
      assert.deepEqual(
        edf.errors,
        [...edf.errors].sort((x, y) => x - y),
      );
      assert.ok(edf.coverage > 0 && edf.coverage <= 1);
    }
  });

  it('says when the members cannot separate location from cost', () => {
    // MACs an exact function of xi: the model cannot hold one fixed and move the other.
    const tied = list.map((r) => ({ ...r, macs: Math.exp(14 - 0.4 * (r.xi as number)) }));
    const effect = analyzeStudy([loaded(tied)], { resamples: 200, seed: 0 }).location;
    assert.ok(effect);
    assert.equal(effect.adjusted, null);
    assert.match(effect.note ?? '', /cannot separate where the features sit from their cost/);
  });
});

describe('what a design can detect', () => {
  it('states, beside each location difference over architectures, the difference it detects at 95 % with 80 % power', () => {
    const list = [1, 2, 3, 12, 13, 14].flatMap((xi, k) =>
      [0, 1, 2].map((seed) => run(k + 1, seed, xi, (xi < 8 ? 85 : 80) + (k % 3) - 1 + seed * 0.1)),
    );
    const a = analyzeStudy([loaded(list)], { resamples: 200, seed: 0 });
    const d = a.differences.find((x) => x.minuend === 'early' && x.subtrahend === 'late');
    assert.ok(d?.detectable !== null && d?.detectable !== undefined && d.detectable > 0);
    // Welch over 3 and 3 architecture means of sd 1: (t(0.975, 4) + t(0.8, 4)) * sqrt(2/3).
    assert.ok(
      Math.abs(d.detectable - (2.776445 + 0.940965) * Math.sqrt(2 / 3)) < 1e-3,
      String(d.detectable),
    );
    assert.match(
      a.finding.join('\n'),
      /early − late: .*this design detects a difference of 3\.04 points at 95 % with 80 % power/,
    );
  });
});

describe('the location sample of the embedded default', () => {
  const family = skewNormalFamily({ widthMultiplier: 0.125 });
  const byId = new Map(family.map((a) => [a.id, a]));
  const layers = 15;

  it('takes two members per third as before, the broadest at each of the two locations nearest its centre', () => {
    assert.deepEqual(locationSample(family, layers, 2, 2), [51, 55, 59, 62, 66, 71]);
  });

  it('grows by taking the two locations in turn, broadest first, never a member at the minimum width', () => {
    const three = locationSample(family, layers, 2, 3);
    assert.equal(three.length, 9);
    for (const id of locationSample(family, layers, 2, 2)) assert.ok(three.includes(id));
    for (const id of three) {
      const a = byId.get(id);
      assert.ok(a && Math.min(...a.widths) > 2, `id ${id} has a layer at the minimum`);
    }
    const xi = (ids: number[]): number[] => ids.map((id) => byId.get(id)?.xi as number);
    // Per third, locations at matched distances from the network's middle (7.5).
    const distances = (ids: number[]): number[] =>
      xi(ids)
        .map((x) => Math.abs(x - layers / 2))
        .sort((a, b) => a - b);
    assert.deepEqual(distances(three.slice(0, 3)), distances(three.slice(6)));
    // A third with fewer eligible members than asked gives what it has.
    assert.equal(
      locationSample(family, layers, 2, 10).filter((id) => xi([id])[0] === 7 || xi([id])[0] === 8)
        .length,
      4,
    );
  });
});
