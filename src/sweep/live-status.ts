import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { MemberRef } from '../family/members.js';
import { LIVE_FILE } from '../run/files.js';
import { linearName, unitKey } from '../run/results.js';
import type { LiveStatus, LiveUnit } from '../run/live.js';
import type { RunUnit } from '../run/units.js';
import type { TrainingEvents } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { SweepReporter } from './driver.js';

/** A step's progress reaches live.json at most this often; an epoch's end at once. */
const STEP_WRITE_MS = 1000;

/**
 * live.json of a run folder: the runs in training now, with their progress and their curves so
 * far, for `featshift view` to show from a sweep's first second. The driver's reporter passes
 * through it, so every executor (this process, the pool, a queue) feeds it the same events.
 * Advisory: a failed write loses one update and never stops a sweep; the file goes when the sweep
 * ends, and one a killed sweep left says how old it is.
 */
export class LiveStatusFile {
  private readonly path: string;
  private readonly units = new Map<string, LiveUnit>();
  private writing: Promise<void> = Promise.resolve();
  private pending = false;
  private lastWrite = 0;
  private closed = false;

  constructor(dir: string) {
    this.path = join(dir, LIVE_FILE);
  }

  /** `reporter`, with every run's start, steps, epochs and end also written to live.json. */
  follow(reporter: SweepReporter): SweepReporter {
    const end = (member: MemberRef, seed: number): void => {
      this.units.delete(unitKey(member, seed));
      this.write(true);
    };
    // The reporter may be a class instance: its methods are called on it, not copied off it.
    return {
      start: (info) => {
        reporter.start(info);
      },
      parallel: (choice) => {
        reporter.parallel(choice);
      },
      rung: (decision) => {
        reporter.rung(decision);
      },
      promoted: (id, epoch) => {
        reporter.promoted?.(id, epoch);
      },
      note: (message) => {
        reporter.note?.(message);
      },
      stopped: (dir, resume) => {
        reporter.stopped(dir, resume);
      },
      done: (records, dir, failed) => {
        reporter.done(records, dir, failed);
      },
      architectureStart: (info) => this.started(info, reporter.architectureStart(info)),
      architectureDone: (record, remaining) => {
        end(record, record.seed);
        reporter.architectureDone(record, remaining);
      },
      paused: (record) => {
        end(record, record.seed);
        reporter.paused?.(record);
      },
      failed: (unit, reason, attempts) => {
        end(unit.arch, unit.seed);
        reporter.failed?.(unit, reason, attempts);
      },
    };
  }

  /** Removes live.json: the sweep ended, stopped or failed, and nothing trains. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    await rm(this.path, { force: true });
  }

  private started(
    info: Parameters<SweepReporter['architectureStart']>[0],
    events: TrainingEvents,
  ): TrainingEvents {
    const unit = liveUnit(info.unit, info.epochs, info.where);
    this.units.set(unitKey(info.unit.arch, info.unit.seed), unit);
    this.write(true);
    return {
      ...events,
      step: (p) => {
        unit.epoch = p.epoch;
        unit.batch = p.batch;
        unit.batches = p.batches;
        unit.loss = p.loss;
        this.write(false);
        events.step?.(p);
      },
      epoch: (stats) => {
        unit.epoch = stats.epoch + 1;
        unit.batch = 0;
        unit.epochs.push(stats.epoch + 1);
        unit.valAcc.push(stats.valAcc);
        unit.trainAcc.push(stats.trainAcc);
        this.write(true);
        events.epoch?.(stats);
      },
      resumed: (epoch, batch) => {
        unit.epoch = epoch;
        unit.batch = batch;
        this.write(true);
        events.resumed?.(epoch, batch);
      },
    };
  }

  /** Queues a write of the current state: at once, or a step's at most every STEP_WRITE_MS. */
  private write(now: boolean): void {
    if (this.closed || (!now && Date.now() - this.lastWrite < STEP_WRITE_MS)) return;
    if (this.pending) return;
    this.pending = true;
    this.writing = this.writing.then(async () => {
      this.pending = false;
      if (this.closed) return;
      this.lastWrite = Date.now();
      const status: LiveStatus = {
        updated: new Date().toISOString(),
        units: [...this.units.values()],
      };
      await writeFileAtomic(this.path, `${JSON.stringify(status)}\n`).catch(() => undefined);
    });
  }
}

function liveUnit(unit: RunUnit, untilEpoch: number, where: string | undefined): LiveUnit {
  const { arch, seed } = unit;
  return {
    id: arch.id,
    seed,
    xi: arch.xi,
    omega: arch.omega,
    alpha: arch.alpha,
    ...linearName(arch),
    widths: [...arch.widths],
    untilEpoch,
    epoch: 0,
    batch: 0,
    batches: null,
    loss: null,
    epochs: [],
    valAcc: [],
    trainAcc: [],
    where: where ?? null,
    started: new Date().toISOString(),
  };
}
