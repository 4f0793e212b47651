import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Architecture } from '../family/skew-normal.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type {
  EpochStats,
  LayoutChoice,
  ModelLayout,
  PhaseSeconds,
  TrainingSummary,
} from '../train/outcome.js';
import { csvName, referenceCsvDir, RESULTS_FILE } from './files.js';

/**
 * One finished architecture: a line of results.jsonl. The architecture, its best and last
 * statistics, and the per-epoch statistics as one array each.
 */
export interface ResultRecord extends Omit<Architecture, 'totalFeatures'>, TrainingSummary {
  /** The seed of this run: (id, seed) is the unit of work, one line each. */
  seed: number;
  trainAcc: number[];
  valAcc: number[];
  trainLoss: number[];
  valLoss: number[];
  lr: number[];
  seconds: number[];
  /** Where this process's training time went (absent in older records). */
  phaseSeconds?: PhaseSeconds;
  /** The layout the architecture trained in, and the step times that chose it (absent in older records). */
  layout?: ModelLayout;
  layoutMsPerStep?: LayoutChoice['msPerStep'];
  /** Successive halving (absent otherwise): the epochs trained, and the rung's epoch where it
   * stopped, or null when it trained to the end (or the recipe's abandon rule stopped it). */
  epochsTrained?: number;
  stoppedAtRung?: number | null;
  finishedAt: string;
}

/** The key of one unit of work, (architecture, seed). */
export const unitKey = (id: number, seed: number): string => `${id}/${seed}`;

export function toRecord(
  arch: Architecture,
  seed: number,
  outcome: TrainingSummary & {
    epochs: readonly EpochStats[];
    phases?: PhaseSeconds;
    layout?: LayoutChoice;
  },
): ResultRecord {
  const col = (key: keyof EpochStats): number[] => outcome.epochs.map((e) => e[key]);
  return {
    id: arch.id,
    seed,
    xi: arch.xi,
    omega: arch.omega,
    alpha: arch.alpha,
    widths: arch.widths,
    capacity: arch.capacity,
    params: arch.params,
    macs: arch.macs,
    bestVal: outcome.bestVal,
    bestValTrain: outcome.bestValTrain,
    bestEpoch: outcome.bestEpoch,
    lastVal: outcome.lastVal,
    lastTrain: outcome.lastTrain,
    abandoned: outcome.abandoned,
    diverged: outcome.diverged,
    trainAcc: col('trainAcc'),
    valAcc: col('valAcc'),
    trainLoss: col('trainLoss'),
    valLoss: col('valLoss'),
    lr: col('lr'),
    seconds: col('seconds'),
    microBatch: outcome.microBatch,
    ...(outcome.phases ? { phaseSeconds: outcome.phases } : {}),
    ...(outcome.layout
      ? { layout: outcome.layout.layout, layoutMsPerStep: outcome.layout.msPerStep }
      : {}),
    finishedAt: new Date().toISOString(),
  };
}

/**
 * The finished runs of a run folder, in the order they finished. A line that is not a result
 * (edited, or damaged) is refused with the file and line: resuming past it would train or record
 * that architecture wrongly. Lines of a featshift older than seeds get `seed` (the study's).
 */
export function readResults(dir: string, seed: number): ResultRecord[] {
  const path = join(dir, RESULTS_FILE);
  if (!existsSync(path)) return [];
  const records: ResultRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      const r = (typeof record === 'object' && record !== null ? record : {}) as Partial<
        Record<keyof ResultRecord, unknown>
      >;
      const valid =
        Number.isInteger(r.id) &&
        Array.isArray(r.widths) &&
        Array.isArray(r.valAcc) &&
        Array.isArray(r.trainAcc) &&
        typeof r.bestVal === 'number';
      if (!valid) {
        throw new UsageError(
          `${path}:${i + 1}: not a featshift result line (edited or damaged): restore the file, or delete the line to train that architecture again`,
          'resume',
        );
      }
      if (r.seed !== undefined && !(Number.isInteger(r.seed) && (r.seed as number) >= 0)) {
        throw new UsageError(
          `${path}:${i + 1}: seed ${JSON.stringify(r.seed)} is not a seed (edited or damaged): restore the file, or delete the line to train that run again`,
          'resume',
        );
      }
      records.push({
        ...(r as unknown as ResultRecord),
        seed: (r.seed as number | undefined) ?? seed,
      });
    });
  return records;
}

