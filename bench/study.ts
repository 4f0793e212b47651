import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { skewNormalFamily, type Architecture } from '../src/family/skew-normal.js';
import { RESULTS_FILE } from '../src/run/files.js';
import type { ResultRecord } from '../src/run/results.js';
import {
  mean,
  pairedRatio,
  referencePython,
  runBenchSweep,
  type BenchRow,
  type BenchSweep,
} from './common.js';

/** What the reference script reports of one architecture trained with one seed. */
export interface ReferenceMember {
  epochs: { val: number }[];
  phases: Record<string, number>;
  seed?: number;
}

/** Settings of the study benchmark (see {@link benchStudy}). */
export interface StudySettings {
  threads: number;
  epochs: number;
  train: number;
  val: number;
}

/**
 * The whole job a user runs, timed end to end (process start and data preparation included), by
 * featshift's CLI and by a PyTorch script of the original's training loop
 * (scripts/reference/study_reference.py), on the same machine, over alternated rounds, each ratio
 * with its 95 % interval over the rounds: each member of the VGG-16 family at 1/8 alone (a few
 * epochs on a Fashion-MNIST subset with evaluation after every epoch, all threads), then all of
 * them as one study the way a user runs it (one `featshift sweep --parallel auto`, the machine's
 * cores shared as measured) against the original's loop over them (one process, member after
 * member, all threads). Settings: FEATSHIFT_BENCH_THREADS (all cores), FEATSHIFT_BENCH_ROUNDS (3),
 * FEATSHIFT_BENCH_STUDY_EPOCHS (3), FEATSHIFT_BENCH_STUDY_IDS (53,59,109),
 * FEATSHIFT_BENCH_STUDY_TRAIN (8192), FEATSHIFT_BENCH_STUDY_VAL (2048),
 * FEATSHIFT_BENCH_STUDY_MEMBERS (1 times each member alone, the default; 0 the whole study only).
 */
export function benchStudy(): BenchRow[] {
  const env = process.env;
  const settings: StudySettings = {
    threads: Number(env.FEATSHIFT_BENCH_THREADS ?? availableParallelism()),
    epochs: Number(env.FEATSHIFT_BENCH_STUDY_EPOCHS ?? 3),
    train: Number(env.FEATSHIFT_BENCH_STUDY_TRAIN ?? 8192),
    val: Number(env.FEATSHIFT_BENCH_STUDY_VAL ?? 2048),
  };
  const rounds = Number(env.FEATSHIFT_BENCH_ROUNDS ?? 3);
  const ids = (env.FEATSHIFT_BENCH_STUDY_IDS ?? '53,59,109').split(',').map(Number);
  const alone = env.FEATSHIFT_BENCH_STUDY_MEMBERS !== '0';
  const archs = studyMembers(ids);
  const python = referencePython(['torch', 'torchvision']);
  const members = archs.map(() => ({
    ours: [] as number[],
    ref: [] as (number | undefined)[],
    records: [] as ResultRecord[],
    refRuns: [] as ReferenceMember[],
  }));
  const whole = { ours: [] as number[], ref: [] as (number | undefined)[], splits: [] as string[] };
  for (let round = 0; round < rounds; round++) {
    if (alone) {
      for (const [k, arch] of archs.entries()) {
        const m = members[k] as (typeof members)[number];
        const ours = timedSweep(
          [arch.id],
          ['--seed', '1', '--threads', String(settings.threads)],
          settings,
        );
        m.ours.push(ours.seconds);
        m.records.push(...ours.records);
        const ref = python ? referenceLoop(python, [arch], settings) : undefined;
        m.ref.push(ref?.seconds);
        if (ref) m.refRuns.push(...ref.members);
      }
    }
    if (ids.length > 1) {
      const ours = timedSweep(ids, ['--seed', '1', '--parallel', 'auto'], settings);
      whole.ours.push(ours.seconds);
      whole.splits.push(`${ours.split.processes}x${ours.split.threads}`);
      whole.ref.push(python ? referenceLoop(python, archs, settings).seconds : undefined);
    }
  }
  const rows: BenchRow[] = [];
  if (alone) {
    for (const [k, arch] of archs.entries()) {
      const m = members[k] as (typeof members)[number];
      const speedup = pairedRatio(m.ref, m.ours);
      const phase = (name: keyof NonNullable<ResultRecord['phaseSeconds']>): number | undefined =>
        mean(m.records.map((r) => r.phaseSeconds?.[name]));
      const refPhase = (name: string): number | undefined =>
        mean(m.refRuns.map((r) => r.phases[name]));
      rows.push({
        workload: `id ${arch.id} (xi ${arch.xi ?? '-'})`,
        threads: settings.threads,
        epochs: settings.epochs,
        featshift_s: mean(m.ours),
        reference_s: mean(m.ref),
        speedup: speedup?.ratio,
        speedup_ci_low: speedup?.low,
        speedup_ci_high: speedup?.high,
        featshift_best_val: mean(m.records.map((r) => r.bestVal)),
        reference_best_val: mean(m.refRuns.map((r) => Math.max(...r.epochs.map((e) => e.val)))),
        ours_step_s: phase('step'),
        ours_eval_s: phase('evaluation'),
        ours_data_s: phase('data'),
        ours_setup_s: phase('setup'),
        ours_ckpt_s: phase('checkpoint'),
        ref_step_s: refPhase('step'),
        ref_eval_s: refPhase('evaluation'),
        ref_data_s: refPhase('data'),
      });
    }
  }
  if (ids.length > 1) {
    const speedup = pairedRatio(whole.ref, whole.ours);
    rows.push({
      workload: `all ${ids.length}, --parallel auto (${[...new Set(whole.splits)].join(', ')})`,
      threads: availableParallelism(),
      epochs: settings.epochs,
      featshift_s: mean(whole.ours),
      reference_s: mean(whole.ref),
      speedup: speedup?.ratio,
      speedup_ci_low: speedup?.low,
      speedup_ci_high: speedup?.high,
      // Every round's pair, so that a slow moment of this machine shows as what it is.
      rounds_s: whole.ours
        .map((ours, r) => `${ours.toFixed(0)}/${whole.ref[r]?.toFixed(0) ?? '-'}`)
        .join(' '),
    });
  }
  return rows;
}

