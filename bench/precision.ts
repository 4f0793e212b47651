import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { excludesZero, tInterval, welchInterval } from '../src/analysis/stats.js';
import { bf16Unsupported } from '../src/engine/runtime.js';
import { readResults, type ResultRecord } from '../src/run/results.js';
import { mean, pairedRatio, referencePython, runBenchSweep, type BenchRow } from './common.js';
import { referenceLoop, studyMembers, type ReferenceMember } from './study.js';

const PRECISIONS = ['fp32', 'bf16'] as const;

/**
 * Does bf16 learn what fp32 learns, and how much sooner does a study in bf16 end than the authors'
 * loop in fp32? The study benchmark's members (VGG-16 family at 1/8: ids 53, 59 and 109 by
 * default), 3 seeds each (0, 1, 2), 3 epochs on a Fashion-MNIST subset, trained as a user runs the
 * study (one `featshift sweep --seeds --parallel auto`) in fp32 and with `--precision bf16`, and by
 * the original's loop in PyTorch (one process, seed after seed, member after member, all threads,
 * fp32), alternated over rounds. Per member: best validation accuracy as mean and 95 % t interval
 * per precision (from the first round: the seeds are fixed), whether bf16's mean lies inside
 * fp32's interval, and Welch's interval of the difference. For the whole study: each wall time,
 * and each ratio to the authors' loop with its 95 % interval over the rounds. Settings:
 * FEATSHIFT_BENCH_PRECISION_IDS (53,59,109), FEATSHIFT_BENCH_PRECISION_SEEDS (3),
 * FEATSHIFT_BENCH_PRECISION_PARALLEL (auto), FEATSHIFT_BENCH_ROUNDS (2),
 * FEATSHIFT_BENCH_STUDY_EPOCHS (3), FEATSHIFT_BENCH_STUDY_TRAIN (4096),
 * FEATSHIFT_BENCH_STUDY_VAL (2048).
 */
export function benchPrecision(): BenchRow[] {
  const env = process.env;
  if (bf16Unsupported('cpu') !== null) {
    console.log(`bench precision: skipped, ${bf16Unsupported('cpu') ?? ''}`);
    return [];
  }
  const ids = (env.FEATSHIFT_BENCH_PRECISION_IDS ?? '53,59,109').split(',').map(Number);
  const seeds = Array.from(
    { length: Number(env.FEATSHIFT_BENCH_PRECISION_SEEDS ?? 3) },
    (_, k) => k,
  );
  const parallel = env.FEATSHIFT_BENCH_PRECISION_PARALLEL ?? 'auto';
  const rounds = Number(env.FEATSHIFT_BENCH_ROUNDS ?? 2);
  const settings = {
    threads: availableParallelism(),
    epochs: Number(env.FEATSHIFT_BENCH_STUDY_EPOCHS ?? 3),
    train: Number(env.FEATSHIFT_BENCH_STUDY_TRAIN ?? 4096),
    val: Number(env.FEATSHIFT_BENCH_STUDY_VAL ?? 2048),
  };
  const archs = studyMembers(ids);
  const python = referencePython(['torch', 'torchvision']);
  console.log(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores`);
  const results: Partial<Record<(typeof PRECISIONS)[number], ResultRecord[]>> = {};
  const seconds = {
    fp32: [] as number[],
    bf16: [] as number[],
    reference: [] as (number | undefined)[],
  };
  let reference: ReferenceMember[] = [];
  const root = mkdtempSync(join(tmpdir(), 'featshift-bench-precision-'));
  try {
    for (let round = 0; round < rounds; round++) {
      const ref = python ? referenceLoop(python, archs, settings, seeds) : undefined;
      seconds.reference.push(ref?.seconds);
      if (round === 0 && ref) reference = ref.members;
      for (const precision of PRECISIONS) {
        const { seconds: took, dir } = runBenchSweep(
          {
            ids,
            ...settings,
            options: ['--seeds', seeds.join(','), '--precision', precision, '--parallel', parallel],
          },
          join(root, `${precision}-${round}`),
        );
        seconds[precision].push(took);
        results[precision] ??= readResults(dir, 0);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const best = (precision: (typeof PRECISIONS)[number], id: number): number[] =>
    (results[precision] ?? []).filter((r) => r.id === id).map((r) => r.bestVal);
  const rows: BenchRow[] = archs.map((arch, k) => {
    const fp32 = tInterval(best('fp32', arch.id));
    const bf16 = tInterval(best('bf16', arch.id));
    const diff = welchInterval(best('bf16', arch.id), best('fp32', arch.id));
    const inside =
      fp32.low !== null && fp32.high !== null && bf16.mean >= fp32.low && bf16.mean <= fp32.high;
    const above = fp32.high !== null && bf16.mean > fp32.high;
    // The reference prints its runs seed by seed, member after member.
    const refBest = reference
      .filter((_, i) => i % archs.length === k)
      .map((m) => Math.max(...m.epochs.map((e) => e.val)));
    return {
      workload: `id ${arch.id}`,
      seeds: fp32.n,
      fp32_best_val: fp32.mean,
      fp32_hw: fp32.halfWidth ?? undefined,
      bf16_best_val: bf16.mean,
      bf16_hw: bf16.halfWidth ?? undefined,
      bf16_mean_in_fp32_interval: inside ? 'yes' : above ? 'above' : 'no',
      difference: diff?.value,
      difference_low: diff?.low ?? undefined,
      difference_high: diff?.high ?? undefined,
      decided: excludesZero(diff) ? 'yes' : 'no',
      reference_best_val: mean(refBest),
    };
  });
  const versus = (name: string, ours: readonly number[]): BenchRow => {
    const r = pairedRatio(seconds.reference, ours);
    return {
      workload: `the whole study, ${name} (--parallel ${parallel})`,
      featshift_s: mean(ours),
      reference_fp32_s: mean(seconds.reference),
      speedup: r?.ratio,
      speedup_ci_low: r?.low,
      speedup_ci_high: r?.high,
      rounds_s: ours
        .map((s, i) => `${s.toFixed(0)}/${seconds.reference[i]?.toFixed(0) ?? '-'}`)
        .join(' '),
    };
  };
  rows.push(versus('fp32', seconds.fp32), versus('bf16', seconds.bf16));
  return rows;
}
