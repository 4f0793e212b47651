import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cycleEnds, halvingRungs, promote } from '../src/sweep/halving.js';
import { ashaPromotions } from '../src/sweep/distributed/asha.js';
import type { ResultRecord } from '../src/run/results.js';
import { REFERENCE_DEFAULTS } from '../src/run/study.js';
import { runCli, startCli } from './helpers/cli.js';
import { reportData } from '../src/report/html.js';
import { loadRun } from '../src/run/load.js';
import { resultNumbers, results } from './helpers/results.js';
import { cheapestIds, tinySweep } from './helpers/tiny-study.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-halving-'));

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

describe('featshift sweep --halving, end to end', () => {
  const ids = cheapestIds(6);
  const base = [
    ...tinySweep(ids, 7, 256),
    '--lr-wr-epochs',
    '1',
    '--lr-wr-mul',
    '2',
    '--seed',
    '3',
    // A first cycle of one epoch on 256 images: the reference's abandon rule would stop them all.
    '--no-abandon',
  ];
  const full = tmp();
  const halved = tmp();

  it('trains all to the first rung, the best half on, and each epoch as the full sweep does', () => {
    const f = runCli([...base, '--out', full, '--quiet']);
    assert.equal(f.status, 0, f.stderr);
    const h = runCli([...base, '--halving', '--eta', '2', '--out', halved]);
    assert.equal(h.status, 0, h.stderr);
    const got = results(halved);
    assert.equal(got.length, 6);
    const reached = (epochs: number): number => got.filter((r) => r.valAcc.length >= epochs).length;
    assert.equal(reached(1), 6, 'every architecture trains to epoch 1');
    assert.equal(reached(3), 3, 'the best half goes on to epoch 3');
    assert.equal(reached(7), 1, 'the best of those trains to the end');
    const whole = new Map(results(full).map((r) => [r.id, r]));
    for (const r of got) {
      const f = whole.get(r.id);
      assert.deepEqual(r.valAcc, f?.valAcc.slice(0, r.valAcc.length), `id ${r.id}`);
      assert.equal(r.epochsTrained, r.valAcc.length);
      if (r.valAcc.length < 7 && !r.abandoned)
        assert.ok(r.stoppedAtRung === 1 || r.stoppedAtRung === 3);
      else assert.equal(r.stoppedAtRung, null);
    }
    assert.match(h.stdout, /rung at epoch 1: \d architectures reached it; \d go on to epoch 3/);
    assert.match(h.stdout, /Successive halving: .*runs stopped at the rung of epoch 1/);
    assert.match(h.stdout, /Cost: \d+\.\d % of the full sweep's MAC-images/);
    assert.equal(existsSync(join(halved, 'checkpoints')), false);
    // The report says where runs stopped and what they cost, and colours curves by it.
    const [run] = reportData([loadRun(halved)]).runs;
    assert.match(run?.halving ?? '', /Cost: \d+\.\d % of the full sweep's MAC-images/);
    assert.ok(run?.architectures.some((a) => a.stoppedAtRung === 1));
  });

  it('halves in several processes to the same runs as the serial halving', () => {
    const dir = tmp();
    const two = String(Math.min(2, availableParallelism()));
    const r = runCli([...base, '--halving', '--eta', '2', '--parallel', two, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rung at epoch 3: \d architectures reached it; 1 go on to epoch 7/);
    assert.deepEqual(resultNumbers(results(dir)), resultNumbers(results(halved)));
  });

  it('resumes a halving sweep stopped mid-rung to the same results', async () => {
    const dir = tmp();
    const { child, exited } = await startCli(
      [...base, '--halving', '--eta', '2', '--out', dir, '--json-log'],
      (out) => out.includes('"event":"rung"'),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const r = runCli(['sweep', '--resume', dir, '--threads', '1', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const key = (x: { id: number; valAcc: number[]; stoppedAtRung?: number | null }): string =>
      JSON.stringify([x.id, x.valAcc, x.stoppedAtRung]);
    assert.deepEqual(results(dir).map(key).sort(), results(halved).map(key).sort());
  });

  it('refuses halving options that do not fit the schedule, in one line', () => {
    const r = runCli([...base, '--halving', '--rungs', '2', '--out', join(tmp(), 'x')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /a rung must end a warm-restart cycle; .* end at epochs 1, 3, 7/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const e = runCli([...base, '--eta', '2', '--out', join(tmp(), 'y')]);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /--eta sets successive halving: add --halving/);
  });
});
