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

/**
 * Training throughput and peak memory of featshift against PyTorch (Debian's python3-torch) on the
 * same machine, same thread count, same workloads, one process per measurement. Steps per
 * measurement: FEATSHIFT_BENCH_STEPS (default 5).
 */
export function benchEngine(): BenchRow[] {
  const threads = String(Number(process.env.FEATSHIFT_BENCH_THREADS ?? availableParallelism()));
  const steps = process.env.FEATSHIFT_BENCH_STEPS ?? '5';
  const worker = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
  const python = referencePython(['torch']);
  const rows: BenchRow[] = [];
  for (const w of ENGINE_WORKLOADS) {
    const args = [w.widths.join(','), String(w.batch), threads, steps];
    const ours = run(process.execPath, [worker, ...args]);
    const oursCl = run(process.execPath, [worker, ...args, 'channels-last']);
    const ref = python ? run(python, ['scripts/reference/engine_bench.py', ...args]) : undefined;
    rows.push({
      workload: w.name,
      threads: Number(threads),
      featshift_img_s: ours?.img_s,
      pytorch_img_s: ref?.img_s,
      ratio: ours && ref ? ours.img_s / ref.img_s : undefined,
      featshift_rss_mb: ours?.rss_mb,
      pytorch_rss_mb: ref?.rss_mb,
      channels_last_img_s: oursCl?.img_s,
      channels_last_ratio: oursCl && ref ? oursCl.img_s / ref.img_s : undefined,
    });
  }
  return rows;
}
