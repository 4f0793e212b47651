import { compareMembers, type MemberRef } from '../../family/members.js';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { EpochStats } from '../../train/outcome.js';
import type { Architecture } from '../../family/skew-normal.js';
import { parseStoredStudy, type StudyConfig } from '../../run/study.js';

export const DEFAULT_QUEUE_NAME = 'featshift';

/** What a worker needs to train one architecture of a sweep with one seed. */
export interface ArchitectureJob {
  runId: string;
  study: StudyConfig;
  arch: Architecture;
  seed: number;
  /** Successive halving: train to this epoch (a rung) and pause there with the checkpoint. */
  untilEpoch?: number;
}

/**
 * Why a job's data is not a featshift job (another program's job in the queue, or one edited in
 * Redis), or undefined when it is one: the worker refuses to train it and `featshift status`
 * lists it apart, both with this reason, instead of failing on a missing field.
 */
export function jobDataProblem(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return 'its data is not an object';
  const d = data as Partial<Record<keyof ArchitectureJob, unknown>>;
  if (typeof d.runId !== 'string') return 'it names no run';
  try {
    parseStoredStudy(d.study, 'its study');
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const arch = d.arch as Partial<Record<keyof Architecture, unknown>> | null | undefined;
  if (
    arch === null ||
    typeof arch !== 'object' ||
    !Number.isInteger(arch.id) ||
    !(typeof arch.macs === 'number' && Number.isFinite(arch.macs) && arch.macs >= 0) ||
    !Array.isArray(arch.widths) ||
    !arch.widths.every((w) => Number.isInteger(w) && (w as number) > 0)
  )
    return 'its architecture is not one (an id, MACs and positive integer widths)';
  if (!Number.isInteger(d.seed) || (d.seed as number) < 0)
    return `its seed ${JSON.stringify(d.seed)} is no seed`;
  if (
    d.untilEpoch !== undefined &&
    !(Number.isInteger(d.untilEpoch) && (d.untilEpoch as number) >= 1)
  )
    return `its untilEpoch ${JSON.stringify(d.untilEpoch)} is no epoch`;
  return undefined;
}

/**
 * Progress a worker reports while training (job.updateProgress): the step's and the last ended
 * epoch's numbers, so that the coordinator shows a queued unit as the local runner shows its own.
 */
export interface JobProgress {
  epoch: number;
  epochs: number;
  images: number;
  imagesPerEpoch: number;
  accuracy: number;
  worker: string;
  /** The step's (a featshift before 0.9 sent neither). */
  batch?: number;
  batches?: number;
  loss?: number;
  lr?: number;
  /** The last epoch that ended, with its validation numbers. */
  lastEpoch?: EpochStats;
}

/**
 * What a `featshift worker` gives the sandboxed processes that train its jobs, as one JSON
 * environment variable (BullMQ forks them; FEATSHIFT_THREADS is set apart, read as libtorch loads).
 */
export interface WorkerSettings {
  device: string;
  /** How the worker is named in results and progress: host:pid:device. */
  name: string;
  dataDir: string | null;
  /** Checkpoints on storage every worker reaches: a job taken over after a crash resumes. */
  checkpointDir: string | null;
  memoryLimit: number | null;
}

const WORKER_SETTINGS = 'FEATSHIFT_WORKER';

export function workerSettingsEnv(settings: WorkerSettings): Record<string, string> {
  return { [WORKER_SETTINGS]: JSON.stringify(settings) };
}

/** The settings a sandboxed processor was forked with (defaults where it was forked without). */
export function readWorkerSettings(env: NodeJS.ProcessEnv): WorkerSettings {
  const given = JSON.parse(env[WORKER_SETTINGS] ?? '{}') as Partial<WorkerSettings>;
  return {
    device: given.device ?? 'cpu',
    name: given.name ?? `${hostname()}:${process.pid}`,
    dataDir: given.dataDir ?? null,
    checkpointDir: given.checkpointDir ?? null,
    memoryLimit: given.memoryLimit ?? null,
  };
}

/** A short stable name for a run, safe in job ids. */
export function runKey(runId: string): string {
  return createHash('sha256').update(runId).digest('hex').slice(0, 12);
}

/**
 * One job id per (run, architecture, seed), and per rung under successive halving: adding it
 * twice is a no-op, so nothing is trained twice.
 */
export function jobId(runId: string, arch: MemberRef, seed: number, rung?: number): string {
  // A linear member's jobs name its family, as its key does, without the key's ':' (BullMQ
  // refuses a custom job id that holds one): both families' ids may share a run.
  const a = `${arch.family === 'linear' ? 'linear' : ''}${arch.id}`;
  return `r${runKey(runId)}-a${a}-s${seed}${rung === undefined ? '' : `-e${rung}`}`;
}

/**
 * Longest first: the estimated cost of an architecture is its MACs per image times images times
 * epochs, the same factor for every member of one study, so MACs order them. Starting the longest
 * jobs first keeps the last workers from idling behind one long job.
 */
export function longestFirst<T extends MemberRef & { macs: number }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => b.macs - a.macs || compareMembers(a, b));
}

/** Makespan of a job order on `workers` identical workers taking the next job when free. */
export function makespan(costs: readonly number[], workers: number): number {
  const free = new Array<number>(workers).fill(0);
  for (const c of costs) {
    let k = 0;
    for (let i = 1; i < workers; i++) if ((free[i] as number) < (free[k] as number)) k = i;
    free[k] = (free[k] as number) + c;
  }
  return Math.max(...free);
}
