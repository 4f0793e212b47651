import { memberKey } from '../family/members.js';
import { availableParallelism, cpus, hostname } from 'node:os';
import { UsageError } from '../errors.js';
import { loadedBlas } from '../engine/blas.js';
import {
  buildInfo,
  checkDevice,
  hostMemory,
  setThreads,
  threads as threadCount,
} from '../engine/runtime.js';
import { packageVersion, settleNumerics, withRunFolder, type RunFolder } from '../run/folder.js';
import { studySeeds, type StudyConfig } from '../run/study.js';
import type { RunUnit } from '../run/units.js';
import { defaultMemoryLimit } from '../train/memory.js';
import type { TrainingConfig } from '../train/trainer.js';
import {
  checkPrecision,
  checkRuntime,
  checkTrainingSetSize,
  type RuntimeConfig,
} from './config.js';
import {
  runStudy,
  type DataShape,
  type OpenedExecutor,
  type Site,
  type SweepOutcome,
  type SweepReporter,
  type SweepRequest,
} from './driver.js';
import { LocalExecutor } from './local-executor.js';
import {
  candidateSplits,
  measureSplits,
  type MeasuredSplit,
  type Split,
} from './parallel/choose.js';
import { TrainerPool } from './parallel/pool.js';
import { loadStudyData, trainImageCount, type StudyData } from './study-data.js';
import { trainingConfig } from './unit-request.js';

export { trainingConfig } from './unit-request.js';
export type { SweepOutcome, SweepReporter, SweepRequest } from './driver.js';

/**
 * Trains every selected architecture of a study on this machine, in this process or in training
 * processes that share its cores, recording each one as it finishes (results.jsonl and the
 * original's CSV, both written atomically), resumable at any moment. A start refused before any
 * result leaves no run folder behind.
 */
export function runSweep(request: SweepRequest, reporter: SweepReporter): Promise<SweepOutcome> {
  return withRunFolder(
    request,
    (error) => error instanceof UsageError,
    (folder) => runStudy(folder, request, reporter, new LocalSite(request)),
  );
}

/** What environment.json records of the machine a run starts on. */
function environmentRecord(
  study: StudyConfig,
  data: StudyData,
  device: string,
): Record<string, unknown> {
  const info = buildInfo();
  const memory = hostMemory();
  return {
    featshift: packageVersion(),
    libtorch: info.version,
    cuda: info.cudaAvailable,
    device,
    threads: threadCount(),
    blas: loadedBlas(),
    // Where tensors and libtorch's other buffers live: the speed's, not the numbers'.
    allocator: { tensors: memory.allocator, malloc: memory.processMalloc },
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
    peaks: new Map(),
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
  const architectures = [...new Map(todo.map((u) => [memberKey(u.arch), u.arch])).values()];
  const work = todo.map((u) => ({ arch: u.arch, steps: stepsPerUnit }));
  return measureSplits(candidates, architectures, probeConfig, work);
}

/** This machine: its device and cores, with the data read in this process. */
class LocalSite implements Site {
  readonly asynchronous = false;
  private readonly request: SweepRequest;
  private device = 'cpu';
  private data: StudyData | undefined;
  private imagesPerEpoch = 0;

  constructor(request: SweepRequest) {
    this.request = request;
  }

  async prepare(folder: RunFolder): Promise<DataShape> {
    const { runtime } = this.request;
    const { study } = folder;
    this.device = checkDevice(runtime.device);
    checkRuntime(runtime);
    checkPrecision(study, this.device);
    if ((runtime.parallel ?? 1) !== 1 && this.device !== 'cpu') {
      throw new UsageError(
        `--parallel shares a CPU's cores among training processes; on ${this.device} drop it (one process trains on the device)`,
        'parallel',
      );
    }
    // A resumed run refuses a --threads or device that would change its numbers, before any work.
    if (folder.numerics)
      settleNumerics(runtime, folder.numerics, folder.numerics.threads, loadedBlas());
    const data = await loadStudyData(study, runtime.dataDir);
    this.data = data;
    const imagesPerEpoch = trainImageCount(study, data);
    checkTrainingSetSize(study, imagesPerEpoch);
    this.imagesPerEpoch = imagesPerEpoch;
    return { classes: data.classes, inputChannels: data.inputChannels, imagesPerEpoch };
  }

  async open(folder: RunFolder, todo: readonly RunUnit[]): Promise<OpenedExecutor> {
    const { runtime, shouldStop } = this.request;
    const { dir, study } = folder;
    const data = this.data as StudyData;
    const device = this.device;
    const seeds = studySeeds(study);
    const measured = await settleSplit(
      runtime,
      folder.numerics?.threads,
      todo,
      trainingConfig(study, seeds[0] ?? study.seed, data, device),
      study.epochs * Math.floor(this.imagesPerEpoch / study.batchSize),
    );
    const split = measured.choice;
    const pool =
      measured.pool ??
      (split.processes > 1 ? new TrainerPool(split.processes, split.threads) : undefined);
    try {
      const numerics = settleNumerics(runtime, folder.numerics, split.threads, loadedBlas());
      if (split.processes === 1) setThreads(numerics.threads);
      const memoryLimit = runtime.memoryLimit ?? defaultMemoryLimit();
      // Each process fits its micro-batch into its share of the memory.
      const share = Math.floor(memoryLimit / split.processes);
      if (pool) {
        const setup = { study, dataDir: runtime.dataDir, device, memoryLimit: share };
        await pool.setup({ ...setup, verified: data.verified });
      }
      const executor = new LocalExecutor({
        dir,
        study,
        seeds,
        data,
        device,
        memoryLimit,
        keepCheckpoints: runtime.keepCheckpoints,
        split,
        pool,
        layouts: measured.layouts,
        peaks: measured.peaks,
        shouldStop,
      });
      const environment = {
        ...environmentRecord(study, data, device),
        threads: numerics.threads,
        parallel: split,
      };
      return { executor, config: { numerics }, environment };
    } catch (error) {
      await pool?.close();
      throw error;
    }
  }
}
