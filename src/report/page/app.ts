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
  selected: number[];
  sort: { key: ColumnKey; desc: boolean }[];
  filter: string[];
  topK: number[];
}

type ColumnKey =
  | 'id'
  | 'xi'
  | 'omega'
  | 'alpha'
  | 'seeds'
  | 'bestVal'
  | 'bestValTrain'
  | 'gap'
  | 'params'
  | 'macs'
  | 'epochs'
  | 'status';

const COLUMNS: readonly [ColumnKey, string][] = [
  ['id', 'id'],
  ['xi', 'xi'],
  ['omega', 'omega'],
  ['alpha', 'alpha'],
  ['seeds', 'seeds'],
  ['bestVal', 'best val %'],
  ['bestValTrain', 'train %'],
  ['gap', 'gap'],
  ['params', 'params'],
  ['macs', 'MACs'],
  ['epochs', 'epochs'],
  ['status', 'status'],
];

const PLOT_IDS = [
  'scatter-val',
  'scatter-train',
  'acc-params',
  'acc-macs',
  'gap-xi',
  'acc-xi',
  'edf',
  'edf-cost',
  'curves-rung',
];
const PLOT_CONFIG = { displaylogo: false, responsive: true };

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
  run.architectures.filter((a) => a.xi !== null && a.omega !== null && a.alpha !== null);

const ranked = (run: ReportStudy): ReportArchitecture[] =>
  run.architectures.slice().sort((a, b) => b.bestVal - a.bestVal || a.id - b.id);

const topIds = (run: ReportStudy, k: number): number[] =>
  ranked(run)
    .slice(0, k)
    .map((a) => a.id);

/** Plotly's hover text: numbers and featshift's words only. */
function hoverText(a: ReportArchitecture): string {
  return [
    `id ${a.id}${a.id === 0 ? ' (baseline VGG)' : ''}`,
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
    const point = event.points?.[0];
    if (point?.customdata !== undefined) select(r, Number(point.customdata));
  });
}

function scatter3d(run: ReportStudy, r: number, key: string, title: string): void {
  const list = members(run);
  const top = topIds(run, state.topK[r] ?? 5);
  const target = byId(`${key}-${r}`) as PlotElement;
  void Plotly.react(
    target,
    [
      {
        type: 'scatter3d',
        mode: 'markers',
        name: title,
        x: list.map((a) => a.xi),
        y: list.map((a) => a.omega),
        z: list.map((a) => a.alpha),
        customdata: list.map((a) => a.id),
        text: list.map(hoverText),
        hoverinfo: 'text',
        marker: {
          size: list.map((a) => (top.includes(a.id) ? 9 : 4)),
          color: list.map((a) => (key === 'scatter-val' ? a.bestVal : a.bestValTrain)),
          colorscale: 'Viridis',
          colorbar: { title: { text: key === 'scatter-val' ? 'best val %' : 'train %' } },
          symbol: list.map((a) => (top.includes(a.id) ? 'diamond' : 'circle')),
        },
      },
    ],
    {
      title: { text: title },
      margin: { l: 0, r: 0, t: 40, b: 0 },
      scene: {
        xaxis: { title: { text: 'xi (location)' } },
        yaxis: { title: { text: 'omega (scale)' } },
        zaxis: { title: { text: 'alpha (skew)' } },
      },
    },
    PLOT_CONFIG,
  );
  bindClick(target, r);
}

interface Scatter2d {
  key: string;
  title: string;
  x: (a: ReportArchitecture) => number | null;
  y: (a: ReportArchitecture) => number;
  /** y's 95 % interval (error bars, cut at the scale's bounds). */
  ci: (a: ReportArchitecture) => ReportInterval | null;
  xTitle: string;
  yTitle: string;
  logX: boolean;
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
  groups: readonly { name: string; errors: readonly number[]; cdf: readonly number[] }[],
  title: string,
  yTitle: string,
): void {
  const traces = groups.map((g) => ({
    type: 'scatter',
    mode: 'lines',
    line: { shape: 'hv' },
    name: g.name,
    x: [g.errors[0], ...g.errors],
    y: [0, ...g.cdf],
  }));
  void Plotly.react(
    byId(target),
    traces,
    {
      title: { text: title },
      margin: { l: 60, r: 10, t: 40, b: 50 },
      xaxis: { title: { text: 'best validation error %' } },
      yaxis: { title: { text: yTitle }, range: [0, 1.02] },
      legend: { x: 1, xanchor: 'right', y: 0 },
    },
    PLOT_CONFIG,
  );
}

