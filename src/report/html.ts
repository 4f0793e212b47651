import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { memberKey, type MemberKey } from '../family/members.js';
import { architectureStats, topVerdict } from '../analysis/architectures.js';
import {
  analyzeStudy,
  locate,
  type AnalysisOptions,
  type GroupSummary,
} from '../analysis/study-analysis.js';
import type { Interval } from '../analysis/stats.js';
import { halvingSummary, halvingView } from '../analysis/halving-view.js';
import type { LocationEffect, NormalizedEdf } from '../analysis/cost-matched.js';
import { halvingRungs } from '../run/rungs.js';
import { gridName } from '../run/study.js';
import type { LoadedStudy, RunResult } from '../run/load.js';

const require = createRequire(import.meta.url);
let plotly: string | undefined;
let app: string | undefined;

/** Plotly's bundle, inlined so that the page needs no network and opens from disk. */
function plotlySource(): string {
  return (plotly ??= readFileSync(require.resolve('plotly.js-dist-min'), 'utf8'));
}

/** The page's script: src/report/page/app.ts as tsc compiled it, without its source-map comment. */
function appSource(): string {
  return (app ??= readFileSync(new URL('./page/app.js', import.meta.url), 'utf8').replace(
    /^\/\/# sourceMappingURL=.*$/m,
    '',
  ));
}

/** JSON that cannot close the script element it sits in. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A 95 % interval on the page: its ends (cut at 0 and 100 % where the t interval passed them). */
export interface ReportInterval {
  low: number;
  high: number;
  half: number;
  clipped: boolean;
}

const pageInterval = (t: Interval): ReportInterval | null =>
  t.low === null || t.high === null || t.halfWidth === null
    ? null
    : { low: t.low, high: t.high, half: t.halfWidth, clipped: t.clipped === true };

/**
 * One architecture on the page: its numbers as means over its seeds (learning curves too), with
 * the half-widths of their 95 % intervals (null for a single run) and the band of each curve.
 */
export interface ReportArchitecture extends RunResult {
  /** What names it in its study (memberKey: 59, 'linear:3'): ids repeat across families. */
  key: MemberKey;
  /** Where the features sit: xi, or a linear member's centre of mass (null: the baseline). */
  location: number | null;
  seeds: number;
  bestValCi: ReportInterval | null;
  bestValTrainCi: ReportInterval | null;
  gapCi: ReportInterval | null;
  valBand: { low: (number | null)[]; high: (number | null)[] };
  trainBand: { low: (number | null)[]; high: (number | null)[] };
  /** Cannot be told apart from the best at 95 % (Welch over seeds). */
  tiedWithBest: boolean;
}

/** A run on the page: its architectures over seeds, the groups' EDFs and the finding. */
export interface ReportStudy extends Omit<LoadedStudy, 'runs'> {
  architectures: ReportArchitecture[];
  /** Finished runs, (architecture, seed). */
  runCount: number;
  /**
   * The location groups (early, middle, late, VGG) with each run's best validation error, and in
   * a study of both families, the families.
   */
  groups: Pick<
    GroupSummary,
    'scheme' | 'name' | 'description' | 'ids' | 'runs' | 'errors' | 'mean'
  >[];
  /** The location groups' error distributions reweighted to one cost distribution. */
  normalizedEdf: NormalizedEdf[];
  /** Points of accuracy per layer later, raw and at matched cost (null: under three members). */
  location: LocationEffect | null;
  finding: string[];
  /** Successive halving: where runs stopped and the cost against the full sweep. */
  halving: string | null;
  /** The grid the ids number, in words (null: the original code's CSVs). */
  grid: string | null;
  /** How members are placed: by their family's measure, or all by the centre of mass. */
  locateBy: 'family' | 'centre';
}

export interface ReportData {
  runs: ReportStudy[];
  generated: string;
  live: boolean;
  pollMs?: number;
}

/** Bootstrap resamples of the page's analysis: the page redraws live, so fewer than analyze's. */
const PAGE_RESAMPLES = 1000;

