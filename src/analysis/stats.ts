import jStat from 'jstat';
import { mix32, Rng } from '../util/random.js';

/**
 * The statistics featshift puts on its numbers: Student t intervals over seeds, Welch's interval
 * for a difference of two architectures or groups, and a two-stage bootstrap for the medians of
 * groups of architectures (architectures drawn with replacement, then each one's seeds), as a
 * study of design spaces compares them. Every resampling is seeded, so an analysis prints the
 * same numbers each time.
 *
 * A group is sampled in units: its architectures, or, where it holds a single architecture, that
 * architecture's seeds. Means of groups use Student t and Welch over those units. A percentile
 * bootstrap cannot leave the range of its data and is too narrow with the few units a study's
 * groups hold, so the medians' bootstrap intervals are expanded for the sample size (Hesterberg's
 * expanded percentile interval).
 */

/** The confidence level of every interval featshift prints. */
export const LEVEL = 0.95;

export interface Interval {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); null for a single value. */
  sd: number | null;
  /** The interval's ends and half-width; null where one value leaves the spread unknown. */
  low: number | null;
  high: number | null;
  halfWidth: number | null;
  /**
   * True where the t interval passed a bound of its scale (an accuracy below 0 or above 100 %,
   * as two seeds far apart give) and its ends were cut there: shown as [low, high], not ±.
   */
  clipped?: boolean;
}

/** An estimate with its bootstrap interval (null ends when there is nothing to resample). */
export interface Estimate {
  value: number;
  low: number | null;
  high: number | null;
}

export const mean = (values: readonly number[]): number =>
  values.reduce((a, b) => a + b, 0) / values.length;

export function sampleSd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** The q-quantile by linear interpolation between order statistics (NumPy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (at - lo);
}

export const median = (values: readonly number[]): number =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/** Student's t quantile for a two-sided interval at `level`. */
const tCritical = (dof: number, level: number): number =>
  jStat.studentt.inv(1 - (1 - level) / 2, dof);

/** Mean and Student t interval of values (one per seed). */
export function tInterval(
  values: readonly number[],
  level = LEVEL,
  bounds?: readonly [number, number],
): Interval {
  const n = values.length;
  const m = mean(values);
  const sd = sampleSd(values);
  if (sd === null) return { n, mean: m, sd: null, low: null, high: null, halfWidth: null };
  const halfWidth = (tCritical(n - 1, level) * sd) / Math.sqrt(n);
  const low = m - halfWidth;
  const high = m + halfWidth;
  if (bounds && (low < bounds[0] || high > bounds[1])) {
    // docs/method.md §6: the mean of a bounded quantity cannot leave its bounds; the interval is
    // cut there and marked, rather than transformed, so that it stays the familiar t interval
    // wherever the data allow it.
    return {
      n,
      mean: m,
      sd,
      low: Math.max(bounds[0], low),
      high: Math.min(bounds[1], high),
      halfWidth,
      clipped: true,
    };
  }
  return { n, mean: m, sd, low, high, halfWidth };
}

/** The scale of an accuracy in percent. */
export const PERCENT: readonly [number, number] = [0, 100];

/**
 * Welch's interval for mean(a) - mean(b): the seeds of two architectures, variances not assumed
 * equal. Null when either has fewer than two values. Two sets without any spread differ exactly.
 */
export function welchInterval(
  a: readonly number[],
  b: readonly number[],
  level = LEVEL,
): Estimate | null {
  const sa = sampleSd(a);
  const sb = sampleSd(b);
  if (sa === null || sb === null) return null;
  const value = mean(a) - mean(b);
  const w = welchError(
    { variance: sa ** 2, units: a.length },
    { variance: sb ** 2, units: b.length },
  );
  if (w.se === 0) return { value, low: value, high: value };
  const half = tCritical(w.dof, level) * w.se;
  return { value, low: value - half, high: value + half };
}

/** Whether an interval leaves zero out: the data decide the sign of a difference. */
export const excludesZero = (e: Estimate | null): boolean =>
  e !== null && e.low !== null && e.high !== null && (e.low > 0 || e.high < 0);

/** A group's runs: one list of values (one per seed) for each architecture of the group. */
export type GroupRuns = readonly (readonly number[])[];

/** One two-stage bootstrap draw of a group: architectures with replacement, then their seeds. */
function resampleGroup(group: GroupRuns, rng: Rng): number[] {
  const out: number[] = [];
  for (let k = 0; k < group.length; k++) {
    const seeds = group[rng.below(group.length)] as readonly number[];
    for (let s = 0; s < seeds.length; s++) out.push(seeds[rng.below(seeds.length)] as number);
  }
  return out;
}

export interface BootstrapOptions {
  resamples: number;
  /** Seeds the resampling: the same analysis prints the same intervals. */
  seed: number;
  level?: number;
}

/**
 * The units a group is sampled in: the mean of each architecture, or the seeds of its single
 * architecture.
 */
