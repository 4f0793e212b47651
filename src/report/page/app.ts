/// <reference lib="dom" />
/**
 * The report page's script. It runs in the browser, inlined into the HTML file beside Plotly and
 * the data (src/report/html.ts), so it imports nothing at run time. Every string that comes from a
 * run folder (its name, its dataset, a warning) reaches the page as text through DOM methods,
 * never as markup; Plotly only ever gets numbers and featshift's own words.
 */
import type { ReportArchitecture, ReportData, ReportInterval, ReportStudy } from '../html.js';

/** The part of Plotly's API the page uses. */
interface PlotlyApi {
  react(target: HTMLElement, data: object[], layout: object, config: object): Promise<unknown>;
}
interface PlotElement extends HTMLElement {
  on(
    event: 'plotly_click',
    handler: (event: { points?: { customdata?: unknown }[] }) => void,
  ): void;
  featshiftBound?: boolean;
}
declare const Plotly: PlotlyApi;

interface PageState {
  /** The architecture shown in detail, per study, by its key (59, 'linear:3'). */
  selected: (number | string)[];
  sort: { key: ColumnKey; desc: boolean }[];
  filter: string[];
  topK: number[];
}

type ColumnKey =
  | 'id'
  | ShapeKey
  | 'seeds'
  | 'bestVal'
  | 'bestValTrain'
  | 'gap'
  | 'params'
  | 'macs'
  | 'epochs'
  | 'status';

/** A family's parameters, and where a member's features sit (xi, or a linear one's centre). */
type ShapeKey = 'xi' | 'omega' | 'alpha' | 'w0' | 'wa' | 'wm' | 'location';

/** The parameters that name a run's members: the skew-normal's, or the linear family's. */
const shapeKeys = (run: ReportStudy): readonly ShapeKey[] => {
  const linear = run.architectures.some((a) => a.family === 'linear');
  const skewNormal = run.architectures.some((a) => a.xi !== null);
  return [
    ...(skewNormal || !linear ? (['xi', 'omega', 'alpha'] as const) : []),
    ...(linear ? (['w0', 'wa', 'wm', 'location'] as const) : []),
  ];
};

const SHAPE_LABELS: Record<ShapeKey, string> = {
  xi: 'xi',
  omega: 'omega',
  alpha: 'alpha',
  w0: 'w0',
  wa: 'wa',
  wm: 'wm',
  location: 'centre',
};

/** What places this run's members: the skew-normal's xi, or the widths' centre of mass. */
const locationMeasure = (run: ReportStudy): 'xi' | 'centre' =>
  run.locateBy === 'family' && !run.architectures.some((a) => a.family === 'linear')
    ? 'xi'
    : 'centre';

/** The axis title of where the features sit, for this run's family. */
const whereTitle = (run: ReportStudy): string =>
  locationMeasure(run) === 'xi'
    ? 'xi: the layer where the features peak'
    : "centre: the layer at the features' centre of mass";

/** A member named by its family's parameters: xi 7, omega 2, alpha -4; or w0 48, wa 3. */
function shapeText(
  a: Pick<ReportArchitecture, 'xi' | 'omega' | 'alpha' | 'family' | 'w0' | 'wa' | 'wm'>,
): string {
  if (a.family === 'linear')
    return `w0 ${a.w0 ?? '?'}, wa ${a.wa ?? '?'}${a.wm !== null && a.wm !== undefined ? `, wm ${a.wm}` : ''}`;
  return `xi ${a.xi}, omega ${a.omega}, alpha ${a.alpha}`;
}

/** The table's columns for a run: the id, its family's parameters, the numbers. */
const columns = (run: ReportStudy): readonly [ColumnKey, string][] => [
  ['id', 'id'],
  ...shapeKeys(run).map((k): [ColumnKey, string] => [k, SHAPE_LABELS[k]]),
  ...NUMBER_COLUMNS,
];

/** The columns every run's table has after its family's parameters. */
const NUMBER_COLUMNS: readonly [ColumnKey, string][] = [
  ['seeds', 'seeds'],
  ['bestVal', 'best val %'],
  ['bestValTrain', 'train %'],
  ['gap', 'gap'],
  ['params', 'params'],
  ['macs', 'MACs'],
  ['epochs', 'epochs'],
  ['status', 'status'],
];

/** The figures of a run, in page order: the answer and its cost-matched estimate first. */
const ANSWER_IDS = ['answer', 'effect'];
const PLOT_IDS = [
  ...ANSWER_IDS,
  'parallel',
  'shape',
  'acc-params',
  'acc-macs',
  'gap-xi',
  'edf',
  'edf-cost',
  'curves-rung',
];
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const BASELINE_COLOUR = '#d62728';

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node;
}

let data = JSON.parse(byId('featshift-data').textContent) as ReportData;
const state: PageState = { selected: [], sort: [], filter: [], topK: [] };

