import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { defaultMemoryLimit } from '../../train/memory.js';
import { trainModel } from '../../train/trainer.js';
import { checkpointName } from '../../run/files.js';
import { toRecord, type ResultRecord } from '../../run/results.js';
import { checkPrecision } from '../config.js';
import { halvingRecord } from '../halving.js';
import { trainingConfig } from '../unit-trainer.js';
import { buildLoaders, loadStudyData, type StudyData } from '../study-data.js';
import { jobDataProblem, runKey, type ArchitectureJob, type JobProgress } from './jobs.js';

/**
 * BullMQ's sandboxed processor: trains one (architecture, seed) in a child process of `featshift
 * worker`, so that training never blocks the worker's lock renewal. Its settings come through
 * the environment the worker forks it with.
 */
const cache = new Map<string, Promise<StudyData>>();

export default async function trainJob(
  job: SandboxedJob<ArchitectureJob, ResultRecord>,
): Promise<ResultRecord & { paused?: boolean }> {
  const problem = jobDataProblem(job.data);
  // Not retried: the same data would fail the same way.
  if (problem !== undefined) throw new UnrecoverableError(`not a featshift job: ${problem}`);
  const { runId, study, arch, seed, untilEpoch } = job.data;
  const device = process.env.FEATSHIFT_WORKER_DEVICE ?? 'cpu';
  const dataDir = process.env.FEATSHIFT_DATA_DIR;
  const key = JSON.stringify([
    study.dataset,
    study.trainData,
    study.valData,
    study.patchSize,
    dataDir,
  ]);
  let data = cache.get(key);
  if (!data) {
    data = loadStudyData(study, dataDir ?? null);
    cache.set(key, data);
  }
  const dataset = await data;
  checkPrecision(study, device); // a worker without bf16 fails the job with the reason
  const { train, test, trainCount } = buildLoaders(study, dataset, seed);
  // On storage that every worker reaches, a job taken over after a crash resumes from here.
  const checkpointDir = process.env.FEATSHIFT_CHECKPOINT_DIR ?? join(tmpdir(), 'featshift-worker');
  const checkpointPath = join(checkpointDir, runKey(runId), checkpointName(arch.id, seed));
  const worker = process.env.FEATSHIFT_WORKER_NAME ?? `${hostname()}:${process.pid}`;
  const memory = Number(process.env.FEATSHIFT_MEMORY_LIMIT);
  let lastReport = 0;
  const report = (
    p: Omit<JobProgress, 'worker' | 'epochs' | 'imagesPerEpoch'>,
    force = false,
  ): void => {
    const now = Date.now();
    if (!force && now - lastReport < 2000) return;
    lastReport = now;
    void job.updateProgress({
      ...p,
      epochs: study.epochs,
      imagesPerEpoch: trainCount,
      worker,
    } satisfies JobProgress);
  };
  try {
    const outcome = await trainModel(
      {
        id: arch.id,
        widths: arch.widths,
        config: trainingConfig(study, seed, dataset, device),
        train,
        test,
        trainImages: trainCount,
        checkpointPath,
        memoryLimit: Number.isFinite(memory) && memory > 0 ? memory : defaultMemoryLimit(),
        ...(untilEpoch !== undefined ? { untilEpoch } : {}),
      },
      {
        step: (s) => {
          report({ epoch: s.epoch, images: s.images, accuracy: s.accuracy });
        },
        epoch: (s) => {
          report({ epoch: s.epoch + 1, images: 0, accuracy: s.trainAcc }, true);
        },
      },
    );
    // A paused run keeps its checkpoint: its promotion continues from it (on storage every
    // worker reaches, whichever worker takes the next rung).
    if (!outcome.paused) await rm(checkpointPath, { force: true });
    return study.halving
      ? { ...halvingRecord(arch, seed, outcome), paused: outcome.paused }
      : toRecord(arch, seed, outcome);
  } finally {
    await train.close();
  }
}
