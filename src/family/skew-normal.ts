import { UsageError } from '../errors.js';
import { countMacs, countParams, vggPlan, type VggPlanOptions } from '../models/vgg-plan.js';
import { holdCost, type Hold, type HoldOptions } from './hold.js';
import { erf, exp, fastErf, numpyArange, pairwiseSum } from './precise-math.js';
import { vggBaseWidths } from '../models/vgg-base.js';

/** A closed range walked with a step, as the reference does: numpy.arange(min, max + step, step). */
export interface GridRange {
  min: number;
  max: number;
  step: number;
}

/** The locations xi the family takes when none are given: every layer, 0 to L. */
export const defaultXiGrid = (layers: number): GridRange => ({ min: 0, max: layers, step: 1 });

export interface FamilyOptions {
  /** VGG depth D = 3k + 7 (default 16). */
  depth?: number;
  /** Number of classes, for `capacity` and `params` (default 10). */
  classes?: number;
  /** Input patch size; above 100 px the classifier is 4096 wide instead of 512 (default 32). */
  patchSize?: number;
  /** Location of the skew normal over the layers (default 0 .. L step 1). */
  xi?: GridRange;
  /** Scale, which the reference calls "variance" (default 0 .. 5.5 step 0.5; 0 is skipped). */
  omega?: GridRange;
  /** Shape (skew) (default -40 .. 40 step 4). */
  alpha?: GridRange;
  /** Fewest features a layer may get (default 2). */
  minFeatures?: number;
  /** Largest share of the density's area that may fall outside the network (default 0.05). */
  areaTolerance?: number;
  /** Total features to distribute (default: the sum of the base VGG's widths). */
  totalFeatures?: number;
  /** Scale the base total by this factor instead (rounded to whole features). */
  widthMultiplier?: number;
  /** Input channels, for `params` and `macs` (default 3; 1 for KMNIST as the reference feeds it). */
  colors?: number;
  /** Batch norm in the network, for `params` (default true; false as `--batch-norm 0`). */
  batchNorm?: boolean;
  /** The cost every member is held to (default features, the paper's). */
  hold?: Hold;
  /** Largest relative miss of a held MAC or parameter count (default 0.01). */
  holdTolerance?: number;
}

/** One member of a family (or the baseline, id 0). */
export interface Architecture {
  id: number;
  /** The linear family's members say so; absent: the skew-normal family (or the baseline). */
  family?: 'linear';
  /** The skew-normal's location, scale and shape (null: the baseline, or a linear member). */
  xi: number | null;
  omega: number | null;
  alpha: number | null;
  /** The linear family's parameters (docs/method.md §8): w_j = w0 + wa * j, quantised by wm. */
  w0?: number;
  wa?: number;
  wm?: number | null;
  /** The cost held across the family when it is not the paper's features (or a linear member). */
  hold?: Hold;
  /** The baseline's figure of that cost, and the member's over it, minus 1. */
  target?: number;
  deviation?: number;
  widths: number[];
  /** The reference's `Parameters` figure (docs/method.md §2), which ignores spatial sizes. */
  capacity: number;
  /** True trainable parameter count of the network of docs/method.md §1. */
  params: number;
  /** Multiply-accumulates per image at the patch size. */
  macs: number;
  totalFeatures: number;
}

/** What names a member: its skew-normal parameters, or its linear family's. */
export type MemberName = Pick<
  Architecture,
  'xi' | 'omega' | 'alpha' | 'family' | 'w0' | 'wa' | 'wm'
>;

/** The skew-normal density at x, with the reference's exact order of operations. */
export function skewNormalPdf(x: number, xi: number, omega: number, alpha: number): number {
  const d = x - xi;
  return densityFactor(omega, d, exp) * cdfFactor(alpha, d / omega, erf);
}

// norm * phi, and Phi, split so that the part that does not depend on alpha is computed once.
function densityFactor(omega: number, d: number, expFn: (v: number) => number): number {
  const norm = ((2 / omega) * Math.sqrt(2 * Math.PI)) / (2 * Math.PI);
  return norm * expFn((-1 * (d * d)) / (2 * (omega * omega)));
}

function cdfFactor(alpha: number, q: number, erfFn: (v: number) => number): number {
  return 0.5 * (1 + erfFn((alpha * q) / Math.SQRT2));
}

/** One layer's samples [lower, upper) and the abscissa steps of its trapezoids. */
interface BinBounds {
  lower: number;
  upper: number;
  steps: Float64Array;
}

/**
 * Integrates the density over L unit-wide bins, as the original does (docs/method.md §2):
 * samples every 0.01 from 0 below L, each bin's samples integrated by the trapezoid rule on i,
 * i + dx, ... so that the last sub-interval of each bin is left out. The sample positions, bin
 * bounds and abscissa steps depend only on L and are computed once.
 */
