/**
 * SGDR warm restarts exactly as the original code computes them (docs/method.md §3), quirks
 * included: the rate is set before every optimiser step from
 *   t = epochInCycle + (1 / floor(datasetSize / batchSize)) * step      (step counts from 1)
 *   lr = lrWrMin + 0.5 (lr - lrWrMin) (1 + cos((t / cycle) pi))
 * and only after computing it does the schedule check whether the cycle has ended (epochInCycle
 * equal to the cycle length), then lengthens the cycle and starts it again. So the first step of
 * each new cycle still sees the end of the old one, and the last partial batch of an epoch runs t
 * slightly past the epoch's end.
 */
export interface WarmRestartOptions {
  /** The largest rate, at the start of a cycle (--lr). */
  lr: number;
  /** The smallest rate, at the end of a cycle (--lr-wr-min). */
  lrWrMin: number;
  /** Epochs of the first cycle (--lr-wr-epochs, default 10). */
  lrWrEpochs: number;
  /** Growth of each next cycle (--lr-wr-mul, default 2). */
  lrWrMul: number;
  datasetSize: number;
  batchSize: number;
}

export interface WarmRestartState {
  epochInCycle: number;
  cycle: number;
}

export class WarmRestartSchedule {
  readonly options: WarmRestartOptions;
  private state: WarmRestartState;
  private readonly stepsPerEpoch: number;

  constructor(options: WarmRestartOptions, state?: WarmRestartState) {
    this.options = options;
    this.state = state ? { ...state } : { epochInCycle: 0, cycle: options.lrWrEpochs };
    this.stepsPerEpoch = Math.floor(options.datasetSize / options.batchSize);
    if (this.stepsPerEpoch < 1) {
      throw new RangeError(
        `the warm-restart schedule needs at least one full batch per epoch: ${options.datasetSize} images, batch ${options.batchSize}`,
      );
    }
  }

  /** The rate for the step-th optimiser step (from 1) of the current epoch. */
  rate(step: number): number {
    const { lr: lrMax, lrWrMin } = this.options;
    const t = this.state.epochInCycle + (1 / this.stepsPerEpoch) * step;
    const lr = lrWrMin + 0.5 * (lrMax - lrWrMin) * (1 + Math.cos((t / this.state.cycle) * Math.PI));
    if (this.state.epochInCycle > 0 && this.state.epochInCycle % this.state.cycle === 0) {
      this.state = { epochInCycle: 0, cycle: this.state.cycle * this.options.lrWrMul };
    }
    return lr;
  }

  /** Called after every epoch, as the reference's main loop increments scheduler_epoch. */
  endEpoch(): void {
    this.state = { ...this.state, epochInCycle: this.state.epochInCycle + 1 };
  }

  snapshot(): WarmRestartState {
    return { ...this.state };
  }
}
