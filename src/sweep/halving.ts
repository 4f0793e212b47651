import { toRecord, type ResultRecord } from '../run/results.js';
import { compareMemberKeys, type MemberKey } from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';
import type { TrainingOutcome } from '../train/trainer.js';

/**
 * Successive halving over a study's architectures. The rungs are epochs where the warm-restart
 * schedule ends a cycle (the rate at its minimum, a model at a local best): every architecture
 * trains to the first rung, the best 1/eta of them (by mean best validation accuracy over their
 * seeds) go on to the next, and so on to the last epoch. A promoted architecture continues from
 * its checkpoint with the schedule, data order and augmentation of a full run, so every epoch it
 * trains has the full run's numbers.
 */

export { cycleEnds, halvingRungs } from '../run/rungs.js';

/** An architecture's standing at a rung: its best validation accuracy, one per seed. */
export interface RungStanding {
  /** The architecture's memberKey (its id, qualified for a linear member). */
  id: MemberKey;
  bestVals: number[];
}

/**
 * The architectures that go on from a rung: the best floor(n / eta) of the n members that reached
 * it (at least one) by mean best validation accuracy over their seeds; a tie is broken by the
 * smaller id, so that a decision never depends on the order results came in. The baseline VGG
 * (id 0) always goes on beside them, outside the count: the study compares every architecture
 * with it, so it trains in full.
 */
export function promote(standings: readonly RungStanding[], eta: number): MemberKey[] {
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const members = standings.filter((s) => s.id !== 0 && s.bestVals.length > 0);
  const keep = Math.max(1, Math.floor(members.length / eta));
  const ranked = [...members].sort(
    (a, b) => mean(b.bestVals) - mean(a.bestVals) || compareMemberKeys(a.id, b.id),
  );
  const ids = ranked.slice(0, keep).map((s) => s.id);
  if (standings.some((s) => s.id === 0)) ids.push(0);
  return ids.sort(compareMemberKeys);
}

/**
 * A run's record under successive halving: its numbers so far, the epochs it trained, and no
 * stopping rung yet (a decision sets it when the run stops at one).
 */
export function halvingRecord(
  arch: Architecture,
  seed: number,
  outcome: TrainingOutcome,
): ResultRecord {
  return {
    ...toRecord(arch, seed, outcome),
    epochsTrained: outcome.epochs.length,
    stoppedAtRung: null,
  };
}

/** A unit's record as every executor writes it: under halving with its epochs and rung. */
export function unitRecord(
  study: { halving: boolean },
  arch: Architecture,
  seed: number,
  outcome: TrainingOutcome,
): ResultRecord {
  return study.halving ? halvingRecord(arch, seed, outcome) : toRecord(arch, seed, outcome);
}
