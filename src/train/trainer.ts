import { tensor, tidy, zeros, type Tensor } from '../engine/index.js';
import { OutOfMemoryError } from '../engine/errors.js';
import { manualSeed, releaseHostMemory } from '../engine/runtime.js';
import { mix32 } from '../util/random.js';
import type { Batch } from '../data/loader.js';
import { Vgg } from '../models/vgg.js';
import { measurePeakBytes, planMicroBatch, type MicroBatchChoice } from './memory.js';
import { vggPlan } from '../models/vgg-plan.js';
import type { TrainingRecipe } from './recipe.js';
import { Sgd } from './sgd.js';
import { WarmRestartSchedule } from './schedule.js';
import { evalStep, forwardLoss, trainStep } from './step.js';
import type {
  EpochStats,
  MemoryFormatChoice,
  MemoryFormat,
  PhaseSeconds,
  TrainingSummary,
} from './outcome.js';
import { restoreTraining, saveTraining, type Progress } from './training-state.js';

export type { EpochStats, MemoryFormatChoice, MemoryFormat, PhaseSeconds } from './outcome.js';

/** The recipe with what one architecture's training needs besides (docs/method.md §1, §3). */
export interface TrainingConfig extends TrainingRecipe {
  /** The micro-batch of every step: a divisor of the batch size (the batch size: no split). */
  microBatch: number;
  classes: number;
  /** Input channels of the network (3; 1 for KMNIST). */
  colors: number;
  patchSize: number;
  device: string;
}

export interface TrainingOutcome extends TrainingSummary {
  epochs: EpochStats[];
  phases: PhaseSeconds;
  layout: MemoryFormatChoice;
  memory: MicroBatchChoice | undefined;
  /** Stopped at `untilEpoch` with its checkpoint kept, to continue later. */
  paused: boolean;
}

/** A source of batches (BatchLoader, ParallelBatchLoader, ImageFolderLoader). */
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

/** What training tells whoever follows it; the sweep's reporter implements the same interface. */
export interface TrainingEvents {
  /** The layout was settled (a new architecture, not a resumed one). */
  layout?(choice: MemoryFormatChoice): void;
  /** The micro-batch was settled by measurement (a new architecture, not a resumed one). */
  memory?(choice: MicroBatchChoice): void;
  /** Training continues from a checkpoint at this epoch and batch. */
  resumed?(epoch: number, batch: number): void;
  step?(progress: StepProgress): void;
  epoch?(stats: EpochStats): void;
}

/** One architecture to train, with its data and how to stop and resume it. */
export interface TrainOptions {
  id: number;
  widths: readonly number[];
  config: TrainingConfig;
  train: BatchSource;
  test: BatchSource;
  /** Images per training epoch, for the schedule's steps per epoch. */
  trainImages: number;
  /** Where the per-epoch checkpoint lives; a present one is resumed from. */
  checkpointPath?: string;
  /**
   * The layout already chosen for this architecture (by another seed's run of it): trained in
   * without timing again. A checkpoint's own layout still wins.
   */
  layout?: MemoryFormatChoice;
  /** The micro-batch settled for this architecture in that layout, by another seed's run. */
  memory?: MicroBatchChoice;
  /**
   * Peak bytes of a whole training step of this architecture in that layout, measured already at
   * this thread count (by --parallel auto's timing): trusted where it fits the budget, so that
   * settling the micro-batch runs no passes of its own.
   */
  peakBytes?: number;
  /** Memory budget in bytes that the micro-batch must fit (CPU). */
  memoryLimit?: number;
  /** Asked after every step; true saves a checkpoint at that step and throws {@link TrainingStopped}. */
  shouldStop?: () => boolean;
  /**
   * Pause after this many epochs (a rung of successive halving): the checkpoint is kept and the
   * outcome says `paused`; continued later from it, every epoch equals an uninterrupted run's.
   */
  untilEpoch?: number;
}

/** Training was interrupted on request; its checkpoint holds everything to continue. */
export class TrainingStopped extends Error {
  constructor() {
    super('training stopped on request; the checkpoint holds its state');
    this.name = 'TrainingStopped';
  }
}

const SEED_INIT = 0x1417;

/** A batch of `m` random images and labels for the probes that measure a model before it trains. */
function probeBatch(config: TrainingConfig, m: number): { x: Tensor; y: Tensor } {
  const P = config.patchSize;
  return {
    x: zeros([m, config.colors, P, P], 'float32', config.device).uniform_(0, 1),
    y: tensor(
      BigInt64Array.from({ length: m }, (_, i) => BigInt(i % config.classes)),
      [m],
      config.device,
    ),
  };
}

