import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { HOLDS, type Hold } from '../family/hold.js';
import {
  compareMemberKeys,
  isLinearKey,
  memberKey,
  type MemberKey,
  type MemberRef,
} from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type {
  EpochStats,
  MemoryFormatChoice,
  MemoryFormat,
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
  layout?: MemoryFormat;
  layoutMsPerStep?: MemoryFormatChoice['msPerStep'];
  /** Successive halving (absent otherwise): the epochs trained, and the rung's epoch where it
   * stopped, or null when it trained to the end (or the recipe's abandon rule stopped it). */
  epochsTrained?: number;
  stoppedAtRung?: number | null;
  finishedAt: string;
}

/** One run of a study, as its halving state and every scheduler key it: '49/0', 'linear:3/1'. */
export const unitKey = (member: MemberRef | MemberKey, seed: number): string =>
  `${typeof member === 'object' ? memberKey(member) : member}/${seed}`;

/** A linear member's name (docs/method.md §8), or nothing for a skew-normal one or the baseline. */
export const linearName = (
  a: Pick<Architecture, 'family' | 'w0' | 'wa' | 'wm'>,
): Pick<Architecture, 'family' | 'w0' | 'wa' | 'wm'> =>
  a.family === 'linear' ? { family: a.family, w0: a.w0, wa: a.wa, wm: a.wm ?? null } : {};

/** What names a member beyond (xi, omega, alpha): its linear parameters, and its held cost. */
export function familyFields(
  a: Pick<Architecture, 'family' | 'w0' | 'wa' | 'wm' | 'hold' | 'target' | 'deviation'>,
): Partial<ResultRecord> {
  return {
    ...linearName(a),
    ...(a.hold !== undefined ? { hold: a.hold, target: a.target, deviation: a.deviation } : {}),
  };
}

export function toRecord(
  arch: Architecture,
  seed: number,
  outcome: TrainingSummary & {
    epochs: readonly EpochStats[];
    phases?: PhaseSeconds;
    layout?: MemoryFormatChoice;
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
    ...familyFields(arch),
    ...(outcome.phases ? { phaseSeconds: outcome.phases } : {}),
    ...(outcome.layout
      ? { layout: outcome.layout.layout, layoutMsPerStep: outcome.layout.msPerStep }
      : {}),
    finishedAt: new Date().toISOString(),
  };
}

/** What a results.jsonl line is checked against, where the run folder says it. */
export interface ResultContext {
  /** The study's architectures (config.json's selection), by memberKey. */
  ids?: readonly MemberKey[];
  /** The study's seeds. */
  seeds?: readonly number[];
}

const isAccuracy = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;

/**
 * Why a parsed results.jsonl line is not a result this run could have written, or undefined when
 * it is one: every number in its range (accuracies 0-100 %), the best accuracy the highest of the
 * curve it claims to come from, and (where the run folder says) an id and a seed of its study.
 * One check for every reader, so that the sweep, the analysis, the report and the viewer agree.
 */
export function resultLineProblem(value: unknown, context: ResultContext = {}): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'not a JSON object';
  const r = value as Partial<Record<keyof ResultRecord, unknown>>;
  if (!Number.isInteger(r.id) || (r.id as number) < 0) return `id ${JSON.stringify(r.id)} is no id`;
  const id = r.id as number;
  if (r.seed !== undefined && !(Number.isInteger(r.seed) && (r.seed as number) >= 0))
    return `seed ${JSON.stringify(r.seed)} is no seed`;
  if (
    !Array.isArray(r.widths) ||
    r.widths.length === 0 ||
    !r.widths.every((w) => Number.isInteger(w) && (w as number) > 0)
  )
    return 'widths are not a list of positive integers';
  const curve = (v: unknown): boolean =>
    Array.isArray(v) && v.length > 0 && v.every((x) => x === null || isAccuracy(x));
  if (!curve(r.valAcc) || !curve(r.trainAcc))
    return 'trainAcc and valAcc must be lists of accuracies between 0 and 100';
  const valAcc = r.valAcc as (number | null)[];
  if ((r.trainAcc as unknown[]).length !== valAcc.length)
    return 'trainAcc and valAcc differ in length';
  for (const key of ['bestVal', 'bestValTrain', 'lastVal', 'lastTrain'] as const) {
    if (!isAccuracy(r[key]))
      return `${key} ${r[key] === undefined ? 'is missing' : `${JSON.stringify(r[key])} is no accuracy between 0 and 100`}`;
  }
  const best = valAcc.reduce<number>((m, v) => (v !== null && v > m ? v : m), 0);
  if (Math.abs((r.bestVal as number) - best) > 1e-9)
    return `bestVal ${String(r.bestVal)} is not the highest of its valAcc (${best})`;
  if (
    !Number.isInteger(r.bestEpoch) ||
    (r.bestEpoch as number) < 0 ||
    (r.bestEpoch as number) >= valAcc.length
  )
    return `bestEpoch ${JSON.stringify(r.bestEpoch)} is no epoch of its curve`;
  for (const key of ['params', 'macs'] as const) {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      return `${key} ${JSON.stringify(v)} is no count`;
  }
  for (const key of ['xi', 'omega', 'alpha'] as const) {
    const v = r[key];
    if (v !== null && v !== undefined && !(typeof v === 'number' && Number.isFinite(v)))
      return `${key} ${JSON.stringify(v)} is no number`;
  }
  const problem = familyProblem(r);
  if (problem) return problem;
  if (r.epochsTrained !== undefined && r.epochsTrained !== valAcc.length)
    return `epochsTrained ${JSON.stringify(r.epochsTrained)} is not the length of its curve (${valAcc.length})`;
  if (
    r.stoppedAtRung !== undefined &&
    r.stoppedAtRung !== null &&
    !(Number.isInteger(r.stoppedAtRung) && (r.stoppedAtRung as number) >= 1)
  )
    return `stoppedAtRung ${JSON.stringify(r.stoppedAtRung)} is no epoch`;
  const key = memberKey({ id, family: r.family as string | undefined });
  if (context.ids && !context.ids.includes(key))
    return `id ${key} is not an architecture of this study (config.json)`;
  if (context.seeds && r.seed !== undefined && !context.seeds.includes(r.seed as number))
    return `seed ${JSON.stringify(r.seed)} is not a seed of this study (config.json)`;
  return undefined;
}

