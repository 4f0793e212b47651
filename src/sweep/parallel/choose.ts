import type { Architecture } from '../../family/skew-normal.js';
import type { MemoryFormat } from '../../train/outcome.js';
import type { TrainingConfig } from '../../train/trainer.js';
import { setThreads, threads as threadCount } from '../../engine/runtime.js';
import {
  fasterLayout,
  fastestStep,
  timeTrainingSteps,
  type MemoryFormatChoice,
  type StepTiming,
} from '../../train/trainer.js';
import { TrainerPool } from './pool.js';
import type { TimedArchitecture } from './protocol.js';
import { compareMembers, memberKey, type MemberKey } from '../../family/members.js';

/** A way to share a machine's cores: this many training processes of this many threads each. */
export interface Split {
  processes: number;
  threads: number;
}

export interface SplitMeasurement extends Split {
  /**
   * Milliseconds per training step of each sampled architecture (undefined: did not fit, or not
   * timed in this split: a larger split times the median one alone).
   */
  msPerStep: (number | undefined)[];
  /** Training images per second of all processes together on the median sampled architecture. */
  imagesPerSecond: number;
}

export interface ParallelChoice extends Split {
  /** How the split was settled: given, or measured (then every candidate's figures). */
  measured: {
    ids: MemberKey[];
    candidates: SplitMeasurement[];
    /** Why the larger splits were not timed: the study too short for their timing to pay. */
    stoppedEarly?: string;
  } | null;
}

/** Training steps of the work to do, per architecture (all its seeds and epochs). */
export type StepsByArchitecture = ReadonlyMap<MemberKey, number>;

/**
 * Seconds the work would take in one process, from the sampled architectures' step times:
 * each other architecture's step scaled by MACs from the sampled one nearest to it in MACs.
 */
export function serialSeconds(
  steps: StepsByArchitecture,
  architectures: readonly Architecture[],
  sample: readonly Architecture[],
  msPerStep: readonly (number | undefined)[],
): number {
  const timed = sample
    .map((a, k) => ({ a, ms: msPerStep[k] }))
    .filter((t): t is { a: Architecture; ms: number } => t.ms !== undefined);
  if (timed.length === 0) return Infinity;
  let ms = 0;
  for (const arch of architectures) {
    const nearest = timed.reduce((b, t) =>
      Math.abs(Math.log(t.a.macs / arch.macs)) < Math.abs(Math.log(b.a.macs / arch.macs)) ? t : b,
    );
    ms += (steps.get(memberKey(arch)) ?? 0) * nearest.ms * (arch.macs / nearest.a.macs);
  }
  return ms / 1000;
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
  const sorted = [...architectures].sort((a, b) => a.macs - b.macs || compareMembers(a, b));
  const picks = [sorted[0], sorted[sorted.length >> 1], sorted[sorted.length - 1]];
  return [...new Set(picks.filter((a): a is Architecture => a !== undefined))];
}

/** A split's aggregate throughput, every process training an architecture whose step takes `ms`. */
export function splitThroughput(split: Split, ms: number | undefined, batchSize: number): number {
  return ms === undefined || !(ms > 0) ? 0 : (split.processes * batchSize * 1000) / ms;
}

/** A measured choice, with the processes of the chosen split already started (none: serial). */
export interface MeasuredSplit {
  choice: ParallelChoice;
  pool: TrainerPool | undefined;
  /** The layouts the sampled architectures train in, timed at the chosen split (by id). */
  layouts: Map<MemberKey, MemoryFormatChoice>;
}

