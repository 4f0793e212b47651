import {
  compareMemberKeys,
  memberKey,
  familiesIn,
  type FamilyChoice,
  type MemberKey,
} from '../family/members.js';
import type { MemberName } from '../family/skew-normal.js';
import type { RunResult } from '../run/load.js';
import { linearName } from '../run/results.js';
import { LEVEL, PERCENT, tInterval, welchInterval, excludesZero, type Interval } from './stats.js';

/** A learning curve over seeds: per epoch, the mean and its Student t interval. */
export interface CurveBand {
  mean: number[];
  low: (number | null)[];
  high: (number | null)[];
}

/**
 * One architecture over its seeds: its place in the family, its cost, and the mean and 95 %
 * interval of every number the study compares architectures by.
 */
export interface ArchitectureStats extends MemberName {
  id: number;
  /** What names it in the study: its id, qualified for a linear member ('linear:3'). */
  key: MemberKey;
  /**
   * Where the features sit, in layers from the input: xi for a skew-normal member (the paper's
   * measure), the widths' centre of mass for a linear one; null for the baseline.
   */
  location: number | null;
  widths: number[];
  params: number;
  macs: number;
  seeds: number[];
  /** Runs abandoned by the reference's rule, and runs whose loss diverged. */
  abandoned: number;
  diverged: number;
  bestVal: Interval;
  lastVal: Interval;
  /** Training accuracy at the epoch of the best validation accuracy. */
  bestValTrain: Interval;
  /** Generalisation gap: training accuracy minus validation accuracy at the best epoch. */
  gap: Interval;
  valAcc: CurveBand;
  trainAcc: CurveBand;
  /** Best validation accuracy of each run, in seed order (what the group statistics resample). */
  runs: number[];
}

/** Per epoch over the runs that reached it: mean and t interval (a run abandoned early ends). */
function band(curves: readonly (readonly number[])[]): CurveBand {
  const epochs = Math.max(0, ...curves.map((c) => c.length));
  const out: CurveBand = { mean: [], low: [], high: [] };
  for (let e = 0; e < epochs; e++) {
    const at = curves
      .map((c) => c[e])
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (at.length === 0) break;
    const t = tInterval(at, LEVEL, PERCENT);
    out.mean.push(t.mean);
    out.low.push(t.low);
    out.high.push(t.high);
  }
  return out;
}

/**
 * The layer position of a width list's centre of mass, in the coordinates of xi (layer j spans
 * [j, j + 1], so a uniform network of L layers has its centre at L / 2), to two decimals.
 */
export function featureCentre(widths: readonly number[]): number {
  const total = widths.reduce((a, b) => a + b, 0);
  const moment = widths.reduce((m, w, j) => m + (j + 0.5) * w, 0);
  return Math.round((100 * moment) / total) / 100;
}

/** The runs of a study grouped by architecture, with their statistics, in id order. */
export function architectureStats(results: readonly RunResult[]): ArchitectureStats[] {
  const byKey = new Map<MemberKey, RunResult[]>();
  for (const r of results) byKey.set(memberKey(r), [...(byKey.get(memberKey(r)) ?? []), r]);
  return [...byKey.entries()]
    .sort(([a], [b]) => compareMemberKeys(a, b))
    .map(([key, list]) => {
      const runs = [...list].sort((a, b) => a.seed - b.seed);
      const first = runs[0] as RunResult;
      return {
        id: first.id,
        key,
        xi: first.xi,
        omega: first.omega,
        alpha: first.alpha,
        ...linearName(first),
        location: first.xi ?? (first.family === 'linear' ? featureCentre(first.widths) : null),
        widths: first.widths,
        params: first.params,
        macs: first.macs,
        seeds: runs.map((r) => r.seed),
        abandoned: runs.filter((r) => r.abandoned).length,
        diverged: runs.filter((r) => r.diverged).length,
        bestVal: tInterval(
          runs.map((r) => r.bestVal),
          LEVEL,
          PERCENT,
        ),
        lastVal: tInterval(
          runs.map((r) => r.lastVal),
          LEVEL,
          PERCENT,
        ),
        bestValTrain: tInterval(
          runs.map((r) => r.bestValTrain),
          LEVEL,
          PERCENT,
        ),
        gap: tInterval(
          runs.map((r) => r.bestValTrain - r.bestVal),
          LEVEL,
          [-100, 100],
        ),
        valAcc: band(runs.map((r) => r.valAcc)),
        trainAcc: band(runs.map((r) => r.trainAcc)),
        runs: runs.map((r) => r.bestVal),
      };
    });
}