/** The members `ids` of the VGG-16 family at 1/8, the benchmarks' study. */
export function studyMembers(ids: readonly number[]): Architecture[] {
  const family = skewNormalFamily({ widthMultiplier: 0.125 });
  return ids.map((id) => {
    const arch = family.find((a) => a.id === id);
    if (!arch) throw new Error(`bench: no member ${id} in the VGG-16 family at 1/8`);
    return arch;
  });
}

/** One `featshift sweep` of `ids`, timed from process start: its records and split. */
function timedSweep(
  ids: number[],
  options: string[],
  s: StudySettings,
): { seconds: number; records: ResultRecord[]; split: { processes: number; threads: number } } {
  const out = mkdtempSync(join(tmpdir(), 'featshift-bench-study-'));
  try {
    const study: BenchSweep = { ids, epochs: s.epochs, train: s.train, val: s.val, options };
    const { seconds, dir } = runBenchSweep(study, out);
    const records = readFileSync(join(dir, RESULTS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    const environment = JSON.parse(readFileSync(join(dir, 'environment.json'), 'utf8')) as {
      parallel: { processes: number; threads: number };
    };
    return { seconds, records, split: environment.parallel };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The original's loop over `archs` in one PyTorch process, seed after seed (seed 1 alone unless
 * given), all threads, timed from its start.
 */
export function referenceLoop(
  python: string,
  archs: readonly Architecture[],
  s: StudySettings,
  seeds: readonly number[] = [1],
): { seconds: number; members: ReferenceMember[] } {
  const p = spawnSync(
    python,
    [
      'scripts/reference/study_reference.py',
      archs.map((a) => a.widths.join(',')).join(';'),
      String(s.epochs),
      String(s.train),
      String(s.val),
      String(s.threads),
      seeds.join(','),
    ],
    { encoding: 'utf8' },
  );
  if (p.status !== 0) throw new Error(`bench study: the reference failed: ${p.stderr}`);
  const got = JSON.parse(p.stdout.trim().split('\n').pop() ?? '{}') as {
    seconds: number;
    members?: ReferenceMember[];
  } & Partial<ReferenceMember>;
  const members =
    got.members ?? (got.epochs && got.phases ? [{ epochs: got.epochs, phases: got.phases }] : []);
  return { seconds: got.seconds, members };
}
