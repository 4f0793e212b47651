import pLimit from 'p-limit';
import type { Architecture } from '../family/skew-normal.js';
import {
  unpause,
  writeHalvingState,
  type HalvingState,
  type RungDecision,
} from '../run/halving-state.js';
import { unitKey, type ResultRecord } from '../run/results.js';
import type { StudyConfig } from '../run/study.js';
import { runUnits, seedRoundsLongestFirst, type RunUnit } from '../run/units.js';
import type { TrainingOutcome } from '../train/trainer.js';
import { forEachUnit, type UnitRunning } from './concurrent.js';
import { halvingRecord, halvingRungs, promote } from './halving.js';

/** What a synchronous halving sweep needs of the sweep that runs it. */
export interface HalvingContext extends UnitRunning {
  dir: string;
  study: StudyConfig;
  /** halving.json as read and checked before the sweep wrote anything. */
  state: HalvingState;
  architectures: readonly Architecture[];
  seeds: readonly number[];
  /** Units with a line in results.jsonl: stopped at a rung, finished, abandoned or diverged. */
  done: ReadonlySet<string>;
  train: (unit: RunUnit, untilEpoch?: number) => Promise<TrainingOutcome | undefined>;
  finish: (record: ResultRecord, remaining: RunUnit[]) => Promise<void>;
  reporter: { rung(decision: RungDecision & { rungs: number[] }): void };
}

/**
 * Successive halving, synchronous (the local runner): rung by rung, every (architecture, seed)
 * still in the race trains to the rung and pauses there with its checkpoint; then the best
 * 1/eta architectures go on (src/sweep/halving.ts) and the others are recorded as stopped at
 * that rung. The state is written after every paused run and every decision, so a stop or a
 * crash resumes where it was. Returns true when a stop was requested.
 */
export async function halvingSweep(ctx: HalvingContext): Promise<boolean> {
  const { study, seeds } = ctx;
  const rungs = halvingRungs(study);
  const state = ctx.state;
  const done = new Set(ctx.done);
  const byId = new Map(ctx.architectures.map((a) => [a.id, a]));
  let active = ctx.architectures.map((a) => a.id);
  // Decisions already taken (a resumed sweep): finish recording their stopped runs.
  for (const decision of state.decisions) {
    await recordStopped(ctx, state, done, active, decision);
    active = decision.promoted;
  }
  for (let k = state.decisions.length; k < rungs.length; k++) {
    const rung = rungs[k] as number;
    const last = k === rungs.length - 1;
    const units = runUnits(
      active.map((id) => byId.get(id) as Architecture),
      seeds,
    ).filter((u) => {
      const key = unitKey(u.arch.id, u.seed);
      return !done.has(key) && (state.paused[key]?.valAcc.length ?? 0) < rung;
    });
    // Several units of a rung may train at once; the state file is written by one at a time.
    const writing = pLimit(1);
    const left = new Set(units);
    const order = ctx.concurrency > 1 ? seedRoundsLongestFirst(units) : units;
    const stopped = await forEachUnit(order, ctx, async (unit) => {
      const outcome = await ctx.train(unit, last ? undefined : rung);
      if (!outcome) return false;
      const key = unitKey(unit.arch.id, unit.seed);
      const record = halvingRecord(unit.arch, unit.seed, outcome);
      await writing(async () => {
        left.delete(unit);
        if (outcome.paused) state.paused[key] = record;
        else {
          // The end, or the recipe's own stop (abandoned, diverged): recorded as trained.
          await ctx.finish(record, [...left]);
          done.add(key);
          unpause(state, key);
        }
        await writeHalvingState(ctx.dir, state);
      });
      return true;
    });
    if (stopped) return true;
    if (last) break;
    const standings = active
      .map((id) => ({
        id,
        bestVals: seeds
          .map((seed) => state.paused[unitKey(id, seed)]?.bestVal)
          .filter((v): v is number => v !== undefined),
      }))
      .filter((s) => s.bestVals.length > 0);
    const decision: RungDecision = { rung, standings, promoted: promote(standings, study.eta) };
    state.decisions.push(decision);
    await writeHalvingState(ctx.dir, state);
    ctx.reporter.rung({ ...decision, rungs });
    await recordStopped(ctx, state, done, active, decision);
    active = decision.promoted;
  }
  return false;
}

/** Records the paused runs of the architectures a decision stopped, at that rung. */
async function recordStopped(
  ctx: HalvingContext,
  state: HalvingState,
  done: Set<string>,
  active: readonly number[],
  decision: RungDecision,
): Promise<void> {
  for (const id of active) {
    if (decision.promoted.includes(id)) continue;
    for (const seed of ctx.seeds) {
      const key = unitKey(id, seed);
      const paused = state.paused[key];
      if (!paused || done.has(key)) continue;
      await ctx.finish({ ...paused, stoppedAtRung: decision.rung }, []);
      done.add(key);
      unpause(state, key);
      await writeHalvingState(ctx.dir, state);
    }
  }
}
