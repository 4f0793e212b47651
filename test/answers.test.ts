import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { architectureStats, plusMinus, topVerdict } from '../src/analysis/architectures.js';
import { PERCENT, tInterval } from '../src/analysis/stats.js';
import { analyzeStudy } from '../src/analysis/study-analysis.js';
import { UsageError } from '../src/errors.js';
import type { LoadedRun, RunResult } from '../src/run/load.js';
import { preflight } from '../src/run/preflight.js';
import type { ResultRecord } from '../src/run/results.js';
import { skewNormalFamily } from '../src/family/skew-normal.js';
import {
  embeddedDefaultStudy,
  locationSample,
  REFERENCE_DEFAULTS,
  type StudyConfig,
} from '../src/run/study.js';
import { summaryTable } from '../src/sweep/summary.js';
import { runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';
import { results } from './helpers/results.js';
import { syntheticRun, syntheticStudy } from './helpers/synthetic.js';
import { tinyStudy } from './helpers/tiny-study.js';

/**
 * Answers on equal terms (issue: answers): what featshift prints to compare architectures says
 * what the data cannot decide, and a study that cannot do what was asked is stopped before it
 * trains.
 */

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-answers-'));

const study = (over: Partial<StudyConfig>): StudyConfig => ({ ...REFERENCE_DEFAULTS, ...over });

describe('pre-flight: a study judged from its options before anything trains', () => {
  it('refuses --halving without a rung before the last epoch, naming the options that give one', () => {
    assert.throws(
      () => preflight(study({ halving: true, epochs: 2 })),
      (e: unknown) =>
        e instanceof UsageError &&
        /--halving has no rung before the last epoch: .* end at epochs 10, 30, 70, none before --epochs 2; give more --epochs, a shorter --lr-wr-epochs, or drop --halving/.test(
          e.message,
        ),
    );
    const out = join(tmp(), 'run');
    const r = runCli([
      'sweep',
      '--dataset',
      'FashionMNIST',
      '--halving',
      '--epochs',
      '2',
      '--out',
      out,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--halving has no rung before the last epoch/);
    assert.equal(existsSync(out), false);
  });

  it('warns when the abandon rule judges every run at the first rung after few steps, and not otherwise', () => {
    const short = study({
      dataset: 'FashionMNIST',
      halving: true,
      epochs: 7,
      lrWrEpochs: 1,
      lrWrMul: 2,
      trainSubset: 1024,
      seeds: [0, 1, 2],
    });
    assert.match(
      preflight(short).join('\n'),
      /abandon rule judges every run at epoch 1, the first rung, after only 8 optimiser steps/,
    );
    assert.equal(preflight({ ...short, abandon: false }).length, 0);
    // The paper's CIFAR-10 study halved at its cycle ends: 3900 steps before the verdict.
    assert.deepEqual(preflight(study({ halving: true, seeds: [0, 1, 2] })), []);
  });

  it('warns when --epochs ends before the first cycle, and when fewer than 3 seeds must rank', () => {
    assert.match(
      preflight(study({ epochs: 2 })).join('\n'),
      /--epochs 2 ends before the first warm-restart cycle \(--lr-wr-epochs 10\)/,
    );
    assert.match(
      preflight(study({ epochs: 10, ids: '1-3', seeds: [0, 1] })).join('\n'),
      /2 seeds per architecture cannot rank architectures/,
    );
    assert.deepEqual(
      preflight(study({ epochs: 10, ids: '4' })),
      [],
      'one architecture has nothing to rank',
    );
    // The embedded default compares locations over their architectures; its two seeds say so.
    const embedded = preflight(embeddedDefaultStudy());
    assert.equal(embedded.length, 1, embedded.join('\n'));
    assert.match(
      embedded[0] ?? '',
      /^2 seeds per architecture cannot rank architectures: .*groups of architectures are still compared/,
    );
  });

  it('prints its warnings when the run starts, once, on standard error', () => {
    const out = join(tmp(), 'run');
    const r = runCli([
      'sweep',
      ...tinyStudy([1, 2]),
      '--epochs',
      '1',
      '--train-subset',
      '128',
      '--val-subset',
      '64',
      '--threads',
      '1',
      '--quiet',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: --epochs 1 ends before the first warm-restart cycle/);
    assert.match(r.stderr, /warning: one seed per architecture cannot rank architectures/);
    assert.equal(r.stderr.match(/cannot rank/g)?.length, 1);
  });
});

describe("the halving page's commands do what they say", () => {
  const section = readFileSync(join(repoRoot, 'docs', 'halving.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands = block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith('featshift sweep'))
    .map((l) => l.split(/\s+/).slice(1));

  it('has the two commands', () => {
    assert.equal(commands.length, 2, block);
  });

  it('the Fashion-MNIST example, run as written, trains past the first rung without a warning', () => {
    const args = commands.find((c) => c.includes('FashionMNIST'));
    assert.ok(args);
    const out = join(tmp(), 'run');
    const r = runCli([...args, '--layout', 'nchw', '--quiet', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /abandon rule/);
    const trained = results(out).map((x) => x.valAcc.length);
    assert.equal(trained.length, 6);
    assert.ok(trained.filter((n) => n > 1).length >= 2, `epochs trained: ${trained.join(', ')}`);
    assert.ok(trained.includes(7), `epochs trained: ${trained.join(', ')}`);
  });

  it('the CIFAR-10 example passes the pre-flight (its data are not offline: it stops at the data)', () => {
    const args = commands.find((c) => c.includes('CIFAR10'));
    assert.ok(args);
    const r = runCli([...args, '--data-dir', tmp(), '--out', join(tmp(), 'run')]);
    assert.doesNotMatch(r.stderr, /--halving has no rung|warning/);
    assert.match(r.stderr, /CIFAR/);
  });
});

const run = syntheticRun;
const loaded = (list: RunResult[]): LoadedRun => syntheticStudy(list);

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

describe('halving runs compared on equal terms (tiny family)', () => {
  it('analyze, the summary and the report compare every run at the first rung, and rank survivors apart', async () => {
    const { cheapestIds, tinyHalvingSweep } = await import('./helpers/tiny-study.js');
    const { loadRun } = await import('../src/run/load.js');
    const { reportData } = await import('../src/report/html.js');
    const out = join(tmp(), 'run');
    const sweep = runCli([...tinyHalvingSweep(cheapestIds(4), 3, 256), '--out', out]);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.match(
      sweep.stdout,
      /every run is ranked on its numbers at epoch 1, the rung all reached/,
    );
    const lines = results(out);
    assert.ok(lines.some((r) => r.valAcc.length === 3) && lines.some((r) => r.valAcc.length === 1));
    const atFirst = new Map(lines.map((r) => [r.id, r.valAcc[0] ?? NaN]));
    const r = runCli(['analyze', out, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout) as {
      architectures: { id: number; bestVal: { mean: number } }[];
      halving: {
        commonEpoch: number;
        stopped: { epoch: number; ids: number[] }[];
        survivors: { epoch: number; architectures: { id: number; bestVal: { mean: number } }[] }[];
      };
      groups: { runs: number }[];
      finding: string[];
    };
    assert.equal(a.halving.commonEpoch, 1);
    for (const x of a.architectures)
      assert.equal(x.bestVal.mean, atFirst.get(x.id), `id ${x.id} at epoch 1`);
    const stoppedAt1 = lines
      .filter((x) => x.stoppedAtRung === 1)
      .map((x) => x.id)
      .sort((p, q) => p - q);
    assert.deepEqual(a.halving.stopped, [{ epoch: 1, ids: stoppedAt1 }]);
    const survivors = a.halving.survivors.find((s) => s.epoch === 3);
    assert.ok(survivors);
    for (const x of survivors.architectures) {
      const full = lines.find((l) => l.id === x.id);
      assert.ok(full);
      assert.equal(full.valAcc.length, 3);
      assert.equal(x.bestVal.mean, Math.max(...full.valAcc));
    }
    assert.match(a.finding.join('\n'), /compares each run at epoch 1, which every run reached/);
    const page = reportData([loadRun(out)]).runs[0];
    for (const x of page?.architectures ?? []) assert.equal(x.bestVal, atFirst.get(x.id));
    assert.ok(
      page?.architectures.some((x) => x.valAcc.length === 3),
      'curves run to where each run stopped',
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
