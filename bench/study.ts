import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { skewNormalFamily } from '../src/family/skew-normal.js';
import { RESULTS_FILE } from '../src/run/files.js';
import type { ResultRecord } from '../src/run/results.js';
import { referencePython, runBenchSweep, type BenchRow } from './common.js';

/**
 * The whole job a user runs, timed end to end (process start and data preparation included):
 * one member of the VGG-16 family at 1/8 per process, a few epochs on a Fashion-MNIST subset with
 * evaluation after every epoch, by featshift's CLI and by a PyTorch script of the original's
 * training loop (scripts/reference/study_reference.py), on the same machine and threads,
 * alternated over rounds (best round kept). Settings: FEATSHIFT_BENCH_THREADS (all cores),
 * FEATSHIFT_BENCH_ROUNDS (2), FEATSHIFT_BENCH_STUDY_EPOCHS (3), FEATSHIFT_BENCH_STUDY_IDS
 * (53,59,109), FEATSHIFT_BENCH_STUDY_TRAIN (8192), FEATSHIFT_BENCH_STUDY_VAL (2048).
 */
export function benchStudy(): BenchRow[] {
  const env = process.env;
  const threads = Number(env.FEATSHIFT_BENCH_THREADS ?? availableParallelism());
  const rounds = Number(env.FEATSHIFT_BENCH_ROUNDS ?? 2);
  const epochs = Number(env.FEATSHIFT_BENCH_STUDY_EPOCHS ?? 3);
  const train = Number(env.FEATSHIFT_BENCH_STUDY_TRAIN ?? 8192);
  const val = Number(env.FEATSHIFT_BENCH_STUDY_VAL ?? 2048);
  const ids = (env.FEATSHIFT_BENCH_STUDY_IDS ?? '53,59,109').split(',').map(Number);
  const family = skewNormalFamily({ widthMultiplier: 0.125 });
  const python = referencePython(['torch', 'torchvision']);
  const rows: BenchRow[] = [];
  for (const id of ids) {
    const arch = family.find((a) => a.id === id);
    if (!arch) throw new Error(`bench study: no member ${id} in the family at 1/8`);
    let ours: { seconds: number; record: ResultRecord } | undefined;
    let ref: { seconds: number; val: number; phases: Record<string, number> } | undefined;
    for (let round = 0; round < rounds; round++) {
      const out = mkdtempSync(join(tmpdir(), 'featshift-bench-study-'));
      const { seconds, dir } = runBenchSweep(
        {
          ids: [id],
          epochs,
          train,
          val,
          options: ['--seed', '1', '--threads', String(threads)],
        },
        out,
      );
      const record = JSON.parse(
        readFileSync(join(dir, RESULTS_FILE), 'utf8').trim(),
      ) as ResultRecord;
      rmSync(out, { recursive: true, force: true });
      if (!ours || seconds < ours.seconds) ours = { seconds, record };
      if (python) {
        const p = spawnSync(
          python,
          [
            'scripts/reference/study_reference.py',
            arch.widths.join(','),
            String(epochs),
            String(train),
            String(val),
            String(threads),
            '1',
          ],
          { encoding: 'utf8' },
        );
        if (p.status !== 0) throw new Error(`bench study: the reference failed: ${p.stderr}`);
        const got = JSON.parse(p.stdout.trim().split('\n').pop() ?? '{}') as {
          seconds: number;
          epochs: { val: number }[];
          phases: Record<string, number>;
        };
        const best = Math.max(...got.epochs.map((e) => e.val));
        if (!ref || got.seconds < ref.seconds)
          ref = { seconds: got.seconds, val: best, phases: got.phases };
      }
    }
    const phases = ours?.record.phaseSeconds;
    rows.push({
      workload: `id ${id} (xi ${arch.xi ?? '-'})`,
      threads,
      epochs,
      featshift_s: ours?.seconds,
      reference_s: ref?.seconds,
      speedup: ours && ref ? ref.seconds / ours.seconds : undefined,
      featshift_best_val: ours?.record.bestVal,
      reference_best_val: ref?.val,
      ours_step_s: phases?.step,
      ours_eval_s: phases?.evaluation,
      ours_data_s: phases?.data,
      ours_setup_s: phases?.setup,
      ours_ckpt_s: phases?.checkpoint,
      ref_step_s: ref?.phases.step,
      ref_eval_s: ref?.phases.evaluation,
      ref_data_s: ref?.phases.data,
    });
  }
  if (ids.length > 1) rows.push(wholeStudy(ids, rows, { epochs, train, val }));
  return rows;
}

/**
 * The same members as one study, the way a user runs it: one `featshift sweep` of them all with
 * `--parallel auto` (the machine's cores shared as measured), against the original's loop run
 * member after member (the sum of its rows above).
 */
function wholeStudy(
  ids: readonly number[],
  rows: readonly BenchRow[],
  o: { epochs: number; train: number; val: number },
): BenchRow {
  const out = mkdtempSync(join(tmpdir(), 'featshift-bench-study-'));
  const { seconds, dir } = runBenchSweep(
    { ...o, ids, options: ['--seed', '1', '--parallel', 'auto'] },
    out,
  );
  const environment = JSON.parse(readFileSync(join(dir, 'environment.json'), 'utf8')) as {
    parallel: { processes: number; threads: number };
  };
  rmSync(out, { recursive: true, force: true });
  const reference = rows.every((row) => typeof row.reference_s === 'number')
    ? rows.reduce((sum, row) => sum + (row.reference_s as number), 0)
    : undefined;
  return {
    workload: `all ${ids.length}, --parallel auto (${environment.parallel.processes}x${environment.parallel.threads})`,
    threads: availableParallelism(),
    epochs: o.epochs,
    featshift_s: seconds,
    reference_s: reference,
    speedup: reference !== undefined ? reference / seconds : undefined,
  };
}
