import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareMemberKeys,
  familyMembers,
  formatMemberKeys,
  isMemberKey,
  memberKey,
  parseMemberKeys,
} from '../../src/family/members.js';
import { checkpointName, csvName } from '../../src/run/files.js';
import { unitKey } from '../../src/run/results.js';
import { REFERENCE_DEFAULTS, selectArchitectures } from '../../src/run/study.js';
import { jobId } from '../../src/sweep/distributed/jobs.js';
import { promote } from '../../src/sweep/halving.js';

describe('member keys: ids unique per family in a study of both', () => {
  it('keeps a skew-normal id (and the baseline) bare and qualifies a linear one', () => {
    assert.equal(memberKey({ id: 59 }), 59);
    assert.equal(memberKey({ id: 0, family: null }), 0);
    assert.equal(memberKey({ id: 3, family: 'linear' }), 'linear:3');
    assert.equal(unitKey({ id: 3, family: 'linear' }, 1), 'linear:3/1');
    assert.equal(unitKey({ id: 3 }, 1), '3/1');
    assert.ok(isMemberKey(7) && isMemberKey('linear:7'));
    assert.ok(!isMemberKey(-1) && !isMemberKey('7') && !isMemberKey('linear:07'));
  });

  it('parses --ids with family prefixes, and refuses a family the study does not draw from', () => {
    assert.deepEqual(parseMemberKeys('1-3,linear:2-3,linear:18, 7', 'both'), [
      1,
      2,
      3,
      7,
      'linear:2',
      'linear:3',
      'linear:18',
    ]);
    assert.deepEqual(parseMemberKeys('1,2', 'linear'), ['linear:1', 'linear:2']);
    assert.deepEqual(parseMemberKeys('skew-normal:4,0', 'both'), [0, 4]);
    assert.deepEqual(parseMemberKeys('linear:0', 'both'), [0], 'the baseline belongs to no family');
    assert.throws(() => parseMemberKeys('linear:1'), /names the linear family, which this study/);
    assert.throws(() => parseMemberKeys('skew-normal:1', 'linear'), /--family both/);
    assert.throws(() => parseMemberKeys('linear:5-2', 'both'), /runs backwards/);
    assert.throws(() => parseMemberKeys('cubic:1', 'both'), /is not an id or a range/);
    assert.equal(formatMemberKeys(['linear:3', 2, 1, 'linear:2', 7]), '1-2, 7, linear:2-3');
    assert.deepEqual(
      ['linear:2', 10, 'linear:10', 0].sort((a, b) => compareMemberKeys(a as 0, b as 0)),
      [0, 10, 'linear:2', 'linear:10'],
    );
  });

  it('selects from both families at once, the skew-normal members first', () => {
    const study = {
      ...REFERENCE_DEFAULTS,
      depth: 10,
      widthMultiplier: 0.0625,
      family: 'both' as const,
      includeBaseline: true,
      ids: '1,linear:1,linear:18',
    };
    const chosen = selectArchitectures(study, { classes: 10, inputChannels: 1 });
    assert.deepEqual(chosen.map(memberKey), [0, 1, 'linear:1', 'linear:18']);
    const all = familyMembers({ depth: 10, widthMultiplier: 0.0625, family: 'both' });
    const skew = familyMembers({ depth: 10, widthMultiplier: 0.0625 });
    const linear = familyMembers({ depth: 10, widthMultiplier: 0.0625, family: 'linear' });
    assert.deepEqual(
      all,
      [...skew, ...linear],
      'the union, each member as its own family lists it',
    );
    assert.throws(
      () => selectArchitectures({ ...study, ids: 'linear:40' }, { classes: 10, inputChannels: 1 }),
      /no architecture with id linear:40: the ids are the skew-normal family 1-\d+ .*and the linear family linear:1-18/,
    );
  });

  it('names the files and jobs of the two ids 3 apart, and breaks halving ties in listing order', () => {
    const skew = { id: 3 };
    const line = { id: 3, family: 'linear' };
    assert.notEqual(checkpointName(skew, 0), checkpointName(line, 0));
    assert.equal(checkpointName(skew, 0), 'arch_003_seed_0.safetensors', 'unchanged for the paper');
    assert.notEqual(jobId('run', skew, 0), jobId('run', line, 0));
    assert.equal(csvName(3), 'model_003.csv');
    assert.equal(csvName(3, 'linear'), 'linear_model_003.csv');
    // Equal means: the skew-normal member first, as listed; the baseline always on.
    assert.deepEqual(
      promote(
        [
          { id: 'linear:1', bestVals: [50] },
          { id: 1, bestVals: [50] },
          { id: 'linear:2', bestVals: [10] },
          { id: 2, bestVals: [10] },
          { id: 0, bestVals: [5] },
        ],
        4,
      ),
      [0, 1],
    );
  });
});
