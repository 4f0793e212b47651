import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import { compareMembers, isMemberKey, memberKey, type MemberKey } from '../family/members.js';
import { baselineArchitecture } from '../family/skew-normal.js';
import { vggBaseWidths } from '../models/vgg-base.js';
import { countMacs, countParams, vggPlan } from '../models/vgg-plan.js';
import { datasetSpec } from '../data/registry.js';
import { readLiveStatus, type LiveStatus } from './live.js';
import { CONFIG_FILE, CSV_NAME, RESULTS_FILE, SEED_FOLDER } from './files.js';
import {
  familyFields,
  resultLineProblem,
  unitKey,
  type ResultContext,
  type ResultRecord,
} from './results.js';
import {
  familyOptions,
  parseStoredStudy,
  REFERENCE_DEFAULTS,
  studySeeds,
  upgradeStudy,
  type StudyConfig,
} from './study.js';

/** One run, (architecture, seed), as the report and the analysis read it. */
export type RunResult = Pick<
  ResultRecord,
  | 'id'
  | 'seed'
  | 'xi'
  | 'omega'
  | 'alpha'
  | 'widths'
  | 'params'
  | 'macs'
  | 'bestVal'
  | 'bestValTrain'
  | 'bestEpoch'
  | 'lastVal'
  | 'lastTrain'
  | 'abandoned'
  | 'diverged'
  | 'trainAcc'
  | 'valAcc'
  | 'stoppedAtRung'
  | 'epochsTrained'
  | 'family'
  | 'w0'
  | 'wa'
  | 'wm'
  | 'hold'
  | 'target'
  | 'deviation'
> & {
  /** Wall-clock seconds the run trained and evaluated (its setup included); absent where the
   * record does not say (the original's CSVs). */
  runSeconds?: number;
};

/**
 * A study as its run folder holds it. Words as featshift uses them: the study is what one run
 * folder trains (one family, dataset, recipe and seeds); a run is one (architecture, seed) trained.
 */
export interface LoadedStudy {
  name: string;
  dir: string;
  dataset: string;
  depth: number;
  source: typeof RESULTS_FILE | 'reference CSV';
  /** Every finished run, (architecture, seed), in id then seed order. */
  runs: RunResult[];
  /** The seeds the study trains (planned), or those found in its files. */
  seeds: number[];
  /** The standard VGG's widths at the study's budget, for comparison. */
  baselineWidths: number[];
  /** How many runs, (architecture, seed), the study planned (more than finished while it runs). */
  planned: number | null;
  /** The study config.json records (null: the original's CSVs, which do not say). */
  study: StudyConfig | null;
  /** The epochs the study trains (null: the original's CSVs, which do not say). */
  epochs: number | null;
  /** The runs in training now (loaded with `inProgress`; null: none, or not asked). */
  training: LiveStatus | null;
  warnings: string[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A line as results.jsonl holds it: `seed` absent in a featshift older than seeds. */
type StoredLine = Omit<ResultRecord, 'seed' | 'abandoned' | 'diverged'> & {
  seed?: number;
  abandoned?: boolean;
  diverged?: boolean;
};

function fromJsonLine(r: StoredLine, seed: number): RunResult {
  return {
    id: r.id,
    seed: r.seed ?? seed,
    xi: num(r.xi),
    omega: num(r.omega),
    alpha: num(r.alpha),
    widths: r.widths,
    params: r.params,
    macs: r.macs,
    bestVal: r.bestVal,
    bestValTrain: r.bestValTrain,
    bestEpoch: r.bestEpoch,
    lastVal: r.lastVal,
    lastTrain: r.lastTrain,
    abandoned: r.abandoned === true,
    diverged: r.diverged === true,
    trainAcc: r.trainAcc,
    valAcc: r.valAcc,
    ...(r.stoppedAtRung !== undefined ? { stoppedAtRung: r.stoppedAtRung } : {}),
    ...(typeof r.epochsTrained === 'number' ? { epochsTrained: r.epochsTrained } : {}),
    ...familyFields(r),
    ...runSeconds(r),
  };
}

/** The time a record says its run took: every epoch, and the setup before the first. */
function runSeconds(r: StoredLine): { runSeconds?: number } {
  if (!Array.isArray(r.seconds) || !r.seconds.every((v) => num(v) !== null && v >= 0)) return {};
  const setup = num(r.phaseSeconds?.setup) ?? 0;
  return { runSeconds: r.seconds.reduce((a, b) => a + b, 0) + setup };
}

/** A Python list repr such as "[823.0, 961.0]" as numbers. */
function pyList(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const m = /^\[(.*)\]$/.exec(text.trim());
  if (!m) return undefined;
  if ((m[1] ?? '').trim() === '') return [];
  const values = (m[1] ?? '').split(',').map((s) => Number(s.trim()));
  return values.every((v) => Number.isFinite(v)) ? values : undefined;
}

/**
 * results.jsonl as the analysis reads it: a line that is not a result of this study (see
 * resultLineProblem) or that records a run again is skipped with a warning naming the file and
 * line, never counted.
 */
function readResultsJsonl(
  path: string,
  seed: number,
  context: ResultContext,
  warnings: string[],
): RunResult[] {
  const out = new Map<string, RunResult>();
  const lineOf = new Map<string, number>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path}:${i + 1}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        warnings.push(`${where}: skipped a malformed line (not JSON)`);
        return;
      }
      const problem = resultLineProblem(parsed, context);
      if (problem !== undefined) {
        warnings.push(`${where}: skipped a line: ${problem}`);
        return;
      }
      const arch = fromJsonLine(parsed as StoredLine, seed);
      const key = unitKey(arch, arch.seed);
      const first = lineOf.get(key);
      if (first !== undefined) {
        warnings.push(
          `${where}: skipped a line: id ${memberKey(arch)}, seed ${arch.seed} is already recorded on line ${first}`,
        );
        return;
      }
      lineOf.set(key, i + 1);
      out.set(key, arch);
    });
  return [...out.values()];
}

