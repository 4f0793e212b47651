import pLimit from 'p-limit';
import { UsageError } from '../errors.js';
import { memberKey, type MemberKey } from '../family/members.js';
import {
  writeEnvironment,
  writeFailed,
  writeRunConfig,
  writeStoredSeeds,
  type RunFolder,
  type RunRequest,
} from '../run/folder.js';
import {
  readHalvingState,
  writeHalvingState,
  type HalvingState,
  type RungDecision,
} from '../run/halving-state.js';
import { preflight } from '../run/preflight.js';
import {
  readResults,
  recordResult,
  unitKey,
  writeReferenceCsvs,
  type ResultRecord,
  type RunSelection,
} from '../run/results.js';
import { checkStudy, selectArchitectures, studySeeds } from '../run/study.js';
import { runUnits, unitLabel, type RunUnit } from '../run/units.js';
import { LiveStatusFile } from './live-status.js';
import type { TrainingEvents } from '../train/trainer.js';
import type { RuntimeConfig } from './config.js';
import { halvingRungs, promote } from './halving.js';
import type { ParallelChoice } from './parallel/choose.js';
import { StudyRace, type RaceIo, type Work } from './race.js';

/**
 * The study driver: one orchestration for every place a study trains. It owns the run folder
 * (config, environment, results, reference CSVs, halving state, failures), the selection, the
 * race of src/sweep/race.ts and the reporter; an {@link Executor} only trains the units it is
 * handed: in this process, in training processes (src/sweep/sweep.ts) or on a queue's workers
 * (src/sweep/distributed/coordinator.ts).
 */

export type { Work } from './race.js';

/** What a sweep tells whoever shows its progress: its own events, and each unit's training. */
export interface SweepReporter {
  start(info: {
    dir: string;
    /** Units of work, (architecture, seed), in the study and already done. */
    total: number;
    done: number;
    seeds: number;
    resumed: boolean;
    todo: RunUnit[];
    /** What the study will not do as a user may expect, judged from its options (new runs). */
    warnings?: string[];
  }): void;
  /** How the cores are shared: processes and threads, and the figures they were chosen by. */
  parallel(choice: ParallelChoice): void;
  /** A unit starts (or continues) training: the events of its training go to what this returns. */
  architectureStart(info: {
    index: number;
    total: number;
    unit: RunUnit;
    epochs: number;
    imagesPerEpoch: number;
    /** Where it trains, when not in this process (a queue's worker). */
    where?: string;
  }): TrainingEvents;
  architectureDone(record: ResultRecord, remaining: RunUnit[]): void;
  /** A run paused at a rung of successive halving, waiting for the decision there. */
  paused?(record: ResultRecord): void;
  /** Successive halving decided at a rung which architectures go on. */
  rung(decision: RungDecision & { rungs: number[] }): void;
  /** Asynchronous halving (a queue) sent an architecture on to the rung at `epoch`. */
  promoted?(id: MemberKey, epoch: number): void;
  /** A run failed on every attempt (a queue): recorded in failed.json, the study goes on. */
  failed?(unit: RunUnit, reason: string, attempts: number): void;
  /** Something about where the study trains (a queue's state), said once. */
  note?(message: string): void;
  /** The study stopped on request; `resume` says how to go on. */
  stopped(dir: string, resume?: string): void;
  done(records: ResultRecord[], dir: string, failed?: string[]): void;
}

export interface SweepRequest extends RunRequest {
  runtime: RuntimeConfig;
  /** Asked after every training step; true stops cleanly after saving. */
  shouldStop: () => boolean;
}

export interface SweepOutcome {
  dir: string;
  records: ResultRecord[];
  stopped: boolean;
  /** Runs that failed for good (a queue's attempts all spent), named as 'id 3' or 'id 3, seed 1'. */
  failed?: string[];
}

/** How a piece of work came back. */
export type UnitResult =
  | { kind: 'trained'; record: ResultRecord; paused: boolean }
  | { kind: 'stopped' }
  /** Failed for good, after every attempt a queue allows (a local failure throws instead). */
  | { kind: 'failed'; reason: string; attempts: number; /** The error's class. */ error?: string };

/** Called by an executor when a unit actually starts training: where, and its epoch's images. */
export type UnitStarted = (info: { where?: string; imagesPerEpoch?: number }) => TrainingEvents;