function fmt(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** A round tick label: 500k, 2M, 1.5G. */
function tickLabel(n: number): string {
  for (const [unit, size] of [
    ['G', 1e9],
    ['M', 1e6],
    ['k', 1e3],
  ] as const)
    if (n >= size) return `${Number((n / size).toPrecision(2))}${unit}`;
  return String(Number(n.toPrecision(2)));
}

const pct = (n: unknown): string =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(2) : '-';

/** A mean with its 95 % interval, when there is one: ± its half-width, or its ends where cut at 0 or 100 %. */
const pm = (n: number, ci: ReportInterval | null): string =>
  ci === null
    ? pct(n)
    : ci.clipped
      ? `${pct(n)} [${pct(ci.low)}, ${pct(ci.high)}]`
      : `${pct(n)} ± ${pct(ci.half)}`;

const members = (run: ReportStudy): ReportArchitecture[] =>
  run.architectures.filter((a) => a.id !== 0 && a.location !== null);

const ranked = (run: ReportStudy): ReportArchitecture[] =>
  run.architectures.slice().sort((a, b) => b.bestVal - a.bestVal || a.id - b.id);

const topKeys = (run: ReportStudy, k: number): (number | string)[] =>
  ranked(run)
    .slice(0, k)
    .map((a) => a.key);

/** A run in training named as its study names it: a linear member's id is qualified ('linear:3'). */
const liveKey = (u: { id: number; family?: string }): string =>
  u.family === 'linear' ? `linear:${u.id}` : String(u.id);

/** Plotly's hover text: numbers and featshift's words only. */
function hoverText(a: ReportArchitecture): string {
  return [
    `id ${a.key}${a.id === 0 ? ' (baseline VGG)' : ` (${shapeText(a)})`}`,
    `widths ${a.widths.join(' ')}`,
    `best val ${pm(a.bestVal, a.bestValCi)} % (train ${pm(a.bestValTrain, a.bestValTrainCi)} %)${a.seeds > 1 ? `, mean of ${a.seeds} seeds` : ''}`,
    `last val ${pct(a.lastVal)} %, last train ${pct(a.lastTrain)} %`,
    `params ${fmt(a.params)}, MACs ${fmt(a.macs)}`,
    ...(a.abandoned ? ['abandoned'] : []),
    ...(a.diverged ? ['diverged'] : []),
  ].join('<br>');
}

function bindClick(target: PlotElement, r: number): void {
  if (target.featshiftBound) return;
  target.featshiftBound = true;
  target.on('plotly_click', (event) => {
    // customdata holds the architecture's key: '59', or 'linear:3'.
    const key = event.points?.[0]?.customdata;
    if (typeof key === 'string' || typeof key === 'number') select(r, key);
  });
}

type Range = [number, number];

/**
 * What a figure shares with the same figure of the other runs side by side: its axes' ranges and
 * its colour scales, so that two runs compare by eye.
 */
interface Shared {
  accuracy: Range;
  curves: Range;
  gap: Range;
  /** Where the features sit (xi, or a linear member's centre), and each family parameter. */
  location: Range;
  shape: Record<ShapeKey, Range>;
  /** log10 of parameters and MACs. */
  params: Range;
  macs: Range;
  error: Range;
  effect: Range;
  epochs: number;
}
let shared: Shared;

/** The finite values' extent with a margin (at least `least`), never beyond `bounds`. */
function span(
  values: readonly (number | null | undefined)[],
  least: number,
  bounds: Range = [-Infinity, Infinity],
  empty: Range = [0, 100],
): Range {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return empty;
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  const pad = Math.max(least, (high - low) * 0.06);
  return [Math.max(bounds[0], low - pad), Math.min(bounds[1], high + pad)];
}

const log10 = (n: number): number => Math.log10(Math.max(1, n));

function sharedRanges(runs: readonly ReportStudy[]): Shared {
  const all = runs.flatMap((r) => r.architectures);
  const effects = runs.flatMap((r) =>
    [r.location?.raw, r.location?.adjusted].flatMap((e) => (e ? [e.value, e.low, e.high] : [])),
  );
  return {
    accuracy: span(
      all.flatMap((a) => [a.bestVal, a.bestValCi?.low, a.bestValCi?.high]),
      1,
      [0, 100],
    ),
    curves: span(
      all.flatMap((a) => a.valAcc),
      1,
      [0, 100],
    ),
    gap: span(
      all.flatMap((a) => [a.bestValTrain - a.bestVal, a.gapCi?.low, a.gapCi?.high]),
      0.5,
    ),
    location: span(
      all.map((a) => a.location),
      0.3,
    ),
    shape: Object.fromEntries(
      (['xi', 'omega', 'alpha', 'w0', 'wa', 'wm', 'location'] as const).map((k) => [
        k,
        span(
          all.map((a) => a[k]),
          0.3,
        ),
      ]),
    ) as Record<ShapeKey, Range>,
    params: span(
      all.map((a) => log10(a.params)),
      0.05,
    ),
    macs: span(
      all.map((a) => log10(a.macs)),
      0.05,
    ),
    error: span(
      runs.flatMap((r) => [
        ...r.groups.flatMap((g) => g.errors),
        ...r.normalizedEdf.flatMap((g) => g.errors),
      ]),
      0.5,
      [0, 100],
    ),
    effect: span([0, ...effects], 0.1),
    epochs: Math.max(1, ...all.map((a) => a.valAcc.length)),
  };
}

/** Round ticks (1, 2 and 5 of each decade, or every digit) over a range of log10 values. */
function logTicks(range: Range): number[] {
  const at = (mantissas: number[]): number[] => {
    const ticks: number[] = [];
    for (let d = Math.floor(range[0]); d <= Math.ceil(range[1]); d++)
      for (const m of mantissas) {
        const v = d + Math.log10(m);
        if (v >= range[0] && v <= range[1]) ticks.push(v);
      }
    return ticks;
  };
  // A range within one decade (a family at one width) takes every digit.
  const coarse = at([1, 2, 5]);
  const fine = coarse.length >= 3 ? coarse : at([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return fine.length >= 2 ? fine : range;
}

/** A log axis with readable labels (500k, 1M, 2M) rather than Plotly's small digits. */
function logAxis(title: string, range: Range): object {
  const ticks = logTicks(range);
  return {
    title: { text: title },
    type: 'log',
    range,
    tickvals: ticks.map((v) => 10 ** v),
    ticktext: ticks.map((v) => tickLabel(10 ** v)),
    automargin: true,
  };
}

/** A colour bar over log10 values, labelled as the axes are. */
function logColorbar(title: string, range: Range): object {
  const ticks = logTicks(range);
  return {
    title: { text: title, side: 'right' },
    tickvals: ticks,
    ticktext: ticks.map((v) => tickLabel(10 ** v)),
    thickness: 12,
  };
}

/** A linear axis with room for its labels. */
const axis = (title: string, range: Range): object => ({
  title: { text: title },
  range,
  automargin: true,
});

/** An accuracy axis in percent: the shared range, never beyond 0-100 %. */
const accuracyAxis = (title: string, range: Range): object =>
  axis(title, [Math.max(0, range[0]), Math.min(100, range[1])]);

/** An epoch axis: whole epochs only, about ten ticks however long the run. */
function epochAxis(epochs: number): object {
  return {
    title: { text: 'epoch' },
    tickformat: 'd',
    tick0: 1,
    dtick: Math.max(1, Math.ceil(epochs / 10)),
    range: [0.5, epochs + 0.5],
    automargin: true,
  };
}

/**
 * The layout every figure starts from: a title left-aligned above the plot, a legend under it
 * (Plotly makes room for both), hover on the nearest point.
 */
function figure(title: string, extra: object = {}): object {
  return {
    title: { text: title, x: 0, xref: 'paper', xanchor: 'left', font: { size: 15 } },
    margin: { l: 60, r: 20, t: 50, b: 40 },
    legend: { orientation: 'h', x: 0, xanchor: 'left', y: -0.16, yanchor: 'top' },
    hovermode: 'closest',
    ...extra,
  };
}

/**
 * Plotly error bars of the 95 % intervals, from each mean to the interval's ends (so that one cut
 * at 0 or 100 % stays inside the axis); none where every point is a single run.
 */
function errorBars(
  list: ReportArchitecture[],
  y: (a: ReportArchitecture) => number,
  ci: (a: ReportArchitecture) => ReportInterval | null,
): object {
  const values = list.map(ci);
  if (!values.some((v) => v !== null)) return { visible: false };
  return {
    type: 'data',
    symmetric: false,
    array: list.map((a, i) => {
      const c = values[i];
      return c ? c.high - y(a) : 0;
    }),
    arrayminus: list.map((a, i) => {
      const c = values[i];
      return c ? y(a) - c.low : 0;
    }),
    visible: true,
    thickness: 1,
    width: 3,
  };
}

/** One scatter of architectures: what its axes show and what colours its points. */
interface Marks {
  x: (a: ReportArchitecture) => number | null;
  y: (a: ReportArchitecture) => number;
  /** y's 95 % interval (error bars, cut at the scale's bounds). */
  ci: (a: ReportArchitecture) => ReportInterval | null;
  /** What the y values are, for the baseline's legend entry. */
  unit: string;
  colour: 'macs' | 'location';
  xRange: Range;
  /** Plotly's axis ids, for one panel of small multiples ('x2', 'y'). */
  xaxis?: string;
  /** The panel that draws the legend and the colour bar (the others share them). */
  first?: boolean;
}

/**
 * The architectures of a scatter and their legend: every member coloured by its MACs (or xi) with
 * its interval, a red ring on the top k, and the baseline VGG as a star where it has an x value
 * and as a dashed line across the plot where it has none (xi, omega, alpha).
 */
function markTraces(run: ReportStudy, r: number, m: Marks): object[] {
  const k = state.topK[r] ?? 5;
  const top = new Set(topKeys(run, k));
  const list = run.architectures.filter((a) => a.id !== 0 && m.x(a) !== null);
  const first = m.first ?? true;
  const panel = { xaxis: m.xaxis ?? 'x', yaxis: 'y', showlegend: first };
  const colour =
    m.colour === 'macs'
      ? {
          values: list.map((a) => log10(a.macs)),
          range: shared.macs,
          bar: logColorbar('MACs per image', shared.macs),
        }
      : {
          values: list.map((a) => a.location),
          range: shared.location,
          bar: {
            title: {
              text: locationMeasure(run),
              side: 'right',
            },
            thickness: 12,
          },
        };
  const interval = list.some((a) => m.ci(a) !== null);
  const point = (l: ReportArchitecture[]): object => ({
    x: l.map(m.x),
    y: l.map(m.y),
    customdata: l.map((a) => a.key),
    text: l.map(hoverText),
    hoverinfo: 'text',
  });
  const traces: object[] = [
    {
      type: 'scatter',
      mode: 'markers',
      name: interval ? 'architecture, 95 % interval' : 'architecture',
      legendgroup: 'members',
      ...point(list),
      error_y: errorBars(list, m.y, m.ci),
      marker: {
        size: 8,
        color: colour.values,
        cmin: colour.range[0],
        cmax: colour.range[1],
        colorscale: 'Viridis',
        showscale: first,
        colorbar: colour.bar,
      },
      ...panel,
    },
  ];
  const best = list.filter((a) => top.has(a.key));
  if (best.length > 0)
    traces.push({
      type: 'scatter',
      mode: 'markers',
      name: `top ${k} by best validation accuracy`,
      legendgroup: 'top',
      ...point(best),
      marker: { size: 16, symbol: 'circle-open', color: BASELINE_COLOUR, line: { width: 2 } },
      ...panel,
    });
  const baseline = run.architectures.find((a) => a.id === 0);
  if (baseline) {
    const name = `baseline VGG (${pm(m.y(baseline), m.ci(baseline))} ${m.unit})`;
    const bx = m.x(baseline);
    traces.push(
      bx !== null
        ? {
            type: 'scatter',
            mode: 'markers',
            name,
            legendgroup: 'baseline',
            ...point([baseline]),
            error_y: errorBars([baseline], m.y, m.ci),
            marker: { size: 14, symbol: 'star', color: BASELINE_COLOUR },
            ...panel,
          }
        : {
            type: 'scatter',
            mode: 'lines',
            name,
            legendgroup: 'baseline',
            x: m.xRange,
            y: [m.y(baseline), m.y(baseline)],
            text: [hoverText(baseline), hoverText(baseline)],
            hoverinfo: 'text',
            line: { color: BASELINE_COLOUR, dash: 'dash', width: 1.5 },
            ...panel,
          },
    );
  }
  return traces;
}

/** Draws a figure and lets a click on a point select its architecture. */
function draw(key: string, r: number, traces: object[], layout: object): void {
  const target = byId(`${key}-${r}`) as PlotElement;
  void Plotly.react(target, traces, layout, PLOT_CONFIG);
  bindClick(target, r);
}

const accuracyMarks = {
  y: (a: ReportArchitecture) => a.bestVal,
  ci: (a: ReportArchitecture) => a.bestValCi,
  unit: '%',
};

/**
 * The answer: best validation accuracy against where the features peak, each point with its
 * interval over seeds and coloured by its cost, the baseline VGG as a reference line.
 */
function answer(run: ReportStudy, r: number): void {
  draw(
    'answer',
    r,
    markTraces(run, r, {
      ...accuracyMarks,
      x: (a) => a.location,
      colour: 'macs',
      xRange: shared.location,
    }),
    figure('Best validation accuracy by where the features sit', {
      xaxis: axis(whereTitle(run), shared.location),
      yaxis: accuracyAxis('best validation accuracy %', shared.accuracy),
    }),
  );
}

/**
 * The same question at matched cost: the location effect of the analysis (points of accuracy per
 * layer later), raw and with MACs and parameters held fixed, each with its 95 % interval.
 */
function effect(run: ReportStudy, r: number): void {
  const e = run.location;
  const rows = e
    ? [
        { label: 'raw', estimate: e.raw },
        ...(e.adjusted ? [{ label: 'at matched cost', estimate: e.adjusted }] : []),
      ]
    : [];
  const note = !e
    ? 'no estimate: it needs three members or more'
    : e.adjusted
      ? ''
      : `no estimate at matched cost: ${e.note ?? 'the model cannot be fitted'}`;
  const verdict = (low: number | null, high: number | null, value: number): string =>
    low === null || high === null || (low <= 0 && high >= 0)
      ? 'the data cannot decide'
      : value > 0
        ? 'later is better'
        : 'earlier is better';
  draw(
    'effect',
    r,
    rows.length === 0
      ? []
      : [
          {
            type: 'scatter',
            mode: 'markers',
            name: 'estimate, 95 % interval',
            x: rows.map((row) => row.estimate.value),
            y: rows.map((row) => row.label),
            error_x: {
              type: 'data',
              symmetric: false,
              array: rows.map(
                (row) => (row.estimate.high ?? row.estimate.value) - row.estimate.value,
              ),
              arrayminus: rows.map(
                (row) => row.estimate.value - (row.estimate.low ?? row.estimate.value),
              ),
              thickness: 2,
            },
            text: rows.map(
              ({ label, estimate: s }) =>
                `${label}: ${s.value.toFixed(2)} points per layer [${pct(s.low)}, ${pct(s.high)}]: ${verdict(s.low, s.high, s.value)}`,
            ),
            hoverinfo: 'text',
            marker: { size: 11, color: '#1f77b4' },
          },
        ],
    figure('Effect of one layer later, at matched cost', {
      xaxis: {
        ...axis('points of best val. accuracy per layer later', shared.effect),
        zeroline: true,
        zerolinecolor: '#444',
        zerolinewidth: 2,
      },
      yaxis: { type: 'category', automargin: true, range: [-0.6, 1.6] },
      showlegend: rows.length > 0,
      annotations: note
        ? [{ text: note, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false }]
        : [],
    }),
  );
}

/**
 * Every architecture as a line across its shape (xi, omega, alpha; or w0, wa, wm and the centre),
 * its cost and its accuracy,
 * coloured by its best validation accuracy (the parallel-coordinates view of W&B and Optuna).
 */
function parallel(run: ReportStudy, r: number): void {
  const list = members(run).filter((a) => a.id !== 0);
  const linear = (label: string, values: number[], range: Range): object => ({
    label,
    values,
    range,
  });
  const logarithmic = (label: string, values: number[], range: Range): object => {
    const ticks = logTicks(range);
    return {
      label,
      values: values.map(log10),
      range,
      tickvals: ticks,
      ticktext: ticks.map((v) => tickLabel(10 ** v)),
    };
  };
  void Plotly.react(
    byId(`parallel-${r}`),
    list.length === 0
      ? []
      : [
          {
            type: 'parcoords',
            name: 'architectures',
            line: {
              color: list.map((a) => a.bestVal),
              colorscale: 'Viridis',
              cmin: shared.accuracy[0],
              cmax: shared.accuracy[1],
              showscale: true,
              colorbar: { title: { text: 'best val %', side: 'right' }, thickness: 12 },
            },
            dimensions: [
              ...shapeKeys(run)
                .filter((k) => new Set(list.map((a) => a[k] ?? null)).size > 1)
                .map((k) =>
                  linear(
                    SHAPE_LABELS[k],
                    list.map((a) => a[k] ?? 0),
                    shared.shape[k],
                  ),
                ),
              logarithmic(
                'params',
                list.map((a) => a.params),
                shared.params,
              ),
              logarithmic(
                'MACs',
                list.map((a) => a.macs),
                shared.macs,
              ),
              linear(
                'train %',
                list.map((a) => a.bestValTrain),
                [0, 100],
              ),
              linear(
                'best val %',
                list.map((a) => a.bestVal),
                shared.accuracy,
              ),
            ],
          },
        ],
    figure('Every architecture: shape, cost and accuracy', {
      margin: { l: 40, r: 30, t: 90, b: 30 },
    }),
    PLOT_CONFIG,
  );
}

/**
 * Small multiples, one y axis: best validation accuracy against each parameter of the family
 * that varies (xi, omega, alpha; or the centre, wa, w0, wm).
 */
function shape(run: ReportStudy, r: number): void {
  const keys: ShapeKey[] = shapeKeys(run).includes('xi')
    ? ['xi', 'omega', 'alpha']
    : ['location', 'wa', 'w0', 'wm'];
  const list = members(run);
  const varies = (k: ShapeKey): boolean =>
    new Set(list.map((a) => a[k]).filter((v) => typeof v === 'number')).size > 1;
  const panels = keys
    .filter((k, i) => i === 0 || varies(k))
    .slice(0, 3)
    .map((k, i) => ({
      key: SHAPE_LABELS[k],
      x: (a: ReportArchitecture) => a[k] ?? null,
      range: shared.shape[k],
      axis: i === 0 ? 'x' : `x${i + 1}`,
    }));
  const axes: Record<string, object> = {};
  const width = (1 - 0.05 * (panels.length - 1)) / panels.length;
  panels.forEach((p, i) => {
    const name = i === 0 ? 'xaxis' : `xaxis${i + 1}`;
    const start = i * (width + 0.05);
    axes[name] = { ...axis(p.key, p.range), domain: [start, start + width], anchor: 'y' };
  });
  draw(
    'shape',
    r,
    panels.flatMap((p, i) =>
      markTraces(run, r, {
        ...accuracyMarks,
        x: p.x,
        colour: 'macs',
        xRange: p.range,
        xaxis: p.axis,
        first: i === 0,
      }),
    ),
    figure('Best validation accuracy by each shape parameter', {
      ...axes,
      yaxis: accuracyAxis('best val %', shared.accuracy),
    }),
  );
}

interface CostPlot {
  key: string;
  title: string;
  x: (a: ReportArchitecture) => number;
  xTitle: string;
  range: Range;
}

/** Best validation accuracy against a cost (log axis), coloured by xi. */
function accuracyByCost(run: ReportStudy, r: number, plot: CostPlot): void {
  draw(
    plot.key,
    r,
    markTraces(run, r, { ...accuracyMarks, x: plot.x, colour: 'location', xRange: plot.range }),
    figure(plot.title, {
      xaxis: logAxis(plot.xTitle, plot.range),
      yaxis: accuracyAxis('best val %', shared.accuracy),
    }),
  );
}

/** The generalisation gap (train - validation at the best epoch) against xi. */
function gap(run: ReportStudy, r: number): void {
  draw(
    'gap-xi',
    r,
    markTraces(run, r, {
      x: (a) => a.location,
      y: (a) => a.bestValTrain - a.bestVal,
      ci: (a) => a.gapCi,
      unit: 'points',
      colour: 'macs',
      xRange: shared.location,
    }),
    figure('Generalisation gap (train - val) by where the features sit', {
      xaxis: axis(whereTitle(run), shared.location),
      yaxis: axis('gap, points', shared.gap),
    }),
  );
}

/** A curve's 95 % band as two traces, the upper filled down to the lower. */
function bandTraces(
  epochs: number[],
  band: { low: (number | null)[]; high: (number | null)[] },
  color: string,
): object[] {
  if (!band.low.some((v) => v !== null)) return [];
  const line = { width: 0 };
  return [
    {
      type: 'scatter',
      mode: 'lines',
      x: epochs,
      y: band.low,
      line,
      showlegend: false,
      hoverinfo: 'skip',
    },
    {
      type: 'scatter',
      mode: 'lines',
      x: epochs,
      y: band.high,
      line,
      fill: 'tonexty',
      fillcolor: color,
      name: '95 % interval',
      hoverinfo: 'skip',
    },
  ];
}

/** Step lines of error distributions, one per group: errors ascending, each with its EDF value. */
function drawEdfs(
  target: string,
  groups: readonly {
    name: string;
    errors: readonly number[];
    cdf: readonly number[];
    dash?: boolean;
  }[],
  title: string,
  yTitle: string,
): void {
  const traces = groups.map((g) => ({
    type: 'scatter',
    mode: 'lines',
    line: { shape: 'hv', ...(g.dash ? { dash: 'dash' } : {}) },
    name: g.name,
    x: [g.errors[0], ...g.errors],
    y: [0, ...g.cdf],
  }));
  void Plotly.react(
    byId(target),
    traces,
    figure(title, {
      xaxis: axis('best validation error %', shared.error),
      yaxis: axis(yTitle, [0, 1.02]),
    }),
    PLOT_CONFIG,
  );
}

/**
 * The empirical distribution of best validation error per location group, as RegNet draws them;
 * in a study of both families, each family's too (dashed).
 */
function edf(run: ReportStudy, r: number): void {
  const families = run.groups.some((g) => g.scheme === 'family');
  drawEdfs(
    `edf-${r}`,
    run.groups
      .filter((g) => g.errors.length > 0)
      .map((g) => ({
        name: `${g.scheme === 'family' ? 'family ' : ''}${g.name} (${g.ids.length} arch., ${g.runs} runs)`,
        errors: g.errors,
        cdf: g.errors.map((_, i) => (i + 1) / g.errors.length),
        dash: g.scheme === 'family',
      })),
    families
      ? 'Error distribution by where the features sit, and by family'
      : 'Error distribution by where the features sit',
    'fraction of runs',
  );
}

/**
 * The same distributions at one cost: each group's runs weighted so that its MACs are distributed
 * as all members' are (the normalised EDF of Radosavovic et al. 2019), so that a group is not
 * better only for being dearer.
 */
function edfAtCost(run: ReportStudy, r: number): void {
  drawEdfs(
    `edf-cost-${r}`,
    run.normalizedEdf.map((g) => ({
      name: `${g.group} (${g.errors.length} runs, ${Math.round(100 * g.coverage)} % of the cost range)`,
      errors: g.errors,
      cdf: g.cdf,
    })),
    'Error distribution at one cost (reweighted by MACs)',
    'weighted fraction of runs',
  );
}

/**
 * Every architecture's validation curve up to where it stopped, coloured by where successive
 * halving stopped it (one colour in a run without halving), as Optuna's intermediate values.
 */
function curvesByRung(run: ReportStudy, r: number): void {
  const halved = run.halving !== null;
  const where = (a: ReportArchitecture): string =>
    typeof a.stoppedAtRung === 'number' ? `stopped at epoch ${a.stoppedAtRung}` : 'trained in full';
  const groups = [...new Set(run.architectures.map(where))].sort();
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
  const traces = run.architectures.map((a) => {
    const k = groups.indexOf(where(a));
    const colour = a.id === 0 ? BASELINE_COLOUR : palette[k % palette.length];
    const name = halved
      ? `${a.id === 0 ? 'baseline VGG, ' : ''}${where(a)}`
      : a.id === 0
        ? 'baseline VGG'
        : 'architecture';
    return {
      type: 'scatter',
      mode: 'lines+markers',
      name,
      legendgroup: name,
      showlegend:
        run.architectures.find((b) => (b.id !== 0) === (a.id !== 0) && where(b) === where(a)) === a,
      x: a.valAcc.map((_, i) => i + 1),
      y: a.valAcc,
      customdata: a.valAcc.map(() => a.key),
      text: a.valAcc.map(() => `id ${a.key}: ${where(a)}`),
      hoverinfo: 'text+y',
      line: { color: colour, width: 1.5 },
      marker: { color: colour, size: 5 },
    };
  });
  draw(
    'curves-rung',
    r,
    traces,
    figure(
      halved
        ? 'Validation accuracy per epoch, by where halving stopped it'
        : 'Validation accuracy per epoch',
      {
        xaxis: epochAxis(shared.epochs),
        yaxis: accuracyAxis('validation accuracy %', shared.curves),
      },
    ),
  );
}

function detail(run: ReportStudy, r: number): void {
  const id = state.selected[r];
  const a = run.architectures.find((x) => x.key === id) ?? ranked(run)[0];
  if (!a) return;
  const layers = (widths: readonly number[]): number[] => widths.map((_, i) => i + 1);
  void Plotly.react(
    byId(`widths-${r}`),
    [
      {
        type: 'bar',
        name: `id ${a.key}`,
        x: layers(a.widths),
        y: a.widths,
        marker: { color: '#1f77b4' },
      },
      {
        type: 'bar',
        name: 'baseline VGG',
        x: layers(run.baselineWidths),
        y: run.baselineWidths,
        marker: { color: '#bbbbbb' },
      },
    ],
    figure(`Features per layer: id ${a.key} and the baseline`, {
      barmode: 'group',
      xaxis: { title: { text: 'layer' }, dtick: 1, automargin: true },
      yaxis: { title: { text: 'features' }, automargin: true },
    }),
    PLOT_CONFIG,
  );
  const epochs = a.valAcc.map((_, i) => i + 1);
  void Plotly.react(
    byId(`curves-${r}`),
    [
      ...bandTraces(epochs, a.trainBand, 'rgba(31, 119, 180, 0.2)'),
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: 'train',
        x: epochs,
        y: a.trainAcc,
        line: { color: '#1f77b4' },
      },
      ...bandTraces(epochs, a.valBand, 'rgba(255, 127, 14, 0.2)'),
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: 'validation',
        x: epochs,
        y: a.valAcc,
        line: { color: '#ff7f0e' },
      },
    ],
    figure(`Learning curves: id ${a.key}${a.seeds > 1 ? ` (mean of ${a.seeds} seeds)` : ''}`, {
      xaxis: epochAxis(epochs.length),
      yaxis: accuracyAxis(
        'accuracy %',
        span(
          [
            ...a.valAcc,
            ...a.trainAcc,
            ...a.valBand.low,
            ...a.valBand.high,
            ...a.trainBand.low,
            ...a.trainBand.high,
          ],
          1,
          [0, 100],
        ),
      ),
    }),
    PLOT_CONFIG,
  );
  const text = byId(`detail-text-${r}`);
  text.dataset.id = String(a.key);
  text.textContent = [
    `id ${a.key}${a.id === 0 ? ' (baseline VGG)' : `  ${shapeText(a)}`}`,
    `widths ${a.widths.join(' ')}`,
    a.seeds > 1
      ? `best val ${pm(a.bestVal, a.bestValCi)} % (train ${pm(a.bestValTrain, a.bestValTrainCi)} %), mean ± 95 % half-width over ${a.seeds} seeds${a.tiedWithBest ? '; cannot be told apart from the best' : ''}`
      : `best val ${pct(a.bestVal)} % at epoch ${a.bestEpoch + 1} (train ${pct(a.bestValTrain)} %)`,
    `params ${fmt(a.params)}  MACs ${fmt(a.macs)}`,
    ...(a.abandoned ? ['abandoned: training accuracy below twice chance'] : []),
    ...(a.diverged ? ['diverged: NaN loss'] : []),
  ].join('\n');
}

function rowValue(a: ReportArchitecture, key: ColumnKey): number | string | null {
  switch (key) {
    case 'id':
      return a.family === 'linear' ? a.key : a.id;
    case 'gap':
      return a.bestValTrain - a.bestVal;
    case 'epochs':
      return a.valAcc.length;
    case 'status':
      return a.diverged
        ? 'diverged'
        : a.abandoned
          ? 'abandoned'
          : typeof a.stoppedAtRung === 'number'
            ? `stopped at epoch ${a.stoppedAtRung}`
            : a.id === 0
              ? 'baseline'
              : '';
    default:
      return a[key] ?? null;
  }
}

/** An element with attributes and children; strings become text nodes, never markup. */
function el(
  tag: string,
  attrs: Record<string, string | number> = {},
  children: (Node | string)[] = [],
): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children)
    node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

