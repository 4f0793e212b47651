import { availableParallelism } from 'node:os';
import { bf16Unsupported } from '../engine/runtime.js';
import { UsageError } from '../errors.js';
import { isDirectory } from '../util/is-directory.js';
import type { StudyConfig } from '../run/study.js';

/** How a sweep runs on this machine; may change between a run and its resume. */
export interface RuntimeConfig {
  device: string;
  threads: number | null;
  /**
   * Training processes at once (a local sweep): a count, or 'auto' to choose by measurement.
   * Default 1: units train one after another in this process.
   */
  parallel?: number | 'auto';
  memoryLimit: number | null;
  dataDir: string | null;
  keepCheckpoints: boolean;
  quiet: boolean;
  jsonLog: boolean;
}

/** Refuses a training set too small for the warm-restart schedule (one full batch per epoch). */
export function checkTrainingSetSize(study: StudyConfig, images: number): void {
  if (images < study.batchSize) {
    throw new UsageError(
      `the training set has ${images} images, fewer than one batch of ${study.batchSize}: the warm-restart schedule needs a full batch per epoch; give a larger --train-subset or a smaller --batch-size`,
      images === study.trainSubset ? 'train-subset' : 'batch-size',
    );
  }
}

/** The most threads a run may ask for: oversubscribing the cores beyond this only slows it. */
export const maxThreads = (): number => 4 * availableParallelism();

/** Refuses runtime options this machine cannot honour, before anything is written. */
export function checkRuntime(
  runtime: Pick<RuntimeConfig, 'threads' | 'memoryLimit' | 'dataDir' | 'parallel'>,
): void {
  const cores = availableParallelism();
  if (runtime.threads !== null && runtime.threads > maxThreads()) {
    throw new UsageError(
      `--threads ${runtime.threads} is more than 4 times this machine's ${cores} cores: give at most ${maxThreads()}`,
      'threads',
    );
  }
  const parallel = runtime.parallel ?? 1;
  if (parallel !== 'auto' && parallel > cores) {
    throw new UsageError(
      `--parallel ${parallel} is more processes than this machine's ${cores} cores: give at most ${cores}, or auto`,
      'parallel',
    );
  }
  if (
    parallel !== 'auto' &&
    runtime.threads !== null &&
    parallel * runtime.threads > maxThreads()
  ) {
    throw new UsageError(
      `--parallel ${parallel} with --threads ${runtime.threads} asks for ${parallel * runtime.threads} threads, more than 4 times this machine's ${cores} cores: give fewer threads per process`,
      'threads',
    );
  }
  if (runtime.memoryLimit !== null && runtime.memoryLimit < 1) {
    throw new UsageError('--memory-limit must be above 0, such as 4G', 'memory-limit');
  }
  if (runtime.dataDir !== null && !isDirectory(runtime.dataDir)) {
    throw new UsageError(
      `--data-dir ${runtime.dataDir} is not a folder: give the folder that holds the dataset files`,
      'data-dir',
    );
  }
}

/** Refuses bf16 where the device cannot run it natively, with what it needs. */
export function checkPrecision(study: Pick<StudyConfig, 'precision'>, device: string): void {
  if (study.precision !== 'bf16') return;
  const why = bf16Unsupported(device);
  if (why !== null) {
    throw new UsageError(
      `--precision bf16 needs a CPU with AVX-512 BF16 or AMX, or a CUDA GPU of compute capability 8 or above: ${why}; train in fp32 (drop --precision), or on such a device`,
      'precision',
    );
  }
}
