import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import { baselineArchitecture } from '../family/skew-normal.js';
import { vggBaseWidths } from '../family/vgg-base.js';
import { countMacs, countParams, vggLayout } from '../models/vgg-layout.js';
import { datasetSpec } from '../data/registry.js';
import { CONFIG_FILE, CSV_NAME, RESULTS_FILE, SEED_FOLDER } from './files.js';
import { unitKey, type ResultRecord } from './results.js';
import { familyOptions, upgradeStudy, type StudyConfig } from './study.js';

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
>;

export interface LoadedRun {
  name: string;
  dir: string;
  dataset: string;
  depth: number;
  source: typeof RESULTS_FILE | 'reference CSV';
  /** Every finished run, (architecture, seed), in id then seed order. */
  architectures: RunResult[];
  /** The seeds the run trains (planned), or those found in its files. */
  seeds: number[];
  /** The standard VGG's widths at the run's budget, for comparison. */
  baselineWidths: number[];
  /** How many runs, (architecture, seed), the run planned (more than finished while it runs). */
  planned: number | null;
  /** The epochs the study trains (null: the original's CSVs, which do not say). */
  epochs: number | null;
  warnings: string[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function fromJsonLine(value: unknown, seed: number): RunResult | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const id = num(r.id);
  const widths = r.widths;
  if (id === null || !Array.isArray(widths) || !widths.every((w) => typeof w === 'number'))
    return undefined;
  const list = (v: unknown): number[] =>
    Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? x : NaN)) : [];
  return {
    id,
    seed: num(r.seed) ?? seed,
    xi: num(r.xi),
    omega: num(r.omega),
    alpha: num(r.alpha),
    widths,
    params: num(r.params) ?? 0,
    macs: num(r.macs) ?? 0,
    bestVal: num(r.bestVal) ?? 0,
    bestValTrain: num(r.bestValTrain) ?? 0,
    bestEpoch: num(r.bestEpoch) ?? 0,
    lastVal: num(r.lastVal) ?? 0,
    lastTrain: num(r.lastTrain) ?? 0,
    abandoned: r.abandoned === true,
    diverged: r.diverged === true,
    trainAcc: list(r.trainAcc),
    valAcc: list(r.valAcc),
    ...(r.stoppedAtRung !== undefined ? { stoppedAtRung: num(r.stoppedAtRung) } : {}),
    ...(typeof r.epochsTrained === 'number' ? { epochsTrained: r.epochsTrained } : {}),
  };
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

function readResultsJsonl(path: string, seed: number, warnings: string[]): RunResult[] {
  const out = new Map<string, RunResult>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        warnings.push(`${path}:${i + 1}: skipped a malformed line (not JSON)`);
        return;
      }
      const arch = fromJsonLine(parsed, seed);
      if (arch) out.set(unitKey(arch.id, arch.seed), arch);
      else warnings.push(`${path}:${i + 1}: skipped a line without id and widths`);
    });
  return [...out.values()];
}

/** The seed-S folders of a featshift run of several seeds, as [folder, seed]. */
function seedFolders(dir: string): [string, number][] {
  return readdirSync(dir)
    .map((f) => [f, SEED_FOLDER.exec(f)] as const)
    .filter(([f, m]) => m !== null && statSync(join(dir, f)).isDirectory())
    .map(([f, m]) => [join(dir, f), Number(m?.[1])]);
}

/**
 * The original code's CSVs: model_NNN.csv holds every architecture finished before it, so its
 * last row is architecture NNN. Parameters and MACs are recomputed from the widths. The CSVs of
 * a featshift run of several seeds lie in its seed-S folders, one set each.
 */
function readReferenceCsvs(dir: string, classes: number, warnings: string[]): RunResult[] {
  const folders = seedFolders(dir);
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
      const layout = vggLayout(widths, { classes });
      params = countParams(layout);
      macs = countMacs(layout);
    } catch {
      warnings.push(
        `${path}: widths ${widths.join(' ')} are not a VGG width list; parameters and MACs left at 0`,
      );
    }
    const n = (k: string): number => Number(row[k]);
    const opt = (k: string): number | null =>
      row[k] === undefined || row[k] === '' ? null : Number(row[k]);
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
      bestEpoch: n('BestEpoch'),
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
 * Reads a run folder: featshift's results.jsonl, or else the original code's model_NNN.csv files.
 * A malformed line or row is skipped with a warning naming the file and line; a run still being
 * written shows what has finished.
 */
export function loadRun(dir: string): LoadedRun {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(
      `${dir} is not a folder: give a run folder written by featshift sweep or the original code`,
    );
  }
  const warnings: string[] = [];
  // The original code names runs '<time>;<dataset>;<architecture>'.
  const parts = basename(dir).split(';');
  let study: StudyConfig | undefined;
  let planned: number | null = null;
  let plannedSeeds: number[] | undefined;
  const configPath = join(dir, CONFIG_FILE);
  if (existsSync(configPath)) {
    try {
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
        study?: StudyConfig;
        architectures?: number[];
      };
      // An older featshift stored some keys under other names.
      study = config.study ? { ...config.study, ...upgradeStudy(config.study) } : undefined;
      // Old runs store one seed; a loose or partial config.json leaves the seeds to the results.
      plannedSeeds = Array.isArray(study?.seeds)
        ? study.seeds
        : typeof study?.seed === 'number'
          ? [study.seed]
          : undefined;
      planned =
        config.architectures === undefined
          ? null
          : config.architectures.length * (plannedSeeds?.length ?? 1);
    } catch {
      warnings.push(`${configPath}: not readable JSON; using the folder's name`);
    }
  }
  const dataset = study?.dataset ?? parts[1] ?? 'unknown';
  const spec = datasetSpec(dataset);
  const classes = spec?.classes ?? 10;
  let architectures: RunResult[];
  let source: LoadedRun['source'];
  if (existsSync(join(dir, RESULTS_FILE))) {
    architectures = readResultsJsonl(join(dir, RESULTS_FILE), study?.seed ?? 0, warnings);
    source = RESULTS_FILE;
  } else {
    architectures = readReferenceCsvs(dir, classes, warnings);
    source = 'reference CSV';
  }
  if (architectures.length === 0) {
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
  architectures.sort((a, b) => a.id - b.id || a.seed - b.seed);
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
    architectures,
    seeds: plannedSeeds ?? [...new Set(architectures.map((a) => a.seed))].sort((a, b) => a - b),
    epochs: typeof study?.epochs === 'number' ? study.epochs : null,
    baselineWidths,
    planned,
    warnings,
  };
}