/**
 * The split with the highest throughput, measured: one process (here, in this process) times real
 * training steps of the sampled architectures in every layout the study may train in, which also
 * says how long the work would take; each larger split times the median sampled architecture
 * alone, its processes at once, and the splits are compared on that architecture (timing all
 * three in every split cost a 3-member study about 20 s of its 136 s). The split with the most
 * processes whose throughput is within 5 % of the fastest timed is taken: the timing sees
 * training steps alone, and a sweep's evaluation, data and setup overlap across processes but not
 * across one process's threads (measured on 2 cores: a 3-member study took 114 s as 2 x 1 and
 * 156 s as 1 x 2, which the steps' timing had put within 5 %; the authors' loop took 163 s). The
 * chosen split's processes are kept for training, and its timings settle the layouts of the
 * architectures it timed, so that their first runs need not time them again. Given the work's
 * steps, the larger splits are not timed where that would cost more than a tenth of the work
 * itself: one process.
 */
export async function measureSplits(
  candidates: readonly Split[],
  architectures: readonly Architecture[],
  config: TrainingConfig,
  steps?: StepsByArchitecture,
): Promise<MeasuredSplit> {
  const sample = sampleArchitectures(architectures);
  const layouts: MemoryFormat[] =
    config.layout === 'auto' ? ['nchw', 'channels-last'] : [config.layout];
  const timed: TimedArchitecture[] = sample.map((a) => ({ id: a.id, widths: a.widths, layouts }));
  // The architecture every split is compared on.
  const middle = sample.length >> 1;
  const measured: SplitMeasurement[] = [];
  let best:
    | { m: SplitMeasurement; pool: TrainerPool | undefined; timings: (StepTiming | undefined)[] }
    | undefined;
  let stoppedEarly: string | undefined;
  let fastest = 0;
  for (const split of candidates) {
    if (stoppedEarly !== undefined) break;
    const started = performance.now();
    let pool: TrainerPool | undefined;
    let timings: (StepTiming | undefined)[];
    if (split.processes === 1) {
      const before = threadCount();
      setThreads(split.threads);
      try {
        timings = timed.map((a) => timeTrainingSteps(a.widths, config, a.layouts));
      } finally {
        setThreads(before);
      }
    } else {
      pool = new TrainerPool(split.processes, split.threads);
      try {
        const [median] = await pool.timeSteps([timed[middle] as TimedArchitecture], config);
        timings = timed.map((_, k) => (k === middle ? median : undefined));
      } catch (error) {
        await pool.close();
        throw error;
      }
    }
    const msPerStep = timings.map(fastestStep);
    const m = {
      ...split,
      msPerStep,
      imagesPerSecond: splitThroughput(split, msPerStep[middle], config.batchSize),
    };
    measured.push(m);
    if (split.processes === 1 && steps !== undefined && candidates.length > 1) {
      // Timing another split costs about a third of this (one architecture of three), or more
      // (fewer threads, and its processes to start).
      const rest = (0.75 * (candidates.length - 1) * (performance.now() - started)) / 1000;
      const study = serialSeconds(steps, architectures, sample, msPerStep);
      if (rest > 0.1 * study) {
        stoppedEarly = `the work would take about ${study.toFixed(0)} s in one process, timing the other splits about ${rest.toFixed(0)} s`;
      }
    }
    // Candidates come in growing process counts: a later one near the fastest so far wins.
    fastest = Math.max(fastest, m.imagesPerSecond);
    if (!best || m.imagesPerSecond >= fastest / 1.05) {
      await best?.pool?.close();
      best = { m, pool, timings };
    } else await pool?.close();
  }
  const chosen = best?.m ?? candidates[0] ?? { processes: 1, threads: 1 };
  const settled = new Map<MemberKey, MemoryFormatChoice>();
  if (config.layout === 'auto') {
    for (const [k, timing] of (best?.timings ?? []).entries()) {
      const a = sample[k];
      if (timing && a !== undefined) settled.set(memberKey(a), fasterLayout(timing.msPerStep));
    }
  }
  return {
    choice: {
      processes: chosen.processes,
      threads: chosen.threads,
      measured: {
        ids: sample.map(memberKey),
        candidates: measured,
        ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
      },
    },
    pool: best?.pool,
    layouts: settled,
  };
}
