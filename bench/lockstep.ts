import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { median } from './common.js';

/** A benchmark process as spawned: command, arguments, extra environment. */
export interface Contender {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * A process that speaks the lockstep protocol (FEATSHIFT_BENCH_LOCKSTEP=1: bench/engine-worker.ts,
 * scripts/reference/engine_bench.py): it prints 'ready' after its warm-up, then one line of
 * milliseconds for every 'step' line it reads, and its summary line when its input ends.
 */
class LockstepProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private stderr = '';
  private ended = false;

  constructor(c: Contender) {
    this.child = spawn(c.command, c.args, {
      env: { ...process.env, ...c.env, FEATSHIFT_BENCH_LOCKSTEP: '1' },
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const reader = createInterface({ input: this.child.stdout });
    reader.on('line', (line) => {
      this.deliver(line);
    });
    reader.on('close', () => {
      this.ended = true;
      this.deliver(undefined);
    });
  }

  private deliver(line: string | undefined): void {
    const waiter = this.waiting;
    this.waiting = undefined;
    if (waiter) waiter(line);
    else if (line !== undefined) this.lines.push(line);
  }

  private next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(this.failure());
    return new Promise((resolve, reject) => {
      this.waiting = (l) => {
        if (l === undefined) reject(this.failure());
        else resolve(l);
      };
    });
  }

  private failure(): Error {
    return new Error(`${this.child.spawnargs.join(' ')} ended early:\n${this.stderr}`);
  }

  async ready(): Promise<void> {
    const line = await this.next();
    if (line !== 'ready') throw new Error(`expected 'ready', read '${line}'`);
  }

  /** One step, timed by the process itself (the pipe's round trip is not in it). */
  async step(): Promise<number> {
    this.child.stdin.write('step\n');
    return Number(await this.next());
  }

  /** Ends the process, once it has printed its summary line and exited. */
  async end(): Promise<void> {
    this.child.stdin.end();
    await this.next();
    if (this.child.exitCode === null)
      await new Promise((resolve) => this.child.once('exit', resolve));
  }

  /**
   * Waits until the process has stopped using the CPU after its step: libgomp's threads spin for
   * a while after their last parallel work before they sleep (some 300,000 rounds of PAUSE; 100
   * ms on a paravirtual machine whose PAUSE is slow), and would take a core from the other side's
   * step. Quiet means no CPU tick counted for 30 ms (Linux's /proc; elsewhere a fixed 150 ms).
   */
  async settle(): Promise<void> {
    const started = performance.now();
    let last = this.cpuTicks();
    let quietSince = performance.now();
    if (last === undefined) {
      await sleep(150);
      return;
    }
    while (performance.now() - quietSince < 30 && performance.now() - started < 1000) {
      await sleep(10);
      const now = this.cpuTicks();
      if (now !== last) {
        last = now;
        quietSince = performance.now();
      }
    }
  }

  /** User and system CPU ticks of all the process's threads, where Linux's /proc tells them. */
  private cpuTicks(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${String(this.child.pid)}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }

  kill(): void {
    this.child.kill();
  }
}

/** The step times of two contenders run in lockstep, in milliseconds, pair by pair. */
export interface LockstepRun {
  a: number[];
  b: number[];
}

/**
 * Two contenders' training steps interleaved, one step of one and then one of the other, each in
 * its own process, warm and waiting while the other steps: a burst of load from elsewhere, which
 * on a shared machine lasts seconds, falls on both sides of a pair alike, where separate runs one
 * after the other each meet their own. `aFirst` says which side starts each pair (rounds
 * alternate it, so that neither side always follows the other). Each process warms up alone, and
 * each step starts once the other process has gone quiet.
 */
export async function lockstep(
  a: Contender,
  b: Contender,
  pairs: number,
  aFirst: boolean,
): Promise<LockstepRun> {
  const first = new LockstepProcess(aFirst ? a : b);
  let second: LockstepProcess | undefined;
  try {
    await first.ready();
    second = new LockstepProcess(aFirst ? b : a);
    await second.ready();
    await second.settle();
    const firstMs: number[] = [];
    const secondMs: number[] = [];
    for (let i = 0; i < pairs; i++) {
      firstMs.push(await first.step());
      await first.settle();
      secondMs.push(await second.step());
      await second.settle();
    }
    await first.end();
    await second.end();
    return aFirst ? { a: firstMs, b: secondMs } : { a: secondMs, b: firstMs };
  } catch (error) {
    first.kill();
    second?.kill();
    throw error;
  }
}

/**
 * The 10th percentile of step times (the fastest of fewer than 10): on a shared machine load from
 * elsewhere only ever adds time to a step, so the fastest steps are where the program's own speed
 * shows and the host's least (Chen and Revels, "Robust benchmarking in noisy environments", 2016).
 */
export function fastestDecile(ms: readonly number[]): number {
  const sorted = [...ms].sort((x, y) => x - y);
  return sorted[Math.floor(0.1 * (sorted.length - 1))] as number;
}

/**
 * A lockstep run's throughput ratios of a to b: `pairs`, the median over its pairs of b's step
 * time over a's (a pair's two steps met much the same load), and `fastest`, b's fastest decile
 * over a's (what each does when the machine leaves it alone).
 */
export function lockstepRatios(run: LockstepRun): { pairs: number; fastest: number } {
  return {
    pairs: Math.exp(
      median(run.a.map((ms, i) => Math.log((run.b[i] as number) / ms)).filter(Number.isFinite)),
    ),
    fastest: fastestDecile(run.b) / fastestDecile(run.a),
  };
}
