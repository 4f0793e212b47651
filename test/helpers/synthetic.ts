import type { LoadedStudy, RunResult } from '../../src/run/load.js';

const pct = (v: number): number => Math.min(100, Math.max(0, v));

/**
 * A synthetic run of one architecture for the analysis: xi places it (null: the baseline), `best`
 * is its best validation accuracy (reached at its second and last epoch); cost falls with xi.
 */
export function syntheticRun(id: number, seed: number, xi: number | null, best: number): RunResult {
  return {
    id,
    seed,
    xi,
    omega: xi === null ? null : 3,
    alpha: xi === null ? null : 0,
    widths: [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8],
    params: 1000 + id,
    macs: 10000 * (16 - (xi ?? 8)),
    bestVal: best,
    bestValTrain: pct(best + 2),
    bestEpoch: 1,
    lastVal: pct(best - 0.5),
    lastTrain: pct(best + 2),
    abandoned: false,
    diverged: false,
    trainAcc: [pct(best - 10), pct(best + 2)],
    valAcc: [pct(best - 8), best],
  };
}

/** The runs as one loaded study of VGG-16 on Fashion-MNIST, without a config.json. */
export function syntheticStudy(results: RunResult[], planned: number | null = null): LoadedStudy {
  return {
    name: 'synthetic',
    dir: '/synthetic',
    dataset: 'FashionMNIST',
    depth: 16,
    source: 'results.jsonl',
    runs: results,
    training: null,
    seeds: [...new Set(results.map((r) => r.seed))],
    baselineWidths: [],
    planned,
    epochs: null,
    study: null,
    warnings: [],
  };
}
