import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  asFeatshiftRuns,
  mean,
  pairedRatio,
  ratioInterval,
  referencePython,
  type BenchRow,
  type RatioInterval,
} from './common.js';
import { trainingFlopsPerImage, type MachineLimit } from './engine-limit.js';
import { ENGINE_WORKLOADS } from './engine-workloads.js';
import { fastestDecile, lockstep, lockstepRatios, type Contender } from './lockstep.js';

interface Measure {
  img_s: number;
  rss_mb: number;
  /** featshift's tensor allocator and the process's malloc (its worker's own runs only). */
  allocator?: string;
  malloc?: string;
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): unknown {
  const r = spawnSync(command, args, { encoding: 'utf8', env: env && { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`bench engine: ${command} ${args.join(' ')} failed:\n${r.stderr}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

/** One side's best against the other's in lockstep: the two ratios with their intervals. */
interface InLockstep {
  layout: string;
  against: string;
  pairs: RatioInterval;
  fastest: RatioInterval;
}

/** A lockstep result as the benchmark's row fields, for one precision. */
const lockstepFields = (precision: 'fp32' | 'bf16', r: InLockstep | undefined): BenchRow => ({
  [`lockstep_layout_${precision}`]: r?.layout,
  [`lockstep_against_${precision}`]: r?.against,
  [`fastest_${precision}`]: r?.fastest?.ratio,
  [`fastest_${precision}_low`]: r?.fastest?.low,
  [`fastest_${precision}_high`]: r?.fastest?.high,
  [`lockstep_${precision}`]: r?.pairs?.ratio,
  [`lockstep_${precision}_low`]: r?.pairs?.low,
  [`lockstep_${precision}_high`]: r?.pairs?.high,
});

const best = (...values: (number | undefined)[]): number | undefined =>
  Math.max(...values.map((v) => v ?? 0)) || undefined;

/**
 * gperftools' tcmalloc, which PyTorch's own CPU launcher (torch.backends.xeon.run_cpu) and Intel's
 * tuning guide preload: with glibc, PyTorch maps and unmaps its large activations in every step
 * and faults them in again, which on a fast CPU costs it half its speed (VGG-16 on an AVX-512
 * EPYC: 50-56 img/s with glibc, 155 with tcmalloc). PyTorch at its best is taken with it
 * (FEATSHIFT_BENCH_TCMALLOC: another path, or 0 to leave it out; Debian's libtcmalloc-minimal4).
 */
function tcmalloc(): string | undefined {
  const given = process.env.FEATSHIFT_BENCH_TCMALLOC;
  if (given === '0') return undefined;
  const candidates = given
    ? [given]
    : [
        '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
        '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
      ];
  return candidates.find((path) => existsSync(path));
}

/**
 * Training throughput and peak memory of featshift against PyTorch (Debian's python3-torch) on the
 * same machine, same thread count, same workloads, one process per measurement: featshift as its
 * command runs it (tcmalloc preloaded where the system has it: scripts/with-tcmalloc.sh) in
 * channels-last and in NCHW; PyTorch in NCHW (its default) and in channels-last (its fastest fp32
 * layout on many CPUs), and bf16 autocast in either layout, each with glibc's allocator (its
 * default) and with tcmalloc preloaded (see tcmalloc()). Two measurements:
 * - Separate runs, FEATSHIFT_BENCH_ROUNDS rounds (default 5) of FEATSHIFT_BENCH_STEPS timed steps
 *   each (default 5), every contender once per round: throughputs (median step, means over the
 *   rounds), peak memory, and each side's best configuration (the fastest over the rounds; the
 *   layout featshift's `--layout auto` would choose). Their ratio, round by round, with its 95 %
 *   interval.
 * - In lockstep (bench/lockstep.ts), FEATSHIFT_BENCH_LOCKSTEP_ROUNDS rounds (default as many) of
 *   FEATSHIFT_BENCH_LOCKSTEP_PAIRS pairs of steps (default 20): each of featshift's configurations
 *   within 15 % of its fastest against each of PyTorch's within 15 % of its fastest; each side's
 *   configuration that does best there counts as its best. Each round gives the ratio of the two
 *   sides' fastest decile of steps (what the
 *   machine lets each do undisturbed) and the median pair's; the 95 % intervals are over rounds.
 *   On this kind of shared machine the separate runs' ratios spread by 15 % a round and the fastest
 *   steps' by 4 %, which is what lets the benchmark tell parity from a few per cent.
 * Peak memory is featshift's higher layout against PyTorch's lower one of the two allocators. Each
 * workload's training GFLOP/s is set against this machine's limit: the sustained GFLOP/s of a
 * large 3x3 convolution through the same libtorch (bench/engine-limit.ts). FEATSHIFT_BENCH_DEVICE
 * (default cpu) runs both sides on another device, such as cuda:0 (scripts/device/gpu-check.sh).
 */
export async function benchEngine(): Promise<BenchRow[]> {
  const threads = String(Number(process.env.FEATSHIFT_BENCH_THREADS ?? availableParallelism()));
  const steps = process.env.FEATSHIFT_BENCH_STEPS ?? '5';
  const worker = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
  const python = referencePython(['torch']);
  const preload = tcmalloc();
  const allocators: { suffix: string; env?: NodeJS.ProcessEnv }[] = [
    { suffix: '' },
    ...(preload ? [{ suffix: '+tcmalloc', env: { LD_PRELOAD: preload } }] : []),
  ];
  const rows: BenchRow[] = [];
  const rounds = Math.max(2, Number(process.env.FEATSHIFT_BENCH_ROUNDS ?? 5));
  const lockstepRounds = Number(process.env.FEATSHIFT_BENCH_LOCKSTEP_ROUNDS ?? rounds);
  const lockstepPairs = Math.max(1, Number(process.env.FEATSHIFT_BENCH_LOCKSTEP_PAIRS ?? 20));
  // FEATSHIFT_BENCH_BF16=0 leaves bf16 out (emulated, and 100 times slower, on a CPU without it).
  const bf16Measured = process.env.FEATSHIFT_BENCH_BF16 !== '0';
  console.log(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores`);
  const limit = run(...asFeatshiftRuns(worker, ['limit', '0', threads, '5'])) as
    MachineLimit | undefined;
  if (limit) {
    console.log(
      `this machine's limit (${threads} threads): 3x3 convolution ${limit.conv_fp32.toFixed(0)} GFLOP/s fp32, ${limit.conv_bf16?.toFixed(0) ?? '-'} bf16; 1024 matrix product ${limit.matmul_fp32.toFixed(0)} fp32, ${limit.matmul_bf16?.toFixed(0) ?? '-'} bf16`,
    );
    rows.push({
      workload: 'limit: 3x3 conv',
      gflops_fp32: limit.conv_fp32,
      gflops_bf16: limit.conv_bf16 ?? undefined,
    });
    rows.push({
      workload: 'limit: matmul 1024',
      gflops_fp32: limit.matmul_fp32,
      gflops_bf16: limit.matmul_bf16 ?? undefined,
    });
  }
  // FEATSHIFT_BENCH_WORKLOADS=vgg16/8,vgg16 measures only those (the GPU check's quick path).
  const only = process.env.FEATSHIFT_BENCH_WORKLOADS?.split(',');
  for (const w of ENGINE_WORKLOADS.filter((x) => !only || only.includes(x.name))) {
    const args = [w.widths.join(','), String(w.batch), threads, steps];
    // Contenders alternated in every round, each round a paired comparison.
    const m: Record<string, (Measure | undefined)[]> = {};
    const contenders: Record<string, Contender> = {};
    const take = (name: string, command: string, argv: string[], env?: NodeJS.ProcessEnv): void => {
      contenders[name] = { command, args: argv, env };
      (m[name] ??= []).push(run(command, argv, env) as Measure | undefined);
    };
    for (let round = 0; round < rounds; round++) {
      take('cl', ...asFeatshiftRuns(worker, args));
      take('nchw', ...asFeatshiftRuns(worker, [...args, 'nchw']));
      if (bf16Measured) take('bf16', ...asFeatshiftRuns(worker, [...args, 'bf16']));
      if (python)
        for (const { suffix, env } of allocators)
          for (const mode of ['nchw', 'channels-last', 'bf16', 'bf16-channels-last'])
            if (bf16Measured || !mode.startsWith('bf16'))
              take(
                `pt-${mode}${suffix}`,
                python,
                ['scripts/reference/engine_bench.py', ...args, mode],
                env,
              );
    }
    const perRound = (name: string): (number | undefined)[] => (m[name] ?? []).map((x) => x?.img_s);
    // Each side's best is one configuration, the fastest over all rounds, as a user would settle on
    // one (and `--layout auto` trains in one); the fastest of several per round would credit a side
    // with the luck of its most numerous draws.
    const fastest = (...names: string[]): string | undefined =>
      names
        .filter((n) => mean(perRound(n)) !== undefined)
        .sort((p, q) => (mean(perRound(q)) ?? 0) - (mean(perRound(p)) ?? 0))[0];
    const pytorch = (...modes: string[]): string[] =>
      allocators.flatMap(({ suffix }) => modes.map((mode) => `pt-${mode}${suffix}`));
    const chosenName = fastest('cl', 'nchw');
    const ptFp32Name = fastest(...pytorch('nchw', 'channels-last'));
    const ptBf16Name = fastest(...pytorch('bf16', 'bf16-channels-last'));
    const chosen = chosenName ? perRound(chosenName) : [];
    const ptFp32 = ptFp32Name ? perRound(ptFp32Name) : [];
    const ptBf16 = ptBf16Name ? perRound(ptBf16Name) : [];
    const fp32 = pairedRatio(chosen, ptFp32);
    const bf16 = pairedRatio(perRound('bf16'), ptBf16);
    // A side's configurations within 15 % of its fastest in the separate runs: each meets the other
    // side's in lockstep, and the one that does best there is that side's best (rounds of a few
    // steps can misorder two configurations that close).
    const contendersOf = (...names: string[]): string[] => {
      const top = mean(perRound(fastest(...names) ?? '')) ?? 0;
      return names.filter((n) => (mean(perRound(n)) ?? 0) >= 0.85 * top);
    };
    // Against PyTorch's best in lockstep: the PyTorch candidate that does best against `ours`.
    const againstBest = async (
      ours: string,
      candidates: readonly string[],
    ): Promise<InLockstep | undefined> => {
      const a = contenders[ours];
      if (!a || lockstepRounds === 0) return undefined;
      let worst: InLockstep | undefined;
      for (const theirs of candidates) {
        const b = contenders[theirs];
        if (!b) continue;
        const pairs: number[] = [];
        const fastestSteps: number[] = [];
        for (let round = 0; round < lockstepRounds; round++) {
          try {
            const steps = await lockstep(a, b, lockstepPairs, round % 2 === 0);
            const r = lockstepRatios(steps);
            pairs.push(r.pairs);
            fastestSteps.push(r.fastest);
            // A plain line a round, to stderr (stdout is the table, or --json's rows).
            console.error(
              `lockstep ${w.name} ${ours} against ${theirs}, round ${String(round + 1)}: fastest decile ${fastestDecile(steps.a).toFixed(1)} / ${fastestDecile(steps.b).toFixed(1)} ms (${r.fastest.toFixed(3)}), median pair ${r.pairs.toFixed(3)}`,
            );
          } catch (error) {
            console.error(
              `bench engine: lockstep ${ours} against ${theirs} failed: ${String(error)}`,
            );
          }
        }
        const result = {
          layout: ours,
          against: theirs.replace(/^pt-/, ''),
          pairs: ratioInterval(pairs),
          fastest: ratioInterval(fastestSteps),
        };
        if (result.fastest && (!worst?.fastest || result.fastest.ratio < worst.fastest.ratio))
          worst = result;
      }
      return worst;
    };
    // featshift's side the same way: each of its configurations within 15 % of its fastest meets
    // PyTorch's best, and the one that does best there is featshift's best (a few rounds of the
    // separate runs can misorder its layouts too, which would flatter PyTorch).
    const inLockstep = async (
      ours: readonly string[],
      theirs: readonly string[],
    ): Promise<InLockstep | undefined> => {
      let bestOurs: InLockstep | undefined;
      for (const layout of ours) {
        const result = await againstBest(layout, theirs);
        if (
          result?.fastest &&
          (!bestOurs?.fastest || result.fastest.ratio > bestOurs.fastest.ratio)
        )
          bestOurs = result;
      }
      return bestOurs;
    };
    const fp32Lockstep = await inLockstep(
      contendersOf('cl', 'nchw'),
      contendersOf(...pytorch('nchw', 'channels-last')),
    );
    const bf16Lockstep = bf16Measured
      ? await inLockstep(['bf16'], contendersOf(...pytorch('bf16', 'bf16-channels-last')))
      : undefined;
    const flops = trainingFlopsPerImage(w.widths);
    const gflops = (imgS: number | undefined): number | undefined =>
      imgS === undefined ? undefined : (imgS * flops) / 1e9;
    const peak = (name: string): number | undefined =>
      best(...(m[name] ?? []).map((x) => x?.rss_mb));
    const ptPeak = best(peak('pt-nchw'), peak('pt-channels-last'));
    const ptTcPeak = best(peak('pt-nchw+tcmalloc'), peak('pt-channels-last+tcmalloc'));
    const ptLowerPeak = Math.min(ptPeak ?? Infinity, ptTcPeak ?? Infinity);
    const ours = best(peak('cl'), peak('nchw'));
    rows.push({
      workload: w.name,
      threads: Number(threads),
      rounds,
      featshift_cl: mean(perRound('cl')),
      featshift_nchw: mean(perRound('nchw')),
      featshift_auto: mean(chosen),
      pytorch_nchw: mean(perRound('pt-nchw')),
      pytorch_cl: mean(perRound('pt-channels-last')),
      pytorch_nchw_tcmalloc: mean(perRound('pt-nchw+tcmalloc')),
      pytorch_cl_tcmalloc: mean(perRound('pt-channels-last+tcmalloc')),
      featshift_layout: chosenName,
      pytorch_best_fp32: ptFp32Name?.replace(/^pt-/, ''),
      ...lockstepFields('fp32', fp32Lockstep),
      auto_vs_best_fp32: fp32?.ratio,
      auto_ci_low: fp32?.low,
      auto_ci_high: fp32?.high,
      featshift_bf16: mean(perRound('bf16')),
      pytorch_bf16: mean(ptBf16),
      pytorch_best_bf16: ptBf16Name?.replace(/^pt-/, ''),
      ...lockstepFields('bf16', bf16Lockstep),
      bf16_vs_pytorch_bf16: bf16?.ratio,
      bf16_ci_low: bf16?.low,
      bf16_ci_high: bf16?.high,
      gflops_fp32: gflops(mean(chosen)),
      limit_frac_fp32: limit ? (gflops(mean(chosen)) ?? 0) / limit.conv_fp32 : undefined,
      pytorch_limit_frac_fp32: limit ? (gflops(mean(ptFp32)) ?? 0) / limit.conv_fp32 : undefined,
      gflops_bf16: gflops(mean(perRound('bf16'))),
      limit_frac_bf16: limit?.conv_bf16
        ? (gflops(mean(perRound('bf16'))) ?? 0) / limit.conv_bf16
        : undefined,
      featshift_allocator: (m.cl ?? []).find((x) => x?.allocator)?.allocator,
      featshift_malloc: (m.cl ?? []).find((x) => x?.malloc)?.malloc,
      featshift_rss_mb: ours,
      pytorch_rss_mb: ptPeak,
      pytorch_tcmalloc_rss_mb: ptTcPeak,
      rss_vs_pytorch: ours && Number.isFinite(ptLowerPeak) ? ours / ptLowerPeak : undefined,
    });
  }
  return rows;
}
