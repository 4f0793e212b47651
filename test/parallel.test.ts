import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Architecture } from '../src/family/skew-normal.js';
import {
  candidateSplits,
  measureSplits,
  NEAR_FASTEST,
  sampleArchitectures,
  workSeconds,
} from '../src/sweep/parallel/choose.js';
import { runCli, startCli } from './helpers/cli.js';
import { resultNumbers, results } from './helpers/results.js';
import { cheapestIds, tinyFamily, tinySweep } from './helpers/tiny-study.js';
import { REFERENCE_DEFAULTS } from '../src/run/study.js';
import { trainingConfig } from '../src/sweep/unit-request.js';
import { TrainerPool } from '../src/sweep/parallel/pool.js';
import type { TimedArchitecture } from '../src/sweep/parallel/protocol.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-parallel-'));
// Two processes where the machine has two cores (one core: the serial path, still checked).
const TWO = String(Math.min(2, availableParallelism()));

/** The numbers of a run, unit by unit in (id, seed) order, whatever order they finished in. */
const byUnit = (dir: string): Record<string, unknown>[] =>
  resultNumbers([...results(dir)].sort((a, b) => a.seed - b.seed)); // then by id, stably

const environment = (dir: string): { threads: number; parallel: Record<string, unknown> } =>
  JSON.parse(readFileSync(join(dir, 'environment.json'), 'utf8')) as {
    threads: number;
    parallel: Record<string, unknown>;
  };

describe('sharing the cores: the splits and their throughput', () => {
  it('offers 1, 2, 4, ... processes and one per core, never more than the units, with a share of the cores each', () => {
    assert.deepEqual(candidateSplits(16, null, 100), [
      { processes: 1, threads: 16 },
      { processes: 2, threads: 8 },
      { processes: 4, threads: 4 },
      { processes: 8, threads: 2 },
      { processes: 16, threads: 1 },
    ]);
    assert.deepEqual(
      candidateSplits(6, null, 3).map((s) => s.processes),
      [1, 2],
    );
    assert.deepEqual(candidateSplits(6, null, 10).at(-1), { processes: 6, threads: 1 });
    // A resumed run keeps its threads: only as many processes as fit the cores with them.
    assert.deepEqual(candidateSplits(8, 3, 100), [
      { processes: 1, threads: 3 },
      { processes: 2, threads: 3 },
    ]);
    assert.deepEqual(candidateSplits(1, null, 5), [{ processes: 1, threads: 1 }]);
  });

  it('estimates the work from the sampled step times, scaled by MACs, shared out longest first', () => {
    const arch = (id: number, macs: number): Architecture => ({ id, macs }) as Architecture;
    const all = [arch(1, 10), arch(2, 20), arch(3, 100)];
    const sample = [all[0], all[2]] as Architecture[];
    // id 2 scales from id 1 (nearer in MACs): 2 x 50 ms; 10 steps each: 0.5, 1 and 4 s.
    const work = all.map((a) => ({ arch: a, steps: 10 }));
    assert.equal(workSeconds(work, sample, [50, 400], 1), 5.5);
    // Two processes: the 4 s unit alone, the others on the second process.
    assert.equal(workSeconds(work, sample, [50, 400], 2), 4);
    // Longest first, each to the process free soonest: 3 + 2 against 3 + 1 + 1.
    const even = [3, 3, 2, 1, 1].map((s) => ({ arch: all[0] as Architecture, steps: s * 20 }));
    assert.equal(workSeconds(even, sample, [50, 400], 2), 5);
    // A sampled architecture that did not fit: the split cannot do the work.
    assert.equal(workSeconds(work, sample, [50, undefined], 2), Infinity);
  });

  it('samples the cheapest, the median and the dearest architecture', () => {
    const arch = (id: number, macs: number): Architecture => ({ id, macs }) as Architecture;
    const picks = sampleArchitectures([
      arch(1, 50),
      arch(2, 10),
      arch(3, 30),
      arch(4, 90),
      arch(5, 70),
    ]);
    assert.deepEqual(
      picks.map((a) => a.id),
      [2, 1, 4],
    );
    assert.deepEqual(
      sampleArchitectures([arch(7, 5)]).map((a) => a.id),
      [7],
    );
  });
});

