import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { baselineArchitecture, skewNormalFamily } from '../src/family/skew-normal.js';
import { REFERENCE_DEFAULTS } from '../src/run/study.js';
import { candidateSplits, measureSplits } from '../src/sweep/parallel/choose.js';
import { TrainerPool } from '../src/sweep/parallel/pool.js';
import { trainingConfig } from '../src/sweep/unit-request.js';
import type { MemoryFormat } from '../src/train/outcome.js';
import { fastestStep } from '../src/train/trainer.js';
import { runBenchSweep, type BenchRow } from './common.js';

/** Threads per process a wide machine would offer one process, for the extrapolation. */
const WIDE = 16;

/**
 * Amdahl's law fitted to measured step times: t(T) = t1 (s + (1 - s) / T), least squares in s
 * over the thread counts measured. s is the part of a step that more threads do not shorten.
 */
export function amdahlSerialFraction(times: readonly { threads: number; ms: number }[]): number {
  const one = times.find((t) => t.threads === 1);
  if (!one) return 1;
  // t/t1 - 1/T = s (1 - 1/T): a line through the origin in x = 1 - 1/T.
  let xy = 0;
  let xx = 0;
  for (const { threads, ms } of times) {
    if (threads === 1) continue;
    const x = 1 - 1 / threads;
    xy += x * (ms / one.ms - 1 / threads);
    xx += x * x;
  }
  return xx === 0 ? 1 : Math.min(1, Math.max(0, xy / xx));
}

/**
 * How a machine's cores are best shared among training processes (`--parallel`): for members of
 * the VGG-16 family at 1/8 (early-heavy, middle, late and slim, and the baseline), a training step
 * in one process at 1, 2, 4, ... threads (the scaling curve, best of two passes), then every split of the cores timed
 * with its processes running at once (`--parallel auto`'s own measurement), then a small study end
 * to end, serial and with `--parallel auto`. From the curve, Amdahl's law gives what one process
 * of 16 threads would reach on a 16-core machine against 16 processes of one thread. Settings:
 * FEATSHIFT_BENCH_PARALLEL_IDS (53,59,109,0), FEATSHIFT_BENCH_PARALLEL_STUDY (1 runs the study,
 * the default; 0 skips it).
 */