function reportRun(run: LoadedStudy, locateBy: AnalysisOptions['locateBy']): ReportStudy {
  // Under successive halving the numbers compared are each run's at the rung all reached; the
  // curves still run to where each run stopped.
  const halved = halvingView(run.runs, run.study?.halving ? halvingRungs(run.study) : undefined);
  const stats = locate(architectureStats(halved ? halved.compared : run.runs), locateBy);
  const curves = new Map(architectureStats(run.runs).map((a) => [a.key, a]));
  const top = topVerdict(stats);
  const architectures = stats.map((a): ReportArchitecture => {
    const curve = curves.get(a.key) ?? a;
    const runs = run.runs.filter((r) => memberKey(r) === a.key);
    const first = runs[0] as RunResult;
    const meanOf = (pick: (r: RunResult) => number): number =>
      runs.reduce((n, r) => n + pick(r), 0) / runs.length;
    return {
      ...first,
      key: a.key,
      bestVal: a.bestVal.mean,
      bestValTrain: a.bestValTrain.mean,
      lastVal: a.lastVal.mean,
      lastTrain: meanOf((r) => r.lastTrain),
      bestEpoch: Math.round(meanOf((r) => r.bestEpoch)),
      abandoned: a.abandoned > 0,
      diverged: a.diverged > 0,
      trainAcc: curve.trainAcc.mean,
      valAcc: curve.valAcc.mean,
      location: a.location,
      seeds: runs.length,
      bestValCi: pageInterval(a.bestVal),
      bestValTrainCi: pageInterval(a.bestValTrain),
      gapCi: pageInterval(a.gap),
      valBand: { low: curve.valAcc.low, high: curve.valAcc.high },
      trainBand: { low: curve.trainAcc.low, high: curve.trainAcc.high },
      tiedWithBest: top.tiedWithBest.includes(a.key),
    };
  });
  const analysis =
    run.runs.length > 0
      ? analyzeStudy([run], { resamples: PAGE_RESAMPLES, seed: 0, locateBy })
      : undefined;
  return {
    ...run,
    architectures,
    runCount: run.runs.length,
    groups: (analysis?.groups ?? [])
      .filter((g) => g.scheme === 'location' || g.scheme === 'family')
      .map(({ scheme, name, description, ids, runs, errors, mean }) => ({
        scheme,
        name,
        description,
        ids,
        runs,
        errors,
        mean,
      })),
    normalizedEdf: analysis?.normalizedEdf ?? [],
    location: analysis?.location ?? null,
    finding: analysis?.finding ?? [],
    halving: run.epochs === null ? null : (halvingSummary(run.runs, run.epochs) ?? null),
    grid: run.study ? gridName(run.study) : null,
    locateBy: locateBy ?? 'family',
  };
}

export function reportData(runs: LoadedStudy[], live = false): ReportData {
  // Runs of different families side by side, or one of both, share one location axis: the
  // centre of mass.
  const families = new Set(runs.map((r) => r.study?.family ?? 'skew-normal'));
  const locateBy = families.size > 1 || families.has('both') ? 'centre' : 'family';
  return {
    runs: runs.map((run) => reportRun(run, locateBy)),
    generated: `generated ${new Date().toISOString()}`,
    live,
    pollMs: 3000,
  };
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0 1rem 2rem; color: #222; }
header { display: flex; align-items: baseline; gap: 1rem; }
header small { color: #777; }
#runs { display: grid; column-gap: 1.5rem; }
.run { min-width: 0; display: grid; grid-template-rows: subgrid; }
.warnings:empty, .finding:empty, p.meta:empty { display: none; }
.run.empty .answer, .run.empty .plots, .run.empty .detail { display: none; }
.meta { color: #555; margin-top: -0.5rem; }
.finding { background: #f3f7ee; padding: 0.25rem 0.75rem; line-height: 1.4; }
.finding p { margin: 0.4rem 0; }
.finding p:first-child { font-weight: 600; }
.training { background: #eef4fb; padding: 0.25rem 0.75rem; margin: 0.5rem 0; }
.training:empty { display: none; }
.in-training { padding-left: 1.25rem; }
.in-training progress { width: 8rem; vertical-align: middle; }
.answer { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 0.5rem; }
.answer .plot:first-child { grid-column: span 2; }
@media (max-width: 1400px) { .answer .plot:first-child { grid-column: auto; } }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0.5rem; }
.plot { height: 460px; min-width: 0; }
.detail { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0.5rem; align-items: start; }
.detail pre { background: #f6f6f6; padding: 0.75rem; white-space: pre-wrap; grid-column: 1 / -1; }
.controls { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: center; margin: 0.5rem 0; }
.controls input[type=number] { width: 4rem; }
.controls .problem { color: #b00020; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
th { cursor: pointer; text-align: right; border-bottom: 2px solid #444; padding: 0.2rem 0.5rem; user-select: none; }
td { text-align: right; padding: 0.15rem 0.5rem; border-bottom: 1px solid #eee; white-space: nowrap; }
.table-scroll { overflow-x: auto; }
tr[data-id] { cursor: pointer; }
tr.top td { background: #fff3e0; }
tr.selected td { background: #cfe8ff; }
.warnings { color: #a15c00; }
`;

/** The whole report as one self-contained HTML page. */
export function reportHtml(data: ReportData): string {
  const title = data.runs.map((r) => r.name).join(' | ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>featshift: ${title.replace(/</g, '&lt;')}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>featshift report</h1><small id="generated"></small></header>
<p>Each point is one architecture: of the skew-normal family, where xi is where the features peak (a layer index), omega how widely they spread, alpha how the distribution leans; or of the linear family, widths w0 + wa j (quantised by wm), placed by the layer of the features' centre of mass. Bars are 95 % intervals over seeds, red rings the top architectures, the dashed line and the star the baseline VGG. Hover a point for its widths and accuracies; click it (or a table row) for its width profile beside the baseline and its learning curves.</p>
<div id="runs"></div>
<script>${plotlySource()}</script>
<script type="application/json" id="featshift-data">${scriptJson(data)}</script>
<script type="module">${appSource()}</script>
</body>
</html>
`;
}