export function groupUnits(group: GroupRuns): number[] {
  return group.length >= 2 ? group.map((seeds) => mean(seeds)) : [...(group[0] ?? [])];
}

/** A group's mean over its units with the Student t interval; none for a single unit. */
export function groupMean(group: GroupRuns, level = LEVEL): Estimate {
  const t = tInterval(groupUnits(group), level);
  return { value: t.mean, low: t.low, high: t.high };
}

/** The power at which a design's detectable difference is stated (the usual 80 %). */
export const POWER = 0.8;

/**
 * The smallest difference of two groups' means over their units that Welch's test at `level`
 * would detect with probability `power`, given the spread the groups show: (t at the level + t at
 * the power) times the standard error, at Welch's degrees of freedom. Null when a group has fewer
 * than two units (no spread to judge by).
 */
export function detectableDifference(
  a: GroupRuns,
  b: GroupRuns,
  level = LEVEL,
  power = POWER,
): number | null {
  const ua = groupUnits(a);
  const ub = groupUnits(b);
  const sa = sampleSd(ua);
  const sb = sampleSd(ub);
  if (sa === null || sb === null) return null;
  return detectableFromVariances(
    { variance: sa ** 2, units: ua.length },
    { variance: sb ** 2, units: ub.length },
    level,
    power,
  );
}

/** The standard error of a difference of two means and Welch's degrees of freedom. */
function welchError(a: PlannedSide, b: PlannedSide): { se: number; dof: number } {
  const va = a.variance / a.units;
  const vb = b.variance / b.units;
  return {
    se: Math.sqrt(va + vb),
    dof: (va + vb) ** 2 / (va ** 2 / (a.units - 1) + vb ** 2 / (b.units - 1)),
  };
}

/** A side of a planned comparison: the variance of one unit and how many units it samples. */
export interface PlannedSide {
  variance: number;
  units: number;
}

/**
 * detectableDifference for sides given by their unit variance and size, as a design that has not
 * run yet is judged from a pilot's variances. Null where a side has fewer than two units.
 */
export function detectableFromVariances(
  a: PlannedSide,
  b: PlannedSide,
  level = LEVEL,
  power = POWER,
): number | null {
  if (a.units < 2 || b.units < 2) return null;
  const w = welchError(a, b);
  if (w.se === 0) return 0;
  return (tCritical(w.dof, level) + jStat.studentt.inv(power, w.dof)) * w.se;
}

/** Welch's interval of the difference of two groups' means over their units. */
export function groupMeanDifference(a: GroupRuns, b: GroupRuns, level = LEVEL): Estimate {
  const ua = groupUnits(a);
  const ub = groupUnits(b);
  return welchInterval(ua, ub, level) ?? { value: mean(ua) - mean(ub), low: null, high: null };
}

/**
 * The percentile interval of bootstrap draws, expanded for n units: the tail probability whose
 * normal quantile is sqrt(n / (n - 1)) times Student's t quantile at n - 1 degrees of freedom.
 */
export function expandedPercentile(
  draws: number[],
  value: number,
  level: number,
  n: number,
): Estimate {
  draws.sort((a, b) => a - b);
  const z = Math.sqrt(n / (n - 1)) * tCritical(n - 1, level);
  const tail = jStat.normal.cdf(-z, 0, 1);
  return { value, low: quantile(draws, tail), high: quantile(draws, 1 - tail) };
}

/**
 * A statistic of a group's runs (the median) with its two-stage bootstrap interval, expanded for
 * the group's units. A single unit leaves nothing to resample: the interval is null.
 */
export function bootstrapGroup(
  group: GroupRuns,
  statistic: (values: readonly number[]) => number,
  options: BootstrapOptions,
): Estimate {
  const value = statistic(group.flat());
  const n = groupUnits(group).length;
  if (n < 2) return { value, low: null, high: null };
  const rng = new Rng(mix32(options.seed, 0xb0075));
  const draws = Array.from({ length: options.resamples }, () =>
    statistic(resampleGroup(group, rng)),
  );
  return expandedPercentile(draws, value, options.level ?? LEVEL, n);
}

/**
 * statistic(a) - statistic(b) with a bootstrap interval, the two groups resampled apart and the
 * interval expanded for the smaller group's units; none when either has a single unit.
 */
export function bootstrapDifference(
  a: GroupRuns,
  b: GroupRuns,
  statistic: (values: readonly number[]) => number,
  options: BootstrapOptions,
): Estimate {
  const value = statistic(a.flat()) - statistic(b.flat());
  const n = Math.min(groupUnits(a).length, groupUnits(b).length);
  if (n < 2) return { value, low: null, high: null };
  const rng = new Rng(mix32(options.seed, 0xd1ff));
  const draws = Array.from(
    { length: options.resamples },
    () => statistic(resampleGroup(a, rng)) - statistic(resampleGroup(b, rng)),
  );
  return expandedPercentile(draws, value, options.level ?? LEVEL, n);
}
