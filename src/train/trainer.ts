import { existsSync } from 'node:fs';
import { zeros, tensor, tidy, ops } from '../engine/index.js';
import { manualSeed } from '../engine/runtime.js';
import { mix32 } from '../data/random.js';
import { UsageError } from '../errors.js';
import type { Batch } from '../data/loader.js';
import { loadCheckpoint, saveCheckpoint } from '../models/checkpoint.js';
import type { InitScheme } from '../models/init.js';
import { Vgg } from '../models/vgg.js';
import { measurePeakBytes, planMicroBatch, type MicroBatchChoice } from './memory.js';
import { Sgd } from './sgd.js';
import { WarmRestartSchedule, type WarmRestartState } from './schedule.js';
import { evalStep, trainStep } from './step.js';

/** Everything that decides a training run's numbers (the reference's defaults in the CLI). */
export interface TrainingConfig {
  epochs: number;
  batchSize: number;
  /** The micro-batch of every step: a divisor of the batch size (the batch size: no split). */
  microBatch: number;
  /** Split further when the micro-batch does not fit the memory budget (always on a GPU). */
  allowSplit: boolean;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Batch-norm epsilon; 0 trains without batch norm (the reference's --batch-norm 0). */
  batchNormEps: number;
  lrCycle: number;
  lrMultiplier: number;
  lrMin: number;
  init: InitScheme;
  seed: number;
  classes: number;
  /** Input channels of the network (3; 1 for KMNIST). */
  colors: number;
  patchSize: number;
  device: string;
  channelsLast: boolean;
}

export interface EpochStats {
  epoch: number;
  trainAcc: number;
  valAcc: number;
  trainLoss: number;
  valLoss: number;
  /** The rate of the epoch's last step. */
  lr: number;
  seconds: number;
}

export interface TrainingOutcome {
  epochs: EpochStats[];
  bestVal: number;
  bestValTrain: number;
  bestEpoch: number;
  lastVal: number;
  lastTrain: number;
  abandoned: boolean;
  diverged: boolean;
  microBatch: number;
  memory: MicroBatchChoice | undefined;
}

/** A source of training batches (BatchLoader or ParallelBatchLoader). */
export interface BatchSource {
  readonly batchesPerEpoch: number;
  batches(epoch: number, start?: number): Iterable<Batch> | AsyncIterable<Batch>;
}

export interface StepProgress {
  epoch: number;
  batch: number;
  batches: number;
  images: number;
  loss: number;
  accuracy: number;
  lr: number;
}

export interface TrainHooks {
  /** Where the per-epoch checkpoint lives; a present one is resumed from. */
  checkpointPath?: string;
  /** Asked after every step; true saves a checkpoint at that step and throws {@link TrainingStopped}. */
  shouldStop?: () => boolean;
  /** Memory budget in bytes for choosing the micro-batch (CPU). */
  memoryLimit?: number;
  onMemory?: (choice: MicroBatchChoice) => void;
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (stats: EpochStats) => void;
  onResume?: (epoch: number, batch: number) => void;
}

/** Training was interrupted on request; its checkpoint holds everything to continue. */
export class TrainingStopped extends Error {
  constructor() {
    super('training stopped on request; the checkpoint holds its state');
    this.name = 'TrainingStopped';
  }
}

interface Progress {
  epoch: number;
  batch: number;
  schedule: WarmRestartState;
  epochs: EpochStats[];
  running: { lossSum: number; correct: number; seen: number; seconds: number; lr: number };
  microBatch: number;
  diverged: boolean;
}

const SEED_INIT = 0x1417;

/**
 * A checkpoint's training state, every value checked against the study: an edited or damaged
 * checkpoint is refused with its path and key, never trained on or recorded as a result.
 */
function parseProgress(
  meta: string,
  path: string,
  config: TrainingConfig,
  batchesPerEpoch: number,
): Progress {
  const refuse = (key: string, expected: string): never => {
    throw new UsageError(
      `${path}: ${key} is not ${expected} (edited or damaged): delete the checkpoint to train this architecture again from its start`,
      'resume',
    );
  };
  type Loose = Record<string, unknown>;
  const isObject = (v: unknown): v is Loose =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  let raw: unknown;
  try {
    raw = JSON.parse(meta);
  } catch {
    return refuse('the training state', 'JSON');
  }
  const int = (v: unknown, least: number, most: number): v is number =>
    Number.isInteger(v) && (v as number) >= least && (v as number) <= most;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const percent = (v: unknown): boolean => finite(v) && v >= 0 && v <= 100;
  const loss = (v: unknown): boolean => v === null || typeof v === 'number';
  if (!isObject(raw)) return refuse('the training state', 'an object');
  const { epoch, batch, schedule, epochs, running, microBatch, diverged } = raw;
  if (!int(epoch, 0, config.epochs - 1)) refuse('epoch', `an epoch below ${config.epochs}`);
  if (!int(batch, 0, batchesPerEpoch)) refuse('batch', `a batch of the ${batchesPerEpoch}`);
  if (
    !isObject(schedule) ||
    !int(schedule.epochInCycle, 0, Number.MAX_SAFE_INTEGER) ||
    !int(schedule.cycle, 1, Number.MAX_SAFE_INTEGER)
  )
    refuse('schedule', 'a warm-restart state');
  if (!Array.isArray(epochs) || epochs.length !== epoch)
    refuse('epochs', `a list of ${String(epoch)} finished epochs`);
  (epochs as unknown[]).forEach((e, i) => {
    const ok =
      isObject(e) &&
      e.epoch === i &&
      percent(e.trainAcc) &&
      percent(e.valAcc) &&
      finite(e.lr) &&
      e.lr > 0 &&
      finite(e.seconds) &&
      loss(e.trainLoss) &&
      loss(e.valLoss);
    if (!ok) refuse(`epochs[${i}]`, "an epoch's statistics");
  });
  if (
    !isObject(running) ||
    !int(running.seen, 0, Number.MAX_SAFE_INTEGER) ||
    !int(running.correct, 0, running.seen) ||
    !finite(running.lossSum) ||
    !finite(running.seconds) ||
    !finite(running.lr)
  )
    refuse('running', "an epoch's running statistics");
  if (!int(microBatch, 1, config.batchSize) || config.batchSize % microBatch !== 0)
    refuse('microBatch', `a divisor of the batch size ${config.batchSize}`);
  if (diverged !== false) refuse('diverged', 'false (a diverged run has no checkpoint)');
  return raw as unknown as Progress;
}

function buildModel(widths: readonly number[], config: TrainingConfig): Vgg {
  return new Vgg(widths, {
    classes: config.classes,
    colors: config.colors,
    patchSize: config.patchSize,
    batchNormEps: config.batchNormEps,
    init: config.init,
    device: config.device,
    channelsLast: config.channelsLast,
  });
}

/** Settles the micro-batch by measuring real passes of a throwaway copy of the model. */
function fitMemory(
  widths: readonly number[],
  config: TrainingConfig,
  limit: number,
): MicroBatchChoice {
  const probeModel = buildModel(widths, config);
  const sgd = new Sgd(probeModel.parameters(), { lr: 0 });
  const P = config.patchSize;
  let warm = false;
  try {
    return planMicroBatch(
      config.batchSize,
      {
        requested: config.microBatch,
        allowSplit: config.allowSplit || config.device !== 'cpu',
        budgetBytes: limit,
      },
      (m) => {
        const probeOnCpu = config.device === 'cpu';
        const run = (): void => {
          tidy(() => {
            const x = zeros([m, config.colors, P, P], 'float32', config.device).uniform_(0, 1);
            const y = tensor(
              BigInt64Array.from({ length: m }, (_, i) => BigInt(i % config.classes)),
              [m],
              config.device,
            );
            ops.crossEntropy(probeModel.forward(x, true), y).backward();
          });
          sgd.zeroGrad();
        };
        if (!probeOnCpu) {
          run(); // on a GPU an out-of-memory error is the measurement
          return undefined;
        }
        // One unmeasured pass first: libtorch and oneDNN set up kernels and caches once per
        // process, which is not memory the micro-batch needs.
        if (!warm) run();
        warm = true;
        return measurePeakBytes(run);
      },
      probeModel.layout,
    );
  } finally {
    sgd.dispose();
    probeModel.dispose();
  }
}

/**
 * Returns to the event loop once. Prefetched batches resolve as microtasks, so without this a
 * whole epoch can pass without a signal handler (Ctrl-C) getting to run.
 */
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

async function saveState(path: string, model: Vgg, sgd: Sgd, progress: Progress): Promise<void> {
  await saveCheckpoint(path, [...model.state(), ...sgd.state()], {
    featshift: JSON.stringify(progress),
  });
}

/**
 * Trains one architecture with the reference's recipe (SPEC.md section 3): SGD with the
 * warm-restart rate set before every step, running training accuracy over the epoch, evaluation
 * on the test split after every epoch, the abandon rule at the end of the first cycle, best and
 * last statistics. A NaN or infinite loss ends it as diverged. Every random draw is seeded from
 * (seed, architecture id, epoch, step), and a checkpoint is written after every epoch, so that a
 * resumed run ends with exactly the numbers of an uninterrupted one.
 */
export async function trainArchitecture(
  id: number,
  widths: readonly number[],
  config: TrainingConfig,
  train: BatchSource,
  test: BatchSource,
  datasetSize: number,
  hooks: TrainHooks = {},
): Promise<TrainingOutcome> {
  let memory: MicroBatchChoice | undefined;
  let restored:
    | { progress: Progress; tensors: Awaited<ReturnType<typeof loadCheckpoint>>['tensors'] }
    | undefined;
  if (hooks.checkpointPath && existsSync(hooks.checkpointPath)) {
    const ckpt = await loadCheckpoint(hooks.checkpointPath, config.device);
    const meta = ckpt.metadata.featshift;
    if (!meta) throw new Error(`${hooks.checkpointPath} is not a featshift training checkpoint`);
    restored = {
      progress: parseProgress(meta, hooks.checkpointPath, config, train.batchesPerEpoch),
      tensors: ckpt.tensors,
    };
  }
  let microBatch = restored?.progress.microBatch ?? config.microBatch;
  if (!restored && hooks.memoryLimit !== undefined) {
    memory = fitMemory(widths, config, hooks.memoryLimit);
    microBatch = memory.microBatch;
    hooks.onMemory?.(memory);
  }

  manualSeed(mix32(config.seed, id, SEED_INIT));
  const model = buildModel(widths, config);
  const sgd = new Sgd(model.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
  });
  const progress: Progress = restored?.progress ?? {
    epoch: 0,
    batch: 0,
    schedule: { epochInCycle: 0, cycle: config.lrCycle },
    epochs: [],
    running: { lossSum: 0, correct: 0, seen: 0, seconds: 0, lr: config.lr },
    microBatch,
    diverged: false,
  };
  if (restored) {
    const tensors = restored.tensors;
    model.loadState(new Map([...tensors].filter(([k]) => !k.startsWith('momentum_buffer.'))));
    sgd.loadState(new Map([...tensors].filter(([k]) => k.startsWith('momentum_buffer.'))));
    for (const t of tensors.values()) t.dispose();
    hooks.onResume?.(progress.epoch, progress.batch);
  }
  const schedule = new WarmRestartSchedule(
    {
      lrMax: config.lr,
      lrMin: config.lrMin,
      firstCycle: config.lrCycle,
      multiplier: config.lrMultiplier,
      datasetSize,
      batchSize: config.batchSize,
    },
    progress.schedule,
  );

