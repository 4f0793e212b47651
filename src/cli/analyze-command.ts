import { Command, Option } from 'commander';
import { formatAnalysis } from '../analysis/format.js';
import { analyzeStudy } from '../analysis/study-analysis.js';
import { UsageError } from '../errors.js';
import { loadRun } from '../run/load.js';
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
        "code's CSV folders; several folders of one study are pooled.",
    )
    .argument('<RUN_DIR...>', 'run folders of one study')
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(FORMATS).default('text'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .option('--resamples <N>', 'bootstrap resamples (default 4000)', parse.positiveInteger, 4000)
    .option('--bootstrap-seed <N>', 'seed of the bootstrap (default 0)', parse.integer, 0)
    .action(
      async (
        dirs: string[],
        o: {
          format: (typeof FORMATS)[number];
          output?: string;
          resamples: number;
          bootstrapSeed: number;
        },
      ) => {
        if (o.resamples > 1_000_000)
          throw new UsageError(
            `--resamples ${o.resamples} is more than a million: 4000 suffices for 95 % intervals`,
            'resamples',
          );
        const runs = dirs.map((d) => loadRun(d));
        for (const run of runs)
          for (const w of run.warnings) process.stderr.write(`featshift: warning: ${w}\n`);
        const first = runs[0];
        const other = runs.find((r) => r.dataset !== first?.dataset || r.depth !== first.depth);
        if (first && other) {
          throw new UsageError(
            `${other.dir} is a study of ${other.dataset} on VGG-${other.depth}, ${first.dir} one of ${first.dataset} on VGG-${first.depth}: analyse one study at a time`,
          );
        }
        const analysis = analyzeStudy(runs, { resamples: o.resamples, seed: o.bootstrapSeed });
        const text =
          o.format === 'json' ? `${JSON.stringify(analysis, null, 2)}\n` : formatAnalysis(analysis);
        if (o.output !== undefined) await writeFileAtomic(o.output, text);
        else process.stdout.write(text);
      },
    );
}
