import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunFolder } from '../../src/run/folder.js';
import type { HalvingState } from '../../src/run/halving-state.js';
import type { ResultRecord } from '../../src/run/results.js';
import { REFERENCE_DEFAULTS, type StudyConfig } from '../../src/run/study.js';
import type { RunUnit } from '../../src/run/units.js';
import {
  runStudy,
  type Executor,
  type Site,
  type SweepReporter,
  type SweepRequest,
  type UnitResult,
  type UnitStarted,
  type Work,
} from '../../src/sweep/driver.js';
import { promote, unitRecord } from '../../src/sweep/halving.js';
import type { TrainingEvents, TrainingOutcome } from '../../src/train/trainer.js';
import { readLiveStatus, type LiveUnit } from '../../src/run/live.js';
import { cheapestIds } from '../helpers/tiny-study.js';
import { results } from '../helpers/results.js';

/**
 * The study driver with a fake executor: the order units start in, how many at once, successive
 * halving by both rules, a stop and its resume, a failure, and a queue's failed runs, without
 * training anything.
 */

const IDS = cheapestIds(4);
const EPOCHS = 7;

function study(halving: boolean): StudyConfig {
  return {
    ...REFERENCE_DEFAULTS,
    dataset: 'FashionMNIST',
    depth: 10,
    widthMultiplier: 0.0625,
    ids: IDS.join(','),
    seeds: [0, 1],
    epochs: EPOCHS,
    lrWrEpochs: 1,
    lrWrMul: 2,
    halving,
    eta: 2,
  };
}

/** A run's validation curve: fixed by (id, seed), so that every rule's decisions are known. */
const curve = (id: number, seed: number): number[] =>
  Array.from({ length: EPOCHS }, (_, e) => 20 + ((id * 37) % 50) + seed + 2 * e);

/** What a trainer would return for a unit trained to `epochs`. */
function outcomeOf(unit: RunUnit, epochs: number, paused: boolean): TrainingOutcome {
  const val = curve(unit.arch.id, unit.seed).slice(0, epochs);
  const best = Math.max(...val);
  return {
    bestVal: best,
    bestValTrain: best + 1,
    bestEpoch: val.indexOf(best),
    lastVal: val[val.length - 1] as number,
    lastTrain: best + 1,
    abandoned: false,
    diverged: false,
    microBatch: 64,
    paused,
    epochs: val.map((v, epoch) => ({
      epoch,
      trainAcc: v + 1,
      valAcc: v,
      trainLoss: 1,
      valLoss: 1,
      lr: 0.1,
      seconds: 1,
    })),
  } as unknown as TrainingOutcome;
}

interface FakeOptions {
  concurrency: number;
  /** Throw (a local failure) or come back failed (a queue's) on the n-th call. */
  throwAt?: number;
  failAt?: number;
  /** Start units in the reverse of the race's order. */
  reverse?: boolean;
  /** What a unit's training tells once it has started (steps, epochs), before it ends. */
  during?: (events: TrainingEvents, unit: RunUnit) => Promise<void>;
}

class FakeExecutor implements Executor {
  readonly concurrency: number;
  readonly calls: { id: number; seed: number; untilEpoch: number | undefined }[] = [];
  running = 0;
  most = 0;
  stops = 0;
  callsAtFailure = 0;
  readonly endedRuns: string[] = [];
  private readonly o: FakeOptions;
  private readonly halving: boolean;
  private readonly shouldStop: () => boolean;

  constructor(o: FakeOptions, halving: boolean, shouldStop: () => boolean) {
    this.o = o;
    this.concurrency = o.concurrency;
    this.halving = halving;
    this.shouldStop = shouldStop;
  }

  order(units: RunUnit[]): RunUnit[] {
    return this.o.reverse ? [...units].reverse() : units;
  }

