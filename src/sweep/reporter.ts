import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Architecture } from '../family/skew-normal.js';
import { RESULTS_FILE } from '../run/files.js';
import type { RungDecision } from '../run/halving-state.js';
import { unitLabel, type RunUnit } from '../run/units.js';
import type { ResultRecord } from '../run/results.js';
import type { MicroBatchChoice } from '../train/memory.js';
import type { EpochStats, LayoutChoice, StepProgress } from '../train/trainer.js';
import { architectureStats, topVerdict } from '../analysis/architectures.js';
import { sweepConclusion } from './summary.js';
import type { SweepReporter } from './sweep.js';

export type ReportMode = 'tty' | 'plain' | 'json' | 'quiet';

const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
};

/**
 * Shows a sweep: on a terminal a progress bar per epoch (images/s, loss, accuracy, ETA) with the
 * sweep's own line (architectures done and left, ETA from the measured throughput and each
 * architecture's MACs); plain lines when the output is not a terminal; one JSON object per event
 * with --json-log; only the summary with --quiet.
 */
export class ConsoleReporter implements SweepReporter {
  private readonly mode: ReportMode;
  private readonly out: NodeJS.WriteStream;
  private bar: cliProgress.SingleBar | undefined;
  private arch: Architecture | undefined;
  private archLabel = '';
  private epochs = 0;
  private imagesPerEpoch = 0;
  private index = 0;
  private total = 0;
  private epochStarted = 0;
  private lastPlain = 0;
  // Measured throughput of the sweep, in MAC-images per second, for its ETA.
  private work = 0;
  private workSeconds = 0;
  private stepMark = { time: 0, images: 0 };
  private remaining: RunUnit[] = [];
  private seeds = 1;
  private seed = 0;
  dir = '';

  constructor(mode: ReportMode, out: NodeJS.WriteStream = process.stdout) {
    this.mode = mode;
    this.out = out;
  }

