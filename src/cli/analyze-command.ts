import { Command, Option } from 'commander';
import { compareStudies } from '../analysis/compare.js';
import { formatAnalysis, formatComparison } from '../analysis/format.js';
import { analyzeStudy } from '../analysis/study-analysis.js';
import { UsageError } from '../errors.js';
import { checkOneStudy } from '../analysis/one-study.js';
import { loadStudy, type LoadedStudy } from '../run/load.js';
import { printable } from '../util/printable.js';
import { checkOutputPath } from './output-path.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import * as parse from './parse.js';

const FORMATS = ['text', 'json'] as const;

export function analyzeCommand(): Command {
  return new Command('analyze')
    .summary("answer the study's question from run folders, with intervals")
    .description(
      "answer the study's question from run folders: features early, in the middle, late, or as in VGG?\n" +
        'Per architecture: mean and 95 % Student t interval over seeds. Groups by location (xi), skew, spread and cost:\n' +
        'medians with two-stage bootstrap intervals, means over architectures with t intervals, their differences, the baseline at matched\n' +
        'cost, the Pareto front, and a finding in words. Reads featshift run folders (partial ones too) and the original\n' +
        "code's CSV folders; several folders of one study are pooled. With --compare: studies of other families or held\n" +
        "costs side by side, every member placed by its widths' centre of mass (docs/method.md §8).",
    )
    .argument('<RUN_DIR...>', 'run folders of one study')
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(FORMATS).default('text'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .option('--resamples <N>', 'bootstrap resamples (default 4000)', parse.positiveInteger, 4000)
    .option('--bootstrap-seed <N>', 'seed of the bootstrap (default 0)', parse.seed, 0)
    .option(
      '--pool',
      'pool folders whose studies differ in options that change results (what differs is printed)',
    )
    .option(
      '--compare',
      "compare studies that differ only in family, grid and held cost, each member placed by its widths' centre of mass",
    )
    .action(
      async (
        dirs: string[],
        o: {
          format: (typeof FORMATS)[number];
          output?: string;
          resamples: number;
          bootstrapSeed: number;
          pool?: boolean;
          compare?: boolean;
        },
      ) => {
        if (o.resamples > 1_000_000)
          throw new UsageError(
            `--resamples ${o.resamples} is more than a million: 4000 suffices for 95 % intervals`,
            'resamples',
          );
        if (o.output !== undefined) checkOutputPath(o.output, dirs);
        const runs = dirs.map((d) => loadStudy(d));
        if (o.compare === true) {
          if (o.pool === true)
            throw new UsageError('--compare keeps studies apart: drop --pool', 'pool');
          await writeComparison(runs, o);
          return;
        }
        const pooled = checkOneStudy(runs, o.pool === true);
        const analysis = analyzeStudy(runs, { resamples: o.resamples, seed: o.bootstrapSeed });
        analysis.warnings.push(...pooled);
        // Every warning once, in either format: what was skipped, pooled or counted once.
        for (const w of analysis.warnings)
          process.stderr.write(`featshift: warning: ${printable(w)}\n`);
        const text =
          o.format === 'json' ? `${JSON.stringify(analysis, null, 2)}\n` : formatAnalysis(analysis);
        if (o.output !== undefined) await writeFileAtomic(o.output, text);
        else process.stdout.write(text);
      },
    );
}

/** `analyze --compare`: studies of other families or held costs, side by side. */
async function writeComparison(
  runs: LoadedStudy[],
  o: {
    format: (typeof FORMATS)[number];
    output?: string;
    resamples: number;
    bootstrapSeed: number;
  },
): Promise<void> {
  const comparison = compareStudies(runs, { resamples: o.resamples, seed: o.bootstrapSeed });
  for (const w of new Set(comparison.warnings))
    process.stderr.write(`featshift: warning: ${printable(w)}\n`);
  const text =
    o.format === 'json' ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison);
  if (o.output !== undefined) await writeFileAtomic(o.output, text);
  else process.stdout.write(text);
}
