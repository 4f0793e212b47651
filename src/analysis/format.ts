import { familiesIn } from '../family/members.js';
import { humanCount, sparkline, textTable } from '../util/text-table.js';
import { placeCells, placeHeadings, plusMinus } from './architectures.js';
import type { StudyComparison } from './compare.js';
import type { LocationEffect } from './cost-matched.js';
import { quantile, type Estimate } from './stats.js';
import { describeEstimate, type StudyAnalysis } from './study-analysis.js';

const ci = (e: Estimate): string =>
  e.low === null || e.high === null
    ? `${e.value.toFixed(2)} (n=1)`
    : `${e.value.toFixed(2)} [${e.low.toFixed(2)}, ${e.high.toFixed(2)}]`;

/** The analysis as text: architectures, groups, differences, matched cost, Pareto, finding. */
export function formatAnalysis(a: StudyAnalysis): string {
  const tied = new Set(a.top.tiedWithBest);
  const kind = familiesIn(a.architectures);
  const out: string[] = [];
  out.push(
    `${a.dirs.join(', ')}: ${a.dataset}, VGG-${a.depth}, ${a.finished}${a.planned !== null ? ` of ${a.planned}` : ''} runs, seeds ${a.seeds.join(', ')}; intervals at ${a.level * 100} %, bootstrap of ${a.resamples} resamples`,
    `Ids number ${a.grid ?? "the original code's grid (its CSVs do not say which)"}.`,
    '',
    `Architectures (mean over seeds ± half-width of the 95 % Student t interval${a.halving ? `; every run at epoch ${a.halving.commonEpoch}, the rung all reached` : ''}):`,
    textTable(
      [
        ...placeHeadings(a.architectures),
        'best val %',
        'last val %',
        'train at best %',
        'gap',
        'params',
        'MACs',
        'widths',
      ],
      a.architectures.map((s, i) => [
        ...placeCells(s, i + 1, kind),
        plusMinus(s.bestVal),
        plusMinus(s.lastVal),
        plusMinus(s.bestValTrain),
        plusMinus(s.gap),
        humanCount(s.params),
        humanCount(s.macs),
        `${sparkline(s.widths)}${tied.has(s.key) ? ' =best' : ''}`,
      ]),
    ),
    '',
    'Groups (best validation accuracy; median of every run [95 % bootstrap interval], mean over architectures [95 % t interval]):',
    textTable(
      ['grouped by', 'group', 'architectures', 'runs', 'median %', 'mean %', 'members'],
      a.groups.map((g) => [
        g.scheme,
        g.name,
        String(g.ids.length),
        String(g.runs),
        ci(g.median),
        ci(g.mean),
        g.description,
      ]),
    ),
    '',
    'Differences of groups (points of best validation accuracy; medians: bootstrap, means: Welch over architectures):',
    textTable(
      ['grouped by', 'difference', 'median', 'mean', 'decided at 95 %'],
      a.differences.map((d) => [
        d.scheme,
        `${d.minuend} − ${d.subtrahend}`,
        ci(d.median),
        ci(d.mean),
        d.decided ? 'yes' : 'no',
      ]),
    ),
  );
  if (a.matched.length > 0) {
    out.push(
      '',
      'At similar cost to the baseline (within 1.25x; Welch 95 % interval of the difference in points):',
      textTable(
        ['id', 'cost', 'ratio', 'id − VGG', 'decided'],
        a.matched.map((m) => [
          String(m.id),
          m.measure,
          m.ratio.toFixed(2),
          m.difference ? describeEstimate(m.difference, '') : 'needs 2+ seeds on both',
          m.decided ? 'yes' : 'no',
        ]),
      ),
    );
  }
  if (a.location) {
    const e = a.location;
    out.push(
      '',
      `Where the features sit, over all ${e.architectures} members (points of best validation accuracy per layer ${e.measure === 'xi' ? 'the peak of the features, xi,' : "the features' centre of mass"} moves later; 95 % bootstrap interval over architectures and seeds):`,
      `  raw (location alone):      ${describeEstimate(e.raw, '')}`,
      `  at matched cost:           ${e.adjusted ? `${describeEstimate(e.adjusted, '')} (${e.covariates.join(', ')} held fixed)` : `no estimate: ${e.note ?? ''}`}`,
    );
  }
  if (a.normalizedEdf.length > 0) {
    const at = (edf: (typeof a.normalizedEdf)[number], q: number): string => {
      const k = edf.cdf.findIndex((c) => c >= q - 1e-12);
      return (edf.errors[k < 0 ? edf.errors.length - 1 : k] ?? NaN).toFixed(2);
    };
    out.push(
      '',
      "Error distributions at one cost (each location group's runs reweighted to the members' distribution of log MACs; error = 100 - best val %):",
      textTable(
        ['group', 'runs', 'cost covered', 'error at 25 %', 'median error', 'error at 75 %'],
        a.normalizedEdf.map((edf) => [
          edf.group,
          String(edf.errors.length),
          `${(100 * edf.coverage).toFixed(0)} %`,
          at(edf, 0.25),
          at(edf, 0.5),
          at(edf, 0.75),
        ]),
      ),
    );
  }
  for (const s of a.halving?.survivors ?? []) {
    out.push(
      '',
      `Survivors of successive halving at epoch ${s.epoch} (their numbers at that epoch; everything else above is at epoch ${a.halving?.commonEpoch ?? '?'}):`,
      textTable(
        [...placeHeadings(a.architectures), 'best val %', 'last val %'],
        s.architectures.map((x, i) => [
          ...placeCells(x, i + 1, kind),
          plusMinus(x.bestVal),
          plusMinus(x.lastVal),
        ]),
      ),
    );
  }
  out.push(
    '',
    `Pareto front (no other architecture more accurate at lower or equal cost): by parameters ids ${a.pareto.params.join(', ')}; by MACs ids ${a.pareto.macs.join(', ')}`,
    '',
    'Finding:',
    ...a.finding.map((line) => `  ${line}`),
  );
  return `${out.join('\n')}\n`;
}