  private json(event: string, data: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify({ event, time: new Date().toISOString(), ...data })}\n`);
  }

  private line(text: string): void {
    if (this.mode === 'tty' || this.mode === 'plain') this.out.write(`${text}\n`);
  }

  private sweepEta(): string {
    if (this.workSeconds <= 0 || !this.arch) return '?';
    const rate = this.work / this.workSeconds;
    const left = [this.arch, ...this.remaining.map((u) => u.arch)].reduce(
      (n, a) => n + a.macs * this.imagesPerEpoch * this.epochs,
      0,
    );
    return duration(left / rate);
  }

  start(info: {
    dir: string;
    total: number;
    done: number;
    seeds: number;
    resumed: boolean;
    todo: RunUnit[];
  }): void {
    this.dir = info.dir;
    this.total = info.total;
    this.seeds = info.seeds;
    this.remaining = info.todo;
    if (this.mode === 'json')
      this.json('start', {
        dir: info.dir,
        total: info.total,
        done: info.done,
        seeds: info.seeds,
        resumed: info.resumed,
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

  architectureStart(info: {
    index: number;
    total: number;
    unit: RunUnit;
    epochs: number;
    imagesPerEpoch: number;
  }): void {
    const { unit } = info;
    this.arch = unit.arch;
    this.seed = unit.seed;
    this.remaining = this.remaining.filter(
      (u) => u.arch.id !== unit.arch.id || u.seed !== unit.seed,
    );
    this.index = info.index;
    this.epochs = info.epochs;
    this.imagesPerEpoch = info.imagesPerEpoch;
    const a = unit.arch;
    this.archLabel = `${this.seeds > 1 ? 'run' : 'arch'} ${info.index + 1}/${info.total} (${unitLabel(unit, this.seeds)})`;
    if (this.mode === 'json')
      this.json('architecture', {
        id: a.id,
        seed: unit.seed,
        xi: a.xi,
        omega: a.omega,
        alpha: a.alpha,
        widths: a.widths,
        macs: a.macs,
        params: a.params,
      });
    else
      this.line(
        `${this.archLabel}: widths ${a.widths.join(' ')}, ${(a.params / 1e6).toFixed(2)}M params, ${(a.macs / 1e6).toFixed(1)}M MACs/image`,
      );
  }

  layout(c: LayoutChoice): void {
    if (this.mode === 'json') this.json('layout', { ...c });
    else {
      const times = Object.entries(c.msPerStep)
        .map(([layout, ms]) => `${layout} ${ms.toFixed(0)} ms`)
        .join(', ');
      this.line(`  layout: ${c.layout}${times ? ` (a training step: ${times})` : ''}`);
    }
  }

  memory(c: MicroBatchChoice): void {
    const gib = (b: number | undefined): string =>
      b === undefined ? 'not measurable' : `${(b / 2 ** 30).toFixed(2)} GiB`;
    if (this.mode === 'json') this.json('memory', { ...c });
    else {
      this.line(
        `  memory: micro-batch ${c.microBatch}, measured ${gib(c.measuredBytes)} per pass (budget ${gib(c.budgetBytes)}); the reference's estimate ${gib(c.reference.estimateBytes)}, it required ${gib(c.reference.requiredBytes)}`,
      );
      if (c.split) {
        this.line(
          `  split: the study's micro-batch did not fit this machine, so this architecture trains in pieces of ${c.microBatch}; its batch-norm statistics, and so its numbers, depend on this machine's memory`,
        );
      }
    }
  }

  resumed(epoch: number, batch: number): void {
    if (this.mode === 'json')
      this.json('resume', { id: this.arch?.id, seed: this.seed, epoch, batch });
    else this.line(`  resuming at epoch ${epoch + 1}, batch ${batch + 1}`);
  }

  step(p: StepProgress): void {
    const now = performance.now();
    if (p.batch === 0 || this.epochStarted === 0) {
      this.epochStarted = now;
      this.stepMark = { time: now, images: 0 };
    }
    // Throughput for the sweep's ETA: the MACs of the images since the last step.
    const images = p.images - this.stepMark.images;
    this.work += (this.arch?.macs ?? 0) * images;
    this.workSeconds += (now - this.stepMark.time) / 1000;
    this.stepMark = { time: now, images: p.images };
    const seconds = (now - this.epochStarted) / 1000;
    const rate = seconds > 0 ? p.images / seconds : 0;
    if (this.mode === 'tty') {
      const payload = {
        label: `${this.archLabel} epoch ${p.epoch + 1}/${this.epochs}`,
        rate: rate.toFixed(0),
        loss: p.loss.toFixed(3),
        acc: p.accuracy.toFixed(1),
        sweep: `${this.index}/${this.total} done, ETA ${this.sweepEta()}`,
      };
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            stream: this.out,
            format:
              '{label} [{bar}] {value}/{total} img | {rate} img/s | loss {loss} | acc {acc}% | ETA {eta_formatted} | sweep {sweep}',
            hideCursor: true,
            barsize: 20,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(this.imagesPerEpoch, p.images, payload);
      } else this.bar.update(p.images, payload);
    } else if (this.mode === 'plain' && now - this.lastPlain > 30000) {
      this.lastPlain = now;
      this.line(
        `  epoch ${p.epoch + 1}/${this.epochs}: ${p.images}/${this.imagesPerEpoch} images, ${rate.toFixed(0)} img/s, loss ${p.loss.toFixed(3)}, acc ${p.accuracy.toFixed(1)}%`,
      );
    }
  }

  epoch(s: EpochStats): void {
    this.bar?.stop();
    this.bar = undefined;
    this.epochStarted = 0;
    if (this.mode === 'json') this.json('epoch', { id: this.arch?.id, seed: this.seed, ...s });
    else {
      this.line(
        `  epoch ${s.epoch + 1}/${this.epochs}: train ${s.trainAcc.toFixed(2)}% (loss ${s.trainLoss.toFixed(3)}), val ${s.valAcc.toFixed(2)}% (loss ${s.valLoss.toFixed(3)}), lr ${s.lr.toPrecision(3)}, ${(this.imagesPerEpoch / s.seconds).toFixed(0)} img/s, ${duration(s.seconds)}; sweep ETA ${this.sweepEta()}`,
      );
    }
  }

  architectureDone(r: ResultRecord, remaining: RunUnit[]): void {
    this.remaining = remaining;
    if (this.mode === 'json') this.json('result', { ...r });
    else {
      const flag = r.diverged
        ? ' (diverged: NaN loss)'
        : r.abandoned
          ? ' (abandoned: training accuracy below twice chance)'
          : '';
      this.line(
        `  done: best val ${r.bestVal.toFixed(2)}% at epoch ${r.bestEpoch + 1}${flag}; ${remaining.length} ${this.seeds > 1 ? 'runs' : 'architectures'} left`,
      );
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

  stopped(dir: string): void {
    this.bar?.stop();
    if (this.mode === 'json') this.json('stopped', { dir });
    else this.out.write(`stopped; continue with: featshift sweep --resume '${dir}'\n`);
  }

  done(records: ResultRecord[], dir: string): void {
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
      });
      return;
    }
    this.out.write(`\n${sweepConclusion(records, dir)}\n\nresults: ${join(dir, RESULTS_FILE)}\n`);
  }
}
