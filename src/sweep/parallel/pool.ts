import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  StepTiming,
  TrainingConfig,
  TrainingEvents,
  TrainingOutcome,
} from '../../train/trainer.js';
import type {
  FromTrainer,
  ProcessSetup,
  TimedArchitecture,
  ToTrainer,
  TrainRequest,
} from './protocol.js';
import { fromWire } from './wire-error.js';

const TRAINER_PROCESS = fileURLToPath(new URL('./trainer-process.js', import.meta.url));

/** A training process ended without answering (killed, out of memory, a crash in libtorch). */
export class TrainerProcessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainerProcessError';
  }
}

/** One forked training process and the one request it is answering, if any. */
class TrainerProcess {
  readonly child: ChildProcess;
  private pending:
    | {
        resolve: (m: FromTrainer) => void;
        reject: (e: Error) => void;
        events: TrainingEvents | undefined;
      }
    | undefined;
  private exit: Error | undefined;

  constructor(threads: number) {
    this.child = fork(TRAINER_PROCESS, [], {
      env: { ...process.env, FEATSHIFT_THREADS: String(threads) },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: FromTrainer) => {
      if (m.type === 'event') {
        // The reporter's events are arrow functions: no `this` to keep.
        const events = this.pending?.events as
          Record<string, ((...a: unknown[]) => void) | undefined> | undefined;
        events?.[m.name]?.(...m.payload);
        return;
      }
      const pending = this.pending;
      this.pending = undefined;
      if (m.type === 'failed') pending?.reject(fromWire(m.error));
      else pending?.resolve(m);
    });
    this.child.on('exit', (code, signal) => {
      this.exit = new TrainerProcessError(
        `a training process (pid ${this.child.pid ?? '?'}) ended ${signal ? `on ${signal}` : `with code ${String(code)}`} before answering; its unit's checkpoint, if any, is intact: resume the run`,
      );
      this.pending?.reject(this.exit);
      this.pending = undefined;
    });
    this.child.on('error', (error) => {
      this.pending?.reject(error);
      this.pending = undefined;
    });
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Sends a request and waits for its answer, handing its events on meanwhile. */
  ask(message: ToTrainer, events?: TrainingEvents): Promise<FromTrainer> {
    if (this.exit) return Promise.reject(this.exit);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, events };
      this.child.send(message);
    });
  }

  tell(message: ToTrainer): void {
    if (!this.exit && this.child.connected) this.child.send(message);
  }

  close(): Promise<void> {
    if (this.exit || this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => {
        resolve();
      });
      if (this.child.connected) this.child.disconnect();
      else this.child.kill();
    });
  }
}

/**
 * Training processes of a local sweep on one machine, each with its share of the cores: several
 * architectures train at once where one process cannot use every core well. A unit gives the same
 * numbers in a process of T threads as a serial sweep with --threads T (src/run/units.ts).
 */
export class TrainerPool {
  readonly size: number;
  readonly threads: number;
  private readonly processes: TrainerProcess[];
  private readonly idle: TrainerProcess[];
  private readonly waiting: ((p: TrainerProcess) => void)[] = [];
  private ready: Promise<unknown> | undefined;

  constructor(size: number, threads: number) {
    this.size = size;
    this.threads = threads;
    this.processes = Array.from({ length: size }, () => new TrainerProcess(threads));
    this.idle = [...this.processes];
  }

  /** Gives every process the study, which each reads its data for (once). */
  async setup(setup: ProcessSetup): Promise<void> {
    this.ready = Promise.all(this.processes.map((p) => p.ask({ type: 'setup', setup })));
    await this.ready;
  }

  private acquire(): Promise<TrainerProcess> {
    const free = this.idle.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(p: TrainerProcess): void {
    const next = this.waiting.shift();
    if (next) next(p);
    else this.idle.push(p);
  }

  /** Trains a unit in the next free process: its outcome, or undefined when it was stopped. */
  async train(request: TrainRequest, events: TrainingEvents): Promise<TrainingOutcome | undefined> {
    const p = await this.acquire();
    try {
      const answer = await p.ask({ type: 'train', request }, events);
      return answer.type === 'trained' ? answer.outcome : undefined;
    } finally {
      this.release(p);
    }
  }

  /**
   * Times training steps of each architecture (see timeTrainingSteps), each in one process, the
   * processes taking them in the order given (dearest first, so that they finish together), with
   * the peak memory of a step where `peak` asks for it. A process with nothing left to time
   * meanwhile runs untimed steps of the last architecture, so that every timing contends for
   * memory bandwidth and caches as a busy sweep's units do (a process whose neighbour had
   * finished timed its last steps alone, and faster than a sweep runs them). On 2 cores this costs
   * about half of timing each architecture in every process at once.
   */
  async timeSteps(
    architectures: readonly TimedArchitecture[],
    config: TrainingConfig,
    peak: boolean,
  ): Promise<(StepTiming | undefined)[]> {
    const timings = new Array<StepTiming | undefined>(architectures.length).fill(undefined);
    const last = architectures[architectures.length - 1];
    // One untimed step of the cheapest, in one layout: the other processes wait at most that long.
    const filler = last && { ...last, layouts: last.layouts.slice(0, 1) };
    const busy = { peak: false, rounds: 1 };
    let next = 0;
    let left = architectures.length;
    const timeIn = async (p: TrainerProcess): Promise<void> => {
      for (let k = next++; k < architectures.length; k = next++) {
        const a = architectures[k] as TimedArchitecture;
        const options = { peak };
        const answer = await p
          .ask({ type: 'time', architectures: [a], config, options })
          .catch((error: unknown) => {
            left = 0; // the others stop keeping busy: the timing has failed
            throw error;
          });
        timings[k] = answer.type === 'timed' ? answer.timings[0] : undefined;
        left -= 1;
      }
      while (left > 0 && filler)
        await p.ask({ type: 'time', architectures: [filler], config, options: busy });
    };
    await Promise.all(this.processes.map(timeIn));
    return timings;
  }

  /** Asks every busy process to stop after its current step, with a checkpoint. */
  stop(): void {
    for (const p of this.processes) if (p.busy) p.tell({ type: 'stop' });
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close()));
  }
}