function cellText(a: ReportArchitecture, key: ColumnKey): string {
  const v = rowValue(a, key);
  if (v === null) return '-';
  if (key === 'bestVal') return pm(a.bestVal, a.bestValCi) + (a.tiedWithBest ? ' =' : '');
  if (key === 'bestValTrain') return pm(a.bestValTrain, a.bestValTrainCi);
  if (key === 'gap') return pm(a.bestValTrain - a.bestVal, a.gapCi);
  if ((key === 'params' || key === 'macs') && typeof v === 'number') return fmt(v);
  return String(v);
}

const COMPARE: Record<string, (v: number, n: number) => boolean> = {
  '<': (v, n) => v < n,
  '>': (v, n) => v > n,
  '<=': (v, n) => v <= n,
  '>=': (v, n) => v >= n,
  '=': (v, n) => v === n,
};

/** Number suffixes the filter reads: 300k, 1.2M, 2G. */
const SUFFIX: Record<string, number> = { k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/** A parsed filter: one test per word it understood, and a sentence for each it did not. */
interface Filter {
  tests: ((a: ReportArchitecture) => boolean)[];
  problems: string[];
}

/**
 * A filter is words: 'key<number' (also >, <=, >=, =; keys in any case: a column or any numeric
 * field such as lastVal; numbers as 300k or 1.2M), or text some cell contains. A word it cannot
 * read, or a key the run does not have, is named in `problems` and filters nothing.
 */
function parseFilter(run: ReportStudy, query: string): Filter {
  const keys = new Map<string, string>();
  const cols = columns(run);
  for (const [key] of cols) keys.set(key.toLowerCase(), key);
  for (const a of run.architectures)
    for (const [k, v] of Object.entries(a))
      if (typeof v === 'number' && !keys.has(k.toLowerCase())) keys.set(k.toLowerCase(), k);
  const filter: Filter = { tests: [], problems: [] };
  for (const word of query.trim().split(/\s+/).filter(Boolean)) {
    if (!/[<>=]/.test(word)) {
      const text = word.toLowerCase();
      filter.tests.push((a) => cols.some((c) => cellText(a, c[0]).toLowerCase().includes(text)));
      continue;
    }
    const m = /^(\w+)(<=|>=|<|>|=)(-?\d*\.?\d+(?:[eE][+-]?\d+)?)([kKMG]?)$/.exec(word);
    if (!m) {
      filter.problems.push(
        `cannot read '${word}': write key<number, such as xi<5, bestVal>=80 or params<300k`,
      );
      continue;
    }
    const key = keys.get((m[1] ?? '').toLowerCase());
    if (key === undefined) {
      filter.problems.push(
        `no key '${m[1] ?? ''}': use one of ${cols
          .map((c) => c[0])
          .filter((k) => k !== 'status')
          .join(', ')}`,
      );
      continue;
    }
    const limit = Number(m[3]) * (SUFFIX[m[4] ?? ''] ?? 1);
    const compare = COMPARE[m[2] ?? '='] as (v: number, n: number) => boolean;
    const column = cols.find((c) => c[0] === key);
    filter.tests.push((a) => {
      const v = column ? rowValue(a, column[0]) : (a as unknown as Record<string, unknown>)[key];
      return typeof v === 'number' && compare(v, limit);
    });
  }
  return filter;
}

function table(run: ReportStudy, r: number): void {
  const sort = state.sort[r] ?? { key: 'bestVal', desc: true };
  const filter = parseFilter(run, state.filter[r] ?? '');
  const rows = run.architectures.filter((a) => filter.tests.every((test) => test(a)));
  rows.sort((a, b) => {
    const x = rowValue(a, sort.key);
    const y = rowValue(b, sort.key);
    let c =
      typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    if (x === null) c = -1;
    if (y === null) c = 1;
    return (sort.desc ? -c : c) || a.id - b.id;
  });
  const top = topKeys(run, state.topK[r] ?? 5);
  const head = el('thead', {}, [
    el(
      'tr',
      {},
      columns(run).map(([key, label]) => {
        const mark = sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : '';
        return el('th', { 'data-key': key }, [label + mark]);
      }),
    ),
  ]);
  const body = el(
    'tbody',
    {},
    rows.map((a) => {
      const cls =
        (top.includes(a.key) ? 'top' : '') + (a.key === state.selected[r] ? ' selected' : '');
      return el(
        'tr',
        { 'data-id': a.key, class: cls },
        columns(run).map(([key]) => el('td', {}, [cellText(a, key)])),
      );
    }),
  );
  byId(`table-${r}`).replaceChildren(head, body);
  byId(`count-${r}`).textContent = `${rows.length} of ${run.architectures.length} shown`;
  byId(`filter-problem-${r}`).textContent = filter.problems.join('; ');
}

/** Seconds after which live.json's silence means its sweep has stopped (it writes every second). */
const SILENT_S = 120;

/**
 * The runs in training now (featshift view of a running sweep): each with its progress and its
 * validation curve so far, updated with every poll.
 */
function training(run: ReportStudy, r: number): void {
  const box = byId(`training-${r}`);
  const status = run.training;
  if (!status || status.units.length === 0) {
    box.replaceChildren();
    return;
  }
  const age = Math.max(0, Math.round((Date.now() - Date.parse(status.updated)) / 1000));
  const rows = status.units.map((u) => {
    const batches = u.batches ?? 0;
    const done = Math.min(u.untilEpoch, u.epoch + (batches > 0 ? u.batch / batches : 0));
    const last = u.valAcc[u.valAcc.length - 1];
    const text = [
      `epoch ${Math.min(u.epoch + 1, u.untilEpoch)} of ${u.untilEpoch}`,
      ...(batches > 0 ? [`batch ${u.batch} of ${batches}`] : []),
      ...(u.loss !== null ? [`loss ${u.loss.toFixed(3)}`] : []),
      ...(last !== undefined
        ? [`validation ${pct(last)} % after epoch ${u.epochs[u.epochs.length - 1] ?? '?'}`]
        : []),
      ...(u.where !== null ? [`on ${u.where}`] : []),
    ].join(', ');
    return el('li', { 'data-id': liveKey(u), 'data-seed': u.seed }, [
      `id ${liveKey(u)} (${shapeText(u)}), seed ${u.seed} `,
      el('progress', { max: u.untilEpoch, value: done.toFixed(3) }),
      ` ${text}`,
    ]);
  });
  const heard =
    age > SILENT_S
      ? `no word from the sweep for ${Math.round(age / 60)} min: it may have stopped`
      : `updated ${age} s ago`;
  box.replaceChildren(
    el('h3', {}, [
      `In training now: ${status.units.length} run${status.units.length === 1 ? '' : 's'}`,
    ]),
    el('p', { class: 'meta' }, [heard]),
    el('ul', { class: 'in-training' }, rows),
    el('div', { class: 'plot', id: `live-${r}` }),
  );
  void Plotly.react(
    byId(`live-${r}`),
    status.units.map((u) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: `id ${liveKey(u)}, seed ${u.seed}`,
      x: u.epochs,
      y: u.valAcc,
    })),
    figure('Validation accuracy so far, runs in training', {
      xaxis: epochAxis(Math.max(1, ...status.units.map((u) => u.untilEpoch))),
      yaxis: accuracyAxis(
        'validation accuracy %',
        span(
          status.units.flatMap((u) => u.valAcc),
          1,
          [0, 100],
        ),
      ),
      annotations: status.units.some((u) => u.epochs.length > 0)
        ? []
        : [
            {
              text: 'the first epoch is still training',
              xref: 'paper',
              yref: 'paper',
              x: 0.5,
              y: 0.5,
              showarrow: false,
            },
          ],
    }),
    PLOT_CONFIG,
  );
}

