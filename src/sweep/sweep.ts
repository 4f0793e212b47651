import { rm } from 'node:fs/promises';
import pLimit from 'p-limit';
import { availableParallelism, cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { buildInfo, checkDevice, setThreads, threads as threadCount } from '../engine/runtime.js';
import { CHECKPOINTS_DIR, checkpointPath } from '../run/files.js';
import {
  packageVersion,
  withRunFolder,
  settleNumerics,
  writeEnvironment,
  writeRunConfig,
  writeStoredSeeds,
  type RunFolder,
  type RunRequest,
} from '../run/folder.js';
import {
  readResults,
  recordResult,
  toRecord,
  unitKey,
  writeReferenceCsvs,
  type ResultRecord,
  type RunSelection,
} from '../run/results.js';
import { checkStudy, selectArchitectures, studySeeds, type StudyConfig } from '../run/study.js';
import { readHalvingState, type RungDecision } from '../run/halving-state.js';
import { preflight } from '../run/preflight.js';
import { runUnits, seedRoundsLongestFirst, type RunUnit } from '../run/units.js';
import { defaultMemoryLimit } from '../train/memory.js';
import type { TrainingConfig, TrainingEvents, TrainingOutcome } from '../train/trainer.js';
import { halvingSweep } from './halving-sweep.js';
import { halvingRungs, promote } from './halving.js';
import {
  checkPrecision,
  checkRuntime,
  checkTrainingSetSize,
  type RuntimeConfig,
} from './config.js';
import { loadStudyData, trainImageCount, type StudyData } from './study-data.js';
import { forEachUnit } from './concurrent.js';
import {
  candidateSplits,
  measureSplits,
  type MeasuredSplit,
  type ParallelChoice,
  type Split,
} from './parallel/choose.js';
import { TrainerPool } from './parallel/pool.js';
import { trainingConfig, UnitTrainer } from './unit-trainer.js';

export { trainingConfig } from './unit-trainer.js';

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
  }): TrainingEvents;
  architectureDone(record: ResultRecord, remaining: RunUnit[]): void;
  /** Successive halving decided at a rung which architectures go on. */
  rung(decision: RungDecision & { rungs: number[] }): void;
  stopped(dir: string): void;
  done(records: ResultRecord[], dir: string): void;
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

/**
 * Trains every selected architecture of a study, recording each one as it finishes
 * (results.jsonl and the original's CSV, both written atomically), resumable at any moment. A
 * start refused before any result leaves no run folder behind.
 */
export function runSweep(request: SweepRequest, reporter: SweepReporter): Promise<SweepOutcome> {
  return withRunFolder(
    request,
    (error) => error instanceof UsageError,
    (folder) => sweepFolder(folder, request, reporter),
  );
}

/** What environment.json records of the machine a run starts on. */
function environmentRecord(
  study: StudyConfig,
  data: StudyData,
  device: string,
): Record<string, unknown> {
  const info = buildInfo();
  return {
    featshift: packageVersion(),
    libtorch: info.version,
    cuda: info.cudaAvailable,
    device,
    threads: threadCount(),
    seeds: studySeeds(study),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    host: hostname(),
    dataset: data.sources,
    started: new Date().toISOString(),
  };
}

/** The split a run trains with: as given, or measured with --parallel auto. */
async function settleSplit(
  runtime: RuntimeConfig,
  storedThreads: number | undefined,
  todo: readonly RunUnit[],
  probeConfig: TrainingConfig,
  /** Training steps of one unit (every epoch), for whether the measurement would pay. */
  stepsPerUnit: number,
): Promise<MeasuredSplit> {
  const cores = availableParallelism();
  // A resumed run keeps its thread count (its numerics); a new one shares the cores.
  const fixed = runtime.threads ?? storedThreads ?? null;
  const parallel = runtime.parallel ?? 1;
  const given = (split: Split): MeasuredSplit => ({
    choice: { ...split, measured: null },
    pool: undefined,
    layouts: new Map(),
  });
  if (parallel === 1) return given({ processes: 1, threads: fixed ?? threadCount() });
  if (parallel !== 'auto') {
    return given({
      processes: Math.max(1, Math.min(parallel, todo.length)),
      threads: fixed ?? Math.max(1, Math.floor(cores / parallel)),
    });
  }
  const candidates = candidateSplits(cores, fixed, todo.length);
  if (candidates.length <= 1)
    return given(candidates[0] ?? { processes: 1, threads: fixed ?? cores });
  const architectures = [...new Map(todo.map((u) => [u.arch.id, u.arch])).values()];
  const steps = new Map<number, number>();
  for (const u of todo) steps.set(u.arch.id, (steps.get(u.arch.id) ?? 0) + stepsPerUnit);
  return measureSplits(candidates, architectures, probeConfig, steps);
}