export async function benchParallel(): Promise<BenchRow[]> {
  const env = process.env;
  const cores = availableParallelism();
  const ids = (env.FEATSHIFT_BENCH_PARALLEL_IDS ?? '53,59,109,0').split(',').map(Number);
  const family = [
    baselineArchitecture({ widthMultiplier: 0.125 }),
    ...skewNormalFamily({ widthMultiplier: 0.125 }),
  ];
  const archs = ids.map((id) => {
    const a = family.find((m) => m.id === id);
    if (!a) throw new Error(`bench parallel: no member ${id} in the family at 1/8`);
    return a;
  });
  const study = { ...REFERENCE_DEFAULTS, dataset: 'FashionMNIST' };
  const config = trainingConfig(study, 0, { classes: 10, inputChannels: 3 }, 'cpu');
  console.log(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${cores} cores`);

  // The scaling curve of one process: two passes over the thread counts, each one's faster kept
  // (a process's first steps can run slow while the machine warms up).
  const threadCounts = [...new Set([1, 2, 4, 8, 16, cores].filter((t) => t <= cores))].sort(
    (a, b) => a - b,
  );
  const timed = archs.map((a) => ({
    id: a.id,
    widths: a.widths,
    layouts: ['nchw', 'channels-last'] as MemoryFormat[],
  }));
  const curve = new Map<number, (number | undefined)[]>();
  for (let pass = 0; pass < 2; pass++) {
    for (const threads of pass === 0 ? threadCounts : [...threadCounts].reverse()) {
      const pool = new TrainerPool(1, threads);
      try {
        const ms = (await pool.timeSteps(timed, config, false)).map(fastestStep);
        const before = curve.get(threads);
        curve.set(
          threads,
          ms.map((t, k) => {
            const b = before?.[k];
            return t === undefined || b === undefined ? (t ?? b) : Math.min(t, b);
          }),
        );
      } finally {
        await pool.close();
      }
    }
  }
  // Every split at once, as --parallel auto measures it.
  const { choice, pool } = await measureSplits(
    candidateSplits(cores, null, Infinity),
    archs,
    config,
  );
  await pool?.close();
  const candidates = choice.measured?.candidates ?? [];
  const rows: BenchRow[] = archs.map((a, k) => {
    const times = threadCounts
      .map((threads) => ({ threads, ms: curve.get(threads)?.[k] }))
      .filter((t): t is { threads: number; ms: number } => t.ms !== undefined);
    const s = amdahlSerialFraction(times);
    const t1 = times.find((t) => t.threads === 1)?.ms;
    // Contention: one thread's step while every core runs a process of one thread, against alone.
    const sampled = choice.measured?.ids.indexOf(a.id) ?? -1;
    const crowded = candidates.find((c) => c.threads === 1 && c.processes === cores)?.msPerStep[
      sampled
    ];
    const contention = crowded !== undefined && t1 !== undefined ? crowded / t1 : undefined;
    const speedupWide = 1 / (s + (1 - s) / WIDE);
    const row: BenchRow = {
      workload: a.id === 0 ? 'vgg16/8' : `id ${a.id} (xi ${a.xi ?? '-'})`,
      macs_m: a.macs / 1e6,
    };
    for (const t of times) row[`ms_${t.threads}t`] = t.ms;
    row.serial_fraction = s;
    row[`${WIDE}t_speedup`] = speedupWide;
    // 16 processes of one thread against one of 16 threads: 16 / speed-up, less the contention
    // measured here with every core busy (a wide machine's memory is shared by more processes).
    row[`${WIDE}x1_over_1x${WIDE}`] = WIDE / speedupWide / (contention ?? 1);
    row.contention = contention;
    return row;
  });
  for (const c of candidates) {
    rows.push({
      workload: `split ${c.processes}x${c.threads}`,
      img_s: c.imagesPerSecond,
      over_1_process: c.imagesPerSecond / (candidates[0]?.imagesPerSecond ?? c.imagesPerSecond),
      chosen: c.processes === choice.processes ? 'auto' : '',
    });
  }
  if (env.FEATSHIFT_BENCH_PARALLEL_STUDY !== '0') rows.push(...studyRows(ids, cores));
  return rows;
}

/**
 * A small study, end to end, wall time from process start: serial, one process per core, and
 * --parallel auto (its measurement included).
 */
function studyRows(ids: readonly number[], cores: number): BenchRow[] {
  const wall: Record<string, number> = {};
  const splits: Record<string, string> = {};
  const variants = [...new Set(['1', String(cores), 'auto'])];
  for (const parallel of variants) {
    const out = mkdtempSync(join(tmpdir(), 'featshift-bench-parallel-'));
    const { seconds, dir } = runBenchSweep(
      {
        ids,
        epochs: 2,
        train: 4096,
        val: 1024,
        options: ['--seeds', '2', '--parallel', parallel],
      },
      out,
    );
    wall[parallel] = seconds;
    const environment = JSON.parse(readFileSync(join(dir, 'environment.json'), 'utf8')) as {
      parallel: { processes: number; threads: number };
    };
    splits[parallel] = `${environment.parallel.processes}x${environment.parallel.threads}`;
    rmSync(out, { recursive: true, force: true });
  }
  return variants.map((parallel) => ({
    workload: `study, --parallel ${parallel}: ${ids.length} members x 2 seeds, 2 epochs, 4096/1024`,
    split: splits[parallel],
    wall_s: wall[parallel],
    over_serial: wall['1'] !== undefined && wall[parallel] ? wall['1'] / wall[parallel] : undefined,
  }));
}
