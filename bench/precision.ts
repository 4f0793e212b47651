import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { excludesZero, tInterval, welchInterval } from '../src/analysis/stats.js';
import { bf16Unsupported } from '../src/engine/runtime.js';
import { readResults } from '../src/run/results.js';
import { runBenchSweep, type BenchRow } from './common.js';

/**
 * Does bf16 learn what fp32 learns? The study benchmark's members (VGG-16 family at 1/8: ids 53,
 * 59 and 109 by default) trained with 3 seeds in fp32 and in `--precision bf16`, 3 epochs on a
 * Fashion-MNIST subset, by featshift's CLI: per member, best validation accuracy as mean and 95 %
 * t interval per precision, whether bf16's mean lies inside fp32's interval, and Welch's interval
 * of the difference. Settings: FEATSHIFT_BENCH_PRECISION_IDS (53,59,109),
 * FEATSHIFT_BENCH_PRECISION_SEEDS (3), FEATSHIFT_BENCH_STUDY_EPOCHS (3),
 * FEATSHIFT_BENCH_STUDY_TRAIN (4096), FEATSHIFT_BENCH_STUDY_VAL (2048).
 */
export function benchPrecision(): BenchRow[] {
  const env = process.env;
  if (bf16Unsupported('cpu') !== null) {
    console.log(`bench precision: skipped, ${bf16Unsupported('cpu') ?? ''}`);
    return [];
  }
  const ids = (env.FEATSHIFT_BENCH_PRECISION_IDS ?? '53,59,109').split(',').map(Number);
  const seeds = env.FEATSHIFT_BENCH_PRECISION_SEEDS ?? '3';
  const epochs = env.FEATSHIFT_BENCH_STUDY_EPOCHS ?? '3';
  console.log(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores`);
  const runs: Record<string, ReturnType<typeof readResults>> = {};
  const seconds: Record<string, number> = {};
  const root = mkdtempSync(join(tmpdir(), 'featshift-bench-precision-'));
  try {
    for (const precision of ['fp32', 'bf16']) {
      const { seconds: took, dir } = runBenchSweep(
        {
          ids,
          epochs: Number(epochs),
          train: Number(env.FEATSHIFT_BENCH_STUDY_TRAIN ?? 4096),
          val: Number(env.FEATSHIFT_BENCH_STUDY_VAL ?? 2048),
          options: ['--seeds', seeds, '--precision', precision],
        },
        join(root, precision),
      );
      seconds[precision] = took;
      runs[precision] = readResults(dir, 0);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const best = (precision: string, id: number): number[] =>
    (runs[precision] ?? []).filter((r) => r.id === id).map((r) => r.bestVal);
  const rows: BenchRow[] = ids.map((id) => {
    const fp32 = tInterval(best('fp32', id));
    const bf16 = tInterval(best('bf16', id));
    const diff = welchInterval(best('bf16', id), best('fp32', id));
    const inside =
      fp32.low !== null && fp32.high !== null && bf16.mean >= fp32.low && bf16.mean <= fp32.high;
    return {
      workload: `id ${id}`,
      seeds: fp32.n,
      fp32_best_val: fp32.mean,
      fp32_hw: fp32.halfWidth ?? undefined,
      bf16_best_val: bf16.mean,
      bf16_hw: bf16.halfWidth ?? undefined,
      bf16_mean_in_fp32_interval: inside ? 'yes' : 'no',
      difference: diff?.value,
      difference_low: diff?.low ?? undefined,
      difference_high: diff?.high ?? undefined,
      decided: excludesZero(diff) ? 'yes' : 'no',
    };
  });
  rows.push({ workload: 'the whole sweep', fp32_s: seconds.fp32, bf16_s: seconds.bf16 });
  return rows;
}
