import { UsageError } from '../errors.js';
import { cycleEnds, halvingRungs } from './rungs.js';
import { parseMemberKeys } from '../family/members.js';
import { studySeeds, type StudyConfig } from './study.js';

/** The fewest seeds per architecture whose t intervals can rank architectures (docs/method.md §6). */
export const SEEDS_TO_RANK = 3;

/** Training images of the published datasets (image folders: unknown until read). */
const TRAINING_IMAGES: Record<string, number> = {
  MNIST: 60_000,
  FashionMNIST: 60_000,
  KMNIST: 60_000,
  CIFAR10: 50_000,
  CIFAR100: 50_000,
};

/**
 * Fewer optimiser steps than this before the abandon rule's verdict leave most members of the
 * family near chance (measured: 8 steps left all six README members at 8-13 % training accuracy,
 * under the 20 % the rule asks for; the embedded default's 140 steps abandon none).
 */
const STEPS_BEFORE_ABANDON = 200;

/**
 * What a study will do, judged from its options alone before anything trains: a run that cannot
 * do what was asked is refused in one line naming the options that fix it; one that may be meant
 * (a short study, one seed) gets warnings, printed before training starts.
 *
 * - `--halving` needs a rung before the last epoch, or nothing is ever halved.
 * - The reference's abandon rule judges every run at the end of the first warm-restart cycle,
 *   which is the first rung: runs it abandons there are never ranked by halving.
 * - `--epochs` ending before the first cycle: the rate never reaches its minimum and the abandon
 *   rule never applies.
 * - Fewer than three seeds cannot rank architectures: the summary will say so, not mark ties.
 */
export function preflight(study: StudyConfig): string[] {
  const warnings: string[] = [];
  const firstCycle = study.lrWrEpochs;
  if (study.halving) {
    const rungs = halvingRungs(study);
    if (rungs.length < 2) {
      // The first three cycle ends (a horizon just past them: the last epoch is always added).
      const horizon = firstCycle * (1 + study.lrWrMul + study.lrWrMul ** 2) + 1;
      const ends = cycleEnds({ ...study, epochs: horizon }).slice(0, 3);
      throw new UsageError(
        `--halving has no rung before the last epoch: the warm-restart cycles (--lr-wr-epochs ${study.lrWrEpochs}, --lr-wr-mul ${study.lrWrMul}) end at epochs ${ends.slice(0, 3).join(', ')}, none before --epochs ${study.epochs}; give more --epochs, a shorter --lr-wr-epochs, or drop --halving`,
        'halving',
      );
    }
    const images = study.trainSubset ?? TRAINING_IMAGES[study.dataset] ?? Infinity;
    const steps = Math.floor(images / study.batchSize) * firstCycle;
    if (study.abandon && rungs[0] === firstCycle && steps < STEPS_BEFORE_ABANDON) {
      warnings.push(
        `the reference's abandon rule judges every run at epoch ${firstCycle}, the first rung, after only ${steps} optimiser steps: runs below twice chance in training accuracy there are abandoned before halving ranks them (often all of them); give --no-abandon to let halving decide, or a longer --lr-wr-epochs or --train-subset`,
      );
    }
  }
  if (study.epochs < firstCycle) {
    warnings.push(
      `--epochs ${study.epochs} ends before the first warm-restart cycle (--lr-wr-epochs ${firstCycle}): the rate never reaches its minimum${study.abandon ? ' and the abandon rule never applies' : ''}; give --lr-wr-epochs ${study.epochs} for one whole cycle`,
    );
  }
  const seeds = studySeeds(study).length;
  const architectures =
    (study.ids === null ? Infinity : parseMemberKeys(study.ids, study.family).length) +
    (study.includeBaseline ? 1 : 0);
  if (seeds < SEEDS_TO_RANK && architectures > 1) {
    warnings.push(
      `${seeds === 1 ? 'one seed' : `${seeds} seeds`} per architecture cannot rank architectures: the summary will show each run's numbers without ties or a ranking by intervals (groups of architectures are still compared over their members); give --seeds ${SEEDS_TO_RANK} or more to rank them`,
    );
  }
  return warnings;
}
