import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { familyTag, type MemberKey, type MemberRef } from '../family/members.js';
import { FAILED_FILE, RESULTS_FILE } from '../run/files.js';
import type { RungDecision } from '../run/halving-state.js';
import { unitLabel, type RunUnit } from '../run/units.js';
import { familyFields, unitKey, type ResultRecord } from '../run/results.js';
import type { MicroBatchChoice } from '../train/memory.js';
import type {
  EpochStats,
  MemoryFormatChoice,
  StepProgress,
  TrainingEvents,
} from '../train/trainer.js';
import { architectureStats, topVerdict } from '../analysis/architectures.js';
import { sweepConclusion } from './summary.js';
import { clockDuration } from '../util/duration.js';
import type { SweepReporter } from './driver.js';
import type { ParallelChoice, Split } from './parallel/choose.js';

export type ReportMode = 'tty' | 'plain' | 'json' | 'quiet';

/** What the reporter keeps of a unit while it trains. */
interface UnitView {
  unit: RunUnit;
  label: string;
  epochs: number;
  imagesPerEpoch: number;
  epochStarted: number;
  lastPlain: number;
  /** The epoch training and its images seen so far, for the sweep's throughput. */
  epoch: number;
  images: number;
  bar: cliProgress.SingleBar | undefined;
}

/**
 * Shows a sweep: on a terminal a progress bar per training unit (images/s, loss, accuracy, ETA)
 * with the sweep's own part (runs done, ETA from the measured throughput and each architecture's
 * MACs); plain lines when the output is not a terminal (each named by its unit when several
 * train at once); one JSON object per event with --json-log; only the summary with --quiet.
 */
export class ConsoleReporter implements SweepReporter {
  private readonly mode: ReportMode;
  private readonly out: NodeJS.WriteStream;
  private bars: cliProgress.MultiBar | undefined;
  private readonly running = new Map<string, UnitView>();
  private total = 0;
  private finished = 0;
  private concurrency = 1;
  // Measured throughput of the sweep, in MAC-images per second of wall time, for its ETA.
  private work = 0;
  private firstStep = 0;
  /** Units not yet started, and the epochs and images of the last one that did (for the ETA). */
  private remaining: RunUnit[] = [];
  private epochs = 0;
  private imagesPerEpoch = 0;
  private seeds = 1;
  dir = '';

  constructor(mode: ReportMode, out: NodeJS.WriteStream = process.stdout) {
    this.mode = mode;
    this.out = out;
  }

