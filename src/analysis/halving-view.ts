import { compareMemberKeys, memberKey, type MemberKey } from '../family/members.js';
import type { RunResult } from '../run/load.js';
import type { ResultRecord } from '../run/results.js';
import {
  architectureStats,
  rankArchitectures,
  topVerdict,
  type ArchitectureStats,
  type TopVerdict,
} from './architectures.js';

/**
 * Runs of a successive-halving study compared on equal terms: halving stops architectures at
 * different epochs, and an accuracy after 1 epoch cannot be ranked against one after 7. So every
 * comparison of the analysis (ranking, groups, differences, fronts) takes each run's numbers at the
 * first rung, which every run reached; the survivors are ranked again at each later rung, among
 * themselves, on their numbers at that rung (docs/method.md §7).
 */

/** The survivors of a later rung, ranked on their numbers at that epoch. */
export interface RungStanding {
  epoch: number;
  architectures: ArchitectureStats[];
  top: TopVerdict;
}

export interface HalvingView {
  /** The rungs (epochs) of the study. */
  rungs: number[];
  /** The epoch every comparison is made at: the first rung, which every run reached. */
  commonEpoch: number;
  /** Architectures halving stopped, by the epoch of the rung where it stopped them. */
  stopped: { epoch: number; ids: MemberKey[] }[];
  /** Each later rung's survivors. */
  survivors: RungStanding[];
}

/** A run's numbers as they stood at the end of `epoch` (the run itself when it trained no further). */
export function atEpoch(r: RunResult, epoch: number): RunResult {
  if (r.valAcc.length <= epoch) return r;
  const valAcc = r.valAcc.slice(0, epoch);
  const trainAcc = r.trainAcc.slice(0, epoch);
  // The first epoch with the highest accuracy, as the trainer picks it.
  let best = 0;
  valAcc.forEach((v, i) => {
    if (v > (valAcc[best] ?? -Infinity)) best = i;
  });
  return {
    ...r,
    valAcc,
    trainAcc,
    bestVal: valAcc[best] ?? 0,
    bestEpoch: best,
    bestValTrain: trainAcc[best] ?? 0,
    lastVal: valAcc[epoch - 1] ?? 0,
    lastTrain: trainAcc[epoch - 1] ?? 0,
    epochsTrained: epoch,
  };
}

/**
 * The halving view of a study's runs, with the runs to compare (each at the common epoch), or
 * undefined when no run was halved. `rungs` as the study records them; without them (a study of
 * an older featshift), the epochs where runs were stopped and the longest run.
 */
export function halvingView(
  results: readonly RunResult[],
  rungs: readonly number[] | undefined,
): { view: HalvingView; compared: RunResult[] } | undefined {
  const halved = results.filter((r) => r.epochsTrained !== undefined);
  if (halved.length === 0) return undefined;
  const stops = [
    ...new Set(
      results.map((r) => r.stoppedAtRung).filter((e): e is number => typeof e === 'number'),
    ),
  ];
  const all = [
    ...new Set([...(rungs ?? stops), Math.max(...results.map((r) => r.valAcc.length))]),
  ].sort((a, b) => a - b);
  const commonEpoch = all[0] as number;
  const stopped = stops
    .sort((a, b) => a - b)
    .map((epoch) => ({
      epoch,
      ids: [
        ...new Set(results.filter((r) => r.stoppedAtRung === epoch).map((r) => memberKey(r))),
      ].sort(compareMemberKeys),
    }));
  const survivors = all
    .slice(1)
    .map((epoch) => {
      const reached = results.filter((r) => r.valAcc.length >= epoch).map((r) => atEpoch(r, epoch));
      const architectures = architectureStats(reached);
      return {
        epoch,
        architectures: rankArchitectures(architectures),
        top: topVerdict(architectures),
      };
    })
    .filter((s) => s.architectures.length > 0);
  return {
    view: { rungs: all, commonEpoch, stopped, survivors },
    compared: results.map((r) => atEpoch(r, commonEpoch)),
  };
}

/**
 * Where successive halving stopped the runs, and what it cost against the full sweep (MAC-images:
 * every run's MACs per image times the epochs it trained; the images per epoch are the same for
 * all). Undefined for a sweep without halving.
 */
export function halvingSummary(
  records: readonly Pick<
    ResultRecord,
    'macs' | 'abandoned' | 'diverged' | 'epochsTrained' | 'stoppedAtRung'
  >[],
  epochs: number,
): string | undefined {
  const halved = records.filter((r) => r.epochsTrained !== undefined);
  if (halved.length === 0) return undefined;
  const stops = new Map<string, number>();
  for (const r of halved) {
    const where =
      r.stoppedAtRung === null || r.stoppedAtRung === undefined
        ? r.abandoned || r.diverged
          ? `${r.abandoned ? 'abandoned' : 'diverged'} by the recipe`
          : `trained all ${epochs} epochs`
        : `stopped at the rung of epoch ${r.stoppedAtRung}`;
    stops.set(where, (stops.get(where) ?? 0) + 1);
  }
  // MAC-epochs: the images per epoch are a common factor of both.
  const spent = halved.reduce((n, r) => n + r.macs * (r.epochsTrained ?? 0), 0);
  const full = halved.reduce((n, r) => n + r.macs * epochs, 0);
  return [
    `Successive halving: ${[...stops].map(([where, n]) => `${n} runs ${where}`).join(', ')}.`,
    `Cost: ${((100 * spent) / full).toFixed(1)} % of the full sweep's MAC-images; architectures stopped early are ranked on fewer epochs.`,
  ].join('\n');
}