function buildModel(widths: readonly number[], config: TrainingConfig, layout: MemoryFormat): Vgg {
  return new Vgg(widths, {
    classes: config.classes,
    colors: config.colors,
    patchSize: config.patchSize,
    batchNorm: config.batchNorm,
    weightInit: config.weightInit,
    device: config.device,
    memoryFormat: layout,
  });
}

/** A layout choice, with the peak memory its timed steps took (CPU; undefined elsewhere). */
interface TimedLayout {
  choice: MemoryFormatChoice;
  peakBytes: number | undefined;
}

/**
 * The layout to train in: the recipe's, or with 'auto' the faster of NCHW and channels-last,
 * timed on a few real training steps (see {@link timeTrainingSteps}). oneDNN's channels-last
 * kernels win on wide layers and lose on slim ones, and the family spans both. Either layout
 * computes the same numbers within float32 rounding.
 */
function chooseLayout(widths: readonly number[], config: TrainingConfig): TimedLayout {
  if (config.layout !== 'auto')
    return { choice: { layout: config.layout, msPerStep: {} }, peakBytes: undefined };
  const timing = timeTrainingSteps(widths, config, ['nchw', 'channels-last']);
  if (timing === undefined)
    return { choice: { layout: 'nchw', msPerStep: {} }, peakBytes: undefined };
  const choice = fasterLayout(timing.msPerStep);
  return { choice, peakBytes: timing.peakBytes[choice.layout] };
}

/** The faster of the timed layouts (NCHW on a tie, or where none was timed), with the figures. */
export function fasterLayout(msPerStep: StepTiming['msPerStep']): MemoryFormatChoice {
  const layout =
    (msPerStep['channels-last'] ?? Infinity) < (msPerStep.nchw ?? Infinity)
      ? 'channels-last'
      : 'nchw';
  return { layout, msPerStep };
}

/** What {@link timeTrainingSteps} measured of each layout. */
export interface StepTiming {
  msPerStep: Partial<Record<MemoryFormat, number>>;
  /** Peak bytes one whole step added to the process (CPU, when asked; a round after the timed ones). */
  peakBytes: Partial<Record<MemoryFormat, number>>;
}

/** How much slower than another a layout's quickest step must be to skip its last rounds. */
const CLEARLY_SLOWER = 1.2;

/** How {@link timeTrainingSteps} times. */
export interface StepTimingOptions {
  /** Measure the peak memory too (a round more on a CPU). */
  peak?: boolean;
  /** Timed rounds, each a step of every layout (default 3). */
  rounds?: number;
}

/**
 * Milliseconds of one real training step (forward, loss, backward, optimiser) of an architecture
 * in each layout, on throwaway models with random data: alternating rounds (three unless told),
 * the quickest step of each layout (a first step, which sets up kernels and memory, and a busy
 * machine only ever add time: on 2 cores a 450 ms step of one thread was timed at 700 ms in the
 * median of three steps after a warm-up). With `peak` (the default), on a CPU one more round
 * measures the step's peak memory, so that the micro-batch needs no passes of its own when it
 * fits. Undefined when a layout cannot even run a step here (out of memory).
 */
export function timeTrainingSteps(
  widths: readonly number[],
  config: TrainingConfig,
  layouts: readonly MemoryFormat[],
  { peak = true, rounds = 3 }: StepTimingOptions = {},
): StepTiming | undefined {
  const m = Math.min(config.microBatch, config.batchSize);
  const models = layouts.map((layout) => {
    const model = buildModel(widths, config, layout);
    return {
      layout,
      model,
      sgd: new Sgd(model.parameters(), { lr: 0 }),
      times: [] as number[],
      peak: undefined as number | undefined,
    };
  });
  try {
    const { x, y } = probeBatch(config, m);
    const step = (c: (typeof models)[number]): number => {
      const started = performance.now();
      c.sgd.zeroGrad();
      tidy(() => {
        const { loss } = forwardLoss(c.model, x, y, {
          training: true,
          bf16: config.precision === 'bf16',
        });
        loss.backward();
        loss.item(); // waits for a GPU
      });
      c.sgd.step();
      return performance.now() - started;
    };
    const last = peak && config.device === 'cpu' ? rounds : rounds - 1;
    const quickest = (c: (typeof models)[number]): number => Math.min(...c.times);
    // A layout already 20 % slower than another is not stepped in the last rounds: it will not be
    // chosen, and the training it costs is wasted (on 2 cores channels-last's last step of the
    // bench study's members cost 0.8 s of the 4.6 s that timing them took).
    const behind = (c: (typeof models)[number]): boolean =>
      models.some((o) => o !== c && quickest(c) > CLEARLY_SLOWER * quickest(o));
    for (let round = 0; round <= last; round++) {
      for (const c of round % 2 === 0 ? models : [...models].reverse()) {
        if (round > 0 && round >= rounds - 1 && behind(c)) continue;
        // The peak is measured on a round of its own, untimed: measuring trims the heap first,
        // and the step after a trim pays for faulting its memory in again, as a first step does
        // (timed, it put a process of one thread 10-20 % above its steady step).
        if (round === rounds) c.peak = measurePeakBytes(() => step(c));
        else c.times.push(step(c));
      }
    }
    x.dispose();
    y.dispose();
  } catch (error) {
    if (error instanceof OutOfMemoryError) return undefined;
    throw error;
  } finally {
    for (const c of models) {
      c.sgd.dispose();
      c.model.dispose();
    }
  }
  return {
    msPerStep: Object.fromEntries(models.map((c) => [c.layout, Math.min(...c.times)])),
    peakBytes: Object.fromEntries(
      models.filter((c) => c.peak !== undefined).map((c) => [c.layout, c.peak]),
    ),
  };
}

