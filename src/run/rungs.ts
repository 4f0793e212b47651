import { UsageError } from '../errors.js';
import type { StudyConfig } from './study.js';

/**
 * Where successive halving may stop runs (docs/method.md §7): the ends of the warm-restart
 * cycles, where the rate is at its minimum and a model at a local best. Part of a study's
 * definition, so the run folder's checks can compare two spellings of the same rungs.
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
