import { mix32, Rng } from '../util/random.js';
import type { ArchitectureStats } from './architectures.js';
import { excludesZero, expandedPercentile, LEVEL, mean, type Estimate } from './stats.js';

/**
 * Where the features sit, with cost held fixed (docs/method.md §6). The family holds the feature
 * count constant, so an early-heavy member costs 10-25x the MACs of a late-heavy one: "early is
 * better" and "early costs more" are confounded. A linear model over every member of the selection
 * (not groups of two) separates them: best validation accuracy on xi, with log MACs and log
 * parameters as covariates (the family in a study of both, omega and alpha beside them), its xi coefficient the effect of moving
 * the features' centre one layer later at the same cost. Its interval comes from a two-stage
 * bootstrap (architectures, then each one's seeds), expanded for the number of architectures.
 */

export interface LocationEffect {
  /** Members in the model. */
  architectures: number;
  /** What the location is: xi (the skew-normal family), or the linear widths' centre of mass. */
  measure: 'xi' | 'centre';
  /** Points of best validation accuracy per layer later, the location alone in the model. */
  raw: Estimate;
  /** The same with the covariates held fixed; null where the members cannot separate them. */
  adjusted: Estimate | null;
  /** The covariates of the adjusted model (those that vary among the members). */
  covariates: string[];
  /** Why there is no adjusted estimate, when there is none. */
  note: string | null;
}

type Column = { name: string; value: (a: ArchitectureStats) => number };

const COVARIATES: Column[] = [
  { name: 'log MACs', value: (a) => Math.log(a.macs) },
  { name: 'log parameters', value: (a) => Math.log(a.params) },
  // In a study of both families: which family, so that a family's own level does not pose as
  // the effect of where the features sit (the families place their features differently).
  { name: 'family', value: (a) => (a.family === 'linear' ? 1 : 0) },
  { name: 'omega', value: (a) => a.omega ?? 0 },
  { name: 'alpha', value: (a) => a.alpha ?? 0 },
];

/** Where the features sit: xi, or a linear member's centre of mass (ArchitectureStats.location). */
const LOCATION: Column = { name: 'location', value: (a) => a.location ?? 0 };

/**
 * Least squares of y on the columns of x (an intercept added), by the normal equations with
 * standardised columns; undefined when they are (nearly) collinear. Returns the coefficient of
 * column 0 in its own units.
 */
export function firstCoefficient(
  x: readonly (readonly number[])[],
  y: readonly number[],
): number | undefined {
  const n = y.length;
  const p = x[0]?.length ?? 0;
  if (n < p + 2) return undefined;
  const centre = Array.from({ length: p }, (_, j) => mean(x.map((row) => row[j] as number)));
  const scale = Array.from({ length: p }, (_, j) =>
    Math.sqrt(mean(x.map((row) => ((row[j] as number) - (centre[j] as number)) ** 2))),
  );
  if (scale.some((s) => !(s > 1e-12))) return undefined;
  const z = x.map((row) => row.map((v, j) => (v - (centre[j] as number)) / (scale[j] as number)));
  const ym = mean(y);
  // The normal equations of the centred columns and response (the intercept drops out), as one
  // augmented p x (p + 1) matrix, solved by Gauss-Jordan elimination with partial pivoting.
  const w = p + 1;
  const m = new Float64Array(p * w);
  const at = (i: number, j: number): number => m[i * w + j] ?? 0;
  z.forEach((row, k) => {
    for (let i = 0; i < p; i++) {
      const zi = row[i] ?? 0;
      for (let j = 0; j < p; j++) m[i * w + j] = at(i, j) + zi * (row[j] ?? 0);
      m[i * w + p] = at(i, p) + zi * ((y[k] ?? 0) - ym);
    }
  });
  for (let c = 0; c < p; c++) {
    let pivot = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(at(r, c)) > Math.abs(at(pivot, c))) pivot = r;
    for (let k = 0; k < w; k++) {
      const t = at(c, k);
      m[c * w + k] = at(pivot, k);
      m[pivot * w + k] = t;
    }
    // Standardised columns: a pivot this small means a column is a combination of the others.
    if (Math.abs(at(c, c)) < 1e-8 * n) return undefined;
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = at(r, c) / at(c, c);
      for (let k = c; k < w; k++) m[r * w + k] = at(r, k) - f * at(c, k);
    }
  }
  return at(0, p) / at(0, 0) / (scale[0] ?? 1);
}

