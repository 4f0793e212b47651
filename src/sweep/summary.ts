import { familiesIn, memberKey, type MemberKey } from '../family/members.js';
import {
  architectureStats,
  placeCells,
  placeHeadings,
  type ArchitectureStats,
  plusMinus,
  rankArchitectures,
  topVerdict,
} from '../analysis/architectures.js';
import { analyzeStudy } from '../analysis/study-analysis.js';
import { halvingView } from '../analysis/halving-view.js';
import { loadStudy } from '../run/load.js';
import { halvingSummary } from '../analysis/halving-view.js';
import type { ResultRecord } from '../run/results.js';
import { humanCount, sparkline, textTable } from '../util/text-table.js';

/**
 * The ranked summary of a sweep: one row per architecture, its best validation accuracy as the
 * mean over seeds ± the half-width of its 95 % interval, and what the data can tell about the
 * top of the ranking: which architectures cannot be told apart from the best, or that single runs
 * (one seed) cannot rank at all.
 */
export function summaryTable(records: readonly ResultRecord[]): string {
  // Under successive halving every run is ranked at the first rung, which all of them reached.
  const halved = halvingView(records, undefined);
  const stats = architectureStats(halved ? halved.compared : records);
  const ranked = rankArchitectures(stats);
  const top = topVerdict(stats);
  const tied = new Set(top.tiedWithBest);
  const kind = familiesIn(stats);
  const rows = ranked.map((a, i) => [
    ...placeCells(a, i + 1, kind),
    plusMinus(a.bestVal),
    plusMinus(a.bestValTrain),
    humanCount(a.params),
    humanCount(a.macs),
    `${sparkline(a.widths)}${a.key === top.best && top.undecidable === null ? ' best' : ''}${tied.has(a.key) ? ' =best' : ''}${a.abandoned ? ` abandoned ${a.abandoned}/${a.seeds.length}` : ''}${a.diverged ? ` DIVERGED ${a.diverged}/${a.seeds.length}` : ''}`,
  ]);
  const head: string[] = [
    ...placeHeadings(stats),
    'best val %',
    'train %',
    'params',
    'MACs',
    'widths',
  ];
  const verdict =
    top.undecidable !== null
      ? [
          'best val %: mean over seeds ± half-width of its 95 % interval (Student t; [low, high] where cut at 0 or 100 %).',
          `No ranking: ${top.undecidable}.`,
        ]
      : [
          'best val %: mean over seeds ± half-width of its 95 % interval (Student t; [low, high] where cut at 0 or 100 %).',
          top.tiedWithBest.length === 0
            ? `id ${top.best ?? '?'} is better than every other architecture at 95 %.`
            : `=best: cannot be told apart from the best (id ${top.best ?? '?'}) at 95 % (Welch): ${top.tiedWithBest.length === 1 ? 'id' : 'ids'} ${top.tiedWithBest.join(', ')}.`,
        ];
  if (halved) {
    verdict.unshift(
      `Successive halving: every run is ranked on its numbers at epoch ${halved.view.commonEpoch}, the rung all reached (the epochs column says how far each trained); the survivors of later rungs are ranked again in the finding below.`,
    );
    // Successive halving: how far each architecture trained, before its widths.
    const epochsOf = (key: MemberKey): string =>
      String(Math.max(...records.filter((r) => memberKey(r) === key).map((r) => r.valAcc.length)));
    head.splice(head.length - 1, 0, 'epochs');
    rows.forEach((row, i) =>
      row.splice(row.length - 1, 0, epochsOf((ranked[i] as ArchitectureStats).key)),
    );
  }
  return [textTable(head, rows), '', ...verdict].join('\n');
}

/**
 * What a finished sweep prints: the ranked summary, then the study's question answered by the
 * group comparison with its intervals (the finding of `featshift analyze`), and where the rest is.
 */
export function sweepConclusion(records: readonly ResultRecord[], dir: string): string {
  const parts = [summaryTable(records)];
  if (records.length === 0) return parts[0] as string;
  const run = loadStudy(dir);
  const halving = run.epochs === null ? undefined : halvingSummary(records, run.epochs);
  if (halving) parts.push('', halving);
  const analysis = analyzeStudy([run], { resamples: 4000, seed: 0 });
  if (analysis.grid) parts.push('', `Ids number ${analysis.grid}.`);
  parts.push(
    '',
    'Finding (groups of architectures compared with 95 % intervals):',
    ...analysis.finding.map((l) => `  ${l}`),
  );
  parts.push('', `The whole analysis: featshift analyze '${dir}'`);
  return parts.join('\n');
}
