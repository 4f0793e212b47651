import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fastestDecile, lockstep, lockstepRatios, type Contender } from '../../bench/lockstep.js';

/**
 * A stand-in for a benchmark process speaking the lockstep protocol: 'ready', then for each 'step'
 * it appends its name to a shared log (so the test sees the order the steps ran in) and prints its
 * step times in turn; its summary when its input ends.
 */
const fake = (name: string, log: string, times: number[], failAfter?: number): Contender => ({
  command: process.execPath,
  args: [
    '-e',
    `const fs = require('fs');
     const times = ${JSON.stringify(times)};
     let i = 0;
     console.log('ready');
     require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
       if (${String(failAfter ?? -1)} === i) { console.error('${name} broke'); process.exit(1); }
       fs.appendFileSync(${JSON.stringify(log)}, '${name}');
       console.log(String(times[i++ % times.length]));
     }).on('close', () => console.log(JSON.stringify({ img_s: 1 })));`,
  ],
});

describe('benchmark steps in lockstep', () => {
  it('interleaves the two processes step by step, either side first, and keeps each side its times', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'featshift-lockstep-'));
    const aFirstLog = join(dir, 'a-first');
    const run = await lockstep(
      fake('a', aFirstLog, [10, 12, 30]),
      fake('b', aFirstLog, [20, 24, 60]),
      4,
      true,
    );
    assert.equal(readFileSync(aFirstLog, 'utf8'), 'abababab');
    assert.deepEqual(run, { a: [10, 12, 30, 10], b: [20, 24, 60, 20] });
    const bFirstLog = join(dir, 'b-first');
    const swapped = await lockstep(
      fake('a', bFirstLog, [10]),
      fake('b', bFirstLog, [20]),
      3,
      false,
    );
    assert.equal(readFileSync(bFirstLog, 'utf8'), 'bababa');
    assert.deepEqual(swapped, { a: [10, 10, 10], b: [20, 20, 20] });
  });

  it('says which process ended early, with what it wrote to its error output', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'featshift-lockstep-')), 'log');
    await assert.rejects(
      lockstep(fake('a', log, [10]), fake('b', log, [20], 2), 5, true),
      /ended early:\nb broke/,
    );
  });

  it('takes the median pair and the fastest decile, so a burst on one step moves neither', () => {
    // b is twice as slow as a, except for one pair where a burst hit a and one where it hit b.
    const a = [10, 10, 50, 10, 10, 10, 10, 10, 10, 10, 10];
    const b = [20, 20, 20, 20, 90, 20, 20, 20, 20, 20, 20];
    assert.deepEqual(lockstepRatios({ a, b }), { pairs: 2, fastest: 2 });
    assert.equal(fastestDecile([5, 1, 4, 3, 2]), 1);
    assert.equal(fastestDecile(Array.from({ length: 21 }, (_, i) => 21 - i)), 3);
  });
});
