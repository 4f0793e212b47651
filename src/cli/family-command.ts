import { Command, Option } from 'commander';
import { addStudyFlags, givenStudyValues } from './study-flags.js';
import { baselineArchitecture, type FamilyOptions } from '../family/skew-normal.js';
import { HOLD_TOLERANCE, HOLDS, type Hold } from '../family/hold.js';
import { LINEAR_DEFAULTS, type LinearOptions } from '../family/linear.js';
import { FAMILY_KINDS, familyMembers, type FamilyKind } from '../family/members.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { familyOptions, REFERENCE_DEFAULTS, type StudyConfig } from '../run/study.js';
import { formatArchitectures, OUTPUT_FORMATS, type OutputFormat } from './architecture-output.js';
import type { GridRange } from '../family/skew-normal.js';
import * as parse from './parse.js';

interface FamilyCliOptions {
  classes: number;
  includeBaseline?: boolean;
  format: OutputFormat;
  output?: string;
  family: FamilyKind;
  hold: Hold;
  holdTolerance: number;
  w0?: GridRange;
  wa?: GridRange;
  wm?: GridRange;
  q?: number;
}

/** The linear family's flags, and the skew-normal's, each refused with the other family. */
const LINEAR_FLAGS = { w0: '--w0', wa: '--wa', wm: '--wm', q: '--q' } as const;
const SKEW_NORMAL_FLAGS = {
  xi: '--xi',
  omega: '--omega',
  alpha: '--alpha',
  areaTolerance: '--area-tolerance',
} as const;

/** The family options of the command's flags: a study's family, with the reference's recipe. */
function familyOptionsFrom(
  o: FamilyCliOptions,
  command: Command,
): FamilyOptions & LinearOptions & { family: FamilyKind } {
  const given = givenStudyValues(o as unknown as Record<string, unknown>, command);
  const study = { ...REFERENCE_DEFAULTS, ...given } as StudyConfig;
  const wrong = o.family === 'linear' ? SKEW_NORMAL_FLAGS : LINEAR_FLAGS;
  for (const [key, flag] of Object.entries(wrong))
    if (command.getOptionValueSource(key) === 'cli')
      throw new UsageError(
        o.family === 'linear'
          ? 'only the skew-normal family has it: drop it, or drop --family linear'
          : 'only the linear family has it: add --family linear',
        flag.slice(2),
      );
  return {
    ...familyOptions(study, o.classes),
    family: o.family,
    hold: o.hold,
    holdTolerance: o.holdTolerance,
    ...(o.w0 ? { w0: o.w0 } : {}),
    ...(o.wa ? { wa: o.wa } : {}),
    ...(o.wm ? { wm: o.wm } : {}),
    ...(o.q !== undefined ? { q: o.q } : {}),
  };
}

const range = (g: { min: number; max: number; step: number }): string =>
  `${g.min}:${g.max}:${g.step}`;

export function familyCommand(): Command {
  const command = new Command('family')
    .description(
      'list a family of VGG width profiles: the skew-normal (every valid xi, omega, alpha) or the linear (w0 + wa j), with their costs',
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
      ].join('\n'),
    );
  addStudyFlags(command, ['family'])
    .addOption(
      new Option(
        '--family <KIND>',
        'skew-normal (the paper: a skew-normal distribution of the features over the layers) or linear (RegNet: w_j = w0 + wa j)',
      )
        .choices(FAMILY_KINDS)
        .default('skew-normal'),
    )
    .addOption(
      new Option(
        '--hold <COST>',
        "what every member keeps at the baseline VGG's figure: features (the paper), macs (per image) or params",
      )
        .choices(HOLDS)
        .default('features'),
    )
    .option(
      '--hold-tolerance <EPS>',
      'largest relative miss of a held MAC or parameter count',
      parse.nonNegativeNumber,
      HOLD_TOLERANCE,
    )
    .option(
      '--w0 <MIN:MAX:STEP>',
      `linear: grid of the first width before scaling (default ${range(LINEAR_DEFAULTS.w0)})`,
      parse.gridRange,
    )
    .option(
      '--wa <MIN:MAX:STEP>',
      `linear: grid of the slope, below 0 falling, 0 uniform, above 0 rising (default ${range(LINEAR_DEFAULTS.wa)})`,
      parse.gridRange,
    )
    .option(
      '--wm <MIN:MAX:STEP>',
      'linear: grid of the quantisation multiplier, above 1: widths constant over stages (default none)',
      parse.gridRange,
    )
    .option(
      '--q <N>',
      `linear: quantised widths are multiples of N (default ${LINEAR_DEFAULTS.q})`,
      parse.positiveInteger,
    )
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
          options.family === 'linear'
            ? 'no member of this grid is valid: widen the grid (--w0, --wa, --wm), lower --min-features, loosen --hold-tolerance, or raise the budget (--total-features, --width-multiplier)'
            : 'no architecture of this grid is valid: widen the grid (--xi, --omega, --alpha), lower --min-features, or raise the budget (--total-features, --width-multiplier)',
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