/** The location effect of a study's members, raw and at matched cost. */
export function locationEffect(
  members: readonly ArchitectureStats[],
  options: { resamples: number; seed: number; level?: number; measure?: string },
): LocationEffect | undefined {
  const level = options.level ?? LEVEL;
  const list = members.filter((a) => a.location !== null && a.runs.length > 0);
  if (list.length < 3) return undefined;
  // Cost first (log MACs, log parameters), then the shape (omega, alpha) while there are at least
  // three members per coefficient: fewer leave the shape's coefficients to noise.
  const covariates: Column[] = [];
  for (const c of COVARIATES) {
    const varies = new Set(list.map((a) => c.value(a))).size > 1;
    const always = c.name.startsWith('log') || c.name === 'family';
    if (varies && (always || list.length >= 3 * (covariates.length + 3))) covariates.push(c);
  }
  const columns = { raw: [LOCATION], adjusted: [LOCATION, ...covariates] };
  const fit = (
    sample: readonly { a: ArchitectureStats; y: number }[],
    cols: Column[],
  ): number | undefined =>
    firstCoefficient(
      sample.map(({ a }) => cols.map((c) => c.value(a))),
      sample.map(({ y }) => y),
    );
  const observed = list.map((a) => ({ a, y: mean(a.runs) }));
  const rawValue = fit(observed, columns.raw);
  if (rawValue === undefined) return undefined;
  const adjustedValue = fit(observed, columns.adjusted);
  const rng = new Rng(mix32(options.seed, 0x10ca7e));
  const draws = { raw: [] as number[], adjusted: [] as number[] };
  let failed = 0;
  for (let k = 0; k < options.resamples; k++) {
    const sample = list.map(() => {
      const a = list[rng.below(list.length)] as ArchitectureStats;
      const seeds = a.runs.map(() => a.runs[rng.below(a.runs.length)] as number);
      return { a, y: mean(seeds) };
    });
    const r = fit(sample, columns.raw);
    const d = fit(sample, columns.adjusted);
    if (r !== undefined) draws.raw.push(r);
    if (d !== undefined) draws.adjusted.push(d);
    else failed++;
  }
  const n = list.length;
  const raw =
    draws.raw.length >= options.resamples / 2
      ? expandedPercentile(draws.raw, rawValue, level, n)
      : { value: rawValue, low: null, high: null };
  // A draw of few distinct architectures can leave the covariates collinear; too many such draws
  // and the interval would describe only the lucky ones.
  const usable = adjustedValue !== undefined && failed <= options.resamples / 10;
  const measure =
    options.measure === 'centre' || list.some((a) => a.family === 'linear') ? 'centre' : 'xi';
  return {
    architectures: n,
    measure,
    raw,
    adjusted: usable ? expandedPercentile(draws.adjusted, adjustedValue, level, n) : null,
    covariates: covariates.map((c) => c.name),
    note: usable
      ? null
      : `the ${n} members cannot separate where the features sit from their cost (${covariates.map((c) => c.name).join(', ')}): choose members that vary in ${measure} at similar MACs`,
  };
}

/** What an effect says in words: the sign the data decide, or that they cannot. */
export function effectVerdict(e: Estimate): string {
  if (!excludesZero(e)) return 'the data cannot decide';
  return e.value > 0 ? 'later is better' : 'earlier is better';
}

/**
 * A group's error distribution function with its runs reweighted to one cost distribution (the
 * normalised EDF of Radosavovic et al., "On Network Design Spaces for Visual Recognition", 2019):
 * log MACs cut into bins at the quantiles of every member's, each run weighted by the bin's share
 * among all members over its share in the group, so that groups of different cost compare at the
 * same cost. `coverage`: the share of the reference the group has runs in (below 1, the group
 * lacks members at some cost).
 */
export interface NormalizedEdf {
  group: string;
  /** Best validation errors (100 - accuracy), ascending, and the weighted EDF at each. */
  errors: number[];
  cdf: number[];
  coverage: number;
}

export function normalizedEdfs(
  groups: readonly { name: string; list: readonly ArchitectureStats[] }[],
  members: readonly ArchitectureStats[],
): NormalizedEdf[] {
  const macs = members.map((a) => Math.log(a.macs)).sort((x, y) => x - y);
  const bins = Math.max(1, Math.min(4, Math.floor(members.length / 3)));
  const edges = Array.from(
    { length: bins - 1 },
    (_, k) => macs[Math.floor(((k + 1) * macs.length) / bins)] as number,
  );
  const binOf = (a: ArchitectureStats): number => {
    const v = Math.log(a.macs);
    return edges.filter((e) => v >= e).length;
  };
  const share = (list: readonly ArchitectureStats[]): number[] => {
    const counts = new Array<number>(bins).fill(0);
    for (const a of list) counts[binOf(a)] = (counts[binOf(a)] ?? 0) + a.runs.length;
    const total = counts.reduce((s, c) => s + c, 0);
    return counts.map((c) => (total > 0 ? c / total : 0));
  };
  const reference = share(members);
  return groups
    .filter((g) => g.list.length > 0)
    .map((g) => {
      const own = share(g.list);
      const runs = g.list.flatMap((a) =>
        a.runs.map((acc) => ({
          error: 100 - acc,
          weight: (reference[binOf(a)] as number) / (own[binOf(a)] as number) / a.runs.length,
        })),
      );
      const total = runs.reduce((s, r) => s + r.weight, 0);
      runs.sort((x, y) => x.error - y.error);
      let cumulative = 0;
      return {
        group: g.name,
        errors: runs.map((r) => r.error),
        cdf: runs.map((r) => (cumulative += r.weight / total)),
        coverage: reference.reduce((s, p, b) => s + ((own[b] as number) > 0 ? p : 0), 0),
      };
    });
}