  async train(work: Work, started: UnitStarted): Promise<UnitResult> {
    const events = started({});
    const { unit, untilEpoch } = work;
    await this.o.during?.(events, unit);
    this.calls.push({ id: unit.arch.id, seed: unit.seed, untilEpoch });
    const n = this.calls.length;
    this.running++;
    this.most = Math.max(this.most, this.running);
    // Units end out of order, as several training at once do.
    await new Promise((r) => setTimeout(r, (unit.arch.id * 7 + unit.seed * 3) % 11));
    this.running--;
    if (n === this.o.throwAt) {
      this.callsAtFailure = this.calls.length;
      throw new Error(`unit ${n} failed`);
    }
    if (n === this.o.failAt) return { kind: 'failed', reason: 'out of luck', attempts: 3 };
    if (this.shouldStop()) return { kind: 'stopped' };
    const outcome = outcomeOf(unit, untilEpoch ?? EPOCHS, untilEpoch !== undefined);
    const record = unitRecord({ halving: this.halving }, unit.arch, unit.seed, outcome);
    return { kind: 'trained', record, paused: outcome.paused };
  }

  stop(): void {
    this.stops++;
  }

  ended(record: ResultRecord): Promise<void> {
    this.endedRuns.push(`${record.id}/${record.seed}`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What the reporter was told, by event. */
function recordingReporter(): SweepReporter & { events: string[] } {
  const events: string[] = [];
  const tell = (name: string) => (): void => {
    events.push(name);
  };
  return {
    events,
    start: tell('start'),
    parallel: tell('parallel'),
    architectureStart: () => {
      events.push('architectureStart');
      return {};
    },
    architectureDone: tell('architectureDone'),
    paused: tell('paused'),
    rung: tell('rung'),
    promoted: tell('promoted'),
    failed: tell('failed'),
    stopped: tell('stopped'),
    done: tell('done'),
  };
}

/** Runs a study in `dir` through the driver on a fake site and executor. */
async function drive(
  dir: string,
  s: StudyConfig,
  o: FakeOptions & { asynchronous?: boolean; stopAfter?: number; resumed?: boolean },
): Promise<{
  outcome: Awaited<ReturnType<typeof runStudy>>;
  executor: FakeExecutor;
  reporter: ReturnType<typeof recordingReporter>;
}> {
  const calls = (): number => executor.calls.length;
  const executor: FakeExecutor = new FakeExecutor(o, s.halving, () =>
    o.stopAfter === undefined ? false : calls() >= o.stopAfter,
  );
  lastExecutor = executor;
  const site: Site = {
    asynchronous: o.asynchronous ?? false,
    prepare: () => Promise.resolve({ classes: 10, inputChannels: 1, imagesPerEpoch: 100 }),
    open: () => Promise.resolve({ executor, config: {}, environment: { fake: true } }),
  };
  const folder: RunFolder = { dir, study: s, resumed: o.resumed ?? false, numerics: undefined };
  const request = {
    study: s,
    explicit: {},
    shouldStop: () => (o.stopAfter === undefined ? false : executor.calls.length >= o.stopAfter),
  } as unknown as SweepRequest;
  const reporter = recordingReporter();
  const outcome = await runStudy(folder, request, reporter, site);
  return { outcome, executor, reporter };
}

let lastExecutor: FakeExecutor | undefined;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-driver-'));
const key = (r: { id: number; seed: number }): string => `${r.id}/${r.seed}`;
const halvingState = (dir: string): HalvingState =>
  JSON.parse(readFileSync(join(dir, 'halving.json'), 'utf8')) as HalvingState;

describe('the study driver over a fake executor', () => {
  it("trains every unit once, in the executor's order, at most its concurrency at once", async () => {
    const dir = tmp();
    const { outcome, executor, reporter } = await drive(dir, study(false), {
      concurrency: 2,
      reverse: true,
    });
    assert.equal(outcome.stopped, false);
    assert.equal(executor.most, 2);
    assert.deepEqual(
      executor.calls.map(key),
      [...IDS.map((id) => `${id}/0`), ...IDS.map((id) => `${id}/1`)].reverse(),
      'in the order the executor asked for (here the reverse of seed by seed)',
    );
    assert.ok(executor.calls.every((c) => c.untilEpoch === undefined));
    const got = results(dir);
    assert.equal(got.length, IDS.length * 2);
    for (const r of got) assert.deepEqual(r.valAcc, curve(r.id, r.seed));
    assert.deepEqual([...executor.endedRuns].sort(), got.map(key).sort());
    assert.ok(existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'environment.json')));
    assert.equal(reporter.events.filter((e) => e === 'architectureDone').length, got.length);
    assert.equal(reporter.events[reporter.events.length - 1], 'done');
  });

  it('halves by the synchronous rule: each rung complete before its decision, the rule decides', async () => {
    const dir = tmp();
    const { executor } = await drive(dir, study(true), { concurrency: 3 });
    const state = halvingState(dir);
    assert.deepEqual(
      state.decisions.map((d) => d.rung),
      [1, 3],
    );
    for (const d of state.decisions) assert.deepEqual(d.promoted, promote(d.standings, 2));
    const [first, second] = state.decisions;
    assert.ok(first && second);
    assert.equal(first.promoted.length, 2, 'floor(4 / 2)');
    assert.equal(second.promoted.length, 1);
    // No piece of a later rung started before every piece of the rung before had come back.
    const rungOf = (c: { untilEpoch: number | undefined }): number => c.untilEpoch ?? EPOCHS;
    const firstLater = executor.calls.findIndex((c) => rungOf(c) > 1);
    assert.equal(
      executor.calls.slice(firstLater).filter((c) => rungOf(c) === 1).length,
      0,
      'rung 1 all first',
    );
    const got = results(dir);
    assert.equal(got.length, IDS.length * 2, 'every run recorded once');
    for (const r of got) {
      assert.deepEqual(r.valAcc, curve(r.id, r.seed).slice(0, r.valAcc.length));
      const reached: number = second.promoted.includes(r.id)
        ? EPOCHS
        : first.promoted.includes(r.id)
          ? 3
          : 1;
      assert.equal(r.valAcc.length, reached, `id ${r.id}`);
      assert.equal(r.stoppedAtRung, reached === EPOCHS ? null : reached);
    }
    assert.deepEqual(state.paused, {});
  });

  it('halves asynchronously (ASHA): promotes as results allow, every run ends once', async () => {
    const dir = tmp();
    const { executor, reporter } = await drive(dir, study(true), {
      concurrency: Number.POSITIVE_INFINITY,
      asynchronous: true,
    });
    const got = results(dir);
    assert.equal(got.length, IDS.length * 2);
    assert.equal(new Set(got.map(key)).size, got.length);
    assert.ok(got.some((r) => r.valAcc.length === EPOCHS));
    for (const r of got) {
      assert.deepEqual(r.valAcc, curve(r.id, r.seed).slice(0, r.valAcc.length));
      assert.equal(r.stoppedAtRung, r.valAcc.length < EPOCHS ? r.valAcc.length : null);
    }
    const promoted = halvingState(dir).promoted ?? [];
    assert.ok((promoted[1] ?? []).length >= 1);
    assert.equal(reporter.events.filter((e) => e === 'promoted').length, promoted.flat().length);
    // Each piece handed out once: a unit's calls are distinct rungs.
    const pieces = executor.calls.map((c) => `${key(c)}@${c.untilEpoch ?? EPOCHS}`);
    assert.equal(new Set(pieces).size, pieces.length);
  });

  it('stops on request, starts nothing after, and resumes to the results of an unbroken run', async () => {
    const whole = tmp();
    await drive(whole, study(true), { concurrency: 1 });
    const dir = tmp();
    const first = await drive(dir, study(true), { concurrency: 1, stopAfter: 3 });
    assert.equal(first.outcome.stopped, true);
    assert.equal(first.executor.calls.length, 3);
    assert.ok(first.reporter.events.includes('stopped'));
    assert.ok(!first.reporter.events.includes('done'));
    const again = await drive(dir, study(true), { concurrency: 1, resumed: true });
    assert.equal(again.outcome.stopped, false);
    const numbers = (d: string): string[] =>
      results(d)
        .map((r) => `${key(r)} ${r.valAcc.join(',')} ${String(r.stoppedAtRung)}`)
        .sort();
    assert.deepEqual(numbers(dir), numbers(whole));
  });

  it('after a failure starts nothing new, asks the others to stop, and throws the first error', async () => {
    const dir = tmp();
    await assert.rejects(
      drive(dir, study(false), { concurrency: 2, throwAt: 2 }).then(() => undefined),
      /unit 2 failed/,
    );
    const executor = lastExecutor as FakeExecutor;
    assert.equal(executor.stops, 1, 'the others asked to stop, once');
    assert.equal(executor.calls.length, executor.callsAtFailure, 'nothing started after');
    const got = existsSync(join(dir, 'results.jsonl')) ? results(dir) : [];
    assert.ok(got.length < executor.calls.length, 'the failed unit is not recorded');
  });

  it("records a queue's failed runs in failed.json and goes on with the rest", async () => {
    const dir = tmp();
    const { outcome, reporter } = await drive(dir, study(false), {
      concurrency: Number.POSITIVE_INFINITY,
      asynchronous: true,
      failAt: 3,
    });
    assert.equal(outcome.stopped, false);
    assert.deepEqual(outcome.failed?.length, 1);
    assert.match(outcome.failed[0] ?? '', /^id \d+, seed [01]$/);
    assert.equal(results(dir).length, IDS.length * 2 - 1);
    const failed = JSON.parse(readFileSync(join(dir, 'failed.json'), 'utf8')) as unknown[];
    assert.deepEqual(failed.length, 1);
    assert.ok(reporter.events.includes('failed'));
  });
  it('keeps live.json with the runs in training, their progress and curve so far, and removes it at the end', async () => {
    const dir = tmp();
    const seen: LiveUnit[][] = [];
    const { outcome } = await drive(dir, study(false), {
      concurrency: 1,
      during: async (events, unit) => {
        events.step?.({
          epoch: 0,
          batch: 3,
          batches: 10,
          images: 192,
          loss: 1.5,
          accuracy: 30,
          lr: 0.1,
        });
        events.epoch?.({
          epoch: 0,
          trainAcc: 50,
          valAcc: 40,
          trainLoss: 1,
          valLoss: 1,
          lr: 0.1,
          seconds: 1,
        });
        // live.json is written in the background: wait for this unit's epoch to reach it.
        for (let waited = 0; ; waited += 10) {
          const units = readLiveStatus(dir).status?.units ?? [];
          const mine = units.find((u) => u.id === unit.arch.id && u.seed === unit.seed);
          if (mine?.valAcc.length === 1) {
            seen.push(units);
            return;
          }
          assert.ok(waited < 30_000, 'live.json never showed the epoch');
          await new Promise((r) => setTimeout(r, 10));
        }
      },
    });
    assert.equal(outcome.stopped, false);
    assert.equal(seen.length, IDS.length * 2);
    for (const units of seen) {
      assert.equal(units.length, 1, 'one run in training at a time, the ended ones gone');
      const [u] = units;
      assert.ok(u);
      assert.deepEqual(
        [u.epoch, u.batch, u.batches, u.loss, u.epochs, u.valAcc, u.trainAcc, u.untilEpoch],
        [1, 0, 10, 1.5, [1], [40], [50], EPOCHS],
      );
      assert.ok(IDS.includes(u.id) && u.xi !== null && u.widths.length === 9);
    }
    assert.equal(existsSync(join(dir, 'live.json')), false, 'gone once the sweep ended');
  });
});
