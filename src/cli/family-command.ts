import { Command, Option } from 'commander';
import {
  baselineArchitecture,
  skewNormalFamily,
  type FamilyOptions,
  type GridRange,
} from '../family/skew-normal.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { familyOptions, REFERENCE_DEFAULTS, type StudyConfig } from '../run/study.js';
import { formatArchitectures, OUTPUT_FORMATS, type OutputFormat } from './architecture-output.js';
import * as parse from './parse.js';

interface FamilyCliOptions {
  depth: number;
  classes: number;
  patchSize: number;
  xi?: GridRange;
  omega: GridRange;
  alpha: GridRange;
  minFeatures: number;
  areaTolerance: number;
  totalFeatures?: number;
  widthMultiplier?: number;
  includeBaseline?: boolean;
  format: OutputFormat;
  output?: string;
}

/** The family options shared by `family` and `sweep`, with the reference's defaults. */
export function addFamilyOptions(command: Command, withClasses = true): Command {
  command.option(
    '-d, --depth <D>',
    'VGG depth, 3k + 7 (16 is VGG-D, 19 is VGG-E)',
    parse.integer,
    16,
  );
  if (withClasses)
    command.option(
      '--classes <N>',
      'number of classes (for capacity and params)',
      parse.integer,
      10,
    );
  return command
    .option(
      '-p, --patch-size <P>',
      'input patch size in pixels; above 100 the classifier is 4096 wide, else 512',
      parse.integer,
      32,
    )
    .option(
      '--xi <MIN:MAX:STEP>',
      'grid of the location xi (default: 0:L:1, L = D - 1 layers)',
      parse.gridRange,
    )
    .addOption(
      new Option('--omega <MIN:MAX:STEP>', 'grid of the scale omega; 0 is skipped')
        .argParser(parse.gridRange)
        .default({ min: 0, max: 5.5, step: 0.5 }, '0:5.5:0.5'),
    )
    .addOption(
      new Option('--alpha <MIN:MAX:STEP>', 'grid of the skew alpha')
        .argParser(parse.gridRange)
        .default({ min: -40, max: 40, step: 4 }, '-40:40:4'),
    )
    .option('--min-features <N>', 'fewest features any layer may get', parse.integer, 2)
    .option(
      '--area-tolerance <EPS>',
      'largest share of the density that may fall outside the network',
      parse.finiteNumber,
      0.05,
    )
    .addOption(
      new Option(
        '--total-features <N>',
        'total features to distribute (default: the base VGG total)',
      )
        .argParser(parse.integer)
        .conflicts('widthMultiplier'),
    )
    .option(
      '--width-multiplier <M>',
      'scale the base VGG total by M (shapes kept)',
      parse.finiteNumber,
    )
    .option('--include-baseline', 'add the standard VGG widths, scaled to the budget, as id 0');
}

/** The family options of the command's flags: a study's family, with the reference's recipe. */
function familyOptionsFrom(o: Omit<FamilyCliOptions, 'format' | 'output'>): FamilyOptions {
  const study: StudyConfig = {
    ...REFERENCE_DEFAULTS,
    depth: o.depth,
    patchSize: o.patchSize,
    xi: o.xi ?? null,
    omega: o.omega,
    alpha: o.alpha,
    minFeatures: o.minFeatures,
    areaTolerance: o.areaTolerance,
    totalFeatures: o.totalFeatures ?? null,
    widthMultiplier: o.widthMultiplier ?? null,
  };
  return familyOptions(study, o.classes);
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
  addFamilyOptions(command)
    .addOption(
      new Option('-f, --format <FORMAT>', 'output format').choices(OUTPUT_FORMATS).default('table'),
    )
    .option('-o, --output <FILE>', 'write to FILE (atomically) instead of standard output')
    .action(async (o: FamilyCliOptions) => {
      const options = familyOptionsFrom(o);
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