/**
 * The seed-S folders of a featshift run of several seeds, as [folder, seed]. Only the names
 * featshift writes count (seed-1, never seed-01), so that two folders never claim one seed.
 */
function seedFolders(dir: string, warnings?: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!statSync(join(dir, f)).isDirectory() || !/^seed-/.test(f)) continue;
    const m = SEED_FOLDER.exec(f);
    if (m) out.push([join(dir, f), Number(m[1])]);
    else
      warnings?.push(
        `${join(dir, f)}: skipped, not a seed folder (featshift names them seed-0, seed-1, ...)`,
      );
  }
  return out;
}

/**
 * The original code's CSVs: model_NNN.csv holds every architecture finished before it, so its
 * last row is architecture NNN. Parameters and MACs are recomputed from the widths. The CSVs of
 * a featshift run of several seeds lie in its seed-S folders, one set each.
 */
function readReferenceCsvs(dir: string, classes: number, warnings: string[]): RunResult[] {
  const folders = seedFolders(dir, warnings);
  if (folders.length > 0)
    return folders.flatMap(([folder, seed]) => readCsvSet(folder, seed, classes, warnings));
  return readCsvSet(dir, 0, classes, warnings);
}

function readCsvSet(dir: string, seed: number, classes: number, warnings: string[]): RunResult[] {
  const files = readdirSync(dir)
    .filter((f) => CSV_NAME.test(f))
    .sort();
  const out: RunResult[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const id = Number(/\d+/.exec(f)?.[0]);
    let rows: Record<string, string>[];
    try {
      rows = parseCsv<Record<string, string>>(readFileSync(path, 'utf8'), {
        columns: true,
        skip_empty_lines: true,
        relax_column_count: true,
      });
    } catch (error) {
      warnings.push(
        `${path}: skipped, not readable as CSV (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
      );
      continue;
    }
    const row = rows[rows.length - 1];
    const widths = pyList(row?.Filters)?.map(Math.round);
    const trainAcc = pyList(row?.AllTrain);
    const valAcc = pyList(row?.AllVal);
    if (!row || !widths || !trainAcc || !valAcc) {
      warnings.push(
        `${path}:${rows.length + 1}: skipped a malformed row (Filters, AllTrain and AllVal must be lists)`,
      );
      continue;
    }
    let params = 0;
    let macs = 0;
    try {
      const layout = vggPlan(widths, { classes });
      params = countParams(layout);
      macs = countMacs(layout);
    } catch {
      warnings.push(
        `${path}: widths ${widths.join(' ')} are not a VGG width list; parameters and MACs left at 0`,
      );
    }
    // pandas writes floats as Python reprs; nan, inf, an empty cell or -50 are no accuracy.
    const accuracy = (k: string): number | undefined => {
      const text = row[k]?.trim() ?? '';
      const v = text === '' ? NaN : Number(text);
      return Number.isFinite(v) && v >= 0 && v <= 100 ? v : undefined;
    };
    const bad = ['BestVal', 'BestValsTrain', 'LastValPrec', 'LastTrainPrec'].find(
      (k) => accuracy(k) === undefined,
    );
    const bestEpoch = Number(row.BestEpoch);
    const curveOk = [...trainAcc, ...valAcc].every((v) => v >= 0 && v <= 100);
    if (bad !== undefined || !Number.isInteger(bestEpoch) || bestEpoch < 0 || !curveOk) {
      warnings.push(
        `${path}:${rows.length + 1}: skipped a malformed row (${bad !== undefined ? `${bad} '${row[bad] ?? ''}' is no accuracy between 0 and 100` : !curveOk ? 'AllTrain and AllVal must hold accuracies between 0 and 100' : `BestEpoch '${row.BestEpoch ?? ''}' is no epoch`})`,
      );
      continue;
    }
    const n = (k: string): number => accuracy(k) ?? 0;
    const opt = (k: string): number | null => {
      const v = row[k] === undefined || row[k] === '' ? null : Number(row[k]);
      return v !== null && Number.isFinite(v) ? v : null;
    };
    out.push({
      id,
      seed,
      xi: opt('Mean'),
      omega: opt('Variance'),
      alpha: opt('Skew'),
      widths,
      params,
      macs,
      bestVal: n('BestVal'),
      bestValTrain: n('BestValsTrain'),
      bestEpoch,
      lastVal: n('LastValPrec'),
      lastTrain: n('LastTrainPrec'),
      abandoned: false,
      diverged: false,
      trainAcc,
      valAcc,
    });
  }
  return out;
}

/**
 * config.json as a reader of results sees it: the study checked by the same validator as a
 * resume (parseStoredStudy), keys it lacks taken as the reference's defaults, and the selection a
 * list of ids. A value out of range (a depth of 1e9, a seed of -1) is refused with the file and the
 * key, never computed with; a file that is not JSON at all is a warning, and the folder's name
 * says the dataset.
 */
function readLoadedConfig(
  path: string,
  warnings: string[],
): { study: StudyConfig; ids: MemberKey[] | undefined; seeds: number[] | undefined } | undefined {
  if (!existsSync(path)) return undefined;
  let raw: { study?: unknown; architectures?: unknown } | null;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as typeof raw;
  } catch {
    warnings.push(`${path}: not readable JSON; using the folder's name`);
    return undefined;
  }
  if (raw === null || typeof raw !== 'object' || raw.study === undefined) {
    warnings.push(`${path}: holds no study; using the folder's name`);
    return undefined;
  }
  const given = raw.study;
  let study: StudyConfig;
  try {
    study = parseStoredStudy(
      given !== null && typeof given === 'object' && !Array.isArray(given)
        ? { ...REFERENCE_DEFAULTS, ...upgradeStudy(given) }
        : given,
      path,
    );
  } catch (error) {
    // The same refusal as a resume's, without the flag a resume would blame.
    if (error instanceof UsageError) throw new UsageError(error.message);
    throw error;
  }
  let ids = raw.architectures;
  if (ids !== undefined && !(Array.isArray(ids) && ids.every(isMemberKey)))
    throw new UsageError(
      `${path}: architectures is ${JSON.stringify(ids).slice(0, 80)}, expected a list of ids: the file was edited or damaged; restore it`,
    );
  // A linear study of the featshift before studies of both families listed its members' bare ids.
  if (study.family === 'linear' && Array.isArray(ids))
    ids = ids.map((x: MemberKey) => (typeof x === 'number' && x !== 0 ? `linear:${x}` : x));
  // A config.json that names no seed leaves the seeds to the results.
  const named =
    typeof given === 'object' && given !== null && ('seed' in given || 'seeds' in given);
  return {
    study,
    ids: ids as MemberKey[] | undefined,
    seeds: named ? studySeeds(study) : undefined,
  };
}

/**
 * Reads a run folder: featshift's results.jsonl, or else the original code's model_NNN.csv files.
 * A malformed line or row is skipped with a warning naming the file and line; a run still being
 * written shows what has finished.
 */
export interface LoadOptions {
  /**
   * A sweep may have just started (featshift view): a featshift run folder with no finished run
   * yet loads with none, and with the runs in training that live.json shows.
   */
  inProgress?: boolean;
}

export function loadStudy(dir: string, options: LoadOptions = {}): LoadedStudy {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(
      `${dir} is not a folder: give a run folder written by featshift sweep or the original code`,
    );
  }
  const warnings: string[] = [];
  // The original code names runs '<time>;<dataset>;<architecture>'.
  const parts = basename(dir).split(';');
  const config = readLoadedConfig(join(dir, CONFIG_FILE), warnings);
  const study = config?.study;
  const plannedSeeds = config?.seeds;
  const planned =
    config?.ids === undefined ? null : config.ids.length * (plannedSeeds?.length ?? 1);
  const dataset = study?.dataset ?? parts[1] ?? 'unknown';
  const spec = datasetSpec(dataset);
  const classes = spec?.classes ?? 10;
  let architectures: RunResult[];
  let source: LoadedStudy['source'];
  const started = options.inProgress === true && study !== undefined;
  if (existsSync(join(dir, RESULTS_FILE))) {
    architectures = readResultsJsonl(
      join(dir, RESULTS_FILE),
      study?.seed ?? 0,
      {
        ...(config?.ids ? { ids: config.ids } : {}),
        ...(plannedSeeds ? { seeds: plannedSeeds } : {}),
      },
      warnings,
    );
    source = RESULTS_FILE;
  } else if (started) {
    architectures = [];
    source = RESULTS_FILE;
  } else {
    architectures = readReferenceCsvs(dir, classes, warnings);
    if (plannedSeeds)
      architectures = architectures.filter((r) => {
        const kept = plannedSeeds.includes(r.seed);
        if (!kept)
          warnings.push(
            `${dir}: skipped the CSVs of seed ${r.seed}, not a seed of this study (config.json)`,
          );
        return kept;
      });
    source = 'reference CSV';
  }
  if (architectures.length === 0 && !started) {
    // Say what was there: an empty folder, or files whose every row was skipped (and why).
    const found =
      source === RESULTS_FILE
        ? 'its results.jsonl has no valid line'
        : readdirSync(dir).some((f) => CSV_NAME.test(f)) || seedFolders(dir).length > 0
          ? 'its model_NNN.csv files have no valid row'
          : 'it has no results.jsonl nor model_NNN.csv files';
    const why =
      warnings.length > 0
        ? ` (${warnings.slice(0, 3).join('; ')}${warnings.length > 3 ? `; and ${warnings.length - 3} more` : ''})`
        : '';
    throw new UsageError(
      `${dir} holds no results: ${found}${why}; give a run folder with at least one finished architecture`,
    );
  }
  architectures.sort((a, b) => compareMembers(a, b) || a.seed - b.seed);
  const depth = study?.depth ?? (architectures[0]?.widths.length ?? 15) + 1;
  let baselineWidths = architectures.find((a) => a.id === 0)?.widths;
  if (!baselineWidths) {
    try {
      baselineWidths = study
        ? baselineArchitecture(familyOptions(study, classes)).widths
        : vggBaseWidths(depth);
    } catch {
      baselineWidths = vggBaseWidths(16);
    }
  }
  return {
    name: basename(dir),
    dir,
    dataset: spec?.name ?? dataset,
    depth,
    source,
    runs: architectures,
    seeds: plannedSeeds ?? [...new Set(architectures.map((a) => a.seed))].sort((a, b) => a - b),
    epochs: study?.epochs ?? null,
    study: study ?? null,
    baselineWidths,
    planned,
    training: started ? liveStatus(dir, warnings) : null,
    warnings,
  };
}

function liveStatus(dir: string, warnings: string[]): LiveStatus | null {
  const { status, warning } = readLiveStatus(dir);
  if (warning) warnings.push(warning);
  return status;
}
