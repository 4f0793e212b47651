import { baselineArchitecture, skewNormalFamily } from '../src/family/skew-normal.js';
import { longestFirst, makespan } from '../src/sweep/distributed/jobs.js';
import type { BenchRow } from './common.js';

/**
 * The makespan of the distributed sweep's ordering (longest first by MACs x images x epochs,
 * the same images and epochs for every member) on 1, 4, 8 and 32 workers, against the ideal
 * (total cost / workers) and against the reference's order (by id). Goal: 95 % of ideal at 8.
 */
export function benchSchedule(): BenchRow[] {
  const archs = [baselineArchitecture(), ...skewNormalFamily()];
  const images = 50000;
  const epochs = 150;
  const cost = (macs: number): number => macs * images * epochs;
  const byId = archs.map((a) => cost(a.macs));
  const ordered = longestFirst(archs).map((a) => cost(a.macs));
  const total = byId.reduce((a, b) => a + b, 0);
  return [1, 4, 8, 32].map((workers) => {
    const ideal = total / workers;
    return {
      workload: `VGG-16 family + baseline (${archs.length} jobs)`,
      workers,
      longest_first_of_ideal: ideal / makespan(ordered, workers),
      id_order_of_ideal: ideal / makespan(byId, workers),
      longest_job_of_ideal: Math.max(...byId) / ideal,
      goal: workers === 8 ? 0.95 : undefined,
    };
  });
}
