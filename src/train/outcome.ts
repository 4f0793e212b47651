/**
 * What training produces, as plain shapes: the trainer fills them and the run folder records
 * them. Types only, so that the run folder and the report read them without loading the trainer.
 */

/** One finished epoch. */
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

/**
 * Where an architecture's training time went, in seconds (this process's share, after a resume):
 * building the model and measuring its memory, waiting for batches, the training steps
 * (forward, backward, optimiser), evaluation on the test split, and checkpoints.
 */
export interface PhaseSeconds {
  setup: number;
  data: number;
  step: number;
  evaluation: number;
  checkpoint: number;
}

import type { MemoryFormat } from '../models/vgg.js';
export type { MemoryFormat };

/** The memory format an architecture trains in, and the step times that chose it ('auto'). */
export interface MemoryFormatChoice {
  layout: MemoryFormat;
  /** Median milliseconds of a training step in each layout, when measured. */
  msPerStep: Partial<Record<MemoryFormat, number>>;
}

/** An architecture's best and last statistics (docs/method.md §3 and §5). */
export interface TrainingSummary {
  /** Best validation accuracy (%), the training accuracy of that epoch, that epoch (from 0). */
  bestVal: number;
  bestValTrain: number;
  bestEpoch: number;
  lastVal: number;
  lastTrain: number;
  /** Stopped at the end of the first cycle below twice chance. */
  abandoned: boolean;
  /** Stopped by a NaN or infinite loss. */
  diverged: boolean;
  /** Images per forward and backward pass. */
  microBatch: number;
}