async function sweepFolder(
  folder: RunFolder,
  request: SweepRequest,
  reporter: SweepReporter,
): Promise<SweepOutcome> {
  const { runtime } = request;
  const { dir, study, resumed } = folder;
  checkStudy(study);
  const device = checkDevice(runtime.device);
  checkRuntime(runtime);
  checkPrecision(study, device);
  if ((runtime.parallel ?? 1) !== 1 && device !== 'cpu') {
    throw new UsageError(
      `--parallel shares a CPU's cores among training processes; on ${device} drop it (one process trains on the device)`,
      'parallel',
    );
  }
  // A resumed run refuses a --threads or device that would change its numbers, before any work.
  if (folder.numerics) settleNumerics(runtime, folder.numerics, folder.numerics.threads);
  const data = await loadStudyData(study, runtime.dataDir);
  checkTrainingSetSize(study, trainImageCount(study, data));
  const architectures = selectArchitectures(study, data);
  const seeds = studySeeds(study);
  const selection: RunSelection = { ids: architectures.map((a) => a.id), seeds };
  if (architectures.length === 0)
    throw new UsageError('the selection holds no architecture', 'ids');
  if (study.halving) halvingRungs(study); // refuses rungs that end no cycle, before anything is written

  const records = readResults(dir, study.seed, selection);
  // Checked before anything is written: a damaged state must not record a different study.
  const halvingState = study.halving
    ? readHalvingState(dir, {
        ...selection,
        rungs: halvingRungs(study),
        eta: study.eta,
        records,
        promote,
      })
    : undefined;
  const done = new Set(records.map((r) => unitKey(r.id, r.seed)));
  const units = runUnits(architectures, seeds);
  const todo = units.filter((u) => !done.has(unitKey(u.arch.id, u.seed)));
  const measured = await settleSplit(
    runtime,
    folder.numerics?.threads,
    todo,
    trainingConfig(study, seeds[0] ?? study.seed, data, device),
    study.epochs * Math.floor(trainImageCount(study, data) / study.batchSize),
  );
  const split = measured.choice;
  const pool =
    measured.pool ??
    (split.processes > 1 ? new TrainerPool(split.processes, split.threads) : undefined);
  try {
    const numerics = settleNumerics(runtime, folder.numerics, split.threads);
    if (split.processes === 1) setThreads(numerics.threads);
    if (!resumed) {
      await writeRunConfig(dir, study, architectures, { numerics });
      await writeEnvironment(dir, {
        ...environmentRecord(study, data, device),
        threads: numerics.threads,
        parallel: split,
      });
    } else if (folder.seedsAdded) await writeStoredSeeds(dir, seeds);
    // A kill between the two writes left a CSV missing; an older featshift wrote other CSVs.
    await writeReferenceCsvs(dir, records, selection, resumed);
    reporter.start({
      dir,
      total: units.length,
      done: units.length - todo.length,
      seeds: seeds.length,
      resumed,
      todo,
      warnings: resumed ? [] : preflight(study),
    });
    reporter.parallel(split);

    const memoryLimit = runtime.memoryLimit ?? defaultMemoryLimit();
    // The training processes learn of a stop by message; this process by its own flag.
    const watch = pool
      ? setInterval(() => {
          if (request.shouldStop()) pool.stop();
        }, 50)
      : undefined;
    const trainer = new UnitTrainer({
      dir,
      study,
      seeds,
      data,
      device,
      memoryLimit,
      pool,
      layouts: measured.layouts,
      shouldStop: request.shouldStop,
    });
    let started = units.length - todo.length;
    const train = (unit: RunUnit, untilEpoch?: number): Promise<TrainingOutcome | undefined> =>
      trainer.train(
        unit,
        reporter.architectureStart({
          // Halving trains a unit in pieces, rung by rung: count the runs that have ended.
          index: study.halving ? records.length : started++,
          total: units.length,
          unit,
          epochs: untilEpoch ?? study.epochs,
          imagesPerEpoch: trainImageCount(study, data),
        }),
        untilEpoch,
      );
    // Units end in any order when several train at once: their records are written one by one.
    const recording = pLimit(1);
    /** Records a unit that ends here (results.jsonl and the CSVs), and drops its checkpoint. */
    const finish = (record: ResultRecord, remaining: RunUnit[]): Promise<void> =>
      recording(async () => {
        await recordResult(dir, records, record, selection);
        if (!runtime.keepCheckpoints)
          await rm(checkpointPath(dir, record.id, record.seed), { force: true });
        reporter.architectureDone(record, remaining);
      });
    let stopped = false;
    try {
      // Each process fits its micro-batch into its share of the memory.
      const share = Math.floor(memoryLimit / split.processes);
      if (pool) await pool.setup({ study, dataDir: runtime.dataDir, device, memoryLimit: share });
      const run = {
        concurrency: split.processes,
        shouldStop: request.shouldStop,
        onFailure: () => pool?.stop(),
      };
      if (halvingState) {
        stopped = await halvingSweep({
          state: halvingState,
          dir,
          study,
          architectures,
          seeds,
          done,
          ...run,
          train,
          finish,
          reporter,
        });
      } else {
        const left = new Set(todo);
        // Several at once: longest first, so that the last to finish is a short one.
        const order = pool ? seedRoundsLongestFirst(todo) : todo;
        stopped = await forEachUnit(order, run, async (unit) => {
          const outcome = await train(unit);
          if (!outcome) return false;
          left.delete(unit);
          await finish(toRecord(unit.arch, unit.seed, outcome), [...left]);
          return true;
        });
      }
    } finally {
      clearInterval(watch);
      await trainer.close();
    }
    if (stopped) reporter.stopped(dir);
    else {
      if (!runtime.keepCheckpoints)
        await rm(join(dir, CHECKPOINTS_DIR), { recursive: true, force: true });
      reporter.done(records, dir);
    }
    return { dir, records, stopped };
  } finally {
    await pool?.close();
  }
}
