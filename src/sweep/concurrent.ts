import pLimit from 'p-limit';

/** How a sweep runs its units: how many at once, and how it learns to stop. */
export interface UnitRunning {
  concurrency: number;
  shouldStop: () => boolean;
  /** Called once when a unit fails: the others should stop (with their checkpoints). */
  onFailure?: () => void;
}

/**
 * Runs `work` on the items, at most `concurrency` at once, starting them in order. No new item
 * starts once a stop is requested or an item reports `false` (it was stopped); after an error the
 * others are asked to stop and, once all have settled, the first error is thrown. Resolves to
 * true when the run was stopped.
 */
export async function forEachUnit<T>(
  items: readonly T[],
  running: UnitRunning,
  work: (item: T) => Promise<boolean>,
): Promise<boolean> {
  const limit = pLimit(running.concurrency);
  let stopped = false;
  const failures: unknown[] = [];
  await Promise.all(
    items.map((item) =>
      limit(async () => {
        if (stopped || failures.length > 0) return;
        if (running.shouldStop()) {
          stopped = true;
          return;
        }
        try {
          if (!(await work(item))) stopped = true;
        } catch (error) {
          failures.push(error);
          if (failures.length === 1) running.onFailure?.();
        }
      }),
    ),
  );
  if (failures.length > 0) throw failures[0];
  return stopped;
}
