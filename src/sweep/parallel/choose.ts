import type { Architecture } from '../../family/skew-normal.js';
import type { ModelLayout } from '../../train/outcome.js';
import type { TrainingConfig } from '../../train/trainer.js';
import { TrainerPool } from './pool.js';

/** A way to share a machine's cores: this many training processes of this many threads each. */
export interface Split {
  processes: number;
  threads: number;
}

export interface SplitMeasurement extends Split {
  /** Milliseconds per training step of each sampled architecture (undefined: did not fit). */
  msPerStep: (number | undefined)[];
  /** Training images per second of all processes together over the sampled mix. */
  imagesPerSecond: number;
}

export interface ParallelChoice extends Split {
  /** How the split was settled: given, or measured (then every candidate's figures). */
  measured: { ids: number[]; candidates: SplitMeasurement[] } | null;
}

/**
 * The splits worth timing on `cores` cores: 1, 2, 4, ... processes (and one per core), each with
 * an equal share of the cores, or with `threads` each where the thread count is fixed (a resumed
 * run keeps its numerics); never more processes than units of work.
 */
export function candidateSplits(cores: number, threads: number | null, units: number): Split[] {
  const counts = new Set<number>();
  for (let k = 1; k <= cores; k *= 2) counts.add(k);
  counts.add(cores);
  const splits: Split[] = [];
  for (const k of [...counts].sort((a, b) => a - b)) {
    if (k > Math.max(1, units)) continue;
    if (threads !== null && k > 1 && k * threads > cores) continue;
    splits.push({ processes: k, threads: threads ?? Math.max(1, Math.floor(cores / k)) });
  }
  return splits;
}

/** Up to three architectures that span the work: the cheapest, the median and the dearest. */
export function sampleArchitectures(architectures: readonly Architecture[]): Architecture[] {
  const sorted = [...architectures].sort((a, b) => a.macs - b.macs || a.id - b.id);
  const picks = [sorted[0], sorted[sorted.length >> 1], sorted[sorted.length - 1]];
  return [...new Set(picks.filter((a): a is Architecture => a !== undefined))];
}

/** The aggregate throughput of a split over a mix in which each architecture trains equally long. */
export function splitThroughput(
  split: Split,
  msPerStep: readonly (number | undefined)[],
  batchSize: number,
): number {
  if (msPerStep.some((t) => t === undefined) || msPerStep.length === 0) return 0;
  const total = msPerStep.reduce<number>((s, t) => s + (t as number), 0);
  return (split.processes * batchSize * msPerStep.length * 1000) / total;
}

/**
 * The split with the highest throughput, measured: for each candidate, that many processes time
 * real training steps of the sampled architectures at once, in the layouts the study trains in.
 * A split must beat every smaller one by 5 % to be taken: more processes cost memory, and within
 * a few percent the timing cannot tell.
 */
export async function measureSplits(
  candidates: readonly Split[],
  architectures: readonly Architecture[],
  config: TrainingConfig,
  onMeasured?: (m: SplitMeasurement) => void,
): Promise<ParallelChoice> {
  const sample = sampleArchitectures(architectures);
  const layouts: ModelLayout[] =
    config.layout === 'auto' ? ['nchw', 'channels-last'] : [config.layout];
  const measured: SplitMeasurement[] = [];
  for (const split of candidates) {
    const pool = new TrainerPool(split.processes, split.threads);
    try {
      const msPerStep = await pool.timeSteps(sample, config, layouts);
      const m = {
        ...split,
        msPerStep,
        imagesPerSecond: splitThroughput(split, msPerStep, config.batchSize),
      };
      measured.push(m);
      onMeasured?.(m);
    } finally {
      await pool.close();
    }
  }
  let best = measured[0];
  for (const m of measured.slice(1))
    if (best === undefined || m.imagesPerSecond > 1.05 * best.imagesPerSecond) best = m;
  const chosen = best ?? candidates[0] ?? { processes: 1, threads: 1 };
  return {
    processes: chosen.processes,
    threads: chosen.threads,
    measured: { ids: sample.map((a) => a.id), candidates: measured },
  };
}
