import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import {
  baselineArchitecture,
  skewNormalFamily,
  type Architecture,
  type FamilyOptions,
} from '../family/skew-normal.js';
import { buildInfo, checkDevice, setThreads, threads as threadCount } from '../engine/runtime.js';
import { defaultMemoryLimit, type MicroBatchChoice } from '../train/memory.js';
import {
  trainArchitecture,
  TrainingStopped,
  type EpochStats,
  type StepProgress,
  type TrainingConfig,
} from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import {
  changedKeys,
  checkRuntime,
  checkStudy,
  checkTrainingSetSize,
  formatIds,
  parseIds,
  parseStoredStudy,
  type RuntimeConfig,
  type StudyConfig,
} from './config.js';
import {
  readResults,
  RESULTS_FILE,
  toRecord,
  writeReferenceCsvs,
  writeResults,
  type ResultRecord,
} from './results.js';
import { buildLoaders, loadStudyData } from './study-data.js';

export const CONFIG_FILE = 'config.json';
export const ENVIRONMENT_FILE = 'environment.json';

/** What a sweep tells whoever shows its progress. */
export interface SweepReporter {
  start(info: {
    dir: string;
    total: number;
    done: number;
    resumed: boolean;
    todo: Architecture[];
  }): void;
  architectureStart(info: {
    index: number;
    total: number;
    arch: Architecture;
    epochs: number;
    imagesPerEpoch: number;
  }): void;
  memory(choice: MicroBatchChoice): void;
  resumeArchitecture(epoch: number, batch: number): void;
  step(progress: StepProgress): void;
  epoch(stats: EpochStats): void;
  architectureDone(record: ResultRecord, remaining: Architecture[]): void;
  stopped(dir: string): void;
  done(records: ResultRecord[], dir: string): void;
}

export interface SweepRequest {
  study: StudyConfig;
  runtime: RuntimeConfig;
  /** The study options the user gave explicitly (checked against a resumed run's). */
  explicit: Partial<StudyConfig>;
  out?: string;
  resume?: string;
  /** Asked after every training step; true stops cleanly after saving. */
  shouldStop: () => boolean;
}

export interface SweepOutcome {
  dir: string;
  records: ResultRecord[];
  stopped: boolean;
  /** Architectures that failed for good (a queue's attempts all spent). */
  failed?: number[];
}

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

export function familyOptions(study: StudyConfig, classes: number, colors = 3): FamilyOptions {
  return {
    depth: study.depth,
    classes,
    colors,
    batchNorm: study.batchNormEps > 0,
    patchSize: study.patchSize,
    ...(study.xi ? { xi: study.xi } : {}),
    omega: study.omega,
    alpha: study.alpha,
    minFeatures: study.minFeatures,
    areaTolerance: study.areaTolerance,
    ...(study.totalFeatures !== null ? { totalFeatures: study.totalFeatures } : {}),
    ...(study.widthMultiplier !== null ? { widthMultiplier: study.widthMultiplier } : {}),
  };
}

/** The architectures a study trains, in order: the baseline first (when asked), then the members. */
export function selectArchitectures(
  study: StudyConfig,
  data: { classes: number; inputChannels: number },
): Architecture[] {
  const options = familyOptions(study, data.classes, data.inputChannels);
  const family = skewNormalFamily(options);
  if (family.length === 0) {
    throw new UsageError(
      'this family has no member: at this feature budget every distribution leaves a layer under --min-features; give a larger --width-multiplier or --total-features',
      study.widthMultiplier !== null ? 'width-multiplier' : 'total-features',
    );
  }
  let members = family;
  if (study.ids !== null) {
    const ids = parseIds(study.ids);
    const bad = ids.filter((id) => id > family.length || (id === 0 && !study.includeBaseline));
    if (bad.length > 0) {
      throw new UsageError(
        `no architecture with id ${formatIds(bad)}: this family has ids 1-${family.length}${study.includeBaseline ? ', and 0 for the baseline' : ' (0, the baseline, needs --include-baseline)'}`,
        'ids',
      );
    }
    members = family.filter((a) => ids.includes(a.id));
  }
  return study.includeBaseline ? [baselineArchitecture(options), ...members] : members;
}

