import { Option, type Command } from 'commander';
import {
  shownDefault,
  STUDY_KEYS,
  studyFlag,
  studyOption,
  type Group,
  type StudyKey,
} from '../run/study-options.js';
import { UsageError } from '../errors.js';
import type { FamilyChoice, FamilyKind } from '../family/members.js';
import * as parse from './parse.js';

/**
 * The command-line flags of the study options, from their one table (src/run/study-options.ts):
 * each flag's help shows its default once. Commander gets no defaults: a flag's value is there
 * only when given, so that a sweep tells the study options given from the rest.
 */

/** The parser of a flag's text: the table's ranges are checked with the study (checkStudy). */
function parserOf(key: StudyKey): ((text: string) => unknown) | undefined {
  const { kind, range } = studyOption(key);
  const least = range?.[0] ?? 0;
  switch (kind) {
    case 'integer':
      return least >= 1 ? parse.positiveInteger : parse.integer;
    case 'number':
      return least > 0 ? parse.positiveNumber : parse.finiteNumber;
    case 'grid':
      return parse.gridRange;
    // --seeds takes a count or a list, resolved against --seed (resolveSeeds).
    case 'integers':
      return key === 'seeds' ? undefined : parse.integerList;
    default:
      return undefined;
  }
}

/**
 * A study option's flag with its short form and argument, `-b, --batch-size <N>` (commander's
 * spelling; `argument` rewrites the argument, as the docs show it); a switch that is on by
 * default is given as its negation, --no-abandon.
 */
function flagText(key: StudyKey, argument: (arg: string) => string): string {
  const o = studyOption(key);
  const negated = o.kind === 'switch' && o.default === true;
  const short = o.short !== undefined ? `${o.short}, ` : '';
  const arg = o.arg !== undefined ? ` ${argument(o.arg)}` : '';
  return `${short}--${negated ? 'no-' : ''}${studyFlag(key)}${arg}`;
}

/** The flag of one study option. */
export function studyFlagOption(key: StudyKey): Option {
  const o = studyOption(key);
  const flags = flagText(key, (arg) => arg);
  const shown = shownDefault(key);
  const option = new Option(flags, shown === '-' ? o.help : `${o.help} (default ${shown})`);
  const parser = parserOf(key);
  if (parser) option.argParser(parser);
  if (o.choices) option.choices(o.choices);
  if (o.conflicts !== undefined) option.conflicts(o.conflicts);
  return option;
}

/** Each family's own flags: refused with the other family, which they would not shape. */
const FAMILY_FLAGS: Record<FamilyKind, readonly StudyKey[]> = {
  'skew-normal': ['xi', 'omega', 'alpha', 'areaTolerance'],
  linear: ['w0', 'wa', 'wm', 'q'],
};

/** Refuses a flag of a family the study does not draw from (--xi with --family linear). */
export function refuseOtherFamilyFlags(command: Command, family: FamilyChoice): void {
  if (family === 'both') return;
  const other = family === 'linear' ? 'skew-normal' : 'linear';
  for (const key of FAMILY_FLAGS[other])
    if (command.getOptionValueSource(key) === 'cli')
      throw new UsageError(
        family === 'linear'
          ? 'only the skew-normal family has it: drop it, or give --family both'
          : 'only the linear family has it: add --family linear (or --family both)',
        studyFlag(key),
      );
}

/** Adds the flags of the study options of these groups, in the table's order. */
export function addStudyFlags(command: Command, groups: readonly Group[]): Command {
  for (const group of groups)
    for (const key of STUDY_KEYS)
      if (studyOption(key).group === group) command.addOption(studyFlagOption(key));
  return command;
}

/** The study values given on the command line, by key. */
export function givenStudyValues(
  values: Record<string, unknown>,
  command: Command,
): Partial<Record<StudyKey, unknown>> {
  const given: Partial<Record<StudyKey, unknown>> = {};
  for (const key of STUDY_KEYS)
    if (command.getOptionValueSource(key) === 'cli') given[key] = values[key];
  return given;
}

/** The study options as docs/study.md shows them: generated, and checked by a test. */
export function studyOptionsMarkdown(): string {
  const rows = STUDY_KEYS.map((key) => {
    const o = studyOption(key);
    const choices = o.choices ? ` (${o.choices.join(', ')})` : '';
    const cells = [
      `\`${flagText(key, (arg) => arg.replace(/[<>]/g, '').replace('|', '\\|'))}\``,
      `${o.help}${choices}`.replace(/\|/g, '\\|'),
      shownDefault(key).replace(/\|/g, '\\|'),
      o.reference ?? '-',
      `\`${key}\``,
    ];
    return `| ${cells.join(' | ')} |`;
  });
  return [
    '| option | what it sets | default | the original code | config.json key |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

const START = '<!-- study-options:start -->';
const END = '<!-- study-options:end -->';

/** A page with its generated options table (between the two markers) brought up to date. */
export function replaceOptionsTable(page: string): string {
  const a = page.indexOf(START);
  const b = page.indexOf(END);
  if (a < 0 || b < a) throw new Error(`no ${START} ... ${END} in the page`);
  return `${page.slice(0, a + START.length)}\n${studyOptionsMarkdown()}\n${page.slice(b)}`;
}
