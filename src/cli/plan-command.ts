import { Command, InvalidArgumentError, Option } from 'commander';
import {
  bestDesign,
  defaultDesigns,
  designName,
  parseDesign,
  pilotVariances,
  PilotError,
  planDesign,
  type Design,
  type DesignPlan,
  type PilotVariances,
} from '../analysis/design-power.js';
import { checkOneStudy } from '../analysis/one-study.js';
import { LEVEL, POWER } from '../analysis/stats.js';
import { BASELINE, poolRuns } from '../analysis/study-analysis.js';
import { UsageError } from '../errors.js';
import { loadStudy, type LoadedStudy } from '../run/load.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { clockDuration } from '../util/duration.js';
import { printable } from '../util/printable.js';
import { textTable } from '../util/text-table.js';
import { checkOutputPath } from './output-path.js';
import * as parse from './parse.js';

const FORMATS = ['text', 'json'] as const;

function designOption(value: string, previous: Design[] | undefined): Design[] {
  const designs = value.split(',').map((part) => {
    const d = parseDesign(part);
    if (!d)
      throw new InvalidArgumentError(
        `expected designs such as 3x2 (3 architectures per location, 2 seeds each), got '${part}'.`,
      );
    return d;
  });
  return [...(previous ?? []), ...designs];
}

export interface PlanOutput {
  dirs: string[];
  dataset: string;
  /** What every pilot run trained, in words (epochs, images). */
  budget: string;
  level: number;
  power: number;
  pilot: PilotVariances;
  designs: DesignPlan[];
  /** The budget in seconds the choice was held to (null: none given). */
  budgetSeconds: number | null;
  best: DesignPlan | null;
}

/** The pilot's training budget in words, as every design would train. */
function trainingBudget(run: LoadedStudy): string {
  const s = run.study;
  if (!s) return 'the budget of the original CSVs';
  const images = (n: number | null, all: string): string => (n === null ? all : String(n));
  return `${s.epochs} epochs on ${images(s.trainSubset, 'all')} training and ${images(s.valSubset, 'all')} validation images, ${s.widthMultiplier === null ? 'full width' : `width x${s.widthMultiplier}`}`;
}

function formatPlan(p: PlanOutput): string {
  const v = p.pilot;
  const out: string[] = [];
  const groups = v.groups
    .map((g) => `${g.name} ${g.between.toFixed(1)} (${g.architectures} architectures)`)
    .join(', ');
  out.push(
    `Pilot ${p.dirs.join(', ')}: ${p.dataset}, ${p.budget}; every design below trains so.`,
    `Variance of best validation accuracy (points²): between seeds of one member ${v.seeds.variance.toFixed(1)} (pooled, ${v.seeds.dof} degrees of freedom); between architectures of one location ${groups}` +
      (v.baseline
        ? `; ${BASELINE}'s seeds ${v.baseline.variance === null ? 'unknown (one run)' : v.baseline.variance.toFixed(1)}.`
        : `; no ${BASELINE} baseline in the pilot.`),
    '',
    `Smallest difference of means over architectures each design detects at ${p.level * 100} % with ${p.power * 100} % power (points; * groups under three architectures give no verdict over architectures; time on the pilot's machine):`,
  );
  const names = (p.designs[0]?.differences ?? []).map((d) => `${d.minuend} - ${d.subtrahend}`);
  out.push(
    textTable(
      ['design', 'runs', 'time', ...names],
      p.designs.map((d) => [
        designName(d.design),
        String(d.runs),
        d.seconds === null ? '?' : clockDuration(d.seconds),
        ...d.differences.map((x) =>
          x.detectable === null
            ? 'none'
            : `${x.detectable.toFixed(1)}${x.overArchitectures ? '' : '*'}`,
        ),
      ]),
    ),
    '',
  );
  const within = p.budgetSeconds === null ? '' : ` within ${clockDuration(p.budgetSeconds)}`;
  out.push(
    p.best
      ? `Best design${within}: ${designName(p.best.design)} (${p.best.design.perLocation} architectures per location, ${p.best.design.seeds} seed${p.best.design.seeds === 1 ? '' : 's'} each, ${p.best.runs} runs): it detects early - late and every location - ${BASELINE} difference of ${p.best.worst?.toFixed(1)} points or more.`
      : `No design${within} decides early - late and location - ${BASELINE} over architectures: allow more time (--budget) or give designs with three or more architectures per location and two or more seeds.`,
  );
  return `${out.join('\n')}\n`;
}

export function planCommand(): Command {
  return new Command('plan')
    .summary("choose a study's design by the difference it can detect, from a pilot run")
    .description(
      "choose a study's design from a pilot: for each design KxS (K architectures per location, S seeds each), " +
        'the smallest early - middle - late and location - VGG difference over architectures it would detect at 95 % ' +
        'with 80 % power, and its time, from the variances and run times the pilot measured (docs/method.md §6).\n' +
        'The pilot is a run folder trained as the study would be, with two seeds or more and two or more members per location.',
    )
    .argument('<RUN_DIR...>', 'run folders of one pilot study')
    .option(
      '--design <KxS,...>',
      'designs to compare, such as 2x3,3x2 (default: 2 to 6 per location, 1 to 3 seeds)',
      designOption,
    )
    .option(
      '--budget <MINUTES>',
      'choose the best design that takes at most this long on the pilot machine',
      parse.positiveNumber,
    )
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(FORMATS).default('text'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .action(
      async (
        dirs: string[],
        o: {
          design?: Design[];
          budget?: number;
          format: (typeof FORMATS)[number];
          output?: string;
        },
      ) => {
        if (o.output !== undefined) checkOutputPath(o.output, dirs);
        const runs = dirs.map((d) => loadStudy(d));
        const warnings = [...runs.flatMap((r) => r.warnings), ...checkOneStudy(runs, false)];
        const first = runs[0] as LoadedStudy;
        if (runs.some((r) => r.study?.halving))
          throw new UsageError(
            'plan needs a pilot trained without --halving: its runs stop at different epochs, so their spread is not one budget',
            'halving',
          );
        let pilot: PilotVariances;
        try {
          // A unit in two folders counts once, as analyze pools them.
          pilot = pilotVariances(poolRuns(runs, warnings), first.depth);
        } catch (e) {
          if (e instanceof PilotError)
            throw new UsageError(`pilot ${dirs.join(', ')}: ${e.message}`);
          throw e;
        }
        const budgetSeconds = o.budget === undefined ? null : o.budget * 60;
        const designs = (o.design ?? defaultDesigns()).map((d) => planDesign(pilot, d));
        const output: PlanOutput = {
          dirs,
          dataset: first.dataset,
          budget: trainingBudget(first),
          level: LEVEL,
          power: POWER,
          pilot,
          designs,
          budgetSeconds,
          best: bestDesign(designs, budgetSeconds),
        };
        for (const w of warnings) process.stderr.write(`featshift: warning: ${printable(w)}\n`);
        const text =
          o.format === 'json' ? `${JSON.stringify(output, null, 2)}\n` : formatPlan(output);
        if (o.output !== undefined) await writeFileAtomic(o.output, text);
        else process.stdout.write(text);
      },
    );
}
