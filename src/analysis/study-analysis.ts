import { familiesIn, memberKey, type MemberKey } from '../family/members.js';
import type { LoadedStudy, RunResult } from '../run/load.js';
import { humanCount } from '../util/text-table.js';
import { unitKey } from '../run/results.js';
import { halvingRungs } from '../run/rungs.js';
import { gridName } from '../run/study.js';
import { halvingView, type HalvingView } from './halving-view.js';
import {
  effectVerdict,
  locationEffect,
  normalizedEdfs,
  type LocationEffect,
  type NormalizedEdf,
} from './cost-matched.js';
import {
  architectureStats,
  featureCentre,
  plusMinus,
  rankArchitectures,
  topVerdict,
  type ArchitectureStats,
  type TopVerdict,
} from './architectures.js';
import {
  bootstrapDifference,
  bootstrapGroup,
  detectableDifference,
  excludesZero,
  groupMean,
  groupMeanDifference,
  LEVEL,
  mean,
  median,
  POWER,
  welchInterval,
  type Estimate,
  type GroupRuns,
} from './stats.js';

/**
 * The study's question asked of its results: do features belong early, in the middle, late, or
 * where VGG puts them? Architectures are grouped by where their features sit and by cost; each
 * group's runs (architectures x seeds) give a median (two-stage bootstrap interval) and a mean
 * over its architectures (Student t interval; see stats.ts for why not the bootstrap), the groups
 * are compared pairwise and against the baseline, each architecture is set against the baseline
 * at similar cost, and a short finding says what the data decide and what they do not.
 */

export type Scheme = 'location' | 'family' | 'skew' | 'spread' | 'params' | 'macs';

export interface GroupSummary {
  scheme: Scheme;
  name: string;
  /** What puts an architecture in the group, in words with its bounds. */
  description: string;
  /** Its architectures, by memberKey. */
  ids: MemberKey[];
  runs: number;
  /** Mean over the group's units (architectures; seeds where it holds one), Student t interval. */
  mean: Estimate;
  /** Median of every run, two-stage bootstrap interval. */
  median: Estimate;
  /** The mean of every run with the same bootstrap interval, beside the t interval above. */
  meanBootstrap: Estimate;
  /** Best validation error (100 - accuracy) of every run, ascending: the group's EDF. */
  errors: number[];
}

export interface GroupDifference {
  scheme: Scheme | 'baseline';
  /** minuend - subtrahend, of best validation accuracy in points. */
  minuend: string;
  subtrahend: string;
  mean: Estimate;
  median: Estimate;
  /** The difference of the means of every run, two-stage bootstrap (expanded) interval. */
  meanBootstrap: Estimate;
  /**
   * Welch's interval of the mean difference (over units) leaves zero out, and every sampled group
   * holds at least MIN_GROUP_ARCHITECTURES architectures (else no verdict over architectures).
   */
  decided: boolean;
  /** Whether the groups are large enough for a verdict over architectures at all. */
  overArchitectures: boolean;
  /**
   * The smallest difference of means over architectures this design detects at 95 % with 80 %
   * power, from the spread its groups show (null: too few architectures to say).
   */
  detectable: number | null;
  /**
   * The same difference for these members only (every run of each side pooled, Welch over
   * runs): what the seeds say about the architectures trained, not about the groups they sample.
   * Null when a side has fewer than two runs.
   */
  members: Estimate | null;
  /** Architectures on each side. */
  sizes: [number, number];
}

/** An architecture against the baseline at similar cost (within MATCH of its parameters or MACs). */
export interface MatchedComparison {
  id: MemberKey;
  measure: 'params' | 'macs';
  /** The architecture's cost over the baseline's. */
  ratio: number;
  difference: Estimate | null;
  decided: boolean;
}

