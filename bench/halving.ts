import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { welchInterval, excludesZero } from '../src/analysis/stats.js';
import { cycleEnds, promote } from '../src/sweep/halving.js';
import type { BenchRow } from './common.js';

/**
 * Successive halving replayed on recorded full learning curves: how much of the full sweep's
 * cost it spends, whether it finds the full sweep's best architecture (or one the full sweep
 * cannot tell apart from it at 95 %), its top-5 recall and its regret in accuracy points.
 *
 * The curves (bench/fixtures/halving-curves.jsonl) were recorded once with featshift itself, on
 * an AMD EPYC with 2 threads (about 14 minutes):
 *
 *   featshift sweep --dataset FashionMNIST --width-multiplier 0.125 --include-baseline \
 *     --ids 1,9,17,25,33,41,49,57,65,73,81,89,97,105,113 --seeds 2 --epochs 7 \
 *     --lr-wr-epochs 1 --lr-wr-mul 2 --no-abandon --train-subset 1024 --val-subset 1024 \
 *     --threads 2 --layout nchw --out runs/halving-curves
 *
 * (every 8th member of the 1/8-width family and the baseline; --no-abandon since a one-epoch
 * first cycle on 1024 images abandons most of them) and reduced by `npm run bench -- halving
 * --record runs/halving-curves` to a header line and {id, seed, macs, valAcc} per run. Replaying
 * a decision needs only each run's validation accuracy per epoch, since a promoted
 * architecture's epochs equal its full run's (tested in test/halving.test.ts).
 */
interface Curve {
  id: number;
  seed: number;
  macs: number;
  valAcc: number[];
}

const FIXTURE = new URL('../../bench/fixtures/halving-curves.jsonl', import.meta.url);

function readCurves(): { curves: Curve[]; epochs: number; lrWrEpochs: number; lrWrMul: number } {
  const lines = readFileSync(FIXTURE, 'utf8').trim().split('\n');
  const header = JSON.parse(lines[0] ?? '{}') as {
    epochs: number;
    lrWrEpochs: number;
    lrWrMul: number;
  };
  return { ...header, curves: lines.slice(1).map((l) => JSON.parse(l) as Curve) };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const bestUpTo = (c: Curve, epochs: number): number => Math.max(...c.valAcc.slice(0, epochs));

interface Replay {
  /** Epochs each architecture trained. */
  trained: Map<number, number>;
  /** Ids ranked as halving leaves them: the furthest rung first, then the standing there. */
  ranking: number[];
}

function replay(curves: readonly Curve[], rungs: readonly number[], eta: number): Replay {
  const ids = [...new Set(curves.map((c) => c.id))];
  const runsOf = (id: number): Curve[] => curves.filter((c) => c.id === id);
  const trained = new Map<number, number>();
  const standing = new Map<number, [number, number]>(); // id -> [rung index, mean best]
  let active = ids;
  for (const [k, rung] of rungs.entries()) {
    for (const id of active) {
      trained.set(id, rung);
      standing.set(id, [k, mean(runsOf(id).map((c) => bestUpTo(c, rung)))]);
    }
    if (k === rungs.length - 1) break;
    // The benchmark's curves are of the skew-normal family: its keys are the bare ids.
    active = promote(
      active.map((id) => ({ id, bestVals: runsOf(id).map((c) => bestUpTo(c, rung)) })),
      eta,
    ) as number[];
  }
  const ranking = [...standing.entries()]
    .sort(([a, [ka, va]], [b, [kb, vb]]) => kb - ka || vb - va || a - b)
    .map(([id]) => id);
  return { trained, ranking };
}

/** Reduces a recorded run folder to the fixture. */
function recordFixture(dir: string): void {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    study: { epochs: number; lrWrEpochs: number; lrWrMul: number };
  };
  const runs = readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Curve)
    .sort((a, b) => a.id - b.id || a.seed - b.seed)
    .map(({ id, seed, macs, valAcc }) => JSON.stringify({ id, seed, macs, valAcc }));
  const { epochs, lrWrEpochs, lrWrMul } = config.study;
  writeFileSync(
    FIXTURE,
    `${[JSON.stringify({ epochs, lrWrEpochs, lrWrMul }), ...runs].join('\n')}\n`,
  );
}

export function benchHalving(): BenchRow[] {
  const at = process.argv.indexOf('--record');
  if (at >= 0 && process.argv[at + 1]) recordFixture(process.argv[at + 1] as string);
  const { curves, epochs, lrWrEpochs, lrWrMul } = readCurves();
  const rungs = cycleEnds({ epochs, lrWrEpochs, lrWrMul });
  const ids = [...new Set(curves.map((c) => c.id))];
  const finals = (id: number): number[] =>
    curves.filter((c) => c.id === id).map((c) => bestUpTo(c, epochs));
  const full = [...ids].sort((a, b) => mean(finals(b)) - mean(finals(a)) || a - b);
  const best = full[0] as number;
  const macs = new Map(curves.map((c) => [c.id, c.macs]));
  const seeds = curves.length / ids.length;
  const fullCost = ids.reduce((n, id) => n + (macs.get(id) ?? 0) * epochs * seeds, 0);
  // Members only: the baseline trains in full whatever eta is, and is no candidate.
  const top5 = full.filter((id) => id !== 0).slice(0, 5);
  return [2, 3, 4].map((eta) => {
    const { trained, ranking } = replay(curves, rungs, eta);
    const cost = ids.reduce((n, id) => n + (macs.get(id) ?? 0) * (trained.get(id) ?? 0) * seeds, 0);
    const winner = ranking.find((id) => id !== 0) as number;
    const tied = !excludesZero(welchInterval(finals(best), finals(winner)));
    const found = winner === best || tied;
    const recall =
      ranking
        .filter((id) => id !== 0)
        .slice(0, 5)
        .filter((id) => top5.includes(id)).length / 5;
    return {
      workload: `${ids.length} architectures x ${seeds} seeds, rungs ${rungs.join('/')}`,
      eta,
      cost_of_full: cost / fullCost,
      full_best: best,
      halving_best: winner,
      best_found: winner === best ? 'yes' : tied ? 'tied at 95 %' : 'no',
      top5_recall: recall,
      regret_points: mean(finals(best)) - mean(finals(winner)),
      goal: eta === 3 ? 'best found at <= 1/3 of the cost' : undefined,
      met: eta === 3 ? (found && cost / fullCost <= 1 / 3 ? 'yes' : 'no') : undefined,
    };
  });
}
