import { existsSync } from 'node:fs';
import type { Tensor } from '../engine/index.js';
import { loadCheckpoint, saveCheckpoint } from '../models/checkpoint.js';
import { CheckpointError } from '../models/errors.js';
import type { NamedTensor } from '../models/vgg.js';
import type { EpochStats, MemoryFormat } from './outcome.js';
import type { WarmRestartState } from './schedule.js';

/**
 * What a checkpoint holds besides the tensors: where training stands, so that a resumed run
 * continues exactly (the same step, the same schedule state, the same running statistics).
 */
export interface Progress {
  /** The epoch in progress (from 0) and the next batch of it. */
  epoch: number;
  batch: number;
  schedule: WarmRestartState;
  epochs: EpochStats[];
  /** The epoch's running training statistics so far. */
  running: { lossSum: number; correct: number; seen: number; seconds: number; lr: number };
  microBatch: number;
  /** The layout the architecture trains in (absent in checkpoints of older versions). */
  layout?: MemoryFormat;
  diverged: boolean;
}

/** The momentum buffers are stored beside the model's tensors under this prefix. */
const OPTIMISER_PREFIX = 'momentum_buffer.';

export async function saveTraining(
  path: string,
  model: readonly NamedTensor[],
  optimiser: readonly NamedTensor[],
  progress: Progress,
): Promise<void> {
  await saveCheckpoint(path, [...model, ...optimiser], { featshift: JSON.stringify(progress) });
}

/** A checkpoint read back: the model's tensors, the optimiser's, and the checked progress. */
export interface Restored {
  progress: Progress;
  model: Map<string, Tensor>;
  optimiser: Map<string, Tensor>;
}

/** The checkpoint at `path`, if there is one; its training state is checked ({@link parseProgress}). */
export async function restoreTraining(
  path: string | undefined,
  device: string,
  limits: { epochs: number; batchSize: number; batchesPerEpoch: number },
): Promise<Restored | undefined> {
  if (!path || !existsSync(path)) return undefined;
  const ckpt = await loadCheckpoint(path, device);
  const meta = ckpt.metadata.featshift;
  if (!meta) throw new CheckpointError(`${path} is not a featshift training checkpoint`, path);
  const progress = parseProgress(meta, path, limits);
  const split = (optimiser: boolean): Map<string, Tensor> =>
    new Map([...ckpt.tensors].filter(([k]) => k.startsWith(OPTIMISER_PREFIX) === optimiser));
  return { progress, model: split(false), optimiser: split(true) };
}

/**
 * A checkpoint's training state, every value checked against the study: an edited or damaged
 * checkpoint is refused with its path and key, never trained on or recorded as a result.
 */
export function parseProgress(
  meta: string,
  path: string,
  limits: { epochs: number; batchSize: number; batchesPerEpoch: number },
): Progress {
  const refuse = (key: string, expected: string): never => {
    throw new CheckpointError(
      `${path}: ${key} is not ${expected} (edited or damaged): delete the checkpoint to train this architecture again from its start`,
      path,
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
  const { epoch, batch, schedule, epochs, running, microBatch, layout, diverged } = raw;
  if (layout !== undefined && layout !== 'nchw' && layout !== 'channels-last')
    refuse('layout', "'nchw' or 'channels-last'");
  if (!int(epoch, 0, limits.epochs - 1)) refuse('epoch', `an epoch below ${limits.epochs}`);
  if (!int(batch, 0, limits.batchesPerEpoch))
    refuse('batch', `a batch of the ${limits.batchesPerEpoch}`);
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
  if (!int(microBatch, 1, limits.batchSize) || limits.batchSize % microBatch !== 0)
    refuse('microBatch', `a divisor of the batch size ${limits.batchSize}`);
  if (diverged !== false) refuse('diverged', 'false (a diverged run has no checkpoint)');
  return raw as unknown as Progress;
}