/** Why a line's family fields (docs/method.md §8) are not what featshift writes, if they are not. */
function familyProblem(r: Partial<Record<keyof ResultRecord, unknown>>): string | undefined {
  const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
  if (r.family !== undefined) {
    if (r.family !== 'linear') return `family ${JSON.stringify(r.family)} is not 'linear'`;
    if (!finite(r.w0) || (r.w0 as number) <= 0) return `w0 ${JSON.stringify(r.w0)} is no width`;
    if (!finite(r.wa)) return `wa ${JSON.stringify(r.wa)} is no number`;
    if (r.wm !== null && !(finite(r.wm) && (r.wm as number) > 1))
      return `wm ${JSON.stringify(r.wm)} is neither null nor a multiplier above 1`;
  }
  if (r.hold !== undefined) {
    if (!HOLDS.includes(r.hold as Hold))
      return `hold ${JSON.stringify(r.hold)} is none of ${HOLDS.join(', ')}`;
    if (!finite(r.target) || (r.target as number) <= 0)
      return `target ${JSON.stringify(r.target)} is no count`;
    if (!finite(r.deviation)) return `deviation ${JSON.stringify(r.deviation)} is no number`;
  }
  return undefined;
}

/**
 * The finished runs of a run folder, in the order they finished. A line that is not a result
 * (edited, or damaged: see resultLineProblem), a run the study does not hold, or a run recorded
 * twice is refused with the file and line: resuming past it would train or record that
 * architecture wrongly. Lines of a featshift older than seeds get `seed` (the study's).
 */
export function readResults(
  dir: string,
  seed: number,
  context: ResultContext = {},
): ResultRecord[] {
  const path = join(dir, RESULTS_FILE);
  if (!existsSync(path)) return [];
  const records: ResultRecord[] = [];
  const lineOf = new Map<string, number>();
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
      const problem = record === undefined ? 'not JSON' : resultLineProblem(record, context);
      const refuse = (why: string): never => {
        throw new UsageError(
          `${path}:${i + 1}: not a featshift result line: ${why} (edited or damaged): restore the file, or delete the line to train that run again`,
          'resume',
        );
      };
      if (problem !== undefined) refuse(problem);
      const r = record as ResultRecord;
      const withSeed = { ...r, seed: (r.seed as number | undefined) ?? seed };
      const key = unitKey(withSeed, withSeed.seed);
      const earlier = lineOf.get(key);
      if (earlier !== undefined)
        refuse(
          `id ${memberKey(withSeed)}, seed ${withSeed.seed} is recorded again (first on line ${earlier})`,
        );
      lineOf.set(key, i + 1);
      records.push(withSeed);
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

/** What a run trains: its architectures (by memberKey) and its seeds. */
export interface RunSelection {
  ids: readonly MemberKey[];
  seeds: readonly number[];
}

/**
 * Writes the reference's CSVs as an uninterrupted run of the original code leaves them, whatever
 * order the architectures finished in (a resumed run, a queue's longest-first order):
 * `model_NNN.csv` holds every selected architecture with id <= NNN, one row each in id order, and
 * exists once all of them have finished. The last one holds the whole selection. A run of several
 * seeds writes one such set per seed, each in its folder `seed-S` (the original code ran one seed
 * per run). A study of both families writes its linear members as a second set of the same
 * columns, `linear_model_NNN.csv` (the baseline stays in the first). Files already written are
 * kept, since their content cannot change (`all` rewrites them, as a resume does).
 */
export async function writeReferenceCsvs(
  dir: string,
  records: readonly ResultRecord[],
  selection: RunSelection,
  all = false,
): Promise<void> {
  const sorted = [...selection.ids].sort(compareMemberKeys);
  const mixed = sorted.some((k) => k !== 0 && !isLinearKey(k)) && sorted.some(isLinearKey);
  const series = mixed
    ? [sorted.filter((k) => !isLinearKey(k)), sorted.filter(isLinearKey)]
    : [sorted];
  for (const seed of selection.seeds) {
    const byKey = new Map(records.filter((r) => r.seed === seed).map((r) => [memberKey(r), r]));
    const folder = referenceCsvDir(dir, selection.seeds, seed);
    for (const keys of series) {
      const prefix: ResultRecord[] = [];
      for (const key of keys) {
        const record = byKey.get(key);
        if (!record) break;
        prefix.push(record);
        const path = join(folder, csvName(record.id, mixed && isLinearKey(key) ? 'linear' : ''));
        if (all || !existsSync(path)) {
          if (prefix.length === 1) await mkdir(folder, { recursive: true });
          await writeFileAtomic(path, referenceCsv(prefix));
        }
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