  private json(event: string, data: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify({ event, time: new Date().toISOString(), ...data })}\n`);
  }

  private line(text: string): void {
    if (this.mode !== 'tty' && this.mode !== 'plain') return;
    if (this.bars) this.bars.log(`${text}\n`);
    else this.out.write(`${text}\n`);
  }

  /** A line about one unit: indented under its header, or named when several train at once. */
  private unitLine(view: UnitView, text: string): void {
    this.line(
      this.concurrency > 1 ? `  [${unitLabel(view.unit, this.seeds)}] ${text}` : `  ${text}`,
    );
  }

  private sweepEta(): string {
    const seconds = (performance.now() - this.firstStep) / 1000;
    if (this.work <= 0 || this.firstStep === 0 || seconds <= 0) return '?';
    const rate = this.work / seconds;
    let left = 0;
    for (const v of this.running.values())
      left += v.unit.arch.macs * Math.max(0, v.imagesPerEpoch * (v.epochs - v.epoch) - v.images);
    for (const u of this.remaining) left += u.arch.macs * this.imagesPerEpoch * this.epochs;
    return clockDuration(left / rate);
  }

  start(info: Parameters<SweepReporter['start']>[0]): void {
    this.dir = info.dir;
    // What the study's options alone say it will not do as a user may expect (src/run/preflight.ts).
    for (const w of info.warnings ?? []) process.stderr.write(`featshift: warning: ${w}\n`);
    this.total = info.total;
    this.finished = info.done;
    this.seeds = info.seeds;
    this.remaining = info.todo;
    if (this.mode === 'json')
      this.json('start', {
        dir: info.dir,
        total: info.total,
        done: info.done,
        seeds: info.seeds,
        resumed: info.resumed,
        warnings: info.warnings ?? [],
      });
    else {
      const what =
        info.seeds > 1
          ? `${info.total / info.seeds} architectures x ${info.seeds} seeds = ${info.total} runs`
          : `${info.total} architectures`;
      this.line(
        `${info.resumed ? 'resuming' : 'run'} ${info.dir}: ${what}, ${info.done} already done`,
      );
    }
  }

  parallel(choice: ParallelChoice): void {
    this.concurrency = choice.processes;
    if (this.mode === 'json') {
      this.json('parallel', { ...choice });
      return;
    }
    const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
    const split = (s: Split): string =>
      `${count(s.processes, 'process', 'processes')} of ${count(s.threads, 'thread', 'threads')}`;
    const measured = choice.measured
      ? ` (measured on ids ${choice.measured.ids.join(', ')}: ${choice.measured.candidates
          .map(
            (c) =>
              `${split(c)} ${c.seconds < Infinity ? `about ${c.seconds.toFixed(0)} s, ${c.imagesPerSecond.toFixed(0)} img/s` : 'did not fit'}`,
          )
          .join(
            ', ',
          )}${choice.measured.stoppedEarly ? `; the other splits not timed: ${choice.measured.stoppedEarly}` : ''})`
      : '';
    if (choice.processes > 1 || choice.measured)
      this.line(`training in ${split(choice)}${measured}`);
  }

  architectureStart(info: Parameters<SweepReporter['architectureStart']>[0]): TrainingEvents {
    const { unit } = info;
    const a = unit.arch;
    this.epochs = info.epochs;
    this.imagesPerEpoch = info.imagesPerEpoch;
    this.remaining = this.remaining.filter(
      (u) => unitKey(u.arch, u.seed) !== unitKey(a, unit.seed),
    );
    const view: UnitView = {
      unit,
      label: `${this.seeds > 1 ? 'run' : 'arch'} ${info.index + 1}/${info.total} (${unitLabel(unit, this.seeds)})${info.where !== undefined ? ` on ${info.where}` : ''}`,
      epochs: info.epochs,
      imagesPerEpoch: info.imagesPerEpoch,
      epochStarted: 0,
      lastPlain: 0,
      epoch: 0,
      images: 0,
      bar: undefined,
    };
    this.running.set(unitKey(a, unit.seed), view);
    if (this.mode === 'json')
      this.json('architecture', {
        id: a.id,
        seed: unit.seed,
        xi: a.xi,
        omega: a.omega,
        alpha: a.alpha,
        ...familyFields(a),
        widths: a.widths,
        macs: a.macs,
        params: a.params,
        ...(info.where !== undefined ? { where: info.where } : {}),
      });
    else
      this.line(
        `${view.label}: widths ${a.widths.join(' ')}, ${(a.params / 1e6).toFixed(2)}M params, ${(a.macs / 1e6).toFixed(1)}M MACs/image`,
      );
    return {
      layout: (c) => {
        this.layout(view, c);
      },
      memory: (c) => {
        this.memory(view, c);
      },
      resumed: (epoch, batch) => {
        this.resumed(view, epoch, batch);
      },
      step: (p) => {
        this.step(view, p);
      },
      epoch: (s) => {
        this.epoch(view, s);
      },
    };
  }

  private layout(view: UnitView, c: MemoryFormatChoice): void {
    if (this.mode === 'json')
      this.json('layout', { id: view.unit.arch.id, seed: view.unit.seed, ...c });
    else {
      const times = Object.entries(c.msPerStep)
        .map(([layout, ms]) => `${layout} ${ms.toFixed(0)} ms`)
        .join(', ');
      this.unitLine(view, `layout: ${c.layout}${times ? ` (a training step: ${times})` : ''}`);
    }
  }

  private memory(view: UnitView, c: MicroBatchChoice): void {
    const gib = (b: number | undefined): string =>
      b === undefined ? 'not measurable' : `${(b / 2 ** 30).toFixed(2)} GiB`;
    if (this.mode === 'json')
      this.json('memory', { id: view.unit.arch.id, seed: view.unit.seed, ...c });
    else {
      this.unitLine(
        view,
        `memory: micro-batch ${c.microBatch}, measured ${gib(c.measuredBytes)} per pass (budget ${gib(c.budgetBytes)}); the reference's estimate ${gib(c.reference.estimateBytes)}, it required ${gib(c.reference.requiredBytes)}`,
      );
      if (c.split) {
        this.unitLine(
          view,
          `split: the study's micro-batch did not fit this machine, so this architecture trains in pieces of ${c.microBatch}; its batch-norm statistics, and so its numbers, depend on this machine's memory`,
        );
      }
    }
  }

  private resumed(view: UnitView, epoch: number, batch: number): void {
    if (this.mode === 'json')
      this.json('resume', { id: view.unit.arch.id, seed: view.unit.seed, epoch, batch });
    else this.unitLine(view, `resuming at epoch ${epoch + 1}, batch ${batch + 1}`);
  }

  private step(view: UnitView, p: StepProgress): void {
    const now = performance.now();
    if (this.firstStep === 0) this.firstStep = now;
    if (p.batch === 0 || view.epochStarted === 0) {
      view.epochStarted = now;
      view.images = 0;
    }
    // Throughput for the sweep's ETA: the MACs of the images since this unit's last step.
    this.work += view.unit.arch.macs * Math.max(0, p.images - view.images);
    view.images = p.images;
    view.epoch = p.epoch;
    const seconds = (now - view.epochStarted) / 1000;
    const rate = seconds > 0 ? p.images / seconds : 0;
    if (this.mode === 'tty') {
      const payload = {
        label: `${view.label} epoch ${p.epoch + 1}/${view.epochs}`,
        rate: rate.toFixed(0),
        loss: p.loss.toFixed(3),
        acc: p.accuracy.toFixed(1),
        sweep: `${this.finished}/${this.total} done, ETA ${this.sweepEta()}`,
      };
      this.bars ??= new cliProgress.MultiBar(
        {
          stream: this.out,
          format:
            '{label} [{bar}] {value}/{total} img | {rate} img/s | loss {loss} | acc {acc}% | ETA {eta_formatted} | sweep {sweep}',
          hideCursor: true,
          barsize: 20,
          etaBuffer: 20,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      if (!view.bar) view.bar = this.bars.create(view.imagesPerEpoch, p.images, payload);
      else view.bar.update(p.images, payload);
    } else if (this.mode === 'plain' && now - view.lastPlain > 30000) {
      view.lastPlain = now;
      this.unitLine(
        view,
        `epoch ${p.epoch + 1}/${view.epochs}: ${p.images}/${view.imagesPerEpoch} images, ${rate.toFixed(0)} img/s, loss ${p.loss.toFixed(3)}, acc ${p.accuracy.toFixed(1)}%`,
      );
    }
  }

  /** Takes a unit's bar off the terminal (the last bar gone: the bars themselves). */
  private dropBar(view: UnitView): void {
    if (!view.bar || !this.bars) return;
    this.bars.remove(view.bar);
    view.bar = undefined;
    if ([...this.running.values()].every((v) => !v.bar)) {
      this.bars.stop();
      this.bars = undefined;
    }
  }

  private epoch(view: UnitView, s: EpochStats): void {
    this.dropBar(view);
    view.epochStarted = 0;
    view.images = 0;
    view.epoch = s.epoch + 1;
    if (this.mode === 'json')
      this.json('epoch', {
        id: view.unit.arch.id,
        ...familyTag(view.unit.arch),
        seed: view.unit.seed,
        ...s,
      });
    else {
      this.unitLine(
        view,
        `epoch ${s.epoch + 1}/${view.epochs}: train ${s.trainAcc.toFixed(2)}% (loss ${s.trainLoss.toFixed(3)}), val ${s.valAcc.toFixed(2)}% (loss ${s.valLoss.toFixed(3)}), lr ${s.lr.toPrecision(3)}, ${(view.imagesPerEpoch / s.seconds).toFixed(0)} img/s, ${clockDuration(s.seconds)}; sweep ETA ${this.sweepEta()}`,
      );
    }
  }

  /** A unit stops training (done, paused at a rung, failed): its view and bar go. */
  private endView(member: MemberRef, seed: number): UnitView | undefined {
    const key = unitKey(member, seed);
    const view = this.running.get(key);
    if (view) this.dropBar(view);
    this.running.delete(key);
    return view;
  }

  architectureDone(r: ResultRecord, remaining: RunUnit[]): void {
    this.finished++;
    const view = this.endView(r, r.seed);
    if (this.mode === 'json') this.json('result', { ...r });
    else {
      const flag = r.diverged
        ? ' (diverged: NaN loss)'
        : r.abandoned
          ? ' (abandoned: training accuracy below twice chance)'
          : '';
      const text = `done: best val ${r.bestVal.toFixed(2)}% at epoch ${r.bestEpoch + 1}${flag}; ${remaining.length} ${this.seeds > 1 ? 'runs' : 'architectures'} left`;
      if (view) this.unitLine(view, text);
      else this.line(`  ${text}`);
    }
  }

  rung(d: RungDecision & { rungs: number[] }): void {
    if (this.mode === 'json') {
      this.json('rung', { ...d });
      return;
    }
    const next = d.rungs[d.rungs.indexOf(d.rung) + 1];
    this.line(
      `rung at epoch ${d.rung}: ${d.standings.length} architectures reached it; ${d.promoted.length} go on to epoch ${next ?? '?'} (ids ${d.promoted.join(', ')}), the others stop here`,
    );
  }

  paused(r: ResultRecord): void {
    this.endView(r, r.seed);
    if (this.mode === 'json') this.json('paused', { ...r });
    else
      this.line(
        `  ${unitLabel({ arch: r, seed: r.seed }, this.seeds)} reached the rung at epoch ${r.valAcc.length}: best val ${r.bestVal.toFixed(2)}%`,
      );
  }

  promoted(id: MemberKey, epoch: number): void {
    if (this.mode === 'json') this.json('promoted', { id, epoch });
    else this.line(`id ${id} goes on to epoch ${epoch}`);
  }

  failed(unit: RunUnit, reason: string, attempts: number): void {
    this.endView(unit.arch, unit.seed);
    if (this.mode === 'json')
      this.json('failed', {
        id: unit.arch.id,
        ...familyTag(unit.arch),
        seed: unit.seed,
        reason,
        attempts,
      });
    else
      this.line(
        `${unitLabel(unit, this.seeds)} FAILED after ${attempts} attempts: ${reason}; the sweep goes on`,
      );
  }

  note(message: string): void {
    if (this.mode === 'json') this.json('note', { message });
    else this.line(message);
  }

  stopped(dir: string, resume?: string): void {
    this.bars?.stop();
    this.bars = undefined;
    if (this.mode === 'json') this.json('stopped', { dir });
    else
      this.out.write(`${resume ?? `stopped; continue with: featshift sweep --resume '${dir}'`}\n`);
  }

  done(records: ResultRecord[], dir: string, failed: string[] = []): void {
    if (this.mode === 'json') {
      const stats = architectureStats(records);
      const top = topVerdict(stats);
      // The summary's numbers with their intervals, for scripts: per architecture over its seeds.
      this.json('done', {
        dir,
        runs: records.length,
        architectures: stats.map((a) => ({
          id: a.id,
          xi: a.xi,
          omega: a.omega,
          alpha: a.alpha,
          ...(a.family === 'linear'
            ? { family: a.family, w0: a.w0, wa: a.wa, wm: a.wm, location: a.location }
            : {}),
          seeds: a.seeds,
          bestVal: a.bestVal,
          lastVal: a.lastVal,
          bestValTrain: a.bestValTrain,
          gap: a.gap,
          abandoned: a.abandoned,
          diverged: a.diverged,
          params: a.params,
          macs: a.macs,
        })),
        best: top.best,
        tiedWithBest: top.tiedWithBest,
        undecidable: top.undecidable,
        failed,
      });
      return;
    }
    const lost = failed.length > 0 ? `; failed: ${failed.join('; ')} (see ${FAILED_FILE})` : '';
    this.out.write(
      `\n${sweepConclusion(records, dir)}\n\nresults: ${join(dir, RESULTS_FILE)}${lost}\n`,
    );
  }
}