function renderRun(r: number): void {
  const run = data.runs[r];
  if (!run) return;
  training(run, r);
  // A sweep that has just started: its figures come with its first result.
  if (run.architectures.length === 0) return;
  answer(run, r);
  effect(run, r);
  parallel(run, r);
  shape(run, r);
  accuracyByCost(run, r, {
    key: 'acc-params',
    title: 'Best validation accuracy by parameters',
    x: (a) => a.params,
    xTitle: 'parameters',
    range: shared.params,
  });
  accuracyByCost(run, r, {
    key: 'acc-macs',
    title: 'Best validation accuracy by MACs per image',
    x: (a) => a.macs,
    xTitle: 'MACs per image',
    range: shared.macs,
  });
  gap(run, r);
  edf(run, r);
  edfAtCost(run, r);
  curvesByRung(run, r);
  detail(run, r);
  table(run, r);
}

/** Shows architecture `id` in detail: its key, or the key as text (a table row's data-id). */
function select(r: number, id: number | string): void {
  state.selected[r] = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
  const run = data.runs[r];
  if (!run) return;
  detail(run, r);
  table(run, r);
}

/** One section per run, side by side: heading, warnings, plots, detail, controls, table. */
function runSection(run: ReportStudy, r: number): HTMLElement {
  const planned = run.planned ? ` of ${run.planned}` : '';
  const children: HTMLElement[] = [
    el('h2', {}, [run.name]),
    el('p', { class: 'meta' }, [
      run.seeds.length > 1
        ? `${run.dataset}, VGG-${run.depth}, ${run.runCount}${planned} runs of ${run.architectures.length} architectures, seeds ${run.seeds.join(', ')} (${run.source})`
        : `${run.dataset}, VGG-${run.depth}, ${run.architectures.length}${planned} architectures (${run.source})`,
    ]),
    el('p', { class: 'meta', id: `grid-${r}` }, [
      `Ids number ${run.grid ?? "the original code's grid (its CSVs do not say which)"}.`,
    ]),
  ];
  // Every section has the same rows, empty or not, so that runs side by side line up row by row
  // (the sections are subgrids of the page's grid).
  children.push(
    el('p', { class: 'meta', id: `halving-${r}` }, run.halving !== null ? [run.halving] : []),
    el(
      'div',
      { class: 'finding', id: `finding-${r}` },
      run.architectures.length === 0
        ? [
            el('p', {}, [
              'No run has finished yet: the figures and the answer come with the first result.',
            ]),
          ]
        : run.finding.map((line) => el('p', {}, [line])),
    ),
    el(
      'details',
      { class: 'warnings' },
      run.warnings.length > 0
        ? [
            el('summary', {}, [`${run.warnings.length} warning(s)`]),
            el(
              'ul',
              {},
              run.warnings.map((w) => el('li', {}, [w])),
            ),
          ]
        : [],
    ),
  );
  children.push(
    el('div', { class: 'training', id: `training-${r}` }),
    el(
      'div',
      { class: 'answer' },
      ANSWER_IDS.map((p) => el('div', { class: 'plot', id: `${p}-${r}` })),
    ),
    el(
      'div',
      { class: 'plots' },
      PLOT_IDS.filter((p) => !ANSWER_IDS.includes(p)).map((p) =>
        el('div', { class: 'plot', id: `${p}-${r}` }),
      ),
    ),
    el('div', { class: 'detail' }, [
      el('div', { class: 'plot', id: `widths-${r}` }),
      el('div', { class: 'plot', id: `curves-${r}` }),
      el('pre', { id: `detail-text-${r}` }),
    ]),
    el('div', { class: 'controls' }, [
      el('label', {}, [
        'filter ',
        el('input', { id: `filter-${r}`, placeholder: 'xi<5 bestVal>90 abandoned' }),
      ]),
      el('label', {}, [
        'highlight top ',
        el('input', { id: `topk-${r}`, type: 'number', min: 0, value: state.topK[r] ?? 5 }),
      ]),
      el('span', { id: `count-${r}` }),
      el('span', { id: `filter-problem-${r}`, class: 'problem', role: 'status' }),
    ]),
    el('div', { class: 'table-scroll' }, [el('table', { id: `table-${r}` })]),
  );
  const section = el(
    'section',
    { class: run.architectures.length === 0 ? 'run empty' : 'run', id: `run-${r}` },
    children,
  );
  // A row of the page's grid per child: the same figure of every run in one row.
  section.style.gridRow = `span ${children.length}`;
  return section;
}

