import assert from 'node:assert/strict';

import { describe, it } from 'node:test';
import { cycleEnds, halvingRungs, promote } from '../../src/sweep/halving.js';
import { ashaPromotions } from '../../src/sweep/asha.js';
import type { ResultRecord } from '../../src/run/results.js';
import { REFERENCE_DEFAULTS } from '../../src/run/study.js';

describe('successive halving: rungs and promotion', () => {
  it("puts the rungs at the ends of the schedule's warm-restart cycles", () => {
    assert.deepEqual(cycleEnds({ epochs: 150, lrWrEpochs: 10, lrWrMul: 2 }), [10, 30, 70, 150]);
    assert.deepEqual(cycleEnds({ epochs: 7, lrWrEpochs: 1, lrWrMul: 2 }), [1, 3, 7]);
    assert.deepEqual(cycleEnds({ epochs: 100, lrWrEpochs: 10, lrWrMul: 2 }), [10, 30, 70, 100]);
    assert.deepEqual(cycleEnds({ epochs: 4, lrWrEpochs: 4, lrWrMul: 2 }), [4]);
    const study = { ...REFERENCE_DEFAULTS, halving: true };
    assert.deepEqual(halvingRungs({ ...study, rungs: [30] }), [30, 150]);
    assert.throws(
      () => halvingRungs({ ...study, rungs: [20] }),
      /a rung must end a warm-restart cycle; this schedule's cycles end at epochs 10, 30, 70, 150/,
    );
  });

  it('keeps the best floor(n / eta), at least one, ties to the smaller id, and always the baseline', () => {
    const s = (id: number, ...bestVals: number[]): { id: number; bestVals: number[] } => ({
      id,
      bestVals,
    });
    assert.deepEqual(
      promote([s(1, 50), s(2, 70), s(3, 60), s(4, 80), s(5, 10), s(6, 65)], 2),
      [2, 4, 6],
    );
    assert.deepEqual(promote([s(3, 60, 62), s(1, 61, 61), s(2, 10, 20)], 3), [1], 'a tie: id 1');
    assert.deepEqual(promote([s(7, 1)], 3), [7], 'at least one');
    assert.deepEqual(promote([s(0, 99), s(1, 50), s(2, 60)], 2), [0, 2], 'VGG outside the count');
  });
});

describe('asynchronous halving (ASHA) on the queue', () => {
  const run = (id: number, valAcc: number[]): ResultRecord =>
    ({ id, seed: 0, valAcc, abandoned: false, diverged: false }) as unknown as ResultRecord;
  const input = (paused: ResultRecord[], promoted: number[][] = [[], [], []]) => ({
    rungs: [1, 3, 7],
    eta: 2,
    seeds: [0],
    ids: [1, 2, 3, 4],
    promoted,
    paused: Object.fromEntries(paused.map((r) => [`${r.id}/0`, r])),
    ended: new Map<string, ResultRecord>(),
  });

  it('promotes the best 1/eta of the results in so far, without waiting for the rest of the rung', () => {
    assert.deepEqual(
      ashaPromotions(input([run(1, [50])]), false),
      [],
      'one result: floor(1/2) = 0',
    );
    assert.deepEqual(ashaPromotions(input([run(1, [50]), run(3, [60])]), false), [[1, 3]]);
    // Already promoted stays promoted; a later better one goes on too.
    assert.deepEqual(
      ashaPromotions(
        input([run(1, [50]), run(3, [60]), run(2, [70]), run(4, [10])], [[], [3], []]),
        false,
      ),
      [[1, 2]],
    );
  });

  it('sends on the best of a rung that promoted no one once nothing is left to run', () => {
    const at3 = [run(1, [50]), run(3, [60, 61, 62])];
    assert.deepEqual(ashaPromotions(input(at3, [[], [3], []]), false), []);
    assert.deepEqual(ashaPromotions(input(at3, [[], [3], []]), true), [[2, 3]]);
  });
});
