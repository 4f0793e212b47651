import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { memberKey } from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { tryLockFile } from '../util/file-lock.js';
import { printable } from '../util/printable.js';
import {
  CHECKPOINTS_DIR,
  CONFIG_FILE,
  ENVIRONMENT_FILE,
  FAILED_FILE,
  LOCK_FILE,
  RESULTS_FILE,
} from './files.js';
import { halvingRungs } from './rungs.js';
import { changedKeys, parseStoredStudy, studySeeds, type StudyConfig } from './study.js';

/**
 * A run folder as a whole: opening a new one or a resumed one, its config.json and
 * environment.json, the write check and the clean-up of a refused start. Its results and CSVs are
 * in results.ts, its file names in files.ts.
 */

export function packageVersion(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

function stamp(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}_${p(date.getUTCHours())}-${p(date.getUTCMinutes())}-${p(date.getUTCSeconds())}`;
}

/**
 * The settings of the machine a run trains on that change its numbers although they are not part
 * of the method: the thread count (oneDNN and ATen split their sums by thread) and the kind of
 * device. Recorded in config.json and held on resume.
 */
export interface Numerics {
  threads: number;
  deviceKind: string;
  /**
   * The BLAS libtorch multiplied matrices with (its library's real path; null: one built into
   * libtorch). Absent in runs of older versions, which are not checked against it.
   */
  blas?: { name: string; path: string | null };
}

interface StoredRun {
  study: StudyConfig;
  numerics: Numerics | undefined;
}

export function readStoredRun(dir: string): StoredRun {
  const path = join(dir, CONFIG_FILE);
  let parsed: { featshift?: unknown; study?: unknown; numerics?: Numerics } | undefined;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (!parsed?.featshift || parsed.study === undefined) {
    throw new UsageError(
      `${dir} is not a featshift run folder (no readable ${CONFIG_FILE}): give the folder that 'featshift sweep' wrote`,
      'resume',
    );
  }
  const numerics = parsed.numerics;
  if (
    numerics !== undefined &&
    (!Number.isInteger(numerics.threads) ||
      numerics.threads < 1 ||
      typeof numerics.deviceKind !== 'string' ||
      (numerics.blas !== undefined &&
        (typeof numerics.blas !== 'object' ||
          typeof numerics.blas.name !== 'string' ||
          (numerics.blas.path !== null && typeof numerics.blas.path !== 'string'))))
  ) {
    throw new UsageError(
      `${path}: numerics is ${JSON.stringify(numerics)}, expected a thread count, a device kind and (since BLAS is recorded) its BLAS: the file was edited or damaged`,
      'resume',
    );
  }
  return { study: parseStoredStudy(parsed.study, path), numerics };
}

const deviceKind = (device: string): string => device.split(':')[0] ?? device;

/**
 * The numerics a run trains with: a new run's from this machine (its --threads or every core), a
 * resumed run's as recorded, refusing a --threads, device kind or BLAS that would change its
 * numbers.
 */
export function settleNumerics(
  runtime: { threads: number | null; device: string },
  stored: Numerics | undefined,
  defaultThreads: number,
  blas: NonNullable<Numerics['blas']>,
): Numerics {
  const asked = {
    threads: runtime.threads ?? defaultThreads,
    deviceKind: deviceKind(runtime.device),
    ...(deviceKind(runtime.device) === 'cpu' ? { blas } : {}),
  };
  if (!stored) return asked;
  // Another BLAS rounds the classifier's products otherwise, as another thread count does.
  if (stored.blas && asked.blas && stored.blas.path !== asked.blas.path) {
    throw new UsageError(
      `this run trained with ${stored.blas.name}${stored.blas.path ? ` (${stored.blas.path})` : ''}; this machine's libtorch uses ${asked.blas.name}${asked.blas.path ? ` (${asked.blas.path})` : ''}, which would change its numbers: select the run's BLAS again (update-alternatives --config libblas.so.3-x86_64-linux-gnu), or start a new run`,
      'resume',
    );
  }
  if (runtime.threads !== null && runtime.threads !== stored.threads) {
    throw new UsageError(
      `this run trained with ${stored.threads} threads; resuming with --threads ${runtime.threads} would change its numbers (sums are split by thread): drop --threads to resume with ${stored.threads}, or start a new run`,
      'threads',
    );
  }
  if (asked.deviceKind !== stored.deviceKind) {
    throw new UsageError(
      `this run trained on ${stored.deviceKind}; resuming on ${runtime.device} would change its numbers: give a --device of that kind, or start a new run`,
      'device',
    );
  }
  return stored;
}

/** Whether --rungs as given are the rungs a stored halving study already uses (its default spelled out). */
function sameRungs(stored: StudyConfig, rungs: number[] | null | undefined): boolean {
  if (!stored.halving || rungs === undefined) return false;
  try {
    return (
      JSON.stringify(halvingRungs(stored)) === JSON.stringify(halvingRungs({ ...stored, rungs }))
    );
  } catch {
    return false;
  }
}

/** What opens a run folder: a new study with its output, or a folder to resume. */
export interface RunRequest {
  study: StudyConfig;
  /** The study options the user gave explicitly (checked against a resumed run's). */
  explicit: Partial<StudyConfig>;
  out?: string;
  resume?: string;
}

/** A run folder, new or resumed, with its study settled. */
export interface RunFolder {
  dir: string;
  study: StudyConfig;
  resumed: boolean;
  /** What a resumed run recorded of its machine's numerics (none for a new run, or an old one). */
  numerics: Numerics | undefined;
  /** A resumed run given more seeds than it was started with (config.json to be updated). */
  seedsAdded?: boolean;
}

/**
 * Settles the run folder of a request: a new one (refused when it already holds files) or a
 * resumed one, whose stored study wins and may not be changed by options that would change its
 * results.
 */
export function openRunFolder(request: RunRequest): RunFolder {
  if (request.resume !== undefined) {
    const dir = request.resume;
    const { study: stored, numerics } = readStoredRun(dir);
    const changed = changedKeys(stored, request.explicit).filter(
      (key) =>
        key !== 'seeds' &&
        key !== 'seed' &&
        !(key === 'rungs' && sameRungs(stored, request.explicit.rungs)),
    );
    const asked = request.explicit.seeds;
    // More seeds extend a run: every (architecture, seed) already trained keeps its numbers.
    const seedsAdded =
      asked !== undefined &&
      asked !== null &&
      JSON.stringify(asked) !== JSON.stringify(studySeeds(stored));
    const kept = studySeeds(stored);
    if (seedsAdded && !kept.every((seed) => asked.includes(seed))) {
      throw new UsageError(
        `resuming ${dir} with seeds ${asked.join(', ')} would drop seeds ${kept.filter((x) => !asked.includes(x)).join(', ')} it was started with: give a list that holds them (more seeds are welcome)`,
        'seeds',
      );
    }
    if (
      request.explicit.seed !== undefined &&
      request.explicit.seed !== stored.seed &&
      request.explicit.seeds === undefined
    )
      changed.push('seed');
    if (changed.length > 0) {
      throw new UsageError(
        `resuming ${dir} with other ${changed.join(', ')} than it was started with would change its results: drop those options, or start a new run`,
        changed[0],
      );
    }
    if (seedsAdded && stored.halving) {
      // Each rung's decision was taken on the seeds the run had; seeds added now would race
      // against decisions they took no part in, and never pass the rungs already decided.
      throw new UsageError(
        `${dir} ran successive halving, whose rungs were decided on seeds ${kept.join(', ')}: seeds cannot be added to it; start a new run with --seeds ${asked.join(',')} --halving`,
        'seeds',
      );
    }
    if (seedsAdded)
      return { dir, study: { ...stored, seeds: asked }, resumed: true, numerics, seedsAdded };
    return { dir, study: stored, resumed: true, numerics };
  }
  const study = request.study;
  const dir =
    request.out ?? join('runs', `${stamp(new Date())};${study.dataset};VGG${study.depth}`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(
      `${dir} already holds files: give a new --out folder, or --resume ${dir}`,
      'out',
    );
  }
  return { dir, study, resumed: false, numerics: undefined };
}

/**
 * Makes sure the run folder can be written before anything trains: a read-only folder is refused
 * at once with one line, not after an epoch with a raw EACCES.
 */
export async function checkWritable(dir: string): Promise<void> {
  const probe = join(dir, `.featshift-write-check-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && code !== 'ENOSPC') {
      throw new UsageError(
        `cannot write to the run folder ${dir} (${code}): give a folder you may write to with --out, or fix its permissions`,
        'out',
      );
    }
    throw error;
  }
}

