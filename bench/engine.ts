import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { referencePython, type BenchRow } from './common.js';
import { ENGINE_WORKLOADS } from './engine-workloads.js';

interface Measure {
  img_s: number;
  rss_mb: number;
}

function run(command: string, args: string[]): Measure | undefined {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`bench engine: ${command} ${args.join(' ')} failed:\n${r.stderr}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Measure;
}

function best(a: Measure | undefined, b: Measure | undefined): Measure | undefined {
  if (!a || !b) return a ?? b;
  return { img_s: Math.max(a.img_s, b.img_s), rss_mb: Math.max(a.rss_mb, b.rss_mb) };
}

/**
 * Training throughput and peak memory of featshift against PyTorch (Debian's python3-torch) on the
 * same machine, same thread count, same workloads, one process per measurement. Steps per
 * measurement: FEATSHIFT_BENCH_STEPS (default 5); rounds: FEATSHIFT_BENCH_ROUNDS (default 2).
 */
export function benchEngine(): BenchRow[] {
  const threads = String(Number(process.env.FEATSHIFT_BENCH_THREADS ?? availableParallelism()));
  const steps = process.env.FEATSHIFT_BENCH_STEPS ?? '5';
  const worker = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
  const python = referencePython(['torch']);
  const rows: BenchRow[] = [];
  const rounds = Number(process.env.FEATSHIFT_BENCH_ROUNDS ?? 2);
  for (const w of ENGINE_WORKLOADS) {
    const args = [w.widths.join(','), String(w.batch), threads, steps];
    // Alternate the contenders over several rounds and keep each one's best round, so that a
    // burst of load from elsewhere on a shared machine does not decide the ratio.
    let ours: Measure | undefined;
    let oursNchw: Measure | undefined;
    let ref: Measure | undefined;
    for (let round = 0; round < rounds; round++) {
      ours = best(ours, run(process.execPath, [worker, ...args]));
      oursNchw = best(oursNchw, run(process.execPath, [worker, ...args, 'nchw']));
      if (python) ref = best(ref, run(python, ['scripts/reference/engine_bench.py', ...args]));
    }
    rows.push({
      workload: w.name,
      threads: Number(threads),
      featshift_img_s: ours?.img_s,
      pytorch_img_s: ref?.img_s,
      ratio: ours && ref ? ours.img_s / ref.img_s : undefined,
      featshift_rss_mb: ours?.rss_mb,
      pytorch_rss_mb: ref?.rss_mb,
      nchw_img_s: oursNchw?.img_s,
      nchw_ratio: oursNchw && ref ? oursNchw.img_s / ref.img_s : undefined,
    });
  }
  return rows;
}