export interface StudyAnalysis {
  dirs: string[];
  dataset: string;
  depth: number;
  /** The grid the ids number (null: the original code's CSVs, which do not say). */
  grid: string | null;
  seeds: number[];
  /** Finished runs, and the runs the studies planned (null when unknown: the original's CSVs). */
  finished: number;
  planned: number | null;
  level: number;
  resamples: number;
  architectures: ArchitectureStats[];
  top: TopVerdict;
  groups: GroupSummary[];
  differences: GroupDifference[];
  matched: MatchedComparison[];
  /**
   * The effect of where the features sit over every member, raw and at matched cost (a linear
   * model with log MACs and log parameters held fixed); null with fewer than three members.
   */
  location: LocationEffect | null;
  /** Each location group's error distribution reweighted to the members' cost distribution. */
  normalizedEdf: NormalizedEdf[];
  /** Architectures no other beats at lower or equal cost, cheapest first. */
  pareto: { params: MemberKey[]; macs: MemberKey[] };
  /**
   * A successive-halving study: every comparison above is at `commonEpoch`, the rung all runs
   * reached; where halving stopped which architectures; the survivors ranked at each later rung.
   */
  halving?: HalvingView;
  finding: string[];
  warnings: string[];
}

export interface AnalysisOptions {
  resamples: number;
  /** Seeds the bootstrap. */
  seed: number;
  /**
   * Where the features sit: by each family's own measure (xi for the skew-normal, the centre of
   * mass for the linear; the default), or by the widths' centre of mass for every member, the
   * one axis common to both families (`analyze --compare`, a report of both side by side).
   */
  locateBy?: 'family' | 'centre';
}

/** The baseline VGG's group name. */
export const BASELINE = 'VGG';

/** "Similar cost": within this factor of the baseline's parameters or MACs, either way. */
const MATCH = 1.25;

export const isMember = (a: ArchitectureStats): boolean => a.location !== null && a.id !== 0;

/** The architectures placed by the widths' centre of mass when asked, else as their family places them. */
export function locate<T extends Pick<ArchitectureStats, 'location' | 'widths'>>(
  list: readonly T[],
  by: AnalysisOptions['locateBy'],
): T[] {
  return by === 'centre'
    ? list.map((a) => (a.location === null ? a : { ...a, location: featureCentre(a.widths) }))
    : [...list];
}

/** A study of both families, by family: each family's error distribution and their difference. */
const FAMILY_BINS: Bin[] = [
  {
    name: 'skew-normal',
    description: "the paper's skew-normal members",
    holds: (a) => a.family !== 'linear',
  },
  { name: 'linear', description: "RegNet's linear members", holds: (a) => a.family === 'linear' },
];

/** What a study's location is measured by: xi (the paper's), or the linear widths' centre. */
export const locationName = (list: readonly Pick<ArchitectureStats, 'family'>[]): string =>
  list.some((a) => a.family === 'linear') ? 'centre' : 'xi';

export interface Bin {
  name: string;
  description: string;
  holds: (a: ArchitectureStats) => boolean;
}

/**
 * Where the features sit, in thirds of the layers: by xi for the skew-normal family, by the
 * widths' centre of mass for the linear one (`measure` names it in the descriptions).
 */
export function locationBins(layers: number, measure = 'xi'): Bin[] {
  const third = layers / 3;
  const at = (a: ArchitectureStats): number => a.location as number;
  return [
    { name: 'early', description: `${measure} < ${fmt(third)}`, holds: (a) => at(a) < third },
    {
      name: 'middle',
      description: `${fmt(third)} <= ${measure} <= ${fmt(2 * third)}`,
      holds: (a) => at(a) >= third && at(a) <= 2 * third,
    },
    {
      name: 'late',
      description: `${measure} > ${fmt(2 * third)}`,
      holds: (a) => at(a) > 2 * third,
    },
  ];
}

const fmt = (n: number): string => String(Math.round(n * 100) / 100);

const SKEW_BINS: Bin[] = [
  {
    name: 'alpha < 0',
    description: 'skewed with the long tail early',
    holds: (a) => (a.alpha ?? 0) < 0,
  },
  { name: 'alpha = 0', description: 'symmetric (normal)', holds: (a) => a.alpha === 0 },
  {
    name: 'alpha > 0',
    description: 'skewed with the long tail late',
    holds: (a) => (a.alpha ?? 0) > 0,
  },
];

const SPREAD_BINS: Bin[] = [
  { name: 'narrow', description: 'omega <= 2', holds: (a) => (a.omega ?? 0) <= 2 },
  {
    name: 'medium',
    description: '2 < omega <= 4',
    holds: (a) => (a.omega ?? 0) > 2 && (a.omega ?? 0) <= 4,
  },
  { name: 'broad', description: 'omega > 4', holds: (a) => (a.omega ?? 0) > 4 },
];