/**
 * Undoes a start that was refused before any result existed (a micro-batch that does not fit, an
 * unreachable queue), so that the same --out can be given again: the files this run wrote go,
 * and the folder too when the run created it.
 */
export async function discardRefusedStart(dir: string, existedBefore: boolean): Promise<void> {
  for (const name of [CONFIG_FILE, ENVIRONMENT_FILE, CHECKPOINTS_DIR, LOCK_FILE]) {
    await rm(join(dir, name), { recursive: true, force: true });
  }
  if (!existedBefore) {
    try {
      await rmdir(dir);
    } catch {
      // Not empty: something else was put there meanwhile; leave it.
    }
  }
}

/** Writes config.json of a new run. */
export async function writeRunConfig(
  dir: string,
  study: StudyConfig,
  architectures: readonly Architecture[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeFileAtomic(
    join(dir, CONFIG_FILE),
    `${JSON.stringify({ featshift: packageVersion(), study, architectures: architectures.map(memberKey), ...extra }, null, 2)}\n`,
  );
}

/** Records in config.json the seeds a resumed run was extended to. */
export async function writeStoredSeeds(dir: string, seeds: readonly number[]): Promise<void> {
  const path = join(dir, CONFIG_FILE);
  const stored = JSON.parse(readFileSync(path, 'utf8')) as { study: Record<string, unknown> };
  stored.study.seeds = seeds;
  await writeFileAtomic(path, `${JSON.stringify(stored, null, 2)}\n`);
}

/** Writes environment.json of a new run: where and with what it was made. */
export async function writeEnvironment(
  dir: string,
  environment: Record<string, unknown>,
): Promise<void> {
  await writeFileAtomic(join(dir, ENVIRONMENT_FILE), `${JSON.stringify(environment, null, 2)}\n`);
}

/** What a queued sweep's config.json adds: the id its jobs are named after. */
export function readRunId(dir: string): string | undefined {
  const stored = JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8')) as { runId?: unknown };
  return typeof stored.runId === 'string' ? stored.runId : undefined;
}

/** Writes failed.json: the architectures a queued sweep gave up on, with their errors. */
export async function writeFailed(
  dir: string,
  failures: readonly {
    id: number;
    seed: number;
    reason: string;
    attempts: number;
    /** The error's class (DataError, OutOfMemoryError, ...). */
    error?: string;
  }[],
): Promise<void> {
  await writeFileAtomic(join(dir, FAILED_FILE), `${JSON.stringify(failures, null, 2)}\n`);
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/**
 * Takes the run folder for this process (run.lock under a kernel lock: src/util/file-lock.ts), so
 * that two sweeps never write one folder at once. A lock whose holder is gone (killed, even by
 * SIGKILL) is free again, and exactly one of the processes that try gets it. One held by a live
 * process is refused with what the file says of it. Returns the release.
 */
export function lockRunFolder(dir: string): () => Promise<void> {
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const taken = tryLockFile(path, `${JSON.stringify(me)}\n`);
  if ('held' in taken) {
    return () => {
      taken.held.release();
      return Promise.resolve();
    };
  }
  let owner: Partial<LockOwner> = {};
  try {
    owner = JSON.parse(taken.heldBy) as Partial<LockOwner>;
  } catch {
    // Not yet written by its holder, or an older featshift's: said as unknown below.
  }
  const said = (v: string | number | undefined): string => printable(String(v ?? 'unknown'));
  throw new UsageError(
    `${dir} is in use by another featshift (pid ${said(owner.pid)} on ${said(owner.host)} since ${said(owner.since)}): wait for it to end`,
    'resume',
  );
}

/**
 * Opens the run folder of a request, holds its lock while `work` runs, and undoes a start that
 * `refused` recognises as refused before any result, so that the same --out can be given again.
 */
export async function withRunFolder<T>(
  request: RunRequest,
  refused: (error: unknown) => boolean,
  work: (folder: RunFolder) => Promise<T>,
): Promise<T> {
  const folder = openRunFolder(request);
  const existed = existsSync(folder.dir);
  await checkWritable(folder.dir);
  let release: (() => Promise<void>) | undefined;
  try {
    release = lockRunFolder(folder.dir);
    return await work(folder);
  } catch (error) {
    const untouched = !folder.resumed && !existsSync(join(folder.dir, RESULTS_FILE));
    if (release && untouched && refused(error)) await discardRefusedStart(folder.dir, existed);
    throw error;
  } finally {
    await release?.();
  }
}
