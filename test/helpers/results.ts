import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultRecord } from '../../src/run/results.js';

/** The records of a run folder's results.jsonl. */
export function results(dir: string): ResultRecord[] {
  return readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultRecord);
}

/** The numbers of results, by id, without wall-clock times: what must match between runs. */
export function resultNumbers(list: readonly ResultRecord[]): Record<string, unknown>[] {
  return [...list]
    .sort((a, b) => a.id - b.id)
    .map((r) =>
      Object.fromEntries(
        Object.entries(r).filter(
          ([k]) =>
            k !== 'seconds' &&
            k !== 'finishedAt' &&
            k !== 'phaseSeconds' &&
            k !== 'layoutMsPerStep',
        ),
      ),
    );
}