/** Trains units of work; knows nothing of the study's folder, selection or halving. */
export interface Executor {
  /** How many units train at once (a queue: every unit is handed to its workers at once). */
  readonly concurrency: number;
  /** The order in which units handed over together start. */
  order(units: RunUnit[]): RunUnit[];
  /** Trains a unit to `work.untilEpoch` (or its end). A local failure rejects. */
  train(work: Work, started: UnitStarted): Promise<UnitResult>;
  /** Asks the units in training to stop at their next step, with their checkpoints. */
  stop(): void;
  /** A run ended and is recorded: what the executor kept of it (its checkpoint) may go. */
  ended?(record: ResultRecord): Promise<void>;
  /** Tells the reporter how it trains, once the study has started. */
  announce?(reporter: SweepReporter): void;
  /** The study ended (not stopped): clean up what every run shared. */
  finished?(): Promise<void>;
  /** How to go on after a stop, when not with a plain --resume. */
  readonly resumeHint?: string;
  close(): Promise<void>;
}

/** Where a study trains, before its executor exists. */
export interface Site {
  /** Asynchronous halving (ASHA: a queue) rather than the synchronous rule. */
  readonly asynchronous: boolean;
  /**
   * The checks this site makes before anything is written, and the data the family is built for
   * (with its images per epoch where this process reads the data).
   */
  prepare(folder: RunFolder): Promise<DataShape>;
  /** The executor for the units still to train, and what the run folder records of it. */
  open(folder: RunFolder, todo: readonly RunUnit[]): Promise<OpenedExecutor>;
}

export interface DataShape {
  classes: number;
  inputChannels: number;
  imagesPerEpoch?: number;
}

export interface OpenedExecutor {
  executor: Executor;
  /** What config.json adds for this site. */
  config: Record<string, unknown>;
  environment: Record<string, unknown>;
}

/** What the driver settled of a study before training: its units, results and halving state. */
interface Plan {
  selection: RunSelection;
  records: ResultRecord[];
  /** halving.json, checked against the study and its results; none without halving. */
  state: HalvingState | undefined;
  units: RunUnit[];
  todo: RunUnit[];
  rungs: number[];
  /** The work handed out and not yet back: what a finished run leaves to do. */
  inPlay: Set<Work>;
}

/**
 * Runs a study in a run folder on a site: checks everything before anything is written, records
 * the start, races the units through the executor, and says how it ended.
 */
export async function runStudy(
  folder: RunFolder,
  request: SweepRequest,
  shown: SweepReporter,
  site: Site,
): Promise<SweepOutcome> {
  const { dir, study } = folder;
  const live = new LiveStatusFile(dir);
  const reporter = live.follow(shown);
  checkStudy(study);
  // Refuses rungs that end no cycle, before anything is written.
  const rungs = study.halving ? halvingRungs(study) : [study.epochs];
  const shape = await site.prepare(folder);
  const architectures = selectArchitectures(study, shape);
  if (architectures.length === 0)
    throw new UsageError('the selection holds no architecture', 'ids');
  const plan = planStudy(folder, architectures, rungs);
  const opened = await site.open(folder, plan.todo);
  const { executor } = opened;
  let outcome: { stopped: boolean; failed: string[] };
  try {
    await recordStart(folder, plan, architectures, opened);
    reporter.start({
      dir,
      total: plan.units.length,
      done: plan.units.length - plan.todo.length,
      seeds: plan.selection.seeds.length,
      resumed: folder.resumed,
      todo: plan.todo,
      warnings: folder.resumed ? [] : preflight(study),
    });
    executor.announce?.(reporter);
    const race = new StudyRace({
      architectures,
      seeds: plan.selection.seeds,
      rungs,
      eta: study.eta,
      state: plan.state,
      asynchronous: site.asynchronous,
      records: plan.records,
      order: (units) => executor.order(units),
      io: raceIo(folder, plan, reporter, executor),
    });
    await race.start();
    outcome = await drive(race, executor, reporter, {
      shouldStop: request.shouldStop,
      plan,
      halving: study.halving,
      epochs: study.epochs,
      imagesPerEpoch: shape.imagesPerEpoch ?? 0,
      dir,
    });
  } finally {
    await executor.close();
    await live.close();
  }
  if (outcome.stopped) reporter.stopped(dir, executor.resumeHint);
  else {
    await executor.finished?.();
    reporter.done(plan.records, dir, outcome.failed);
  }
  return { dir, records: plan.records, stopped: outcome.stopped, failed: outcome.failed };
}

/** The units of a study, its results so far and its halving state, checked before any write. */
function planStudy(
  folder: RunFolder,
  architectures: ReturnType<typeof selectArchitectures>,
  rungs: number[],
): Plan {
  const { dir, study } = folder;
  const seeds = studySeeds(study);
  const selection: RunSelection = { ids: architectures.map(memberKey), seeds };
  const records = readResults(dir, study.seed, selection);
  const done = new Set(records.map((r) => unitKey(r, r.seed)));
  const units = runUnits(architectures, seeds);
  const todo = units.filter((u) => !done.has(unitKey(u.arch, u.seed)));
  // A damaged state must not record a different study.
  const state = study.halving
    ? readHalvingState(dir, { ...selection, rungs, eta: study.eta, records, promote })
    : undefined;
  return { selection, records, state, units, todo, rungs, inPlay: new Set() };
}