function layout(): void {
  const root = byId('runs');
  root.style.gridTemplateColumns = `repeat(${data.runs.length}, minmax(0, 1fr))`;
  root.replaceChildren(...data.runs.map(runSection));
  data.runs.forEach((_, r) => {
    byId(`filter-${r}`).addEventListener('input', (e) => {
      state.filter[r] = (e.target as HTMLInputElement).value;
      const run = data.runs[r];
      if (run) table(run, r);
    });
    byId(`topk-${r}`).addEventListener('input', (e) => {
      state.topK[r] = Math.max(0, Number((e.target as HTMLInputElement).value) || 0);
      renderRun(r);
    });
    byId(`table-${r}`).addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      const th = target.closest('th');
      if (th) {
        const key = th.getAttribute('data-key') as ColumnKey;
        const s = state.sort[r];
        state.sort[r] = { key, desc: s?.key === key ? !s.desc : key !== 'id' };
        const run = data.runs[r];
        if (run) table(run, r);
        return;
      }
      const tr = target.closest('tr[data-id]');
      if (tr) select(r, tr.getAttribute('data-id') ?? '0');
    });
  });
}

function init(): void {
  data.runs.forEach((run, r) => {
    state.selected[r] ??= ranked(run)[0]?.key ?? 0;
    state.sort[r] ??= { key: 'bestVal', desc: true };
    state.filter[r] ??= '';
    state.topK[r] ??= Math.min(5, run.architectures.length);
  });
  shared = sharedRanges(data.runs);
  layout();
  data.runs.forEach((_, r) => {
    renderRun(r);
  });
  byId('generated').textContent = data.generated;
}

/** featshift view: poll the server; redraw the runs in training, and the rest when a run ends. */
function poll(): void {
  fetch('data.json', { cache: 'no-store' })
    .then((res) => (res.ok ? (res.json() as Promise<ReportData>) : null))
    .then((next) => {
      if (!next) return;
      const finished = (d: ReportData): string =>
        JSON.stringify(d.runs.map((run) => ({ ...run, training: null })));
      const same = finished(next) === finished(data);
      data = next;
      page.data = data;
      // Progress alone redraws only the runs in training: the rest of the page keeps its place.
      if (same)
        data.runs.forEach((run, r) => {
          training(run, r);
        });
      else init();
    })
    .catch(() => {
      // The server may be restarting: try again next time.
    });
}

/** What tests and scripts reach on the page: the data, the state, selection, the plot ids. */
const page = { data, state, select, plotIds: PLOT_IDS };
(window as unknown as { featshiftReport: typeof page }).featshiftReport = page;
init();
if (data.live) setInterval(poll, data.pollMs ?? 3000);
