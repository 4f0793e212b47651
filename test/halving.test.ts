import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { runCli, startCli } from './helpers/cli.js';
import { reportData } from '../src/report/html.js';
import { loadStudy } from '../src/run/load.js';
import { resultNumbers, results } from './helpers/results.js';
import { cheapestIds, tinySweep } from './helpers/tiny-study.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-halving-'));

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
    const [run] = reportData([loadStudy(halved)]).runs;
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
