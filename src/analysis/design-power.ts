import type { RunResult } from '../run/load.js';
import { unitKey } from '../run/results.js';
import { architectureStats, type ArchitectureStats } from './architectures.js';
import { detectableFromVariances, mean, type PlannedSide } from './stats.js';
import {
  BASELINE,
  isMember,
  locationBins,
  locationName,
  MIN_GROUP_ARCHITECTURES,
} from './study-analysis.js';

/**
 * Planning a study from a pilot: the smallest difference between location groups (over
 * architectures) and between a location and the baseline VGG that a design of k architectures
 * per location and s seeds each would detect at 95 % with 80 % power, and what it would cost.
 *
 * The pilot's best validation accuracies are split as a one-way random-effects model: within a
 * location, an architecture's mean differs from the location's by its own effect (variance
 * between architectures, estimated per location) and each seed from the architecture's mean by
 * seed noise (variance between seeds, pooled over every member). A design's unit, an
 * architecture's mean over s seeds, then varies as between + seeds / s; the baseline's unit is one
 * of its seeds. The detectable difference is Welch's (t at 95 % + t at 80 %) times the standard
 * error at the design's sizes (detectableFromVariances), as the analysis states it afterwards
 * from the design's own spread.
 */

export interface PilotGroup {
  name: string;
  /** The pilot's architectures in this location, and their runs. */
  architectures: number;
  runs: number;
  /** Variance of the architectures' true means within the location, in points² (at least 0). */
  between: number;
  /** Mean seconds of one run of this location's members (null where the records do not say). */
  seconds: number | null;
}

export interface PilotVariances {
  groups: PilotGroup[];
  /** Variance between seeds of one member, pooled over members with two seeds or more. */
  seeds: { variance: number; dof: number };
  /** The baseline's seed variance (null with fewer than two runs) and time per run. */
  baseline: { runs: number; variance: number | null; seconds: number | null } | null;
}

/** Why a pilot cannot plan: one line, for a usage error. */
export class PilotError extends Error {}

/** The variances and times of a pilot's runs (every run at the same budget: no halving). */
export function pilotVariances(results: readonly RunResult[], depth: number): PilotVariances {
  const architectures = architectureStats(results);
  const members = architectures.filter(isMember);
  const seconds = new Map(results.map((r) => [unitKey(r, r.seed), r.runSeconds]));
  const meanSeconds = (list: readonly ArchitectureStats[]): number | null => {
    const times = list.flatMap((a) => a.seeds.map((s) => seconds.get(unitKey(a, s))));
    return times.every((t) => t !== undefined) && times.length > 0 ? mean(times) : null;
  };
  // Seeds: the spread of each member's runs about its own mean, pooled.
  let squares = 0;
  let dof = 0;
  for (const a of members) {
    const m = mean(a.runs);
    squares += a.runs.reduce((s, v) => s + (v - m) ** 2, 0);
    dof += a.runs.length - 1;
  }
  if (dof === 0)
    throw new PilotError(
      'the pilot has no member with two seeds or more, so seed noise cannot be told from the spread between architectures: run it with --seeds 2 or more',
    );
  const seedVariance = squares / dof;
  const groups: PilotGroup[] = [];
  for (const bin of locationBins(depth - 1, locationName(members))) {
    const list = members.filter(bin.holds);
    if (list.length === 0) continue;
    if (list.length < 2)
      throw new PilotError(
        `the pilot has one architecture ${bin.name} (${bin.description}): the spread between architectures of a location needs two or more; add members with --ids`,
      );
    const means = list.map((a) => mean(a.runs));
    const m = mean(means);
    const spread = means.reduce((s, v) => s + (v - m) ** 2, 0) / (means.length - 1);
    // Method of moments: the spread of architecture means holds each one's seed noise too.
    const noise = seedVariance * mean(list.map((a) => 1 / a.runs.length));
    groups.push({
      name: bin.name,
      architectures: list.length,
      runs: list.reduce((s, a) => s + a.runs.length, 0),
      between: Math.max(0, spread - noise),
      seconds: meanSeconds(list),
    });
  }
  if (groups.length < 2)
    throw new PilotError(
      'the pilot has members in fewer than two locations (early, middle, late): there is no difference between locations to plan for',
    );
  const base = architectures.find((a) => !isMember(a));
  const baseVariance = base && base.runs.length >= 2 ? (base.bestVal.sd as number) ** 2 : null;
  return {
    groups,
    seeds: { variance: seedVariance, dof },
    baseline: base
      ? { runs: base.runs.length, variance: baseVariance, seconds: meanSeconds([base]) }
      : null,
  };
}

