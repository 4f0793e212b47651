import { Command, Option } from 'commander';
import { addStudyFlags, givenStudyValues, refuseOtherFamilyFlags } from './study-flags.js';
import { baselineArchitecture } from '../family/skew-normal.js';
import { familyMembers, type MemberOptions } from '../family/members.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { checkStudy, familyOptions, REFERENCE_DEFAULTS, type StudyConfig } from '../run/study.js';
import { formatArchitectures, OUTPUT_FORMATS, type OutputFormat } from './architecture-output.js';
import * as parse from './parse.js';

interface FamilyCliOptions {
  classes: number;
  includeBaseline?: boolean;
  format: OutputFormat;
  output?: string;
}

/** The family options of the command's flags: a study's family, with the reference's recipe. */
function familyOptionsFrom(o: FamilyCliOptions, command: Command): MemberOptions {
  const given = givenStudyValues(o as unknown as Record<string, unknown>, command);
  const study = { ...REFERENCE_DEFAULTS, ...given } as StudyConfig;
  refuseOtherFamilyFlags(command, study.family);
  checkStudy(study);
  return familyOptions(study, o.classes);
}

export function familyCommand(): Command {
  const command = new Command('family')
    .description(
      'list a family of VGG width profiles: the skew-normal (every valid xi, omega, alpha), the linear (w0 + wa j) or both, with their costs',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  featshift family',
        '  featshift family --depth 19 --format json',
        '  featshift family --width-multiplier 0.25 --include-baseline --format csv -o family.csv',
        '  featshift family --family linear --width-multiplier 0.125 --hold macs',
        '  featshift family --family linear --wa 0:48:8 --wm 2:2:1 --hold params',
        '  featshift family --family both --width-multiplier 0.125 --hold macs',
      ].join('\n'),
    );
  addStudyFlags(command, ['family'])
    .option('--classes <N>', 'number of classes (for capacity and params)', parse.integer, 10)
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(OUTPUT_FORMATS).default('table'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .action(async (o: FamilyCliOptions, cmd: Command) => {
      const options = familyOptionsFrom(o, cmd);
      const members = familyMembers(options);
      if (members.length === 0) {
        throw new UsageError(
          options.family === 'skew-normal'
            ? 'no architecture of this grid is valid: widen the grid (--xi, --omega, --alpha), lower --min-features, or raise the budget (--total-features, --width-multiplier)'
            : 'no member of this grid is valid: widen the grid (--w0, --wa, --wm), lower --min-features, loosen --hold-tolerance, or raise the budget (--total-features, --width-multiplier)',
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