/** The faster layout's milliseconds of {@link timeTrainingSteps}' figures (undefined: none ran). */
export function fastestStep(timing: StepTiming | undefined): number | undefined {
  const times = Object.values(timing?.msPerStep ?? {});
  return times.length === 0 ? undefined : Math.min(...times);
}

/** Settles the micro-batch by measuring real passes of a throwaway copy of the model. */
function fitMemory(
  widths: readonly number[],
  config: TrainingConfig,
  layout: MemoryFormat,
  limit: number,
  measured: number | undefined,
): MicroBatchChoice {
  // Built on the first pass the plan needs: none where the layout's timed steps measured a fit.
  let probe: { model: Vgg; sgd: Sgd; warm: boolean } | undefined;
  try {
    return planMicroBatch(
      config.batchSize,
      {
        requested: config.microBatch,
        allowSplit: config.allowSplit || config.device !== 'cpu',
        budgetBytes: limit,
      },
      (m) => {
        if (!probe) {
          const model = buildModel(widths, config, layout);
          probe = { model, sgd: new Sgd(model.parameters(), { lr: 0 }), warm: false };
        }
        const { model, sgd } = probe;
        const run = (): void => {
          tidy(() => {
            const { x, y } = probeBatch(config, m);
            forwardLoss(model, x, y, {
              training: true,
              bf16: config.precision === 'bf16',
            }).loss.backward();
          });
          sgd.zeroGrad();
        };
        if (config.device !== 'cpu') {
          run(); // on a GPU an out-of-memory error is the measurement
          return undefined;
        }
        // One unmeasured pass first: libtorch and oneDNN set up kernels and caches once per
        // process, which is not memory the micro-batch needs.
        if (!probe.warm) run();
        probe.warm = true;
        return measurePeakBytes(run);
      },
      vggPlan(widths, {
        classes: config.classes,
        colors: config.colors,
        patchSize: config.patchSize,
        batchNorm: config.batchNorm > 0,
      }),
      measured,
    );
  } finally {
    probe?.sgd.dispose();
    probe?.model.dispose();
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

/** An architecture being trained: its model, optimiser, schedule and progress. */
interface Run {
  phases: PhaseSeconds;
  layout: MemoryFormatChoice;
  model: Vgg;
  sgd: Sgd;
  schedule: WarmRestartSchedule;
  progress: Progress;
  memory: MicroBatchChoice | undefined;
  /** bf16 mixed precision (the recipe's precision). */
  bf16: boolean;
}

/**
 * Trains one architecture with the original code's recipe (docs/method.md §3): an epoch of SGD
 * steps, then the test split, until the epochs are done, the loss diverges, or the abandon rule
 * stops it at the end of the first cycle. Checkpoints after every epoch (and at a requested stop)
 * let a resumed run end with exactly the numbers of an uninterrupted one.
 */
export async function trainModel(
  options: TrainOptions,
  events: TrainingEvents = {},
): Promise<TrainingOutcome> {
  const { config } = options;
  const started = performance.now();
  const run = await setupModel(options, events);
  run.phases.setup = seconds(started);
  let abandoned = false;
  let paused = false;
  const until = Math.min(options.untilEpoch ?? config.epochs, config.epochs);
  try {
    while (run.progress.epoch < config.epochs) {
      if (run.progress.epoch >= until) {
        // A checkpoint already at the pause (a resumed rung): nothing more to train here.
        paused = true;
        break;
      }
      const training = await trainEpoch(run, options, events);
      // A diverged epoch is recorded as it stands, without a test.
      const test = training.diverged ? NOT_TESTED : await testEpoch(run, options.test);
      const stats = finishEpoch(run, training, test, events);
      if (training.diverged) break;
      abandoned = isAbandoned(config, stats);
      if (abandoned || run.progress.epoch === config.epochs) break;
      await checkpoint(run, options);
      if (run.progress.epoch >= until) {
        paused = true;
        break;
      }
      if (options.shouldStop?.()) throw new TrainingStopped();
    }
  } finally {
    run.sgd.dispose();
    run.model.dispose();
  }
  return { ...outcome(run, abandoned), paused };
}

/**
 * The model, optimiser and schedule of an architecture: from its checkpoint when there is one,
 * else new, seeded from (seed, id), with the micro-batch settled by measurement first.
 */
async function setupModel(options: TrainOptions, events: TrainingEvents): Promise<Run> {
  const { config, id, widths } = options;
  const restored = await restoreTraining(options.checkpointPath, config.device, {
    epochs: config.epochs,
    batchSize: config.batchSize,
    batchesPerEpoch: options.train.batchesPerEpoch,
  });
  let memory: MicroBatchChoice | undefined;
  let microBatch = restored?.progress.microBatch ?? config.microBatch;
  // A resumed architecture keeps the layout it started in (an older checkpoint: channels-last).
  const timed: TimedLayout = restored
    ? {
        choice: { layout: restored.progress.layout ?? 'channels-last', msPerStep: {} },
        peakBytes: undefined,
      }
    : options.layout
      ? { choice: options.layout, peakBytes: undefined }
      : chooseLayout(widths, config);
  const layout = timed.choice;
  if (!restored) events.layout?.(layout);
  if (!restored && options.memoryLimit !== undefined) {
    memory =
      options.memory ??
      fitMemory(
        widths,
        config,
        layout.layout,
        options.memoryLimit,
        timed.peakBytes ?? options.peakBytes,
      );
    microBatch = memory.microBatch;
    events.memory?.(memory);
  }
  manualSeed(mix32(config.seed, id, SEED_INIT));
  const model = buildModel(widths, config, layout.layout);
  const sgd = new Sgd(model.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
  });
  const progress: Progress = restored?.progress ?? {
    epoch: 0,
    batch: 0,
    schedule: { epochInCycle: 0, cycle: config.lrWrEpochs },
    epochs: [],
    running: { lossSum: 0, correct: 0, seen: 0, seconds: 0, lr: config.lr },
    microBatch,
    layout: layout.layout,
    diverged: false,
  };
  if (restored) {
    model.loadState(restored.model);
    sgd.loadState(restored.optimiser);
    for (const t of [...restored.model.values(), ...restored.optimiser.values()]) t.dispose();
    events.resumed?.(progress.epoch, progress.batch);
  }
  const schedule = new WarmRestartSchedule(
    {
      lr: config.lr,
      lrWrMin: config.lrWrMin,
      lrWrEpochs: config.lrWrEpochs,
      lrWrMul: config.lrWrMul,
      datasetSize: options.trainImages,
      batchSize: config.batchSize,
    },
    progress.schedule,
  );
  const phases = { setup: 0, data: 0, step: 0, evaluation: 0, checkpoint: 0 };
  const bf16 = config.precision === 'bf16';
  return { phases, model, sgd, schedule, progress, memory, layout, bf16 };
}

/**
 * One epoch of SGD steps, from the batch where the progress stands: the rate set before every
 * step, dropout seeded from (seed, id, epoch, step), the running accuracy and loss. A requested
 * stop saves a checkpoint at the step and throws; a NaN or infinite loss marks it diverged.
 */
async function trainEpoch(
  run: Run,
  options: TrainOptions,
  events: TrainingEvents,
): Promise<{ diverged: boolean; started: number }> {
  const { config, id, train } = options;
  const { progress, schedule, model, sgd, bf16 } = run;
  const epoch = progress.epoch;
  const r = progress.running;
  const started = performance.now() - r.seconds * 1000;
  let waited = performance.now();
  for await (const batch of train.batches(epoch, progress.batch)) {
    const stepStarted = performance.now();
    run.phases.data += seconds(waited);
    const lr = schedule.rate(batch.index + 1);
    sgd.lr = lr;
    manualSeed(mix32(config.seed, id, epoch, batch.index)); // dropout masks
    const stats = trainStep(model, sgd, batch.x, batch.y, {
      batchSize: config.batchSize,
      microBatch: progress.microBatch,
      bf16,
    });
    run.phases.step += seconds(stepStarted);
    if (!stats.finite) {
      progress.diverged = true;
      return { diverged: true, started };
    }
    r.lossSum += stats.lossSum;
    r.correct += stats.correct;
    r.seen += stats.count;
    r.lr = lr;
    progress.batch = batch.index + 1;
    progress.schedule = schedule.snapshot();
    events.step?.({
      epoch,
      batch: batch.index,
      batches: train.batchesPerEpoch,
      images: r.seen,
      loss: r.lossSum / r.seen,
      accuracy: (100 * r.correct) / r.seen,
      lr,
    });
    await yieldToEventLoop();
    if (options.shouldStop?.()) {
      r.seconds = (performance.now() - started) / 1000;
      await checkpoint(run, options);
      throw new TrainingStopped();
    }
    waited = performance.now();
  }
  return { diverged: false, started };
}

const NOT_TESTED = { correct: 0, count: 0, lossSum: 0 };

/** Validation accuracy and loss on the test split, in evaluation mode. */
async function testEpoch(
  run: Run,
  test: BatchSource,
): Promise<{ correct: number; count: number; lossSum: number }> {
  const started = performance.now();
  const total = { correct: 0, count: 0, lossSum: 0 };
  for await (const batch of test.batches(0)) {
    await yieldToEventLoop(); // a second Ctrl-C quits at once, also while evaluating
    const s = evalStep(run.model, batch.x, batch.y, {
      microBatch: run.progress.microBatch,
      bf16: run.bf16,
    });
    total.correct += s.correct;
    total.count += s.count;
    total.lossSum += s.lossSum;
  }
  run.phases.evaluation += seconds(started);
  // Once an epoch, not after every step: glibc keeps the memory a step frees for the next one,
  // and handing it back each step cost a third of the step time in page faults.
  releaseHostMemory();
  return total;
}

/** Records the epoch's statistics and moves the progress and the schedule to the next epoch. */
function finishEpoch(
  run: Run,
  training: { started: number },
  test: { correct: number; count: number; lossSum: number },
  events: TrainingEvents,
): EpochStats {
  const { progress, schedule } = run;
  const r = progress.running;
  const stats: EpochStats = {
    epoch: progress.epoch,
    trainAcc: r.seen ? (100 * r.correct) / r.seen : 0,
    valAcc: test.count ? (100 * test.correct) / test.count : 0,
    trainLoss: r.seen ? r.lossSum / r.seen : NaN,
    valLoss: test.count ? test.lossSum / test.count : NaN,
    lr: r.lr,
    seconds: (performance.now() - training.started) / 1000,
  };
  progress.epochs.push(stats);
  events.epoch?.(stats);
  schedule.endEpoch();
  progress.epoch += 1;
  progress.batch = 0;
  progress.schedule = schedule.snapshot();
  progress.running = { lossSum: 0, correct: 0, seen: 0, seconds: 0, lr: r.lr };
  return stats;
}

/** The original's abandon rule: below twice chance at the end of the first warm-restart cycle. */
const isAbandoned = (config: TrainingConfig, stats: EpochStats): boolean =>
  config.abandon &&
  stats.epoch === config.lrWrEpochs - 1 &&
  stats.trainAcc < (2 * 100) / config.classes;

async function checkpoint(run: Run, options: TrainOptions): Promise<void> {
  if (!options.checkpointPath) return;
  const started = performance.now();
  await saveTraining(options.checkpointPath, run.model.state(), run.sgd.state(), run.progress);
  run.phases.checkpoint += seconds(started);
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

/** Best (the first epoch with the highest validation accuracy) and last statistics. */
function outcome(run: Run, abandoned: boolean): Omit<TrainingOutcome, 'paused'> {
  const { epochs } = run.progress;
  let best: EpochStats | undefined;
  for (const e of epochs) if (e.valAcc > (best?.valAcc ?? 0)) best = e;
  const last = epochs[epochs.length - 1];
  return {
    epochs,
    phases: run.phases,
    layout: run.layout,
    bestVal: best?.valAcc ?? 0,
    bestValTrain: best?.trainAcc ?? 0,
    bestEpoch: best?.epoch ?? 0,
    lastVal: last?.valAcc ?? 0,
    lastTrain: last?.trainAcc ?? 0,
    abandoned,
    diverged: run.progress.diverged,
    microBatch: run.progress.microBatch,
    memory: run.memory,
  };
}