/** Three tiny architectures to time, and a training configuration for them. */
function timingSetup(): { archs: Architecture[]; config: ReturnType<typeof trainingConfig> } {
  const archs = cheapestIds(3).map((id) => tinyFamily.find((a) => a.id === id) as Architecture);
  const config = trainingConfig(
    { ...REFERENCE_DEFAULTS, dataset: 'FashionMNIST', batchSize: 32, layout: 'auto' },
    0,
    { classes: 10, inputChannels: 3 },
    'cpu',
  );
  return { archs, config };
}

describe('--parallel auto: timing the splits', () => {
  it('times every split, takes the soonest to finish, keeps its processes and settles the sampled layouts', async () => {
    const { archs, config } = timingSetup();
    const candidates = candidateSplits(availableParallelism(), null, 10);
    const { choice, pool, layouts, peaks } = await measureSplits(candidates, archs, config);
    try {
      const measured = choice.measured;
      assert.ok(measured);
      assert.deepEqual(
        measured.candidates.map((c) => [c.processes, c.threads]),
        candidates.map((c) => [c.processes, c.threads]),
      );
      for (const c of measured.candidates) {
        // Every split times every sampled architecture.
        assert.equal(c.msPerStep.length, 3);
        for (const ms of c.msPerStep) assert.ok(ms !== undefined && ms > 0);
        assert.ok(c.seconds > 0 && c.seconds < Infinity);
        assert.ok(Math.abs(c.imagesPerSecond - (3 * 32) / c.seconds) < 1e-9 * c.imagesPerSecond);
      }
      const best = Math.min(...measured.candidates.map((c) => c.seconds));
      const chosen = measured.candidates.find((c) => c.processes === choice.processes);
      assert.ok(chosen && chosen.seconds <= best * NEAR_FASTEST, 'near the fastest');
      // No split with more processes was near enough.
      for (const c of measured.candidates)
        if (c.processes > choice.processes) assert.ok(c.seconds > best * NEAR_FASTEST);
      assert.equal(pool?.size ?? 1, choice.processes);
      // One process timed every layout of the sampled architectures: their layouts are settled.
      assert.deepEqual([...layouts.keys()].sort(), [...measured.ids].sort());
      for (const l of layouts.values()) assert.equal(Object.keys(l.msPerStep).length, 2);
      // Training processes kept: their timing measured each sampled step's peak at their threads,
      // which the first runs trust; one process measures its own.
      if (pool) {
        assert.deepEqual([...peaks.keys()].sort(), [...measured.ids].sort());
        for (const bytes of peaks.values()) assert.ok(bytes > 0);
      } else assert.equal(peaks.size, 0);
    } finally {
      await pool?.close();
    }
  });

  it('times each architecture in one process, in the order given, while the others keep busy, and stops them all when one fails', async () => {
    const { archs, config } = timingSetup();
    const timed: TimedArchitecture[] = archs.map((a, k) => ({
      id: a.id,
      widths: a.widths,
      layouts: k === 0 ? ['nchw', 'channels-last'] : ['channels-last'],
    }));
    const nchw = (k: number): TimedArchitecture => ({
      ...(timed[k] as TimedArchitecture),
      layouts: ['nchw'],
    });
    const pool = new TrainerPool(2, 1);
    try {
      const timings = await pool.timeSteps(timed, config, true);
      assert.equal(timings.length, 3);
      for (const [k, t] of timings.entries()) {
        assert.ok(t);
        // The layouts asked for, each timed, with its peak (on a CPU).
        assert.deepEqual(Object.keys(t.msPerStep).sort(), [...(timed[k]?.layouts ?? [])].sort());
        for (const ms of Object.values(t.msPerStep)) assert.ok(ms > 0);
        assert.ok((t.peakBytes['nchw'] ?? t.peakBytes['channels-last'] ?? 0) > 0);
      }
      // Without a peak asked for, none is measured.
      const [plain] = await pool.timeSteps([nchw(1)], config, false);
      assert.deepEqual(plain?.peakBytes, {});
      // An architecture that cannot be built fails the timing, and the busy processes stop too.
      const broken: TimedArchitecture = { id: 0, widths: [0, 0], layouts: ['nchw'] };
      await assert.rejects(pool.timeSteps([broken, nchw(2)], config, false));
    } finally {
      await pool.close();
    }
  });
});

