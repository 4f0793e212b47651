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
   * Milliseconds per training step of each sampled architecture, in its fastest layout timed here
   * (undefined: it did not fit).
   */
  msPerStep: (number | undefined)[];
  /** Seconds the work would take in this split (Infinity: an architecture did not fit). */
  seconds: number;
  /** Training images per second of the whole work in this split. */
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

/** One unit of the work to do: an architecture and its training steps (every epoch). */
export interface UnitWork {
  arch: Architecture;
  steps: number;
}

/**
 * Seconds the work would take in `processes` processes, from the sampled architectures' step
 * times there: each unit's steps at the step time of the sampled architecture nearest to it in
 * MACs, scaled by MACs; the units then shared out longest first, each to the process that will be
 * free soonest, as a parallel sweep hands them out. Infinity where a sampled architecture did not
 * fit (the members like it would not either).
 */
export function workSeconds(
  work: readonly UnitWork[],
  sample: readonly Architecture[],
  msPerStep: readonly (number | undefined)[],
  processes: number,
): number {
  const timed = sample.map((a, k) => ({ a, ms: msPerStep[k] }));
  if (timed.length === 0 || timed.some((t) => t.ms === undefined)) return Infinity;
  const units = work.map(({ arch, steps }) => {
    const nearest = timed.reduce((b, t) =>
      Math.abs(Math.log(t.a.macs / arch.macs)) < Math.abs(Math.log(b.a.macs / arch.macs)) ? t : b,
    );
    return (steps * (nearest.ms as number) * (arch.macs / nearest.a.macs)) / 1000;
  });
  const busy = new Array<number>(Math.max(1, processes)).fill(0);
  for (const seconds of units.sort((a, b) => b - a)) {
    const free = busy.indexOf(Math.min(...busy));
    busy[free] = (busy[free] as number) + seconds;
  }
  return Math.max(...busy);
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

/** How much longer than the fastest split's a split with more processes may take and be chosen. */
export const NEAR_FASTEST = 1.15;

/** A measured choice, with the processes of the chosen split already started (none: serial). */
export interface MeasuredSplit {
  choice: ParallelChoice;
  pool: TrainerPool | undefined;
  /** The layouts the sampled architectures train in, from the one-process timing (by id). */
  layouts: Map<MemberKey, MemoryFormatChoice>;
  /**
   * Peak bytes of a training step of the sampled architectures in those layouts, measured in the
   * chosen split's processes (by id; none where one process trains): their first runs trust it
   * where it fits, and measure no passes of their own (about 1.3 s for the dearest at one thread).
   */
  peaks: Map<MemberKey, number>;
}

/**
 * The split that would finish the work soonest, measured. One process (here, in this process) times
 * real training steps of the sampled architectures in every layout the study may train in, which
 * also says how long the work would take; each larger split times the same architectures, each in
 * the layout one process found fastest and in one of its processes, while the others keep busy
 * (TrainerPool.timeSteps: a busy sweep's contention). Each split's time for the work follows from
 * its step times, unit by unit (scaled by MACs from the nearest sampled architecture) and shared
 * out among its processes as the sweep shares them: comparing splits on one architecture missed the
 * members that gain most from a process of their own (measured on 2 cores: the slim late member 109
 * took 82 ms a step in one process of 2 threads and 76 ms in each of 2 processes of one thread, the
 * median sampled member 1.22 times the images per second in two processes, the early-heavy 53 the
 * same in both). The split with the most processes whose time is within 15 % of the fastest is
 * taken. The estimate holds an uneven share of the units and the processes' contention for memory;
 * what it misses favours processes: the timing sees training steps alone, while a sweep's
 * evaluation, data and setup overlap across processes but not across one process's threads; and the
 * timing is noisy (on 2 cores, in 8 timings of the benchmark's study, it put two processes of one
 * thread from 4 % slower to 32 % faster than one process of two threads, which two processes
 * finished 1.1-1.25x sooner end to end). The chosen split's processes are kept for training, and
 * the one-process timings settle the layouts of the sampled architectures in whichever split, so
 * that their first runs need not time them again (on 2 cores the dearest sampled member's own
 * timing at one thread cost 4-6 s of its run, the last to finish; timing both layouts in every
 * split cost about as much; a layout is a matter of speed alone, and where the two layouts' speeds
 * differ much, as on slim layers, they differ at every thread count). Given the work, the larger
 * splits are not timed where that would cost more than a tenth of the work itself: one process.
 * Without the work, each architecture is taken as one unit of equal steps.
 */
export async function measureSplits(
  candidates: readonly Split[],
  architectures: readonly Architecture[],
  config: TrainingConfig,
  given?: readonly UnitWork[],
): Promise<MeasuredSplit> {
  const work = given ?? architectures.map((arch) => ({ arch, steps: 1 }));
  const images = work.reduce((sum, u) => sum + u.steps, 0) * config.batchSize;
  const sample = sampleArchitectures(architectures);
  const layouts: MemoryFormat[] =
    config.layout === 'auto' ? ['nchw', 'channels-last'] : [config.layout];
  let timed: TimedArchitecture[] = sample.map((a) => ({ id: a.id, widths: a.widths, layouts }));
  // The first split's timings, of every layout: they settle the sampled architectures' layouts.
  let everyLayout: (StepTiming | undefined)[] | undefined;
  const measured: SplitMeasurement[] = [];
  let best:
    | { m: SplitMeasurement; pool: TrainerPool | undefined; timings: (StepTiming | undefined)[] }
    | undefined;
  let stoppedEarly: string | undefined;
  let fastest = Infinity;
  for (const split of candidates) {
    if (stoppedEarly !== undefined) break;
    const started = performance.now();
    let pool: TrainerPool | undefined;
    let timings: (StepTiming | undefined)[];
    if (split.processes === 1) {
      const before = threadCount();
      setThreads(split.threads);
      try {
        timings = timed.map((a) => timeTrainingSteps(a.widths, config, a.layouts, { peak: false }));
      } finally {
        setThreads(before);
      }
    } else {
      pool = new TrainerPool(split.processes, split.threads);
      // Dearest first by the first split's step times (one that did not fit there first: it fails
      // soonest), so that the processes finish together.
      const cost = (k: number): number => fastestStep(everyLayout?.[k]) ?? Infinity;
      const order = timed.map((_, k) => k).sort((i, j) => cost(j) - cost(i));
      try {
        // The peaks measured here serve the sampled architectures' first runs, at these threads.
        const answers = await pool.timeSteps(
          order.map((k) => timed[k] as TimedArchitecture),
          config,
          true,
        );
        timings = timed.map((_, k) => answers[order.indexOf(k)]);
      } catch (error) {
        await pool.close();
        throw error;
      }
    }
    if (!everyLayout) {
      everyLayout = timings;
      // The other splits time each architecture in the layout found fastest here.
      timed = timed.map((a, k) => {
        const timing = timings[k];
        return timing ? { ...a, layouts: [fasterLayout(timing.msPerStep).layout] } : a;
      });
    }
    const msPerStep = timings.map(fastestStep);
    const seconds = workSeconds(work, sample, msPerStep, split.processes);
    const m = { ...split, msPerStep, seconds, imagesPerSecond: images / seconds };
    measured.push(m);
    if (split.processes === 1 && given !== undefined && candidates.length > 1) {
      // Timing another split (one layout, fewer threads a process, its processes to start) is
      // taken as half this, more with fewer threads (as the square root of the ratio): 0.7
      // times on 2 cores, where it measured 0.6-0.8 times; a rough guard, not an estimate.
      const elapsed = (performance.now() - started) / 1000;
      const rest = candidates
        .slice(1)
        .reduce((sum, c) => sum + 0.5 * elapsed * Math.sqrt(split.threads / c.threads), 0);
      if (rest > 0.1 * seconds) {
        stoppedEarly = `the work would take about ${seconds.toFixed(0)} s in one process, timing the other splits about ${rest.toFixed(0)} s`;
      }
    }
    // Candidates come in growing process counts: a later one near the fastest so far wins.
    fastest = Math.min(fastest, m.seconds);
    if (!best || m.seconds <= fastest * NEAR_FASTEST) {
      await best?.pool?.close();
      best = { m, pool, timings };
    } else await pool?.close();
  }
  const chosen = best?.m ?? candidates[0] ?? { processes: 1, threads: 1 };
  const settled = new Map<MemberKey, MemoryFormatChoice>();
  const peaks = new Map<MemberKey, number>();
  for (const [k, timing] of (everyLayout ?? []).entries()) {
    const a = sample[k];
    if (!timing || a === undefined) continue;
    const choice = fasterLayout(timing.msPerStep);
    if (config.layout === 'auto') settled.set(memberKey(a), choice);
    // A chosen pool's timing measured a step's peak at its threads, in that layout.
    const peak = best?.pool ? best.timings[k]?.peakBytes[choice.layout] : undefined;
    if (peak !== undefined) peaks.set(memberKey(a), peak);
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
    peaks,
  };
}