/** The empirical distribution of best validation error per location group, as RegNet draws them. */
function edf(run: ReportStudy, r: number): void {
  drawEdfs(
    `edf-${r}`,
    run.groups
      .filter((g) => g.errors.length > 0)
      .map((g) => ({
        name: `${g.name} (${g.ids.length} arch., ${g.runs} runs)`,
        errors: g.errors,
        cdf: g.errors.map((_, i) => (i + 1) / g.errors.length),
      })),
    'error distribution (EDF) by where the features sit',
    'cumulative fraction of runs',
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
    'error distribution at one cost (reweighted by MACs)',
    'cumulative weight of runs',
  );
}

/**
 * Every architecture's validation curve, coloured by where successive halving stopped it (all
 * alike in a run without halving): how the rungs cut the race.
 */
function curvesByRung(run: ReportStudy, r: number): void {
  const where = (a: ReportArchitecture): string =>
    typeof a.stoppedAtRung === 'number' ? `stopped at epoch ${a.stoppedAtRung}` : 'trained in full';
  const groups = [...new Set(run.architectures.map(where))].sort();
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
  const traces = run.architectures.map((a) => {
    const k = groups.indexOf(where(a));
    return {
      type: 'scatter',
      mode: 'lines',
      name: where(a),
      legendgroup: where(a),
      showlegend: run.architectures.find((b) => where(b) === where(a)) === a,
      x: a.valAcc.map((_, i) => i + 1),
      y: a.valAcc,
      customdata: a.valAcc.map(() => a.id),
      text: a.valAcc.map(() => `id ${a.id}: ${where(a)}`),
      hoverinfo: 'text+y',
      line: { color: palette[k % palette.length], width: 1.5 },
    };
  });
  const target = byId(`curves-rung-${r}`) as PlotElement;
  void Plotly.react(
    target,
    traces,
    {
      title: { text: 'validation curves by where successive halving stopped them' },
      margin: { l: 60, r: 10, t: 40, b: 50 },
      xaxis: epochAxis(Math.max(1, ...run.architectures.map((a) => a.valAcc.length))),
      yaxis: accuracyAxis(
        'validation accuracy %',
        run.architectures.flatMap((a) => a.valAcc),
      ),
      legend: { x: 1, xanchor: 'right', y: 0 },
      hovermode: 'closest',
    },
    PLOT_CONFIG,
  );
  bindClick(target, r);
}

function scatter2d(run: ReportStudy, r: number, plot: Scatter2d): void {
  const top = topIds(run, state.topK[r] ?? 5);
  const list = run.architectures.filter((a) => a.id !== 0);
  const base = run.architectures.filter((a) => a.id === 0);
  const traces: object[] = [
    {
      type: 'scatter',
      mode: 'markers',
      name: 'family',
      x: list.map(plot.x),
      y: list.map(plot.y),
      error_y: errorBars(list, plot.y, plot.ci),
      customdata: list.map((a) => a.id),
      text: list.map(hoverText),
      hoverinfo: 'text',
      marker: {
        size: list.map((a) => (top.includes(a.id) ? 12 : 7)),
        color: list.map((a) => a.xi),
        colorscale: 'Viridis',
        line: { width: list.map((a) => (top.includes(a.id) ? 2 : 0)), color: '#d62728' },
      },
    },
  ];
  const [baseline] = base;
  if (baseline && plot.x(baseline) !== null) {
    traces.push({
      type: 'scatter',
      mode: 'markers',
      name: 'baseline VGG',
      x: base.map(plot.x),
      y: base.map(plot.y),
      error_y: errorBars(base, plot.y, plot.ci),
      customdata: [0],
      text: base.map(hoverText),
      hoverinfo: 'text',
      marker: { size: 14, symbol: 'star', color: '#d62728' },
    });
  }
  const target = byId(`${plot.key}-${r}`) as PlotElement;
  void Plotly.react(
    target,
    traces,
    {
      title: { text: plot.title },
      hovermode: 'closest',
      margin: { l: 60, r: 10, t: 40, b: 50 },
      xaxis: { title: { text: plot.xTitle }, type: plot.logX ? 'log' : 'linear' },
      yaxis: { title: { text: plot.yTitle } },
      showlegend: false,
    },
    PLOT_CONFIG,
  );
  bindClick(target, r);
}