class BinIntegrator {
  readonly layers: number;
  private readonly x: Float64Array;
  private readonly bounds: BinBounds[] = [];
  private readonly d: Float64Array;
  private readonly q: Float64Array;
  private readonly weighted: Float64Array;
  private readonly pdf: Float64Array;
  private readonly parts: Float64Array;

  constructor(layers: number) {
    this.layers = layers;
    this.x = numpyArange(0, layers, 0.01);
    const n = this.x.length;
    const perBin = n / layers;
    for (let i = 0; i < layers; i++) {
      const lower = Math.trunc(i * perBin);
      const upper = Math.trunc((i + 1) * perBin);
      const abscissae = numpyArange(i, i + 1, 1.0 / (upper - lower));
      if (abscissae.length !== upper - lower) {
        throw new Error(`bin ${i}: ${upper - lower} samples but ${abscissae.length} abscissae`);
      }
      const steps = new Float64Array(Math.max(0, abscissae.length - 1));
      for (let k = 0; k < steps.length; k++) {
        steps[k] = (abscissae[k + 1] as number) - (abscissae[k] as number);
      }
      this.bounds.push({ lower, upper, steps });
    }
    this.d = new Float64Array(n);
    this.q = new Float64Array(n);
    this.weighted = new Float64Array(n);
    this.pdf = new Float64Array(n);
    this.parts = new Float64Array(Math.ceil(perBin) + 1);
  }

  /** Fix xi and omega: everything but the skew factor. */
  setLocationScale(xi: number, omega: number, expFn: (v: number) => number): void {
    for (let i = 0; i < this.x.length; i++) {
      const d = (this.x[i] as number) - xi;
      this.d[i] = d;
      this.q[i] = d / omega;
      this.weighted[i] = densityFactor(omega, d, expFn);
    }
  }

  /** The bins for one skew with the exact erf, for the location and scale last set. */
  exactBins(alpha: number): Float64Array {
    const { pdf, q, weighted } = this;
    for (let i = 0; i < pdf.length; i++) {
      pdf[i] = (weighted[i] as number) * cdfFactor(alpha, q[i] as number, erf);
    }
    return this.integrate();
  }

  /**
   * The same with {@link fastErf}, skipping the erf where it saturates: beyond |z| >= 6 it is
   * exactly +-1 in double precision, so Phi is exactly 1 or 0. z is monotonic in the sample index
   * (every step of its computation is a correctly rounded monotonic operation), so the saturated
   * samples form the two ends of the array, found by bisection.
   */
  fastBins(alpha: number): Float64Array {
    const { pdf, q, weighted } = this;
    const n = pdf.length;
    const z = (i: number): number => (alpha * (q[i] as number)) / Math.SQRT2;
    // The first index at which a predicate that is monotone (false, then true) holds.
    const firstWhere = (holds: (i: number) => boolean): number => {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (holds(mid)) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    };
    // [start, end) is where |z| < 6; before and after it Phi is exactly 0 or 1.
    let start: number;
    let end: number;
    let before: number;
    let after: number;
    if (alpha > 0) {
      start = firstWhere((i) => z(i) > -6);
      end = firstWhere((i) => z(i) >= 6);
      [before, after] = [0, 1];
    } else if (alpha < 0) {
      start = firstWhere((i) => z(i) < 6);
      end = firstWhere((i) => z(i) <= -6);
      [before, after] = [1, 0];
    } else {
      start = end = n;
      [before, after] = [0.5 * (1 + 0), 0];
    }
    // w * 0 = 0 and w * 1 = w exactly, so the saturated ends are a fill and a copy.
    if (before === 0) pdf.fill(0, 0, start);
    else if (before === 1) pdf.set(weighted.subarray(0, start), 0);
    else for (let i = 0; i < start; i++) pdf[i] = (weighted[i] as number) * before;
    for (let i = start; i < end; i++) {
      const zi = (alpha * (q[i] as number)) / Math.SQRT2;
      pdf[i] = (weighted[i] as number) * (0.5 * (1 + fastErf(zi)));
    }
    if (after === 0) pdf.fill(0, end);
    else pdf.set(weighted.subarray(end), end);
    return this.integrate();
  }

  private integrate(): Float64Array {
    const { pdf, parts } = this;
    const out = new Float64Array(this.layers);
    for (let b = 0; b < this.layers; b++) {
      const { lower, steps } = this.bounds[b] as BinBounds;
      for (let k = 0; k < steps.length; k++) {
        parts[k] =
          ((steps[k] as number) * ((pdf[lower + k + 1] as number) + (pdf[lower + k] as number))) /
          2.0;
      }
      out[b] = pairwiseSum(parts, 0, steps.length);
    }
    return out;
  }
}

