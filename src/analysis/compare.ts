import { familiesOf, type FamilyKind } from '../family/members.js';
import type { LoadedStudy } from '../run/load.js';
import { changedKeys, gridName, type StudyConfig } from '../run/study.js';
import { UsageError } from '../errors.js';
import { effectVerdict, type LocationEffect } from './cost-matched.js';
import { excludesZero, groupMean, type Estimate, type Interval } from './stats.js';
import {
  analyzeStudy,
  describeEstimate,
  isMember,
  type AnalysisOptions,
} from './study-analysis.js';

/**
 * Studies of different families or held costs compared on one axis (docs/method.md §8): each
 * analysed apart with every member placed by its widths' centre of mass, so that "one layer
 * later" means the same in all of them, and said side by side: where their members sit, what
 * they cost, their accuracy, the effect of location raw and at matched cost, and whether the
 * studies agree. A study of both families is compared as two, one per family, each with its
 * baseline.
 */

export interface ComparedStudy {
  dir: string;
  family: FamilyKind;
  hold: 'features' | 'macs' | 'params';
  grid: string | null;
  members: number;
  runs: number;
  /** The members' centres of mass, least and most (layers from the input). */
  centres: [number, number] | null;
  /** The members' MACs per image, least and most. */
  macs: [number, number] | null;
  /** Mean best validation accuracy over the members (architectures' means, t interval). */
  accuracy: Estimate | null;
  /** The baseline VGG's best validation accuracy over its seeds, where the study trained it. */
  baseline: Interval | null;
  /** Points of best validation accuracy per layer later, raw and at matched cost. */
  effect: LocationEffect | null;
  /** Every member run's best validation error, ascending: the study's error distribution. */
  errors: number[];
}

export interface StudyComparison {
  studies: ComparedStudy[];
  finding: string[];
  warnings: string[];
}

/** Options that may differ between compared studies: the family, its grid, the cost held. */
const MAY_DIFFER = new Set<string>([
  'family',
  'hold',
  'holdTolerance',
  'w0',
  'wa',
  'wm',
  'q',
  'xi',
  'omega',
  'alpha',
  'areaTolerance',
  'ids',
  'includeBaseline',
  'seed',
  'seeds',
]);

/** Refuses studies that differ in anything but their family and its cost: data, recipe, depth. */
function checkComparable(runs: readonly LoadedStudy[]): void {
  const [first] = runs;
  const studies = runs.map((r) => r.study);
  if (studies.some((s) => s === null))
    throw new UsageError(
      "--compare reads featshift run folders (their config.json says the family); the original code's CSVs do not say",
      'compare',
    );
  if (!first || (runs.length === 1 && first.study?.family !== 'both'))
    throw new UsageError(
      '--compare needs two run folders or more, or one study of both families (--family both)',
      'compare',
    );
  const base = studies[0] as StudyConfig;
  for (const [i, s] of studies.entries()) {
    const differ = changedKeys(base, s as StudyConfig).filter((k) => !MAY_DIFFER.has(k));
    if (differ.length > 0)
      throw new UsageError(
        `${runs[i]?.dir ?? '?'} differs from ${first.dir} in ${differ.join(', ')}: compare studies of one dataset, depth, budget and recipe, which differ only in family, grid and held cost`,
        'compare',
      );
  }
}

const span = (values: number[]): [number, number] | null =>
  values.length === 0 ? null : [Math.min(...values), Math.max(...values)];

function compared(
  { run, family }: { run: LoadedStudy; family: FamilyKind },
  options: AnalysisOptions,
): ComparedStudy {
  const analysis = analyzeStudy([run], { ...options, locateBy: 'centre' });
  const members = analysis.architectures.filter(isMember);
  const baseline = analysis.architectures.find((a) => a.id === 0);
  const study = run.study as StudyConfig;
  return {
    dir: run.dir,
    family,
    hold: study.hold,
    grid: gridName(study),
    members: members.length,
    runs: members.reduce((n, a) => n + a.runs.length, 0),
    centres: span(members.map((a) => a.location as number)),
    macs: span(members.map((a) => a.macs)),
    accuracy: members.length > 0 ? groupMean(members.map((a) => a.runs)) : null,
    baseline: baseline ? baseline.bestVal : null,
    effect: analysis.location,
    errors: members.flatMap((a) => a.runs.map((v) => 100 - v)).sort((a, b) => a - b),
  };
}