/** Architectures by mean best validation accuracy, best first (ties by id). */
export const rankArchitectures = (list: readonly ArchitectureStats[]): ArchitectureStats[] =>
  [...list].sort((a, b) => b.bestVal.mean - a.bestVal.mean || compareMemberKeys(a.key, b.key));

/**
 * What the data say about the top of a ranking: the ids that cannot be told apart from the best
 * at 95 % (Welch's interval of the difference holds zero), or why that cannot be said.
 */
export interface TopVerdict {
  best: MemberKey | null;
  /** Ids whose difference to the best is not decided at the level (the best not included). */
  tiedWithBest: MemberKey[];
  /** Why no verdict is possible (fewer than three seeds, one architecture), or null. */
  undecidable: string | null;
}

/** The fewest seeds per architecture whose t intervals may rank architectures. */
export const SEEDS_TO_RANK = 3;

export function topVerdict(list: readonly ArchitectureStats[]): TopVerdict {
  const ranked = rankArchitectures(list);
  const best = ranked[0];
  if (!best) return { best: null, tiedWithBest: [], undecidable: 'no architecture has finished' };
  if (ranked.length === 1)
    return {
      best: best.key,
      tiedWithBest: [],
      undecidable: 'one architecture: nothing to rank it against',
    };
  const fewest = Math.min(...ranked.map((a) => a.runs.length));
  if (fewest < SEEDS_TO_RANK) {
    // With two seeds a t interval has one degree of freedom (t = 12.7): it ties everything or,
    // when two seeds happen to agree, nothing; such marks would rank by luck.
    return {
      best: best.key,
      tiedWithBest: [],
      undecidable: `${fewest === 1 ? 'one seed' : `${fewest} seeds`} per architecture cannot rank architectures: ${fewest === 1 ? 'a single run has no interval' : 'an interval over two runs is too wide to trust and too narrow by luck'}, so no ranking or tie is claimed; train with --seeds ${SEEDS_TO_RANK} or more`,
    };
  }
  const tied = ranked
    .slice(1)
    .filter((a) => !excludesZero(welchInterval(best.runs, a.runs, LEVEL)))
    .map((a) => a.key);
  return { best: best.key, tiedWithBest: tied, undecidable: null };
}

/** mean ± half-width, or the mean alone with 'n=1' when one run leaves no interval. */
export function plusMinus(t: Interval, digits = 2): string {
  if (t.halfWidth === null || t.low === null || t.high === null)
    return `${t.mean.toFixed(digits)} (n=1)`;
  // An interval cut at 0 or 100 % is no longer symmetric: its ends, marked by the brackets.
  return t.clipped
    ? `${t.mean.toFixed(digits)} [${t.low.toFixed(digits)}, ${t.high.toFixed(digits)}]`
    : `${t.mean.toFixed(digits)} ± ${t.halfWidth.toFixed(digits)}`;
}

const SKEW_NORMAL_HEADINGS = ['xi', 'omega', 'alpha'];
const LINEAR_HEADINGS = ['w0', 'wa', 'wm', 'centre'];

/** The headings of placeCells: the skew-normal's parameters, the linear family's, or both. */
export function placeHeadings(list: readonly Pick<ArchitectureStats, 'family' | 'xi'>[]): string[] {
  const kind = familiesIn(list);
  return [
    'rank',
    'id',
    ...(kind === 'linear' ? [] : SKEW_NORMAL_HEADINGS),
    ...(kind === 'skew-normal' ? [] : LINEAR_HEADINGS),
    'seeds',
  ];
}

/**
 * The first cells of an architecture's row: rank, id (the baseline named, a linear member's
 * qualified beside skew-normal ones), its family's parameters (xi, omega, alpha; or w0, wa, wm
 * and the widths' centre; both, '-' where not its own), seeds.
 */
export function placeCells(
  a: ArchitectureStats,
  rank: number,
  kind: FamilyChoice = 'skew-normal',
): string[] {
  const value = (v: number | null | undefined): string =>
    v === null || v === undefined ? '-' : String(v);
  const skewNormalCells = [a.xi, a.omega, a.alpha].map(value);
  // Beside linear members every member is placed by its centre of mass (the one shared axis).
  const linearCells = [value(a.w0), value(a.wa), value(a.wm), value(a.location)];
  return [
    String(rank),
    a.id === 0 ? '0 (VGG)' : kind === 'both' ? String(a.key) : String(a.id),
    ...(kind === 'linear' ? [] : skewNormalCells),
    ...(kind === 'skew-normal' ? [] : linearCells),
    String(a.seeds.length),
  ];
}