/** The density integrated over L unit-wide bins, exactly as the reference computes it. */
export function binnedDensity(
  layers: number,
  xi: number,
  omega: number,
  alpha: number,
): Float64Array {
  const integrator = new BinIntegrator(layers);
  integrator.setLocationScale(xi, omega, exp);
  return integrator.exactBins(alpha);
}

/** The reference's capacity formula (docs/method.md §2), in its own order of additions. */
export function referenceCapacity(widths: readonly number[], classes: number): number {
  const L = widths.length;
  let total = 0;
  for (let i = 0; i < L; i++) {
    const w = widths[i] as number;
    if (i === 0) total += w * 9 * 3;
    else if (i < L - 2) total += (widths[i - 1] as number) * w * 9;
    else total += (widths[i - 1] as number) * w;
  }
  return total + (widths[L - 1] as number) * classes;
}

function gridValues(range: GridRange, name: string): Float64Array {
  const { min, max, step } = range;
  if (![min, max, step].every(Number.isFinite) || step <= 0 || max < min) {
    throw new UsageError(
      `the ${name} grid needs finite MIN <= MAX and a positive STEP, got ${min}:${max}:${step}`,
      name,
    );
  }
  return numpyArange(min, max + step, step);
}

function positiveInteger(value: number, option: string, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`${what} must be a positive integer, got ${String(value)}`, option);
  }
  return value;
}

/** The total feature budget: explicit, scaled from the base VGG's, or the base VGG's own. */
export function featureBudget(baseTotal: number, options: FamilyOptions): number {
  if (options.totalFeatures !== undefined && options.widthMultiplier !== undefined) {
    throw new UsageError(
      'give either a total feature count or a width multiplier, not both',
      'total-features',
    );
  }
  if (options.totalFeatures !== undefined) {
    return positiveInteger(options.totalFeatures, 'total-features', 'the total feature count');
  }
  if (options.widthMultiplier !== undefined) {
    const m = options.widthMultiplier;
    if (!Number.isFinite(m) || m <= 0) {
      throw new UsageError(
        `the width multiplier must be a positive number, got ${m}`,
        'width-multiplier',
      );
    }
    return Math.max(1, Math.round(baseTotal * m));
  }
  return baseTotal;
}

/** The network options of a family's members, for their parameters and MACs. */
export function planOptions(options: FamilyOptions): VggPlanOptions {
  return {
    classes: positiveInteger(options.classes ?? 10, 'classes', 'the class count'),
    patchSize: positiveInteger(options.patchSize ?? 32, 'patch-size', 'the patch size'),
    ...(options.colors !== undefined ? { colors: options.colors } : {}),
    ...(options.batchNorm !== undefined ? { batchNorm: options.batchNorm } : {}),
  };
}

/** A member (or the baseline) from its widths: its reference capacity, parameters and MACs. */
export function describeArchitecture(
  id: number,
  widths: number[],
  shape: { xi: number | null; omega: number | null; alpha: number | null },
  options: FamilyOptions,
): Architecture {
  const plan = planOptions(options);
  const layers = vggPlan(widths, plan);
  return {
    id,
    ...shape,
    widths,
    capacity: referenceCapacity(widths, plan.classes ?? 10),
    params: countParams(layers),
    macs: countMacs(layers),
    totalFeatures: widths.reduce((a, b) => a + b, 0),
  };
}

/**
 * The standard VGG-D widths scaled to the family's budget, as id 0: every comparison needs the
 * architecture the family is measured against, and it is not itself a member.
 */
export function baselineArchitecture(options: FamilyOptions = {}): Architecture {
  const depth = options.depth ?? 16;
  const patchSize = positiveInteger(options.patchSize ?? 32, 'patch-size', 'the patch size');
  const base = vggBaseWidths(depth, patchSize);
  const baseTotal = base.reduce((a, b) => a + b, 0);
  const scale = featureBudget(baseTotal, options) / baseTotal;
  const widths = base.map((w) => Math.max(1, Math.round(w * scale)));
  return describeArchitecture(0, widths, { xi: null, omega: null, alpha: null }, options);
}

/**
 * The figure a family holds its members to: the feature budget (the paper), or the baseline VGG's
 * MACs or parameters at that budget.
 */
export function heldTarget(options: FamilyOptions, hold: Hold): number {
  const baseline = baselineArchitecture(options);
  if (hold === 'macs') return baseline.macs;
  if (hold === 'params') return baseline.params;
  const depth = options.depth ?? 16;
  const base = vggBaseWidths(depth, options.patchSize ?? 32);
  return featureBudget(
    base.reduce((a, b) => a + b, 0),
    options,
  );
}

