import type { WireError } from './wire-error.js';
import type { StudyConfig } from '../../run/study.js';
import type { TrainRequest } from '../unit-request.js';
import type { MemoryFormat } from '../../train/outcome.js';
import type { Verification } from '../../data/sources.js';
import type {
  StepTiming,
  StepTimingOptions,
  TrainingConfig,
  TrainingEvents,
  TrainingOutcome,
} from '../../train/trainer.js';

/**
 * The messages between a parallel sweep and its training processes (structured clone over the
 * IPC channel, so NaN losses and undefined fields pass as they are).
 */

/** Set once, when a training process starts: what every unit it trains shares. */
export interface ProcessSetup {
  study: StudyConfig;
  dataDir: string | null;
  device: string;
  /** Memory budget of one micro-batch in this process (the machine's, divided among them). */
  memoryLimit: number;
  /** The published files the sweep verified, by path: read without hashing them again. */
  verified: Map<string, Verification>;
}

export type { TrainRequest };

export type ToTrainer =
  | { type: 'setup'; setup: ProcessSetup }
  | { type: 'train'; request: TrainRequest }
  | {
      type: 'time';
      architectures: TimedArchitecture[];
      config: TrainingConfig;
      options: StepTimingOptions;
    }
  | { type: 'stop' };

/** An architecture to time a training step of, in the layouts given (the faster counts). */
export interface TimedArchitecture {
  id: number;
  widths: readonly number[];
  layouts: MemoryFormat[];
}

type EventName = keyof TrainingEvents;

export type FromTrainer =
  | { type: 'ready' }
  | { type: 'event'; name: EventName; payload: unknown[] }
  | { type: 'trained'; outcome: TrainingOutcome }
  | { type: 'stopped' }
  | { type: 'timed'; timings: (StepTiming | undefined)[] }
  | { type: 'failed'; error: WireError };