/** A comparison of studies as text: one row per study, its error distribution, the finding. */
export function formatComparison(c: StudyComparison): string {
  const range = (r: [number, number] | null, show: (n: number) => string): string =>
    r === null ? '-' : `${show(r[0])}-${show(r[1])}`;
  const pick = (e: LocationEffect | null, key: 'raw' | 'adjusted'): string => {
    const v = e?.[key];
    return v ? ci(v) : '-';
  };
  const percentile = (sorted: readonly number[], q: number): string =>
    sorted.length === 0 ? '-' : quantile(sorted, q).toFixed(2);
  return [
    "Studies compared on one axis: every member placed by the layer of its widths' centre of mass (docs/method.md §8); effects in points of best validation accuracy per layer later, 95 % intervals.",
    textTable(
      [
        'study',
        'family',
        'held',
        'members',
        'runs',
        'centres',
        'MACs',
        'mean best val %',
        'VGG %',
        'per layer, raw',
        'at matched cost',
      ],
      c.studies.map((s) => [
        s.dir,
        s.family,
        s.hold,
        String(s.members),
        String(s.runs),
        range(s.centres, (n) => n.toFixed(2)),
        range(s.macs, humanCount),
        s.accuracy ? ci(s.accuracy) : '-',
        s.baseline === null ? '-' : plusMinus(s.baseline),
        pick(s.effect, 'raw'),
        pick(s.effect, 'adjusted'),
      ]),
    ),
    '',
    'Error distributions (best validation error % of every member run):',
    textTable(
      ['study', 'runs', '25th', 'median', '75th'],
      c.studies.map((s) => [
        s.dir,
        String(s.errors.length),
        percentile(s.errors, 0.25),
        percentile(s.errors, 0.5),
        percentile(s.errors, 0.75),
      ]),
    ),
    '',
    'Finding:',
    ...c.finding.map((line) => `  ${line}`),
    '',
  ].join('\n');
}
