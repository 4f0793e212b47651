import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tInterval } from '../src/analysis/stats.js';

export type BenchRow = Record<string, string | number | undefined>;

/**
 * featshift's Node programs are measured as the featshift command runs them (bin/featshift): with
 * tcmalloc as the process's malloc, through this script, where the system has it.
 */
const WITH_TCMALLOC = fileURLToPath(new URL('../../scripts/with-tcmalloc.sh', import.meta.url));

/** The command and arguments that run a Node script of featshift's as its command would. */
export function asFeatshiftRuns(script: string, args: readonly string[]): [string, string[]] {
  return [WITH_TCMALLOC, [process.execPath, script, ...args]];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Debian's Python, which carries python3-torch, numpy and scipy (a pyenv or venv python on PATH
 * usually does not); undefined when it lacks a module.
 */
export function referencePython(modules: readonly string[]): string | undefined {
  for (const candidate of [process.env.FEATSHIFT_REFERENCE_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

export function printTable(rows: readonly BenchRow[]): void {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined): string =>
    v === undefined
      ? '-'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? String(v)
          : v.toFixed(2)
        : v;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string =>
    values.map((v, i) => v.padStart(widths[i] ?? 0)).join('  ');
  console.log(line(columns));
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** A study of the VGG-16 family at 1/8 on Fashion-MNIST subsets, as the benchmarks run it. */
export interface BenchSweep {
  ids: readonly number[];
  epochs: number;
  train: number;
  val: number;
  /** Further options: --seed, --seeds, --threads, --parallel, --precision. */
  options?: readonly string[];
}

/**
 * Runs `featshift sweep` on a bench study into a fresh run folder under `tmp`, one warm-restart
 * cycle over all the epochs; wall seconds from process start, and the run folder (the caller
 * removes `tmp`). Throws with the command's error output when it fails.
 */
export function runBenchSweep(study: BenchSweep, tmp: string): { seconds: number; dir: string } {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const dir = join(tmp, 'run');
  const started = performance.now();
  const r = spawnSync(
    ...asFeatshiftRuns(cli, [
      'sweep',
      '--dataset',
      'FashionMNIST',
      '--width-multiplier',
      '0.125',
      '--ids',
      study.ids.join(','),
      ...(study.ids.includes(0) ? ['--include-baseline'] : []),
      '--epochs',
      String(study.epochs),
      '--lr-wr-epochs',
      String(study.epochs),
      '--train-subset',
      String(study.train),
      '--val-subset',
      String(study.val),
      ...(study.options ?? []),
      '--out',
      dir,
      '--quiet',
    ]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`featshift sweep failed: ${r.stderr}`);
  return { seconds: (performance.now() - started) / 1000, dir };
}

/**
 * The ratio of two contenders measured in the same rounds: the geometric mean of the per-round
 * ratios, with the 95 % Student t interval of their logarithms (rounds alternate the contenders,
 * so a round's ratio compares runs made moments apart; a burst of load from elsewhere moves both).
 */
export function pairedRatio(
  a: readonly (number | undefined)[],
  b: readonly (number | undefined)[],
): RatioInterval {
  return ratioInterval(
    a.flatMap((x, i) => {
      const y = b[i];
      return x !== undefined && y !== undefined && x > 0 && y > 0 ? [x / y] : [];
    }),
  );
}

/** A ratio with its 95 % interval (undefined where nothing was measured). */
export type RatioInterval =
  { ratio: number; low: number | undefined; high: number | undefined } | undefined;

/** Ratios' geometric mean, with the 95 % Student t interval of their logarithms. */
export function ratioInterval(ratios: readonly number[]): RatioInterval {
  if (ratios.length === 0) return undefined;
  const t = tInterval(ratios.map(Math.log));
  return {
    ratio: Math.exp(t.mean),
    low: t.low === null ? undefined : Math.exp(t.low),
    high: t.high === null ? undefined : Math.exp(t.high),
  };
}

/** The mean of the values measured (undefined ones left out). */
export const mean = (values: readonly (number | undefined)[]): number | undefined => {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? known.reduce((s, v) => s + v, 0) / known.length : undefined;
};
