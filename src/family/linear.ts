import { UsageError } from '../errors.js';
import { vggBaseWidths } from '../models/vgg-base.js';
import { numpyArange } from './precise-math.js';
import {
  describeArchitecture,
  holdOptions,
  type Architecture,
  type FamilyOptions,
  type GridRange,
} from './skew-normal.js';
import { holdCost } from './hold.js';

/**
 * The linear family (docs/method.md §8): widths w_j = w0 + wa * j over the L = D - 1 layers the
 * skew-normal family distributes (the convolutions, then the two hidden classifier layers, as
 * the reference counts them), as the RegNet design space draws them (Radosavovic et al.,
 * "Designing Network Design Spaces", 2020): wa below zero gives widths that fall with depth, zero
 * the uniform network, above zero widths that grow. Optionally quantised as RegNet quantises:
 * with a multiplier wm, each width snaps to w0 * wm^s (s the nearest whole exponent), a multiple
 * of q, which makes the widths constant over stages. Every member is then scaled to the held cost
 * (the baseline VGG's features, MACs or parameters) and named by (w0, wa, wm).
 */

export interface LinearOptions {
  /** Width of the first convolution before scaling (default 48:48:1, RegNet's w_j = 48 (j + 1)). */
  w0?: GridRange;
  /** Slope (default -3:48:3: from falling to 6 features at the last layer, to 15x rising). */
  wa?: GridRange;
  /** Quantisation multiplier (> 1; default none: the line itself). */
  wm?: GridRange | null;
  /** Quantised widths are multiples of q (default 8, RegNet's). */
  q?: number;
}

export const LINEAR_DEFAULTS = {
  w0: { min: 48, max: 48, step: 1 },
  wa: { min: -3, max: 48, step: 3 },
  q: 8,
} as const;

/** numpy.round, which RegNet's generator uses: halves to the even neighbour (2.5 to 2). */
export function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const fraction = v - floor;
  if (fraction !== 0.5) return Math.round(v);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The unscaled widths of (w0, wa, wm) over `layers` convolutions; null where one is not positive. */
export function linearWidths(
  layers: number,
  w0: number,
  wa: number,
  wm: number | null,
  q: number = LINEAR_DEFAULTS.q,
): number[] | null {
  const widths: number[] = [];
  for (let j = 0; j < layers; j++) {
    const u = w0 + wa * j;
    if (!(u > 0)) return null;
    if (wm === null) {
      widths.push(u);
      continue;
    }
    const s = roundHalfEven(Math.log(u / w0) / Math.log(wm));
    const w = roundHalfEven((w0 * wm ** s) / q) * q;
    if (w <= 0) return null;
    widths.push(w);
  }
  return widths;
}

function values(range: GridRange, name: string): number[] {
  const { min, max, step } = range;
  if (![min, max, step].every(Number.isFinite) || step <= 0 || max < min)
    throw new UsageError(
      `the ${name} grid needs finite MIN <= MAX and a positive STEP, got ${min}:${max}:${step}`,
      name,
    );
  // numpy.arange(min, max + step, step), as the skew-normal grids, rounded to the step's digits so
  // that 0.1 steps name members 0.3, not 0.30000000000000004.
  const digits = Math.max(0, Math.min(12, -Math.floor(Math.log10(step)) + 3));
  return Array.from(numpyArange(min, max + step, step), (v) => Number(v.toFixed(digits)));
}

/**
 * Every valid (w0, wa, wm) of the grid (w0 outermost, wm innermost), each scaled to the held cost.
 * Ids are 1-based positions among the grid's lines whose widths are all positive, so that a
 * member keeps its id under every hold. Left out, keeping their ids unused: a member with a held
 * width under `minFeatures`, one whose MACs or parameters cannot come within the tolerance, and
 * one whose held widths an earlier member has (scaling makes (48, 0) and (96, 0) one network).
 */
export function linearFamily(options: FamilyOptions & LinearOptions = {}): Architecture[] {
  const depth = options.depth ?? 16;
  const layers = vggBaseWidths(depth, options.patchSize ?? 32).length;
  const q = options.q ?? LINEAR_DEFAULTS.q;
  if (!Number.isInteger(q) || q < 1)
    throw new UsageError(`q must be a positive integer, got ${q}`, 'q');
  const wms = options.wm ? values(options.wm, 'wm') : [null];
  for (const wm of wms)
    if (wm !== null && !(wm > 1))
      throw new UsageError(`the multiplier wm must be above 1, got ${wm}`, 'wm');
  const holding = holdOptions(options, options.hold ?? 'features');
  const members: Architecture[] = [];
  const seen = new Set<string>();
  let position = 0;
  for (const w0 of values(options.w0 ?? LINEAR_DEFAULTS.w0, 'w0')) {
    if (!(w0 > 0)) throw new UsageError(`w0 must be positive, got ${w0}`, 'w0');
    for (const wa of values(options.wa ?? LINEAR_DEFAULTS.wa, 'wa'))
      for (const wm of wms) {
        const line = linearWidths(layers, w0, wa, wm, q);
        if (!line) continue;
        position++;
        const held = holdCost(line, holding);
        if (!held) continue;
        const key = held.widths.join(' ');
        if (seen.has(key)) continue;
        seen.add(key);
        const shape = { xi: null, omega: null, alpha: null };
        members.push({
          ...describeArchitecture(position, held.widths, shape, options),
          family: 'linear',
          w0,
          wa,
          wm,
          ...held.cost,
        });
      }
  }
  return members;
}
