import { compareMembers, memberKey, type MemberRef } from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';

/**
 * The unit of work of a study: one architecture trained with one seed. It gives the same numbers
 * whatever else runs with it, in whatever order, on whichever worker of the same device kind and
 * threads (its initialisation, data order, augmentation and dropout derive from (seed, id) only).
 */
export interface RunUnit {
  arch: Architecture;
  seed: number;
}

/**
 * Every (architecture, seed) of a study, seed by seed: each round over the selection gives every
 * architecture one more run, so a stopped study has its architectures evenly covered.
 */
export function runUnits(
  architectures: readonly Architecture[],
  seeds: readonly number[],
): RunUnit[] {
  return seeds.flatMap((seed) => architectures.map((arch) => ({ arch, seed })));
}

/** How a unit is named to people: 'id 61, seed 1' (the seed only where a study has several). */
export const unitLabel = (unit: { arch: MemberRef; seed: number }, seeds: number): string =>
  seeds > 1 ? `id ${memberKey(unit.arch)}, seed ${unit.seed}` : `id ${memberKey(unit.arch)}`;

/**
 * Units of work longest first (the seeds of one architecture cost the same): where several
 * train at once, on a queue or in local processes, the last to finish is then a short one.
 */
export function longestUnitsFirst<T extends RunUnit>(units: readonly T[]): T[] {
  return [...units].sort(
    (a, b) => b.arch.macs - a.arch.macs || compareMembers(a.arch, b.arch) || a.seed - b.seed,
  );
}

/**
 * Units seed by seed (as {@link runUnits}), the longest first within each seed: where several
 * train at once, an architecture's first run settles its layout before its other seeds start,
 * and each round over the selection ends on short runs.
 */
export function seedRoundsLongestFirst<T extends RunUnit>(units: readonly T[]): T[] {
  const rounds = new Map<number, T[]>();
  for (const u of units) rounds.set(u.seed, [...(rounds.get(u.seed) ?? []), u]);
  return [...rounds.values()].flatMap((round) => longestUnitsFirst(round));
}
