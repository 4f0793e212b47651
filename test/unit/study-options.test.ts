import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { addStudyFlags, givenStudyValues, replaceOptionsTable } from '../../src/cli/study-flags.js';
import { checkStudy, parseStoredStudy } from '../../src/run/study.js';
import {
  ADDED_LATER,
  REFERENCE_DEFAULTS,
  RENAMED,
  STUDY_KEYS,
  studyFlag,
  studyOption,
} from '../../src/run/study-options.js';

const ALL_GROUPS = ['data', 'family', 'selection', 'recipe', 'seeds', 'halving'] as const;

describe('the one table of study options', () => {
  it('is what docs/study.md shows (npm run docs:options rewrites it)', () => {
    const page = readFileSync(new URL('../../../docs/study.md', import.meta.url), 'utf8');
    assert.equal(replaceOptionsTable(page), page, 'run npm run docs:options');
  });

  it('gives every key a flag whose help shows its default once', () => {
    const command = addStudyFlags(new Command('sweep'), ALL_GROUPS);
    const help = command.helpInformation();
    for (const key of STUDY_KEYS) {
      const negated = studyOption(key).kind === 'switch' && studyOption(key).default === true;
      assert.ok(help.includes(`--${negated ? 'no-' : ''}${studyFlag(key)}`), key);
    }
    assert.doesNotMatch(help, /\(default: /, 'no default from commander beside our own');
    for (const line of help.split(/\n(?=\s+-)/))
      assert.ok((line.match(/\(default /g) ?? []).length <= 1, line);
  });

  it('tells the values given on the command line from the rest, under their keys', () => {
    const command = addStudyFlags(new Command('sweep'), ALL_GROUPS)
      .exitOverride()
      .action(() => undefined);
    command.parse(['--epochs', '3', '--no-abandon', '--omega', '1:2:0.5', '-b', '32'], {
      from: 'user',
    });
    assert.deepEqual(givenStudyValues(command.opts(), command), {
      epochs: 3,
      abandon: false,
      omega: { min: 1, max: 2, step: 0.5 },
      batchSize: 32,
    });
  });

  it('refuses every ranged value past its range, naming the flag', () => {
    for (const key of STUDY_KEYS) {
      const range = studyOption(key).range;
      if (!range) continue;
      const most = range[1];
      if (most === Number.MAX_VALUE) continue;
      const study = { ...REFERENCE_DEFAULTS, [key]: most * 2 + 1 };
      assert.throws(
        () => {
          checkStudy(study);
        },
        new RegExp(`--${studyFlag(key)} must be`),
        key,
      );
    }
  });

  it("reads a stored study of an older featshift: absent keys as those runs trained, old names under today's", () => {
    const old: Record<string, unknown> = Object.fromEntries(
      Object.entries(REFERENCE_DEFAULTS).filter(([k]) => !(k in ADDED_LATER)),
    );
    old.lrCycle = old.lrWrEpochs;
    delete old.lrWrEpochs;
    assert.equal(RENAMED.lrCycle, 'lrWrEpochs');
    const parsed = parseStoredStudy(old, 'config.json');
    assert.deepEqual(parsed, { ...REFERENCE_DEFAULTS, ...ADDED_LATER });
    assert.throws(
      () => parseStoredStudy({ ...REFERENCE_DEFAULTS, precision: 'fp8' }, 'config.json'),
      /config\.json: study\.precision 'fp8' is none of fp32, bf16/,
    );
  });
});
