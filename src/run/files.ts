import { join } from 'node:path';
import type { MemberRef } from '../family/members.js';

/**
 * The files of a run folder, named here once for every reader and writer: the local sweep, the
 * queue's coordinator and workers, the report and the analysis.
 */

/** The study, the selected ids, and the numerics a run trains with. */
export const CONFIG_FILE = 'config.json';
/** Versions, device, CPU, data sources: where and with what a run was made. */
export const ENVIRONMENT_FILE = 'environment.json';
/** One JSON line per finished architecture. */
export const RESULTS_FILE = 'results.jsonl';
/** The architectures a queued sweep gave up on, with their errors. */
export const FAILED_FILE = 'failed.json';
/** Held by the process that writes the run folder: two at once would mix their results. */
export const LOCK_FILE = 'run.lock';
/** Successive halving's state: each rung's standings and decision, the runs paused at a rung. */
export const HALVING_FILE = 'halving.json';
/** The runs in training now and their progress, while a sweep runs (for featshift view). */
export const LIVE_FILE = 'live.json';
/** The checkpoint of each architecture in training. */
export const CHECKPOINTS_DIR = 'checkpoints';

const id3 = (id: number): string => String(id).padStart(3, '0');

/**
 * The original code's CSV after architecture `id` (docs/method.md §5); in a study of both
 * families, the linear members' own set is prefixed ('linear_model_003.csv').
 */
export const csvName = (id: number, prefix: '' | 'linear' = ''): string =>
  `${prefix ? `${prefix}_` : ''}model_${id3(id)}.csv`;

/** Matches a CSV name of the original code's, capturing its id. */
export const CSV_NAME = /^model_(\d+)\.csv$/;

/** The folder of one seed's CSVs in a run of several seeds. */
export const seedFolderName = (seed: number): string => `seed-${seed}`;

/** Matches a seed's CSV folder, capturing the seed. */
export const SEED_FOLDER = /^seed-(0|[1-9]\d*)$/;

/** Where a seed's reference CSVs go: the run folder itself when the run has one seed. */
export const referenceCsvDir = (dir: string, seeds: readonly number[], seed: number): string =>
  seeds.length === 1 ? dir : join(dir, seedFolderName(seed));

/**
 * The checkpoint file of one (architecture, seed), in a run folder or a worker's folder; a linear
 * member's names its family, so that both families' ids can share a folder.
 */
export const checkpointName = (member: MemberRef, seed: number): string =>
  `arch_${member.family === 'linear' ? 'linear_' : ''}${id3(member.id)}_seed_${seed}.safetensors`;

/** The checkpoint name of a featshift older than seeds (one seed per run). */
export const singleSeedCheckpointName = (id: number): string => `arch_${id3(id)}.safetensors`;

export const checkpointPath = (dir: string, member: MemberRef, seed: number): string =>
  join(dir, CHECKPOINTS_DIR, checkpointName(member, seed));