/** What holdCost needs to hold a member of this family: the plan, the cost, its target, the bounds. */
export function holdOptions(options: FamilyOptions, hold: Hold): HoldOptions {
  return {
    ...planOptions(options),
    hold,
    target: heldTarget(options, hold),
    ...(options.holdTolerance !== undefined ? { tolerance: options.holdTolerance } : {}),
    ...(options.minFeatures !== undefined ? { minFeatures: options.minFeatures } : {}),
  };
}

/**
 * Members held to another cost than the paper's features: each scaled to the baseline's MACs or
 * parameters (docs/method.md §8), keeping its id; one that cannot be (a layer under the minimum,
 * or no scale within the tolerance) is left out.
 */
export function holdMembers(members: Architecture[], options: FamilyOptions): Architecture[] {
  const hold = options.hold ?? 'features';
  if (hold === 'features') return members;
  const holding = holdOptions(options, hold);
  return members.flatMap((a) => {
    const held = holdCost(a.widths, holding);
    if (!held) return [];
    const shape = { xi: a.xi, omega: a.omega, alpha: a.alpha };
    return [{ ...describeArchitecture(a.id, held.widths, shape, options), ...held.cost }];
  });
}

/**
 * Every valid (xi, omega, alpha) on the grid, in the reference's order (xi outermost, alpha
 * innermost), with 1-based ids. A member is valid when more than 1 - areaTolerance of the density
 * falls inside the network and every layer gets at least `minFeatures` features.
 */
export function skewNormalFamily(options: FamilyOptions = {}): Architecture[] {
  const depth = options.depth ?? 16;
  // Checks the class count and patch size before the grid is walked.
  const { patchSize } = planOptions(options);
  const base = vggBaseWidths(depth, patchSize);
  const layers = base.length;
  const total = featureBudget(
    base.reduce((a, b) => a + b, 0),
    options,
  );
  const minFeatures = options.minFeatures ?? 2;
  if (!Number.isInteger(minFeatures) || minFeatures < 1) {
    throw new UsageError(
      `the minimum features per layer must be a positive integer, got ${minFeatures}`,
      'min-features',
    );
  }
  const tolerance = options.areaTolerance ?? 0.05;
  if (!(tolerance >= 0 && tolerance < 1)) {
    throw new UsageError(
      `the area tolerance must be in [0, 1), got ${tolerance}`,
      'area-tolerance',
    );
  }
  const xis = gridValues(options.xi ?? defaultXiGrid(layers), 'xi');
  const omegas = gridValues(options.omega ?? { min: 0, max: 5.5, step: 0.5 }, 'omega');
  const alphas = gridValues(options.alpha ?? { min: -40, max: 40, step: 4 }, 'alpha');

  const fast = new BinIntegrator(layers);
  const exact = new BinIntegrator(layers);
  const threshold = 1 - tolerance;
  const members: Architecture[] = [];
  for (const xi of xis) {
    for (const omega of omegas) {
      // The density is undefined at omega = 0 (and meaningless below).
      if (omega <= 0) continue;
      fast.setLocationScale(xi, omega, Math.exp);
      let exactReady = false;
      for (const alpha of alphas) {
        let verdict = judge(fast.fastBins(alpha), total, threshold, minFeatures);
        if (verdict === 'uncertain') {
          // Rare: a width or the area sits so close to a rounding edge that the fast functions'
          // last bits could decide it. Recompute this member with the exact exp and erf.
          if (!exactReady) exact.setLocationScale(xi, omega, exp);
          exactReady = true;
          verdict = judge(exact.exactBins(alpha), total, threshold, minFeatures, 0);
        }
        if (verdict === 'invalid' || verdict === 'uncertain') continue;
        members.push(
          describeArchitecture(members.length + 1, verdict, { xi, omega, alpha }, options),
        );
      }
    }
  }
  return holdMembers(members, options);
}

/**
 * Decide a member from its bins: its widths, 'invalid', or 'uncertain' when an error of `slack`
 * features in a width (or a matching error in the area) could change the outcome.
 */
function judge(
  bins: Float64Array,
  total: number,
  threshold: number,
  minFeatures: number,
  slack = 1e-10 * total + 1e-12,
): number[] | 'invalid' | 'uncertain' {
  const area = pairwiseSum(bins);
  const areaSlack = slack === 0 ? 0 : 1e-12;
  if (area + areaSlack <= threshold) return 'invalid';
  let uncertain = area - areaSlack <= threshold;
  const widths: number[] = [];
  for (const b of bins) {
    const v = b * total;
    const high = Math.ceil(v + slack);
    if (high < minFeatures) return 'invalid';
    const low = v - slack <= 0 && slack > 0 ? 0 : Math.ceil(v - slack);
    if (low !== high) uncertain = true;
    widths.push(high);
  }
  return uncertain ? 'uncertain' : widths;
}