  let abandoned = false;
  try {
    while (progress.epoch < config.epochs && !progress.diverged && !abandoned) {
      const epoch = progress.epoch;
      const started = performance.now() - progress.running.seconds * 1000;
      for await (const batch of train.batches(epoch, progress.batch)) {
        const lr = schedule.rate(batch.index + 1);
        sgd.lr = lr;
        manualSeed(mix32(config.seed, id, epoch, batch.index)); // dropout masks
        const stats = trainStep(model, sgd, batch.x, batch.y, config.batchSize, microBatch);
        if (!stats.finite) {
          progress.diverged = true;
          break;
        }
        const r = progress.running;
        r.lossSum += stats.lossSum;
        r.correct += stats.correct;
        r.seen += stats.count;
        r.lr = lr;
        progress.batch = batch.index + 1;
        progress.schedule = schedule.snapshot();
        hooks.onStep?.({
          epoch,
          batch: batch.index,
          batches: train.batchesPerEpoch,
          images: r.seen,
          loss: r.lossSum / r.seen,
          accuracy: (100 * r.correct) / r.seen,
          lr,
        });
        await yieldToEventLoop();
        if (hooks.shouldStop?.()) {
          r.seconds = (performance.now() - started) / 1000;
          if (hooks.checkpointPath) await saveState(hooks.checkpointPath, model, sgd, progress);
          throw new TrainingStopped();
        }
      }
      const r = progress.running;
      let val = { lossSum: 0, correct: 0, count: 0, finite: true };
      if (!progress.diverged) {
        for await (const batch of test.batches(0)) {
          await yieldToEventLoop(); // a second Ctrl-C quits at once, also while evaluating
          const s = evalStep(model, batch.x, batch.y, microBatch);
          val = {
            lossSum: val.lossSum + s.lossSum,
            correct: val.correct + s.correct,
            count: val.count + s.count,
            finite: val.finite && s.finite,
          };
        }
      }
      const stats: EpochStats = {
        epoch,
        trainAcc: r.seen ? (100 * r.correct) / r.seen : 0,
        valAcc: val.count ? (100 * val.correct) / val.count : 0,
        trainLoss: r.seen ? r.lossSum / r.seen : NaN,
        valLoss: val.count ? val.lossSum / val.count : NaN,
        lr: r.lr,
        seconds: (performance.now() - started) / 1000,
      };
      progress.epochs.push(stats);
      hooks.onEpoch?.(stats);
      // The reference abandons an architecture whose training accuracy is below twice chance at
      // the end of the first warm-restart cycle.
      if (epoch === config.lrCycle - 1 && stats.trainAcc < (2 * 100) / config.classes)
        abandoned = true;
      schedule.endEpoch();
      progress.epoch = epoch + 1;
      progress.batch = 0;
      progress.schedule = schedule.snapshot();
      progress.running = { lossSum: 0, correct: 0, seen: 0, seconds: 0, lr: r.lr };
      const more = progress.epoch < config.epochs && !progress.diverged && !abandoned;
      if (more && hooks.checkpointPath) await saveState(hooks.checkpointPath, model, sgd, progress);
      // A stop asked for during the evaluation keeps the finished epoch: the checkpoint above
      // holds it, and a finished architecture is returned to be recorded.
      if (more && hooks.shouldStop?.()) throw new TrainingStopped();
    }
  } finally {
    sgd.dispose();
    model.dispose();
  }

  // Best: the first epoch with the highest validation accuracy (strictly greater, from 0).
  let bestVal = 0;
  let bestValTrain = 0;
  let bestEpoch = 0;
  for (const e of progress.epochs) {
    if (e.valAcc > bestVal) {
      bestVal = e.valAcc;
      bestValTrain = e.trainAcc;
      bestEpoch = e.epoch;
    }
  }
  const last = progress.epochs[progress.epochs.length - 1];
  return {
    epochs: progress.epochs,
    bestVal,
    bestValTrain,
    bestEpoch,
    lastVal: last?.valAcc ?? 0,
    lastTrain: last?.trainAcc ?? 0,
    abandoned,
    diverged: progress.diverged,
    microBatch,
    memory,
  };
}