/** One member per location spread evenly over the family's xi values (the embedded default). */
export function spreadOverXi(family: readonly Architecture[], count: number): number[] {
  const xis = [...new Set(family.map((a) => a.xi as number))].sort((a, b) => a - b);
  const picks = Array.from(
    { length: Math.min(count, xis.length) },
    (_, i) =>
      xis[
        Math.round((i * (xis.length - 1)) / Math.max(1, Math.min(count, xis.length) - 1))
      ] as number,
  );
  return [...new Set(picks)].map((xi) => {
    const at = family.filter((a) => a.xi === xi);
    at.sort(
      (a, b) =>
        Math.abs(a.alpha ?? 0) - Math.abs(b.alpha ?? 0) ||
        Math.abs((a.omega ?? 0) - 2.5) - Math.abs((b.omega ?? 0) - 2.5) ||
        a.id - b.id,
    );
    return (at[0] as Architecture).id;
  });
}

/**
 * The settings of the machine a run trains on that change its numbers although they are not part
 * of the method: the thread count (oneDNN and ATen split their sums by thread) and the kind of
 * device. Recorded in config.json and held on resume.
 */
export interface Numerics {
  threads: number;
  deviceKind: string;
}

interface StoredRun {
  study: StudyConfig;
  numerics: Numerics | undefined;
}

function readStoredRun(dir: string): StoredRun {
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
      typeof numerics.deviceKind !== 'string')
  ) {
    throw new UsageError(
      `${path}: numerics is ${JSON.stringify(numerics)}, expected a thread count and a device kind: the file was edited or damaged`,
      'resume',
    );
  }
  return { study: parseStoredStudy(parsed.study, path), numerics };
}

const deviceKind = (device: string): string => device.split(':')[0] ?? device;

/**
 * The numerics a run trains with: a new run's from this machine (its --threads or every core), a
 * resumed run's as recorded, refusing a --threads or device kind that would change its numbers.
 */
