import { spawnSync } from 'node:child_process';
import { skewNormalFamily } from '../src/family/skew-normal.js';
import { median, referencePython, type BenchRow } from './common.js';

/** Generating the VGG-16 family: featshift against the reference's NumPy + SciPy code. */
export function benchFamily(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const depth of [16, 19]) {
    skewNormalFamily({ depth }); // warm-up: JIT and the fast erf's table
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < 15; i++) {
      const start = performance.now();
      count = skewNormalFamily({ depth }).length;
      times.push(performance.now() - start);
    }
    const featshiftMs = median(times);
    const row: BenchRow = {
      workload: `family D=${depth} (${count} members)`,
      featshift_ms: featshiftMs,
      target_ms: depth === 16 ? 50 : undefined,
    };
    const python = referencePython(['numpy', 'scipy']);
    if (python) {
      const r = spawnSync(python, ['scripts/reference/family_bench.py', String(depth), '2'], {
        encoding: 'utf8',
      });
      if (r.status === 0) {
        const ref = JSON.parse(r.stdout) as { median_ms: number };
        row.reference_ms = ref.median_ms;
        row.speedup = ref.median_ms / featshiftMs;
      }
    }
    rows.push(row);
  }
  return rows;
}
