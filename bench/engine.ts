import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
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
 * same machine, same thread count, same workloads, one process per measurement: featshift in
 * channels-last and in NCHW, and the layout `--layout auto` would choose (the faster of the two);
 * PyTorch in NCHW (its default), in channels-last (its fastest fp32 layout on many CPUs) and in
 * bf16 autocast. The ratio that counts is featshift's chosen layout against PyTorch's best fp32.
 * Steps per measurement: FEATSHIFT_BENCH_STEPS (default 5); rounds: FEATSHIFT_BENCH_ROUNDS
 * (default 2), contenders alternated, each one's best round kept.
 */
export function benchEngine(): BenchRow[] {
  const threads = String(Number(process.env.FEATSHIFT_BENCH_THREADS ?? availableParallelism()));
  const steps = process.env.FEATSHIFT_BENCH_STEPS ?? '5';
  const worker = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
  const python = referencePython(['torch']);
  const rows: BenchRow[] = [];
  const rounds = Number(process.env.FEATSHIFT_BENCH_ROUNDS ?? 2);
  console.log(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores`);
  for (const w of ENGINE_WORKLOADS) {
    const args = [w.widths.join(','), String(w.batch), threads, steps];
    // Alternate the contenders over several rounds and keep each one's best round, so that a
    // burst of load from elsewhere on a shared machine does not decide the ratio.
    const m: Record<string, Measure | undefined> = {};
    const take = (name: string, command: string, argv: string[]): void => {
      m[name] = best(m[name], run(command, argv));
    };
    for (let round = 0; round < rounds; round++) {
      take('cl', process.execPath, [worker, ...args]);
      take('nchw', process.execPath, [worker, ...args, 'nchw']);
      take('bf16', process.execPath, [worker, ...args, 'bf16']);
      if (python) {
        for (const mode of ['nchw', 'channels-last', 'bf16'])
          take(`pt-${mode}`, python, ['scripts/reference/engine_bench.py', ...args, mode]);
      }
    }
    const img = (name: string): number | undefined => m[name]?.img_s;
    const chosen = Math.max(img('cl') ?? 0, img('nchw') ?? 0) || undefined;
    const ptFp32 = Math.max(img('pt-nchw') ?? 0, img('pt-channels-last') ?? 0) || undefined;
    rows.push({
      workload: w.name,
      threads: Number(threads),
      featshift_cl: img('cl'),
      featshift_nchw: img('nchw'),
      featshift_auto: chosen,
      pytorch_nchw: img('pt-nchw'),
      pytorch_cl: img('pt-channels-last'),
      pytorch_bf16: img('pt-bf16'),
      featshift_bf16: img('bf16'),
      bf16_vs_pytorch_bf16:
        img('bf16') && img('pt-bf16')
          ? (img('bf16') as number) / (img('pt-bf16') as number)
          : undefined,
      auto_vs_best_fp32: chosen && ptFp32 ? chosen / ptFp32 : undefined,
      featshift_rss_mb: m.cl?.rss_mb,
      pytorch_rss_mb: m['pt-nchw']?.rss_mb,
    });
  }
  return rows;
}