describe('featshift sweep --parallel, end to end', () => {
  const ids = cheapestIds(3);
  const base = [...tinySweep(ids, 2, 256), '--seeds', '2'];
  const serial = tmp();

  it('gives, run for run, the numbers of a serial sweep with the same threads per process', () => {
    const s = runCli([...base, '--out', serial, '--quiet']);
    assert.equal(s.status, 0, s.stderr);
    const dir = tmp();
    const p = runCli([...base, '--parallel', TWO, '--out', dir]);
    assert.equal(p.status, 0, p.stderr);
    if (TWO === '2') {
      assert.match(p.stdout, /training in 2 processes of 1 thread\n/);
      assert.match(p.stdout, /\[id \d+, seed [01]\] epoch 2\/2: train/);
    }
    assert.equal(results(dir).length, 6);
    assert.deepEqual(byUnit(dir), byUnit(serial));
    assert.deepEqual(environment(dir).parallel, {
      processes: Number(TWO),
      threads: 1,
      measured: null,
    });
    assert.equal(readdirSync(dir).includes('checkpoints'), false);
  });

  it('stops on Ctrl-C with every running unit checkpointed, and resumes to the same numbers', async () => {
    // Units of 3 epochs of 16 steps: the stop lands while the first units still train.
    const longer = [...tinySweep(ids, 3, 1024), '--seeds', '2'];
    const whole = tmp();
    assert.equal(runCli([...longer, '--out', whole, '--quiet']).status, 0);
    const dir = tmp();
    const { child, exited } = await startCli(
      [...longer, '--parallel', TWO, '--out', dir, '--json-log'],
      (out) => out.includes('"event":"epoch"'),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const finished = existsSync(join(dir, 'results.jsonl')) ? results(dir).length : 0;
    assert.ok(finished < 6, 'stopped before the end');
    assert.ok(readdirSync(join(dir, 'checkpoints')).length >= 1, 'running units checkpointed');
    const r = runCli(['sweep', '--resume', dir, '--parallel', TWO, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(byUnit(dir), byUnit(whole));
  });

  it('chooses the split by measurement with auto, and records what it measured', () => {
    const dir = tmp();
    const r = runCli([
      ...base.filter((a, i) => a !== '--threads' && base[i - 1] !== '--threads'),
      '--parallel',
      'auto',
      '--out',
      dir,
      '--json-log',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const env = environment(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      numerics: { threads: number };
    };
    assert.equal(config.numerics.threads, env.parallel.threads, 'numerics: threads per process');
    const measured = env.parallel.measured as {
      candidates: { processes: number; threads: number }[];
      stoppedEarly?: string;
    } | null;
    if (availableParallelism() >= 2) {
      // So short a study is not worth timing more than one process for.
      assert.ok(measured);
      assert.deepEqual(
        measured.candidates.map((c) => [c.processes, c.threads]),
        [[1, availableParallelism()]],
      );
      assert.match(measured.stoppedEarly ?? '', /the work would take about \d+ s in one process/);
      assert.match(r.stdout, /"stoppedEarly"/);
    }
    assert.equal(results(dir).length, 6);
  });

  it('refuses splits this machine cannot give, in one line', () => {
    const cores = availableParallelism();
    const over = runCli([...base, '--parallel', String(cores + 1), '--out', join(tmp(), 'x')]);
    assert.equal(over.status, 2);
    assert.match(over.stderr, /more processes than this machine's \d+ cores: give at most/);
    assert.equal(over.stderr.trim().split('\n').length, 1);
    if (cores >= 2) {
      // Each --threads alone is allowed (at most 4 x the cores); two processes of them are not.
      const threads = String(2 * cores + 1);
      const many = runCli([
        ...base.filter((a, i) => a !== '--threads' && base[i - 1] !== '--threads'),
        '--parallel',
        '2',
        '--threads',
        threads,
        '--out',
        join(tmp(), 'w'),
      ]);
      assert.equal(many.status, 2);
      assert.match(
        many.stderr,
        new RegExp(
          `--parallel 2 with --threads ${threads} asks for \\d+ threads, more than 4 times`,
        ),
      );
      assert.equal(many.stderr.trim().split('\n').length, 1);
    }
    const bad = runCli([...base, '--parallel', 'some', '--out', join(tmp(), 'y')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /expected a positive integer or auto, got 'some'/);
    const queue = runCli([
      ...base,
      '--parallel',
      '2',
      '--queue',
      'redis://127.0.0.1:1/0',
      '--out',
      join(tmp(), 'z'),
    ]);
    assert.equal(queue.status, 2);
    assert.match(queue.stderr, /on a queue start a featshift worker per share instead/);
  });
});