/** A design: k architectures at each location, s seeds each (the baseline gets the same seeds). */
export interface Design {
  perLocation: number;
  seeds: number;
}

export interface PlannedDifference {
  minuend: string;
  subtrahend: string;
  /** In points of accuracy; null where a side has fewer than two units. */
  detectable: number | null;
  /** Whether every sampled side holds MIN_GROUP_ARCHITECTURES (else no verdict over them). */
  overArchitectures: boolean;
}

export interface DesignPlan {
  design: Design;
  /** Runs, (architecture, seed), with the baseline when the pilot has one. */
  runs: number;
  /** Expected seconds on the pilot's machine: runs times their location's mean time. */
  seconds: number | null;
  differences: PlannedDifference[];
  /**
   * What the design can decide at its weakest: the largest detectable difference among early -
   * late and every location - VGG; null where one of them cannot be decided at all.
   */
  worst: number | null;
}

/** `2x3`: two architectures per location, three seeds each. */
export function parseDesign(text: string): Design | null {
  const m = /^\s*([1-9]\d*)\s*x\s*([1-9]\d*)\s*$/i.exec(text);
  if (!m) return null;
  return { perLocation: Number(m[1]), seeds: Number(m[2]) };
}

export const designName = (d: Design): string => `${d.perLocation}x${d.seeds}`;

/** A design's detectable differences and cost, from a pilot's variances. */
export function planDesign(pilot: PilotVariances, design: Design): DesignPlan {
  const k = design.perLocation;
  const s = design.seeds;
  // A unit is an architecture's mean over its seeds; one architecture per location stands for
  // nothing beyond itself, so k = 1 plans no difference at all.
  const side = (g: PilotGroup): PlannedSide => ({
    variance: g.between + pilot.seeds.variance / s,
    units: k,
  });
  const enough = k >= MIN_GROUP_ARCHITECTURES;
  const differences: PlannedDifference[] = [];
  const { groups } = pilot;
  for (let i = 0; i < groups.length; i++)
    for (let j = i + 1; j < groups.length; j++) {
      const a = groups[i] as PilotGroup;
      const b = groups[j] as PilotGroup;
      differences.push({
        minuend: a.name,
        subtrahend: b.name,
        detectable: k >= 2 ? detectableFromVariances(side(a), side(b)) : null,
        overArchitectures: enough,
      });
    }
  const base = pilot.baseline;
  if (base && base.variance !== null)
    for (const g of groups)
      differences.push({
        minuend: g.name,
        subtrahend: BASELINE,
        detectable:
          k >= 2 ? detectableFromVariances(side(g), { variance: base.variance, units: s }) : null,
        overArchitectures: enough,
      });
  const times = [
    ...groups.map((g) => (g.seconds === null ? null : g.seconds * k * s)),
    ...(base ? [base.seconds === null ? null : base.seconds * s] : []),
  ];
  const decisive = differences.filter(
    (d) => (d.minuend === 'early' && d.subtrahend === 'late') || d.subtrahend === BASELINE,
  );
  const worst =
    decisive.length > 0 && decisive.every((d) => d.detectable !== null && d.overArchitectures)
      ? Math.max(...decisive.map((d) => d.detectable as number))
      : null;
  return {
    design,
    runs: (groups.length * k + (base ? 1 : 0)) * s,
    seconds: times.every((t) => t !== null) ? times.reduce((a, b) => a + b, 0) : null,
    differences,
    worst,
  };
}

/** The designs `featshift plan` compares when none is given: 2 to 6 per location, 1 to 3 seeds. */
export function defaultDesigns(): Design[] {
  const out: Design[] = [];
  for (let k = 2; k <= 6; k++) for (let s = 1; s <= 3; s++) out.push({ perLocation: k, seeds: s });
  return out;
}

/**
 * Among designs that fit a budget in seconds (every design when null), the one with the smallest
 * worst detectable difference (ties: fewer runs); null when none can decide.
 */
export function bestDesign(plans: readonly DesignPlan[], budget: number | null): DesignPlan | null {
  const fits = plans.filter(
    (p) => p.worst !== null && (budget === null || (p.seconds !== null && p.seconds <= budget)),
  );
  fits.sort((a, b) => (a.worst as number) - (b.worst as number) || a.runs - b.runs);
  return fits[0] ?? null;
}