export function settleNumerics(
  runtime: Pick<RuntimeConfig, 'threads' | 'device'>,
  stored: Numerics | undefined,
  defaultThreads: number,
): Numerics {
  const asked = {
    threads: runtime.threads ?? defaultThreads,
    deviceKind: deviceKind(runtime.device),
  };
  if (!stored) return asked;
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

export function trainingConfig(
  study: StudyConfig,
  data: { classes: number; inputChannels: number },
  device: string,
): TrainingConfig {
  return {
    epochs: study.epochs,
    batchSize: study.batchSize,
    microBatch: study.microBatch ?? study.batchSize,
    allowSplit: study.allowSplit,
    lr: study.lr,
    momentum: study.momentum,
    nesterov: study.nesterov,
    weightDecay: study.weightDecay,
    batchNormEps: study.batchNormEps,
    lrCycle: study.lrCycle,
    lrMultiplier: study.lrMultiplier,
    lrMin: study.lrMin,
    init: study.init,
    seed: study.seed,
    classes: data.classes,
    colors: data.inputChannels,
    patchSize: study.patchSize,
    device,
    channelsLast: study.channelsLast,
  };
}

/** A run folder, new or resumed, with its study settled. */
export interface RunFolder {
  dir: string;
  study: StudyConfig;
  resumed: boolean;
  /** What a resumed run recorded of its machine's numerics (none for a new run, or an old one). */
  numerics: Numerics | undefined;
}

/**
 * Settles the run folder of a request: a new one (refused when it already holds files) or a
 * resumed one, whose stored study wins and may not be changed by options that would change its
 * results.
 */
export function openRunFolder(
  request: Pick<SweepRequest, 'study' | 'explicit' | 'out' | 'resume'>,
): RunFolder {
  if (request.resume !== undefined) {
    const dir = request.resume;
    const { study: stored, numerics } = readStoredRun(dir);
    const changed = changedKeys(stored, request.explicit);
    if (changed.length > 0) {
      throw new UsageError(
        `resuming ${dir} with other ${changed.join(', ')} than it was started with would change its results: drop those options, or start a new run`,
        changed[0],
      );
    }
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
  for (const name of [CONFIG_FILE, ENVIRONMENT_FILE, 'checkpoints']) {
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
    `${JSON.stringify({ featshift: packageVersion(), study, architectures: architectures.map((a) => a.id), ...extra }, null, 2)}\n`,
  );
}

/** Records a finished architecture: results.jsonl and the reference CSVs, both atomically. */
export async function recordResult(
  dir: string,
  records: ResultRecord[],
  record: ResultRecord,
  selection: readonly number[],
): Promise<void> {
  records.push(record);
  await writeResults(dir, records);
  await writeReferenceCsvs(dir, records, selection);
}

/**
 * Trains every selected architecture of a study, recording each one as it finishes
 * (results.jsonl and the reference's CSV, both written atomically), resumable at any moment.
 */
export async function runSweep(
  request: SweepRequest,
  reporter: SweepReporter,
): Promise<SweepOutcome> {
  const folder = openRunFolder(request);
  const existed = existsSync(folder.dir);
  try {
    return await sweepFolder(folder, request, reporter);
  } catch (error) {
    if (
      !folder.resumed &&
      error instanceof UsageError &&
      !existsSync(join(folder.dir, RESULTS_FILE))
    )
      await discardRefusedStart(folder.dir, existed);
    throw error;
  }
}

async function sweepFolder(
  folder: RunFolder,
  request: SweepRequest,
  reporter: SweepReporter,
): Promise<SweepOutcome> {
  const { runtime } = request;
  const { dir, study, resumed, numerics: stored } = folder;
  checkStudy(study);
  const device = checkDevice(runtime.device);
  checkRuntime(runtime);
  const numerics = settleNumerics(runtime, stored, threadCount());
  setThreads(numerics.threads);
  await checkWritable(dir);
  const data = await loadStudyData(study, runtime.dataDir);
  checkTrainingSetSize(study, Math.min(study.trainSubset ?? Infinity, data.load.train.count));
  const architectures = selectArchitectures(study, data);
  const selection = architectures.map((a) => a.id);
  if (architectures.length === 0)
    throw new UsageError('the selection holds no architecture', 'ids');

  if (!resumed) {
    await writeRunConfig(dir, study, architectures, { numerics });
    const info = buildInfo();
    const environment = {
      featshift: packageVersion(),
      libtorch: info.version,
      cuda: info.cudaAvailable,
      device,
      threads: threadCount(),
      seed: study.seed,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      host: hostname(),
      dataset: data.sources,
      started: new Date().toISOString(),
    };
    await writeFileAtomic(join(dir, ENVIRONMENT_FILE), `${JSON.stringify(environment, null, 2)}\n`);
  }

  const records = readResults(dir);
  // A kill between the two writes left a CSV missing; an older featshift wrote other CSVs.
  await writeReferenceCsvs(dir, records, selection, resumed);
  const done = new Set(records.map((r) => r.id));
  const todo = architectures.filter((a) => !done.has(a.id));
  reporter.start({
    dir,
    total: architectures.length,
    done: architectures.length - todo.length,
    resumed,
    todo,
  });

  const { train, test, trainCount } = buildLoaders(study, data);
  const config = trainingConfig(study, data, device);
  const memoryLimit = runtime.memoryLimit ?? defaultMemoryLimit();
  let stopped = false;
  try {
    for (const [k, arch] of todo.entries()) {
      if (request.shouldStop()) {
        stopped = true;
        break;
      }
      reporter.architectureStart({
        index: architectures.length - todo.length + k,
        total: architectures.length,
        arch,
        epochs: study.epochs,
        imagesPerEpoch: trainCount,
      });
      const checkpointPath = join(
        dir,
        'checkpoints',
        `arch_${String(arch.id).padStart(3, '0')}.safetensors`,
      );
      let outcome;
      try {
        outcome = await trainArchitecture(arch.id, arch.widths, config, train, test, trainCount, {
          checkpointPath,
          shouldStop: request.shouldStop,
          memoryLimit,
          onMemory: (c) => {
            reporter.memory(c);
          },
          onResume: (e, b) => {
            reporter.resumeArchitecture(e, b);
          },
          onStep: (p) => {
            reporter.step(p);
          },
          onEpoch: (s) => {
            reporter.epoch(s);
          },
        });
      } catch (error) {
        if (error instanceof TrainingStopped) {
          stopped = true;
          break;
        }
        throw error;
      }
      const record = toRecord(arch, outcome);
      await recordResult(dir, records, record, selection);
      if (!runtime.keepCheckpoints) await rm(checkpointPath, { force: true });
      reporter.architectureDone(record, todo.slice(k + 1));
    }
  } finally {
    await train.close();
  }
  if (stopped) reporter.stopped(dir);
  else {
    if (!runtime.keepCheckpoints)
      await rm(join(dir, 'checkpoints'), { recursive: true, force: true });
    reporter.done(records, dir);
  }
  return { dir, records, stopped };
}
