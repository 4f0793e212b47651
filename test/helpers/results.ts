import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyFamily } from './tiny-study.js';
import { compareMembers } from '../../src/family/members.js';
import type { Architecture } from '../../src/family/skew-normal.js';
import type { ResultRecord } from '../../src/run/results.js';

/** The records of a run folder's results.jsonl. */
export function results(dir: string): ResultRecord[] {
  return readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultRecord);
}

/** The numbers of results, by member, without wall-clock times: what must match between runs. */
export function resultNumbers(list: readonly ResultRecord[]): Record<string, unknown>[] {
  return [...list]
    .sort((a, b) => compareMembers(a, b) || a.seed - b.seed)
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

/**
 * A result as a sweep writes it for architecture `a`: two epochs, best = max of its curve; each
 * epoch took `secondsPerEpoch`.
 */
export function architectureRecord(
  a: Architecture,
  seed: number,
  best: number,
  secondsPerEpoch = 1,
): ResultRecord {
  return {
    id: a.id,
    seed,
    xi: a.xi,
    omega: a.omega,
    alpha: a.alpha,
    widths: a.widths,
    capacity: a.capacity,
    params: a.params,
    macs: a.macs,
    bestVal: best,
    bestValTrain: best + 2,
    bestEpoch: 1,
    lastVal: best,
    lastTrain: best + 2,
    abandoned: false,
    diverged: false,
    trainAcc: [best - 8, best + 2],
    valAcc: [best - 10, best],
    trainLoss: [2, 1],
    valLoss: [2, 1.5],
    lr: [0.1, 0.01],
    seconds: [secondsPerEpoch, secondsPerEpoch],
    microBatch: 64,
    finishedAt: '2026-11-30T00:00:00.000Z',
  };
}

/** architectureRecord for member `id` of the tiny family. */
export function tinyRecord(
  id: number,
  seed: number,
  best: number,
  secondsPerEpoch = 1,
): ResultRecord {
  const a = tinyFamily.find((x) => x.id === id);
  if (!a) throw new Error(`no member ${id} in the tiny family`);
  return architectureRecord(a, seed, best, secondsPerEpoch);
}

/** A run folder as a sweep writes it: config.json with `study` and `architectures`, and `lines`. */
export function writeRunFolder(
  dir: string,
  study: Record<string, unknown>,
  architectures: readonly number[],
  lines: readonly string[],
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ featshift: '0.1.0', study, architectures }),
  );
  writeFileSync(join(dir, 'results.jsonl'), lines.map((l) => `${l}\n`).join(''));
}

/** A run folder of the tiny family with the given study values and result lines. */
export function tinyRunFolder(
  lines: string[],
  study: Record<string, unknown> = {},
  ids?: number[],
): string {
  const dir = mkdtempSync(join(tmpdir(), 'featshift-folder-'));
  writeRunFolder(
    dir,
    {
      dataset: 'FashionMNIST',
      depth: 10,
      widthMultiplier: 0.0625,
      seed: 0,
      seeds: [0, 1],
      ...study,
    },
    ids ?? [1, 2, 3],
    lines,
  );
  return dir;
}