/** config.json and environment.json of a new run (a resumed one: only new seeds), and the CSVs. */
async function recordStart(
  folder: RunFolder,
  plan: Plan,
  architectures: ReturnType<typeof selectArchitectures>,
  opened: OpenedExecutor,
): Promise<void> {
  const { dir, study, resumed } = folder;
  if (!resumed) {
    await writeRunConfig(dir, study, architectures, opened.config);
    await writeEnvironment(dir, opened.environment);
  } else if (folder.seedsAdded) await writeStoredSeeds(dir, plan.selection.seeds);
  // A kill between the two writes left a CSV missing; an older featshift wrote other CSVs.
  await writeReferenceCsvs(dir, plan.records, plan.selection, resumed);
}

/** Where the race's decisions go: the run folder, the executor and the reporter. */
function raceIo(
  folder: RunFolder,
  plan: Plan,
  reporter: SweepReporter,
  executor: Executor,
): RaceIo {
  return {
    finish: async (record) => {
      await recordResult(folder.dir, plan.records, record, plan.selection);
      await executor.ended?.(record);
      reporter.architectureDone(
        record,
        [...plan.inPlay].map((w) => w.unit),
      );
    },
    saveState: (state) => writeHalvingState(folder.dir, state),
    rung: (decision) => {
      reporter.rung({ ...decision, rungs: plan.rungs });
    },
    promoted: (id, epoch) => reporter.promoted?.(id, epoch),
    paused: (record) => reporter.paused?.(record),
  };
}

interface DriveContext {
  shouldStop: () => boolean;
  plan: Plan;
  halving: boolean;
  epochs: number;
  imagesPerEpoch: number;
  dir: string;
}

/**
 * Hands the race's work to the executor, at most its concurrency at once, and each result back
 * to the race, one at a time. No new unit starts once a stop is requested or a unit was stopped;
 * after a failure the others are asked to stop and, once all have settled, the first error is
 * thrown. Runs that failed for good on a queue are recorded in failed.json and the study goes on.
 */
async function drive(
  race: StudyRace,
  executor: Executor,
  reporter: SweepReporter,
  ctx: DriveContext,
): Promise<{ stopped: boolean; failed: string[] }> {
  const seeds = ctx.plan.selection.seeds.length;
  const total = ctx.plan.units.length;
  const inFlight = new Set<Promise<void>>();
  const waiting: Work[] = [];
  const { inPlay } = ctx.plan;
  const serial = pLimit(1);
  const failures: Parameters<typeof writeFailed>[1][number][] = [];
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let started = total - ctx.plan.todo.length;
  const settle = async (work: Work, result: UnitResult): Promise<void> => {
    if (result.kind === 'stopped') {
      stopped = true;
      return;
    }
    inPlay.delete(work);
    if (result.kind === 'trained') {
      await race.trained(work, result.record, result.paused);
      return;
    }
    const { unit } = work;
    const { reason, attempts, error } = result;
    failures.push({
      id: unit.arch.id,
      seed: unit.seed,
      reason,
      attempts,
      ...(error !== undefined ? { error } : {}),
    });
    await writeFailed(ctx.dir, failures);
    reporter.failed?.(unit, reason, attempts);
  };
  const launch = (work: Work): void => {
    const onStart = (info: { where?: string; imagesPerEpoch?: number }): TrainingEvents =>
      reporter.architectureStart({
        // Halving trains a unit in pieces, rung by rung: count the runs that have ended.
        index: ctx.halving ? ctx.plan.records.length : started++,
        total,
        unit: work.unit,
        epochs: work.untilEpoch ?? ctx.epochs,
        imagesPerEpoch: info.imagesPerEpoch ?? ctx.imagesPerEpoch,
        ...(info.where !== undefined ? { where: info.where } : {}),
      });
    const running: Promise<void> = executor
      .train(work, onStart)
      .then(
        (result) => serial(() => settle(work, result)),
        (error: unknown) => {
          if (failure) return;
          failure = { error };
          executor.stop();
        },
      )
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  };

  for (;;) {
    if (ctx.shouldStop()) stopped = true;
    if (failure || stopped) break;
    for (const work of race.take()) {
      waiting.push(work);
      inPlay.add(work);
    }
    while (waiting.length > 0 && inFlight.size < executor.concurrency)
      launch(waiting.shift() as Work);
    if (inFlight.size > 0) await Promise.race(inFlight);
    else if (!(await serial(() => race.idle()))) break;
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return { stopped, failed: failures.map((f) => unitLabel({ arch: f, seed: f.seed }, seeds)) };
}