/** Cost in thirds of the members present, by parameters or MACs. */
function costBins(members: readonly ArchitectureStats[], measure: 'params' | 'macs'): Bin[] {
  const values = members.map((a) => a[measure]).sort((a, b) => a - b);
  if (values.length < 3) return [];
  const q1 = values[Math.floor(values.length / 3)] as number;
  const q2 = values[Math.floor((2 * values.length) / 3)] as number;
  const unit = measure === 'params' ? 'parameters' : 'MACs per image';
  return [
    {
      name: `low ${measure}`,
      description: `${unit} < ${humanCount(q1)}`,
      holds: (a) => a[measure] < q1,
    },
    {
      name: `mid ${measure}`,
      description: `${humanCount(q1)} <= ${unit} < ${humanCount(q2)}`,
      holds: (a) => a[measure] >= q1 && a[measure] < q2,
    },
    {
      name: `high ${measure}`,
      description: `${unit} >= ${humanCount(q2)}`,
      holds: (a) => a[measure] >= q2,
    },
  ];
}

const groupRuns = (list: readonly ArchitectureStats[]): GroupRuns => list.map((a) => a.runs);

function summarize(
  scheme: Scheme,
  bin: { name: string; description: string },
  list: readonly ArchitectureStats[],
  options: AnalysisOptions,
): GroupSummary {
  const runs = groupRuns(list);
  return {
    scheme,
    name: bin.name,
    description: bin.description,
    ids: list.map((a) => a.key),
    runs: runs.flat().length,
    mean: groupMean(runs),
    median: bootstrapGroup(runs, median, options),
    meanBootstrap: bootstrapGroup(runs, mean, options),
    errors: runs
      .flat()
      .map((v) => 100 - v)
      .sort((a, b) => a - b),
  };
}

function difference(
  scheme: GroupDifference['scheme'],
  a: { name: string; list: readonly ArchitectureStats[] },
  b: { name: string; list: readonly ArchitectureStats[] },
  options: AnalysisOptions,
): GroupDifference {
  const ra = groupRuns(a.list);
  const rb = groupRuns(b.list);
  const meanDiff = groupMeanDifference(ra, rb);
  // The baseline is one architecture by design; a sampled group needs three to stand for more
  // than its members (docs/method.md §6).
  const sampled = scheme === 'baseline' ? [ra.length] : [ra.length, rb.length];
  const enough = Math.min(...sampled) >= MIN_GROUP_ARCHITECTURES;
  return {
    scheme,
    minuend: a.name,
    subtrahend: b.name,
    mean: meanDiff,
    median: bootstrapDifference(ra, rb, median, options),
    meanBootstrap: bootstrapDifference(ra, rb, mean, options),
    decided: enough && excludesZero(meanDiff),
    detectable: enough ? detectableDifference(ra, rb) : null,
    overArchitectures: enough,
    members: welchInterval(ra.flat(), rb.flat()),
    sizes: [ra.length, rb.length],
  };
}

/** Pareto front: no other architecture has both lower-or-equal cost and higher mean accuracy. */
function paretoFront(list: readonly ArchitectureStats[], measure: 'params' | 'macs'): MemberKey[] {
  const sorted = [...list].sort(
    (a, b) => a[measure] - b[measure] || b.bestVal.mean - a.bestVal.mean,
  );
  const front: MemberKey[] = [];
  let best = -Infinity;
  for (const a of sorted) {
    if (a.bestVal.mean > best) {
      front.push(a.key);
      best = a.bestVal.mean;
    }
  }
  return front;
}

/** Pools the runs of folders of one study; a unit found twice is counted once. */
export function poolRuns(runs: readonly LoadedStudy[], warnings: string[]): RunResult[] {
  const seen = new Map<string, RunResult>();
  for (const run of runs) {
    for (const r of run.runs) {
      const key = unitKey(r, r.seed);
      const other = seen.get(key);
      if (other) {
        if (JSON.stringify(other.widths) !== JSON.stringify(r.widths))
          warnings.push(
            `${run.dir}: id ${memberKey(r)} has other widths than in an earlier folder: these folders are not one study; analyse them apart`,
          );
        else
          warnings.push(
            `${run.dir}: id ${memberKey(r)}, seed ${r.seed} also in an earlier folder; counted once`,
          );
        continue;
      }
      seen.set(key, r);
    }
  }
  return [...seen.values()];
}

