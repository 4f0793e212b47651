import { rm } from 'node:fs/promises';
import { availableParallelism, cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Architecture } from '../family/skew-normal.js';
import { buildInfo, checkDevice, setThreads, threads as threadCount } from '../engine/runtime.js';
import { CHECKPOINTS_DIR, checkpointPath } from '../run/files.js';
import {
  packageVersion,
  withRunFolder,
  settleNumerics,
  writeEnvironment,
  writeRunConfig,
  type RunFolder,
  type RunRequest,
} from '../run/folder.js';
import {
  readResults,
  recordResult,
  toRecord,
  writeReferenceCsvs,
  type ResultRecord,
} from '../run/results.js';
import { checkStudy, selectArchitectures, type StudyConfig } from '../run/study.js';
import { defaultMemoryLimit } from '../train/memory.js';
import {
  trainModel,
  TrainingStopped,
  type TrainingConfig,
  type TrainingEvents,
} from '../train/trainer.js';
import { checkRuntime, checkTrainingSetSize, type RuntimeConfig } from './config.js';
import { buildLoaders, loadStudyData, type StudyData } from './study-data.js';

/** What a sweep tells whoever shows its progress: training's events, and the sweep's own. */
export interface SweepReporter extends Required<TrainingEvents> {
  start(info: {
    dir: string;
    total: number;
    done: number;
    resumed: boolean;
    todo: Architecture[];
  }): void;
  architectureStart(info: {
    index: number;
    total: number;
    arch: Architecture;
    epochs: number;
    imagesPerEpoch: number;
  }): void;
  architectureDone(record: ResultRecord, remaining: Architecture[]): void;
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
  /** Architectures that failed for good (a queue's attempts all spent). */
  failed?: number[];
}

/** The trainer's configuration: the study's recipe, and what the data and device add. */
export function trainingConfig(
  study: StudyConfig,
  data: Pick<StudyData, 'classes' | 'inputChannels'>,
  device: string,
): TrainingConfig {
  return {
    ...study,
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
    seed: study.seed,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    host: hostname(),
    dataset: data.sources,
    started: new Date().toISOString(),
  };
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
  const numerics = settleNumerics(runtime, folder.numerics, threadCount());
  setThreads(numerics.threads);
  const data = await loadStudyData(study, runtime.dataDir);
  checkTrainingSetSize(study, Math.min(study.trainSubset ?? Infinity, data.load.train.count));
  const architectures = selectArchitectures(study, data);
  const selection = architectures.map((a) => a.id);
  if (architectures.length === 0)
    throw new UsageError('the selection holds no architecture', 'ids');
  if (!resumed) {
    await writeRunConfig(dir, study, architectures, { numerics });
    await writeEnvironment(dir, environmentRecord(study, data, device));
  }

  const records = readResults(dir);
  // A kill between the two writes left a CSV missing; an older featshift wrote other CSVs.
  await writeReferenceCsvs(dir, records, selection, resumed);
  const done = new Set(records.map((r) => r.id));
  const todo = architectures.filter((a) => !done.has(a.id));
  reporter.start({
    dir,
    total: architectures.length,
    done: architectures.length - todo.length,
    resumed,
    todo,
  });

  const { train, test, trainCount } = buildLoaders(study, data);
  const config = trainingConfig(study, data, device);
  const memoryLimit = runtime.memoryLimit ?? defaultMemoryLimit();
  let stopped = false;
  try {
    for (const [k, arch] of todo.entries()) {
      if (request.shouldStop()) {
        stopped = true;
        break;
      }
      reporter.architectureStart({
        index: architectures.length - todo.length + k,
        total: architectures.length,
        arch,
        epochs: study.epochs,
        imagesPerEpoch: trainCount,
      });
      const checkpoint = checkpointPath(dir, arch.id);
      let outcome;
      try {
        outcome = await trainModel(
          {
            id: arch.id,
            widths: arch.widths,
            config,
            train,
            test,
            trainImages: trainCount,
            checkpointPath: checkpoint,
            memoryLimit,
            shouldStop: request.shouldStop,
          },
          reporter,
        );
      } catch (error) {
        if (error instanceof TrainingStopped) {
          stopped = true;
          break;
        }
        throw error;
      }
      const record = toRecord(arch, outcome);
      await recordResult(dir, records, record, selection);
      if (!runtime.keepCheckpoints) await rm(checkpoint, { force: true });
      reporter.architectureDone(record, todo.slice(k + 1));
    }
  } finally {
    await train.close();
  }
  if (stopped) reporter.stopped(dir);
  else {
    if (!runtime.keepCheckpoints)
      await rm(join(dir, CHECKPOINTS_DIR), { recursive: true, force: true });
    reporter.done(records, dir);
  }
  return { dir, records, stopped };
}