function detail(run: ReportStudy, r: number): void {
  const id = state.selected[r];
  const a = run.architectures.find((x) => x.id === id) ?? ranked(run)[0];
  if (!a) return;
  const layers = (widths: readonly number[]): number[] => widths.map((_, i) => i + 1);
  void Plotly.react(
    byId(`widths-${r}`),
    [
      {
        type: 'bar',
        name: `id ${a.id}`,
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
    {
      title: { text: `features per layer: id ${a.id} and the baseline` },
      barmode: 'group',
      margin: { l: 50, r: 10, t: 40, b: 40 },
      xaxis: { title: { text: 'layer' }, dtick: 1 },
      yaxis: { title: { text: 'features' } },
    },
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
    {
      title: {
        text: `learning curves: id ${a.id}${a.seeds > 1 ? ` (mean of ${a.seeds} seeds, 95 % band)` : ''}`,
      },
      margin: { l: 50, r: 10, t: 40, b: 40 },
      xaxis: epochAxis(epochs.length),
      yaxis: accuracyAxis(
        'accuracy %',
        [
          ...a.valAcc,
          ...a.trainAcc,
          ...a.valBand.low,
          ...a.valBand.high,
          ...a.trainBand.low,
          ...a.trainBand.high,
        ].filter((v): v is number => v !== null),
      ),
    },
    PLOT_CONFIG,
  );
  const text = byId(`detail-text-${r}`);
  text.dataset.id = String(a.id);
  text.textContent = [
    `id ${a.id}${a.id === 0 ? ' (baseline VGG)' : `  xi ${a.xi}  omega ${a.omega}  alpha ${a.alpha}`}`,
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
            ? `stopped at rung ${a.stoppedAtRung}`
            : a.id === 0
              ? 'baseline'
              : '';
    default:
      return a[key];
  }
}

/** An epoch axis: whole epochs only, about ten ticks however long the run. */
function epochAxis(epochs: number): object {
  return {
    title: { text: 'epoch' },
    tickformat: 'd',
    tick0: 1,
    dtick: Math.max(1, Math.ceil(epochs / 10)),
  };
}

/** An accuracy axis in percent: a margin around the values, never beyond 0-100 %. */
function accuracyAxis(title: string, values: readonly number[]): object {
  const finite = values.filter((v) => Number.isFinite(v));
  const low = finite.length > 0 ? Math.min(...finite) : 0;
  const high = finite.length > 0 ? Math.max(...finite) : 100;
  const pad = Math.max(1, (high - low) * 0.08);
  return { title: { text: title }, range: [Math.max(0, low - pad), Math.min(100, high + pad)] };
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
  for (const [key] of COLUMNS) keys.set(key.toLowerCase(), key);
  for (const a of run.architectures)
    for (const [k, v] of Object.entries(a))
      if (typeof v === 'number' && !keys.has(k.toLowerCase())) keys.set(k.toLowerCase(), k);
  const filter: Filter = { tests: [], problems: [] };
  for (const word of query.trim().split(/\s+/).filter(Boolean)) {
    if (!/[<>=]/.test(word)) {
      const text = word.toLowerCase();
      filter.tests.push((a) => COLUMNS.some((c) => cellText(a, c[0]).toLowerCase().includes(text)));
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
        `no key '${m[1] ?? ''}': use one of ${COLUMNS.map((c) => c[0])
          .filter((k) => k !== 'status')
          .join(', ')}`,
      );
      continue;
    }
    const limit = Number(m[3]) * (SUFFIX[m[4] ?? ''] ?? 1);
    const compare = COMPARE[m[2] ?? '='] as (v: number, n: number) => boolean;
    const column = COLUMNS.find((c) => c[0] === key);
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
  const top = topIds(run, state.topK[r] ?? 5);
  const head = el('thead', {}, [
    el(
      'tr',
      {},
      COLUMNS.map(([key, label]) => {
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
        (top.includes(a.id) ? 'top' : '') + (a.id === state.selected[r] ? ' selected' : '');
      return el(
        'tr',
        { 'data-id': a.id, class: cls },
        COLUMNS.map(([key]) => el('td', {}, [cellText(a, key)])),
      );
    }),
  );
  byId(`table-${r}`).replaceChildren(head, body);
  byId(`count-${r}`).textContent = `${rows.length} of ${run.architectures.length} shown`;
  byId(`filter-problem-${r}`).textContent = filter.problems.join('; ');
}

function renderRun(r: number): void {
  const run = data.runs[r];
  if (!run) return;
  scatter3d(run, r, 'scatter-val', 'best validation accuracy');
  scatter3d(run, r, 'scatter-train', 'training accuracy (at the best epoch)');
  const plots: Scatter2d[] = [
    {
      key: 'acc-params',
      title: 'accuracy against parameters',
      x: (a) => a.params,
      y: (a) => a.bestVal,
      ci: (a) => a.bestValCi,
      xTitle: 'parameters',
      yTitle: 'best val %',
      logX: true,
    },
    {
      key: 'acc-macs',
      title: 'accuracy against MACs per image',
      x: (a) => a.macs,
      y: (a) => a.bestVal,
      ci: (a) => a.bestValCi,
      xTitle: 'MACs',
      yTitle: 'best val %',
      logX: true,
    },
    {
      key: 'gap-xi',
      title: 'generalisation gap (train - val) against xi',
      x: (a) => a.xi,
      y: (a) => a.bestValTrain - a.bestVal,
      ci: (a) => a.gapCi,
      xTitle: 'xi (where the features sit)',
      yTitle: 'gap, points',
      logX: false,
    },
    {
      key: 'acc-xi',
      title: 'accuracy against xi',
      x: (a) => a.xi,
      y: (a) => a.bestVal,
      ci: (a) => a.bestValCi,
      xTitle: 'xi (where the features sit)',
      yTitle: 'best val %',
      logX: false,
    },
  ];
  for (const plot of plots) scatter2d(run, r, plot);
  edf(run, r);
  edfAtCost(run, r);
  curvesByRung(run, r);
  detail(run, r);
  table(run, r);
}

function select(r: number, id: number): void {
  state.selected[r] = id;
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
  if (run.halving !== null)
    children.push(el('p', { class: 'meta', id: `halving-${r}` }, [run.halving]));
  if (run.finding.length > 0)
    children.push(el('pre', { class: 'finding', id: `finding-${r}` }, [run.finding.join('\n')]));
  if (run.warnings.length > 0) {
    children.push(
      el('details', { class: 'warnings' }, [
        el('summary', {}, [`${run.warnings.length} warning(s)`]),
        el(
          'ul',
          {},
          run.warnings.map((w) => el('li', {}, [w])),
        ),
      ]),
    );
  }
  children.push(
    el(
      'div',
      { class: 'plots' },
      PLOT_IDS.map((p) => el('div', { class: 'plot', id: `${p}-${r}` })),
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
  return el('section', { class: 'run', id: `run-${r}` }, children);
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
      if (tr) select(r, Number(tr.getAttribute('data-id')));
    });
  });
}

function init(): void {
  data.runs.forEach((run, r) => {
    state.selected[r] ??= ranked(run)[0]?.id ?? 0;
    state.sort[r] ??= { key: 'bestVal', desc: true };
    state.filter[r] ??= '';
    state.topK[r] ??= Math.min(5, run.architectures.length);
  });
  layout();
  data.runs.forEach((_, r) => {
    renderRun(r);
  });
  byId('generated').textContent = data.generated;
}

/** featshift view: poll the server and redraw when a running sweep has finished more. */
function poll(): void {
  fetch('data.json', { cache: 'no-store' })
    .then((res) => (res.ok ? (res.json() as Promise<ReportData>) : null))
    .then((next) => {
      if (!next || JSON.stringify(next.runs) === JSON.stringify(data.runs)) return;
      data = next;
      page.data = data;
      init();
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