const label = (s: ComparedStudy): string =>
  `${s.family} held to ${s.hold === 'features' ? 'the features' : s.hold === 'macs' ? 'MACs' : 'parameters'}`;

/**
 * The effect a study answers with. Held to MACs or parameters its members already cost alike, so
 * the raw effect is at matched cost (a model adjusting for a cost that varies by 1 % only adds
 * noise: measured, intervals of hundreds of points); held to the features, the effect with the
 * costs held fixed by the model, where it separates them.
 */
function answer(s: ComparedStudy): { estimate: Estimate; how: string } | null {
  if (!s.effect) return null;
  if (s.hold !== 'features') return { estimate: s.effect.raw, how: `raw, at held ${s.hold}` };
  if (s.effect.adjusted) return { estimate: s.effect.adjusted, how: 'at matched cost' };
  return null;
}

function findings(studies: readonly ComparedStudy[]): string[] {
  const lines = [
    'Question: does moving the features one layer later (their centre of mass) help, and do the families and held costs agree?',
  ];
  for (const s of studies) {
    const a = answer(s);
    const where = s.centres ? `centres ${s.centres[0]}-${s.centres[1]}` : 'no members';
    lines.push(
      `${label(s)} (${s.members} members, ${where}): ${
        a
          ? `${describeEstimate(a.estimate, ' points per layer')} ${a.how}: ${effectVerdict(a.estimate)}`
          : s.effect
            ? `raw ${describeEstimate(s.effect.raw, ' points per layer')}, but no estimate at matched cost (${s.effect.note ?? 'the model cannot be fitted'})`
            : 'no estimate: it needs three members or more'
      }.`,
    );
  }
  const decided = studies.flatMap((s) => {
    const a = answer(s);
    return a && excludesZero(a.estimate) ? [{ s, sign: Math.sign(a.estimate.value) }] : [];
  });
  if (decided.length === 0)
    lines.push(
      'No study decides at matched cost: these data cannot say whether features belong earlier or later, in either family.',
    );
  else if (new Set(decided.map((d) => d.sign)).size > 1)
    lines.push(
      `They disagree: ${decided.map((d) => `${label(d.s)} says ${d.sign > 0 ? 'later' : 'earlier'}`).join(', ')} is better at matched cost.`,
    );
  else {
    const undecided = studies.filter((s) => !decided.some((d) => d.s === s));
    lines.push(
      `${decided.map((d) => label(d.s)).join(' and ')} ${decided.length === 1 ? 'says' : 'agree:'} ${(decided[0]?.sign ?? 0) > 0 ? 'later' : 'earlier'} is better at matched cost${undecided.length > 0 ? `; ${undecided.map(label).join(' and ')} cannot decide` : ''}.`,
    );
  }
  return lines;
}

/** A study as one per family it draws from, each with the baseline it trained. */
function byFamily(run: LoadedStudy): { run: LoadedStudy; family: FamilyKind }[] {
  const study = run.study as StudyConfig;
  if (study.family !== 'both') return [{ run, family: study.family }];
  return familiesOf(study.family).map((family) => ({
    family,
    run: {
      ...run,
      study: { ...study, family },
      runs: run.runs.filter((r) => r.id === 0 || (r.family === 'linear') === (family === 'linear')),
    },
  }));
}

/** Compares studies that differ only in family, grid and held cost, on the centre of mass. */
export function compareStudies(
  runs: readonly LoadedStudy[],
  options: AnalysisOptions,
): StudyComparison {
  checkComparable(runs);
  const studies = runs.flatMap(byFamily).map((r) => compared(r, options));
  return {
    studies,
    finding: findings(studies),
    warnings: runs.flatMap((r) => r.warnings),
  };
}
