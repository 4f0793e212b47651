import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { availableParallelism, cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { buildInfo, checkDevice, setThreads, threads as threadCount } from '../engine/runtime.js';
import { CHECKPOINTS_DIR, checkpointPath, singleSeedCheckpointName } from '../run/files.js';
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
import type { RungDecision } from '../run/halving-state.js';
import { runUnits, type RunUnit } from '../run/units.js';
import { defaultMemoryLimit } from '../train/memory.js';
import {
  trainModel,
  TrainingStopped,
  type TrainingConfig,
  type TrainingEvents,
  type TrainingOutcome,
} from '../train/trainer.js';
import { halvingSweep } from './halving-sweep.js';
import { halvingRungs } from './halving.js';
import {
  checkPrecision,
  checkRuntime,
  checkTrainingSetSize,
  type RuntimeConfig,
} from './config.js';
import { buildLoaders, loadStudyData, type StudyData } from './study-data.js';

/** What a sweep tells whoever shows its progress: training's events, and the sweep's own. */
export interface SweepReporter extends Required<TrainingEvents> {
  start(info: {
    dir: string;
    /** Units of work, (architecture, seed), in the study and already done. */
    total: number;
    done: number;
    seeds: number;
    resumed: boolean;
    todo: RunUnit[];
  }): void;
  architectureStart(info: {
    index: number;
    total: number;
    unit: RunUnit;
    epochs: number;
    imagesPerEpoch: number;
  }): void;
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

/** The trainer's configuration for one seed: the study's recipe, and what the data and device add. */
export function trainingConfig(
  study: StudyConfig,
  seed: number,
  data: Pick<StudyData, 'classes' | 'inputChannels'>,
  device: string,
): TrainingConfig {
  return {
    ...study,
    seed,
    microBatch: study.microBatch ?? study.batchSize,
    classes: data.classes,
    colors: data.inputChannels,
    device,
  };
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

/**
 * A run folder of a featshift older than seeds, stopped mid-architecture, holds its checkpoint
 * under the old name: resumed, it continues from there rather than from scratch.
 */
async function adoptSingleSeedCheckpoint(
  dir: string,
  id: number,
  seed: number,
  seeds: readonly number[],
): Promise<void> {
  const old = join(dir, CHECKPOINTS_DIR, singleSeedCheckpointName(id));
  const current = checkpointPath(dir, id, seed);
  if (seeds.length === 1 && existsSync(old) && !existsSync(current)) await rename(old, current);
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
  const numerics = settleNumerics(runtime, folder.numerics, threadCount());
  setThreads(numerics.threads);
  const data = await loadStudyData(study, runtime.dataDir);
  checkTrainingSetSize(study, Math.min(study.trainSubset ?? Infinity, data.load.train.count));
  const architectures = selectArchitectures(study, data);
  const seeds = studySeeds(study);
  const selection: RunSelection = { ids: architectures.map((a) => a.id), seeds };
  if (architectures.length === 0)
    throw new UsageError('the selection holds no architecture', 'ids');
  if (study.halving) halvingRungs(study); // refuses rungs that end no cycle, before anything is written
  if (!resumed) {
    await writeRunConfig(dir, study, architectures, { numerics });
    await writeEnvironment(dir, environmentRecord(study, data, device));
  } else if (folder.seedsAdded) await writeStoredSeeds(dir, seeds);

  const records = readResults(dir, study.seed);
  // A kill between the two writes left a CSV missing; an older featshift wrote other CSVs.
  await writeReferenceCsvs(dir, records, selection, resumed);
  const done = new Set(records.map((r) => unitKey(r.id, r.seed)));
  const units = runUnits(architectures, seeds);
  const todo = units.filter((u) => !done.has(unitKey(u.arch.id, u.seed)));
  reporter.start({
    dir,
    total: units.length,
    done: units.length - todo.length,
    seeds: seeds.length,
    resumed,
    todo,
  });

  const memoryLimit = runtime.memoryLimit ?? defaultMemoryLimit();
  // One loader per seed, built when its first unit comes: its data order derives from the seed.
  let loaders: (ReturnType<typeof buildLoaders> & { seed: number }) | undefined;
  let started = units.length - todo.length;
  /** Trains one unit (to `untilEpoch`, or to the end); undefined when a stop was requested. */
  const train = async (
    unit: RunUnit,
    untilEpoch?: number,
  ): Promise<TrainingOutcome | undefined> => {
    const { arch, seed } = unit;
    if (loaders?.seed !== seed) {
      await loaders?.train.close();
      loaders = { ...buildLoaders(study, data, seed), seed };
    }
    const { train: batches, test, trainCount } = loaders;
    reporter.architectureStart({
      // Halving trains a unit in pieces, rung by rung: count the runs that have ended.
      index: study.halving ? records.length : started++,
      total: units.length,
      unit,
      epochs: untilEpoch ?? study.epochs,
      imagesPerEpoch: trainCount,
    });
    await adoptSingleSeedCheckpoint(dir, arch.id, seed, seeds);
    try {
      return await trainModel(
        {
          id: arch.id,
          widths: arch.widths,
          config: trainingConfig(study, seed, data, device),
          train: batches,
          test,
          trainImages: trainCount,
          checkpointPath: checkpointPath(dir, arch.id, seed),
          memoryLimit,
          shouldStop: request.shouldStop,
          ...(untilEpoch !== undefined ? { untilEpoch } : {}),
        },
        reporter,
      );
    } catch (error) {
      if (error instanceof TrainingStopped) return undefined;
      throw error;
    }
  };
  /** Records a unit that ends here (results.jsonl and the CSVs), and drops its checkpoint. */
  const finish = async (record: ResultRecord, remaining: RunUnit[]): Promise<void> => {
    await recordResult(dir, records, record, selection);
    if (!runtime.keepCheckpoints)
      await rm(checkpointPath(dir, record.id, record.seed), { force: true });
    reporter.architectureDone(record, remaining);
  };
  let stopped = false;
  try {
    if (study.halving) {
      stopped = await halvingSweep({
        dir,
        study,
        architectures,
        seeds,
        done,
        shouldStop: request.shouldStop,
        train,
        finish,
        reporter,
      });
    } else {
      for (const [k, unit] of todo.entries()) {
        if (request.shouldStop()) {
          stopped = true;
          break;
        }
        const outcome = await train(unit);
        if (!outcome) {
          stopped = true;
          break;
        }
        await finish(toRecord(unit.arch, unit.seed, outcome), todo.slice(k + 1));
      }
    }
  } finally {
    await loaders?.train.close();
  }
  if (stopped) reporter.stopped(dir);
  else {
    if (!runtime.keepCheckpoints)
      await rm(join(dir, CHECKPOINTS_DIR), { recursive: true, force: true });
    reporter.done(records, dir);
  }
  return { dir, records, stopped };
}
