import { UsageError } from '../errors.js';
import type { StudyConfig } from '../run/study.js';

/**
 * Successive halving over a study's architectures. The rungs are epochs where the warm-restart
 * schedule ends a cycle (the rate at its minimum, a model at a local best): every architecture
 * trains to the first rung, the best 1/eta of them (by mean best validation accuracy over their
 * seeds) go on to the next, and so on to the last epoch. A promoted architecture continues from
 * its checkpoint with the schedule, data order and augmentation of a full run, so every epoch it
 * trains has the full run's numbers.
 */

/** The ends of the warm-restart cycles up to the study's last epoch, which always ends the list. */
export function cycleEnds(study: Pick<StudyConfig, 'epochs' | 'lrWrEpochs' | 'lrWrMul'>): number[] {
  const ends: number[] = [];
  let cycle = study.lrWrEpochs;
  for (let end = cycle; end < study.epochs;) {
    ends.push(end);
    cycle *= study.lrWrMul;
    end += cycle;
  }
  return [...ends, study.epochs];
}

/** The rungs of a study: --rungs as given (cycle ends, the last epoch added), or every cycle end. */
export function halvingRungs(
  study: Pick<StudyConfig, 'epochs' | 'lrWrEpochs' | 'lrWrMul' | 'rungs'>,
): number[] {
  const ends = cycleEnds(study);
  if (study.rungs === null) return ends;
  const bad = study.rungs.filter((r) => !ends.includes(r));
  if (bad.length > 0) {
    throw new UsageError(
      `--rungs ${bad.join(', ')}: a rung must end a warm-restart cycle; this schedule's cycles end at epochs ${ends.join(', ')}`,
      'rungs',
    );
  }
  const sorted = [...new Set(study.rungs)].sort((a, b) => a - b);
  return sorted[sorted.length - 1] === study.epochs ? sorted : [...sorted, study.epochs];
}

/** An architecture's standing at a rung: its best validation accuracy, one per seed. */
export interface RungStanding {
  id: number;
  bestVals: number[];
}

/**
 * The architectures that go on from a rung: the best floor(n / eta) of the n members that reached
 * it (at least one) by mean best validation accuracy over their seeds; a tie is broken by the
 * smaller id, so that a decision never depends on the order results came in. The baseline VGG
 * (id 0) always goes on beside them, outside the count: the study compares every architecture
 * with it, so it trains in full.
 */
export function promote(standings: readonly RungStanding[], eta: number): number[] {
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const members = standings.filter((s) => s.id !== 0 && s.bestVals.length > 0);
  const keep = Math.max(1, Math.floor(members.length / eta));
  const ranked = [...members].sort((a, b) => mean(b.bestVals) - mean(a.bestVals) || a.id - b.id);
  const ids = ranked.slice(0, keep).map((s) => s.id);
  if (standings.some((s) => s.id === 0)) ids.push(0);
  return ids.sort((a, b) => a - b);
}

/** The cost of training: MAC-images summed over what each run trained. */
export function trainingCost(
  runs: readonly { macs: number; epochs: number }[],
  imagesPerEpoch: number,
): number {
  return runs.reduce((n, r) => n + r.macs * imagesPerEpoch * r.epochs, 0);
}
