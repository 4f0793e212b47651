import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { defaultMemoryLimit } from '../../train/memory.js';
import { trainModel, type EpochStats, type StepProgress } from '../../train/trainer.js';
import { checkpointName } from '../../run/files.js';
import type { ResultRecord } from '../../run/results.js';
import { checkPrecision } from '../config.js';
import { unitRecord } from '../halving.js';
import { trainRequest, unitTrainOptions } from '../unit-request.js';
import { toQueueError } from '../parallel/wire-error.js';
import { buildLoaders, loadStudyData, loaderThreadsFor, type StudyData } from '../study-data.js';
import {
  jobDataProblem,
  readWorkerSettings,
  runKey,
  type ArchitectureJob,
  type JobProgress,
} from './jobs.js';

/**
 * BullMQ's sandboxed processor: trains one (architecture, seed) in a child process of `featshift
 * worker`, so that training never blocks the worker's lock renewal. Its settings come from the
 * worker as one environment variable (readWorkerSettings).
 */
const cache = new Map<string, Promise<StudyData>>();

function studyData(study: ArchitectureJob['study'], dataDir: string | null): Promise<StudyData> {
  const key = JSON.stringify([
    study.dataset,
    study.trainData,
    study.valData,
    study.patchSize,
    dataDir,
  ]);
  let data = cache.get(key);
  if (!data) {
    data = loadStudyData(study, dataDir);
    cache.set(key, data);
  }
  return data;
}

/** Progress sent to the job at most every two seconds, and at every epoch's end. */
function progressReporter(
  job: SandboxedJob<ArchitectureJob, ResultRecord>,
  fixed: Pick<JobProgress, 'epochs' | 'imagesPerEpoch' | 'worker'>,
): { step: (s: StepProgress) => void; epoch: (s: EpochStats) => void } {
  let lastReport = 0;
  let lastEpoch: EpochStats | undefined;
  const report = (p: Omit<JobProgress, keyof typeof fixed>, force: boolean): void => {
    const now = Date.now();
    if (!force && now - lastReport < 2000) return;
    lastReport = now;
    void job.updateProgress({
      ...p,
      ...fixed,
      ...(lastEpoch ? { lastEpoch } : {}),
    } satisfies JobProgress);
  };
  return {
    step: (s) => {
      const { epoch, images, accuracy, batch, batches, loss, lr } = s;
      report({ epoch, images, accuracy, batch, batches, loss, lr }, false);
    },
    epoch: (s) => {
      lastEpoch = s;
      report({ epoch: s.epoch + 1, images: 0, accuracy: s.trainAcc }, true);
    },
  };
}

export default async function trainJob(
  job: SandboxedJob<ArchitectureJob, ResultRecord>,
): Promise<ResultRecord & { paused?: boolean }> {
  const problem = jobDataProblem(job.data);
  // Not retried: the same data would fail the same way.
  if (problem !== undefined) throw new UnrecoverableError(`not a featshift job: ${problem}`);
  try {
    return await train(job);
  } catch (error) {
    // Its class and fields cross to the coordinator in the job's failedReason.
    throw toQueueError(error);
  }
}

async function train(
  job: SandboxedJob<ArchitectureJob, ResultRecord>,
): Promise<ResultRecord & { paused?: boolean }> {
  const { runId, study, arch, seed, untilEpoch } = job.data;
  const settings = readWorkerSettings(process.env);
  const dataset = await studyData(study, settings.dataDir);
  checkPrecision(study, settings.device); // a worker without bf16 fails the job with the reason
  const loaders = buildLoaders(study, dataset, seed, loaderThreadsFor(settings.device));
  // On storage that every worker reaches, a job taken over after a crash resumes from here.
  const checkpointDir = settings.checkpointDir ?? join(tmpdir(), 'featshift-worker');
  const checkpointPath = join(checkpointDir, runKey(runId), checkpointName(arch, seed));
  const request = trainRequest(
    study,
    { arch, seed },
    dataset,
    { device: settings.device, checkpointPath },
    { untilEpoch },
  );
  try {
    const outcome = await trainModel(
      unitTrainOptions(request, loaders, {
        memoryLimit: settings.memoryLimit ?? defaultMemoryLimit(),
      }),
      progressReporter(job, {
        epochs: study.epochs,
        imagesPerEpoch: loaders.trainCount,
        worker: settings.name,
      }),
    );
    // A paused run keeps its checkpoint: its promotion continues from it (on storage every
    // worker reaches, whichever worker takes the next rung).
    if (!outcome.paused) await rm(checkpointPath, { force: true });
    const record = unitRecord(study, arch, seed, outcome);
    return study.halving ? { ...record, paused: outcome.paused } : record;
  } finally {
    await loaders.train.close();
  }
}