const signed = (n: number): string => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`;

/** "+2.10 points (95 % CI +0.40 to +3.90)", or without interval when there is none. */
export function describeEstimate(e: Estimate, unit = ' points'): string {
  return e.low === null || e.high === null
    ? `${signed(e.value)}${unit} (no interval: one run)`
    : `${signed(e.value)}${unit} (95 % CI ${signed(e.low)} to ${signed(e.high)})`;
}

const better = (d: GroupDifference, e: Estimate): string =>
  e.value > 0 ? `${d.minuend} is better` : `${d.subtrahend} is better`;

/** The fewest architectures a group needs for a verdict about its location, not its members. */
export const MIN_GROUP_ARCHITECTURES = 3;

function verdict(d: GroupDifference): string {
  const groups = !d.overArchitectures
    ? `no verdict over architectures (a group of ${Math.min(...(d.scheme === 'baseline' ? [d.sizes[0]] : d.sizes))} cannot stand for its location; ${MIN_GROUP_ARCHITECTURES} or more are needed)`
    : d.mean.low === null
      ? 'too few runs for an interval: the data cannot decide'
      : d.decided
        ? better(d, d.mean)
        : 'the data cannot decide';
  // With a few architectures a side, the groups' interval is wide by nature; say what the seeds
  // of these very members show, labelled as such.
  if (d.decided || d.members === null || Math.max(...d.sizes) > 3) return groups;
  const members = excludesZero(d.members)
    ? better(d, d.members)
    : 'they cannot be told apart either';
  return `${groups}; these ${d.sizes[0]} and ${d.sizes[1]} architectures alone (their seeds pooled): ${describeEstimate(d.members)}, ${members}`;
}

/** What the design could have found: the difference it detects at 95 % with 80 % power. */
const detectable = (d: GroupDifference): string =>
  d.detectable === null
    ? ''
    : ` (with these ${d.sizes[0]} and ${d.sizes[1]} architectures and their spread, this design detects a difference of ${d.detectable.toFixed(2)} points at 95 % with ${POWER * 100} % power)`;

function findings(analysis: Omit<StudyAnalysis, 'finding'>): string[] {
  const lines: string[] = [];
  const location = analysis.groups.filter((g) => g.scheme === 'location');
  const present = location.filter((g) => g.runs > 0).map((g) => g.name);
  lines.push(
    `Question: do features belong early, in the middle, late, or as in ${BASELINE}? ${analysis.finished} runs of ${analysis.architectures.length} architectures, ${analysis.seeds.length} seed${analysis.seeds.length === 1 ? '' : 's'} each${analysis.planned !== null && analysis.planned > analysis.finished ? ` (${analysis.finished} of ${analysis.planned} planned runs finished: a partial answer)` : ''}.`,
  );
  const { halving } = analysis;
  if (halving) {
    const where = halving.stopped
      .map((s) => `${s.ids.length === 1 ? 'id' : 'ids'} ${s.ids.join(', ')} at epoch ${s.epoch}`)
      .join('; ');
    lines.push(
      `Successive halving stopped runs early (${where || 'none'}): every ranking, group, difference and front here compares each run at epoch ${halving.commonEpoch}, which every run reached; the survivors are ranked again among themselves at each later rung.`,
    );
    for (const s of halving.survivors) {
      const ranked = s.architectures
        .map((a) => `id ${a.key}${a.id === 0 ? ` (${BASELINE})` : ''} ${plusMinus(a.bestVal)} %`)
        .join(', ');
      const verdictAt =
        s.top.undecidable ??
        (s.top.tiedWithBest.length === 0
          ? `id ${s.top.best ?? '?'} is better than the other survivors at 95 %`
          : `${s.top.tiedWithBest.length === 1 ? 'id' : 'ids'} ${s.top.tiedWithBest.join(', ')} cannot be told apart from id ${s.top.best ?? '?'} at 95 %`);
      lines.push(
        `At epoch ${s.epoch}, ${s.architectures.length === 1 ? 'the one survivor' : `${s.architectures.length} survivors`}: ${ranked}${s.architectures.length > 1 ? `; ${s.top.undecidable === null ? verdictAt : `no ranking: ${verdictAt}`}` : ''}.`,
      );
    }
  }
  const pick = (m: string, s: string): GroupDifference | undefined =>
    analysis.differences.find((d) => d.minuend === m && d.subtrahend === s);
  for (const [m, s] of [
    ['early', 'late'],
    ['early', 'middle'],
    ['middle', 'late'],
  ] as const) {
    const d = pick(m, s);
    if (d) lines.push(`${m} − ${s}: ${describeEstimate(d.mean)}: ${verdict(d)}${detectable(d)}.`);
  }
  for (const name of present) {
    const d = pick(name, BASELINE);
    if (d)
      lines.push(
        `${name} − ${BASELINE}: ${describeEstimate(d.mean)}: ${verdict(d)}${detectable(d)}.`,
      );
  }
  const effect = analysis.location;
  if (effect) {
    const perLayer = (e: Estimate): string => describeEstimate(e, ' points per layer');
    lines.push(
      `Where the features sit, over all ${effect.architectures} members (a linear model of best validation accuracy on ${effect.measure === 'xi' ? 'xi' : "the widths' centre of mass"}, bootstrap over architectures and seeds): raw ${perLayer(effect.raw)}, ${effectVerdict(effect.raw)}; ${
        effect.adjusted
          ? `at matched cost (${effect.covariates.join(', ')} held fixed) ${perLayer(effect.adjusted)}, ${effectVerdict(effect.adjusted)}${
              excludesZero(effect.raw) &&
              excludesZero(effect.adjusted) &&
              Math.sign(effect.raw.value) !== Math.sign(effect.adjusted.value)
                ? ": the raw answer is the members' cost, not where their features sit"
                : ''
            }`
          : `at matched cost: no estimate, ${effect.note ?? 'the model cannot be fitted'}`
      }.`,
    );
  }
  if (present.length < 2 && !present.some((name) => pick(name, BASELINE)))
    lines.push('Too few locations have results to compare them.');
  const { top } = analysis;
  const best = analysis.architectures.find((a) => a.key === top.best);
  if (best) {
    const tie =
      top.undecidable ??
      (top.tiedWithBest.length === 0
        ? 'every other architecture is worse at 95 %'
        : `${top.tiedWithBest.length === 1 ? 'id' : 'ids'} ${top.tiedWithBest.join(', ')} cannot be told apart from it at 95 %`);
    lines.push(
      `${top.undecidable === null ? 'Best architecture' : 'Highest mean'}: id ${best.key}${best.id === 0 ? ` (${BASELINE})` : ''}, ${plusMinus(best.bestVal)} %; ${top.undecidable === null ? tie : `no ranking: ${tie}`}.`,
    );
  }
  const thin = location.filter((g) => g.ids.length === 1 && g.name !== BASELINE).map((g) => g.name);
  if (thin.length > 0)
    lines.push(
      `Caution: ${thin.join(', ')} ${thin.length === 1 ? 'holds' : 'hold'} one architecture: ${thin.length === 1 ? 'its' : 'their'} interval reflects seeds only, not the group's other members.`,
    );
  if (analysis.seeds.length === 1)
    lines.push(
      'Caution: one seed per architecture: the intervals hold the spread between architectures, not the seed-to-seed spread of each; train with --seeds 3 or more.',
    );
  const abandoned = analysis.architectures.filter((a) => a.abandoned > 0 || a.diverged > 0);
  if (abandoned.length > 0)
    lines.push(
      `Note: ${abandoned.map((a) => `id ${a.key} (${a.abandoned + a.diverged} of ${a.seeds.length} runs abandoned or diverged)`).join(', ')}: counted with the accuracy they reached.`,
    );
  return lines;
}

