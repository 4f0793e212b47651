import { Command, Option } from 'commander';
import { addStudyFlags, givenStudyValues } from './study-flags.js';
import {
  baselineArchitecture,
  skewNormalFamily,
  type FamilyOptions,
} from '../family/skew-normal.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { familyOptions, REFERENCE_DEFAULTS, type StudyConfig } from '../run/study.js';
import { formatArchitectures, OUTPUT_FORMATS, type OutputFormat } from './architecture-output.js';
import * as parse from './parse.js';

interface FamilyCliOptions {
  classes: number;
  includeBaseline?: boolean;
  format: OutputFormat;
  output?: string;
}

/** The family options of the command's flags: a study's family, with the reference's recipe. */
function familyOptionsFrom(o: Record<string, unknown>, command: Command): FamilyOptions {
  const study = { ...REFERENCE_DEFAULTS, ...givenStudyValues(o, command) } as StudyConfig;
  return familyOptions(study, o.classes as number);
}

export function familyCommand(): Command {
  const command = new Command('family')
    .description(
      'list the skew-normal family of a VGG: every valid (xi, omega, alpha) and its widths',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  featshift family\n  featshift family --depth 19 --format json\n  featshift family --width-multiplier 0.25 --include-baseline --format csv -o family.csv',
    );
  addStudyFlags(command, ['family'])
    .option('--classes <N>', 'number of classes (for capacity and params)', parse.integer, 10)
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(OUTPUT_FORMATS).default('table'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .action(async (o: FamilyCliOptions, cmd: Command) => {
      const options = familyOptionsFrom(o as unknown as Record<string, unknown>, cmd);
      const members = skewNormalFamily(options);
      if (members.length === 0) {
        throw new UsageError(
          'no architecture of this grid is valid: widen the grid (--xi, --omega, --alpha), lower --min-features, or raise the budget (--total-features, --width-multiplier)',
          'min-features',
        );
      }
      const list = o.includeBaseline ? [baselineArchitecture(options), ...members] : members;
      const text = formatArchitectures(list, o.format);
      if (o.output !== undefined) await writeFileAtomic(o.output, text);
      else process.stdout.write(text);
    });
  return command;
}
