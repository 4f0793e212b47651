import { UsageError } from '../errors.js';
import { countMacs, countParams, vggPlan, type VggPlanOptions } from '../models/vgg-plan.js';

/**
 * What a family holds constant across its members (docs/method.md §8): the total number of
 * features (the paper), the multiply-accumulates per image, or the trainable parameters, each at
 * the baseline VGG's figure. The paper's choice makes early-heavy members cost many times the
 * MACs of late-heavy ones; holding MACs or parameters instead asks where features belong at equal
 * cost, as RegNet, AutoSlim and TAS do under their FLOP budgets.
 */
export type Hold = 'features' | 'macs' | 'params';
export const HOLDS: readonly Hold[] = ['features', 'macs', 'params'];

/** Default tolerance of a held MAC or parameter count: within 1 % of the baseline's. */
export const HOLD_TOLERANCE = 0.01;

/** What a member was held to, and how near it came. */
export interface HeldCost {
  hold: Hold;
  /** The baseline VGG's figure the member is held to. */
  target: number;
  /** The member's figure over the target, minus 1 (0.004: 0.4 % above). */
  deviation: number;
}

export interface HoldOptions extends VggPlanOptions {
  hold: Hold;
  /** The figure to reach (the baseline's features, MACs or parameters). */
  target: number;
  /** Largest |deviation| for MACs and parameters (default {@link HOLD_TOLERANCE}). */
  tolerance?: number;
  /** Fewest features a layer may have (default 2). */
  minFeatures?: number;
}

/** A width list's figure of the held kind. */
export function costOf(widths: readonly number[], hold: Hold, plan: VggPlanOptions): number {
  if (hold === 'features') return widths.reduce((a, b) => a + b, 0);
  const p = vggPlan(widths, plan);
  return hold === 'macs' ? countMacs(p) : countParams(p);
}

/**
 * Whole widths in the proportions of `shape` whose features sum to `target` exactly: the scaled
 * widths floored, the remainder handed out largest fraction first (ties to the earlier layer).
 */
function holdFeatures(shape: readonly number[], target: number): number[] {
  const sum = shape.reduce((a, b) => a + b, 0);
  const exact = shape.map((w) => (w * target) / sum);
  const widths = exact.map(Math.floor);
  let left = target - widths.reduce((a, b) => a + b, 0);
  const order = exact
    .map((v, j) => ({ j, fraction: v - Math.floor(v) }))
    .sort((a, b) => b.fraction - a.fraction || a.j - b.j);
  for (const { j } of order) {
    if (left <= 0) break;
    widths[j] = (widths[j] as number) + 1;
    left--;
  }
  return widths;
}

/**
 * Whole widths in the proportions of `shape` whose MACs or parameters come within the tolerance of
 * `target`: the scale by bisection (the rounded cost grows with it), the nearer of its two ends,
 * then, only where that misses, single-feature steps on single layers, each the one that brings
 * the cost nearest, until within it, so that coarse networks still land close.
 */
function holdCostly(shape: readonly number[], o: HoldOptions, least: number): number[] {
  const scaled = (k: number): number[] => shape.map((w) => Math.max(least, Math.round(w * k)));
  const cost = (w: readonly number[]): number => costOf(w, o.hold, o);
  let low = 0;
  let high = 1;
  while (cost(scaled(high)) < o.target) high *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (cost(scaled(mid)) < o.target) low = mid;
    else high = mid;
  }
  const below = scaled(low);
  const above = scaled(high);
  let widths = Math.abs(cost(below) - o.target) <= Math.abs(cost(above) - o.target) ? below : above;
  let error = Math.abs(cost(widths) - o.target);
  // Steps change the shape a little: only as many as the tolerance needs.
  const enough = (o.tolerance ?? HOLD_TOLERANCE) * o.target;
  for (let step = 0; step < 4 * widths.length && error > enough; step++) {
    let best: number[] | undefined;
    for (let j = 0; j < widths.length; j++)
      for (const d of [-1, 1]) {
        const w = (widths[j] as number) + d;
        if (w < least) continue;
        const next = widths.slice();
        next[j] = w;
        const e = Math.abs(cost(next) - o.target);
        if (e < error) {
          error = e;
          best = next;
        }
      }
    if (!best) break;
    widths = best;
  }
  return widths;
}

/**
 * `shape` scaled to the held cost, with the figure it reached; null where a layer would fall
 * under `minFeatures` or the MACs or parameters cannot come within the tolerance.
 */
export function holdCost(
  shape: readonly number[],
  o: HoldOptions,
): { widths: number[]; cost: HeldCost } | null {
  const tolerance = o.tolerance ?? HOLD_TOLERANCE;
  if (!(tolerance >= 0 && tolerance < 1))
    throw new UsageError(
      `the hold tolerance must be in [0, 1), got ${tolerance}`,
      'hold-tolerance',
    );
  const least = o.minFeatures ?? 2;
  const widths =
    o.hold === 'features' ? holdFeatures(shape, o.target) : holdCostly(shape, o, least);
  if (widths.some((w) => w < least)) return null;
  const deviation = costOf(widths, o.hold, o) / o.target - 1;
  if (o.hold !== 'features' && Math.abs(deviation) > tolerance) return null;
  return { widths, cost: { hold: o.hold, target: o.target, deviation } };
}