/** Analyses the runs of one study (one or several folders of it). */
export function analyzeStudy(
  runs: readonly LoadedStudy[],
  options: AnalysisOptions,
): StudyAnalysis {
  const warnings = runs.flatMap((r) => r.warnings);
  const first = runs[0];
  if (!first) throw new Error('analyzeStudy needs at least one run');
  const pooled = poolRuns(runs, warnings);
  // Successive halving: every comparison at the rung all runs reached (src/analysis/halving-view.ts).
  const stored = first.study;
  const halved = halvingView(pooled, stored?.halving ? halvingRungs(stored) : undefined);
  const results = halved ? halved.compared : pooled;
  const stats = architectureStats(results);
  // Both families: the widths' centre of mass is the one location they share.
  const mixed = familiesIn(stats) === 'both';
  const architectures = locate(stats, mixed ? 'centre' : options.locateBy);
  const members = architectures.filter(isMember);
  const baseline = architectures.filter((a) => !isMember(a));
  const layers = first.depth - 1;
  const measure = options.locateBy === 'centre' || mixed ? 'centre' : locationName(members);
  // Skew and spread are the skew-normal's parameters: a linear family has neither.
  const shapes: [Scheme, Bin[]][] =
    measure === 'xi'
      ? [
          ['skew', SKEW_BINS],
          ['spread', SPREAD_BINS],
        ]
      : [];
  const schemes: [Scheme, Bin[]][] = [
    ['location', locationBins(layers, measure)],
    ...(mixed ? [['family', FAMILY_BINS] as [Scheme, Bin[]]] : []),
    ...shapes,
    ['params', costBins(members, 'params')],
    ['macs', costBins(members, 'macs')],
  ];
  const groups: GroupSummary[] = [];
  const differences: GroupDifference[] = [];
  for (const [scheme, bins] of schemes) {
    const filled = bins
      .map((bin) => ({ bin, list: members.filter(bin.holds) }))
      .filter((g) => g.list.length > 0);
    for (const g of filled) groups.push(summarize(scheme, g.bin, g.list, options));
    for (let i = 0; i < filled.length; i++) {
      for (let j = i + 1; j < filled.length; j++) {
        const a = filled[i] as (typeof filled)[number];
        const b = filled[j] as (typeof filled)[number];
        differences.push(
          difference(
            scheme,
            { name: a.bin.name, list: a.list },
            { name: b.bin.name, list: b.list },
            options,
          ),
        );
      }
    }
    if (baseline.length > 0 && scheme === 'location') {
      for (const g of filled)
        differences.push(
          difference(
            'baseline',
            { name: g.bin.name, list: g.list },
            { name: BASELINE, list: baseline },
            options,
          ),
        );
    }
  }
  if (baseline.length > 0)
    groups.push(
      summarize(
        'location',
        { name: BASELINE, description: 'the standard VGG widths at the same budget' },
        baseline,
        options,
      ),
    );
  const base = baseline[0];
  const matched: MatchedComparison[] = [];
  if (base) {
    for (const measure of ['params', 'macs'] as const) {
      for (const a of members) {
        const ratio = a[measure] / base[measure];
        if (ratio > MATCH || ratio < 1 / MATCH) continue;
        const d = welchInterval(a.runs, base.runs);
        matched.push({ id: a.key, measure, ratio, difference: d, decided: excludesZero(d) });
      }
    }
  }
  const location = locationEffect(members, { ...options, measure }) ?? null;
  const normalizedEdf = normalizedEdfs(
    locationBins(layers, measure).map((bin) => ({
      name: bin.name,
      list: members.filter(bin.holds),
    })),
    members,
  );
  const seeds = [...new Set(runs.flatMap((r) => r.seeds))].sort((a, b) => a - b);
  // Folders pooled from one study may overlap: their plans only add up for a single folder.
  const planned = runs.length === 1 ? first.planned : null;
  const partial: Omit<StudyAnalysis, 'finding'> = {
    dirs: runs.map((r) => r.dir),
    dataset: first.dataset,
    depth: first.depth,
    grid: first.study ? gridName(first.study) : null,
    seeds,
    finished: results.length,
    planned,
    level: LEVEL,
    resamples: options.resamples,
    architectures: rankArchitectures(architectures),
    top: topVerdict(architectures),
    groups,
    differences,
    matched,
    location,
    normalizedEdf,
    pareto: {
      params: paretoFront(architectures, 'params'),
      macs: paretoFront(architectures, 'macs'),
    },
    warnings,
    ...(halved ? { halving: halved.view } : {}),
  };
  return { ...partial, finding: findings(partial) };
}