/** Rewrites results.jsonl whole, atomically: a kill at any moment leaves the old or the new file. */
export async function writeResults(dir: string, records: readonly ResultRecord[]): Promise<void> {
  // JSON has no NaN: a loss that was never measured is written as null.
  const line = (r: ResultRecord): string =>
    JSON.stringify(r, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    );
  await writeFileAtomic(join(dir, RESULTS_FILE), records.map((r) => `${line(r)}\n`).join(''));
}

/** Python's repr of a float, as pandas writes it: 10.0, 44.916666666666664, 1e-05. */
export function pythonFloat(x: number | null): string {
  if (x === null || Number.isNaN(x)) return '';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mantissa = '', exponent = '0'] = x.toExponential().split('e');
    const e = Number(exponent);
    return `${mantissa.includes('.') ? mantissa : mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

const pyList = (values: readonly number[]): string =>
  `[${values.map((v) => pythonFloat(v)).join(', ')}]`;

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The original code's columns (docs/method.md §5), after pandas' unnamed index column. */
export const REFERENCE_COLUMNS = [
  'Filters',
  'Parameters',
  'Mean',
  'Variance',
  'Skew',
  'BestVal',
  'BestValsTrain',
  'BestEpoch',
  'LastValPrec',
  'LastTrainPrec',
  'AllTrain',
  'AllVal',
] as const;

/**
 * The CSV the reference writes after each architecture: every architecture finished so far, one
 * row each, as pandas' DataFrame.to_csv writes them (index column, Python reprs of floats and
 * lists), so that analysis scripts written for the original code read it unchanged.
 */
export function referenceCsv(records: readonly ResultRecord[]): string {
  const header = ['', ...REFERENCE_COLUMNS].join(',');
  const rows = records.map((r, i) =>
    [
      String(i),
      pyList(r.widths),
      pythonFloat(r.capacity),
      pythonFloat(r.xi),
      pythonFloat(r.omega),
      pythonFloat(r.alpha),
      pythonFloat(r.bestVal),
      pythonFloat(r.bestValTrain),
      String(r.bestEpoch),
      pythonFloat(r.lastVal),
      pythonFloat(r.lastTrain),
      pyList(r.trainAcc),
      pyList(r.valAcc),
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header, ...rows].join('\n')}\n`;
}

/** What a run trains: its architectures (in order) and its seeds. */
export interface RunSelection {
  ids: readonly number[];
  seeds: readonly number[];
}

/**
 * Writes the reference's CSVs as an uninterrupted run of the original code leaves them, whatever
 * order the architectures finished in (a resumed run, a queue's longest-first order):
 * `model_NNN.csv` holds every selected architecture with id <= NNN, one row each in id order, and
 * exists once all of them have finished. The last one holds the whole selection. A run of several
 * seeds writes one such set per seed, each in its folder `seed-S` (the original code ran one seed
 * per run). Files already written are kept, since their content cannot change (`all` rewrites
 * them, as a resume does).
 */
export async function writeReferenceCsvs(
  dir: string,
  records: readonly ResultRecord[],
  selection: RunSelection,
  all = false,
): Promise<void> {
  for (const seed of selection.seeds) {
    const byId = new Map(records.filter((r) => r.seed === seed).map((r) => [r.id, r]));
    const folder = referenceCsvDir(dir, selection.seeds, seed);
    const prefix: ResultRecord[] = [];
    for (const id of [...selection.ids].sort((a, b) => a - b)) {
      const record = byId.get(id);
      if (!record) break;
      prefix.push(record);
      const path = join(folder, csvName(id));
      if (all || !existsSync(path)) {
        if (prefix.length === 1) await mkdir(folder, { recursive: true });
        await writeFileAtomic(path, referenceCsv(prefix));
      }
    }
  }
}

/** Records a finished architecture: results.jsonl and the reference CSVs, both atomically. */
export async function recordResult(
  dir: string,
  records: ResultRecord[],
  record: ResultRecord,
  selection: RunSelection,
): Promise<void> {
  records.push(record);
  await writeResults(dir, records);
  await writeReferenceCsvs(dir, records, selection);
}
