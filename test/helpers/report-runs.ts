import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  baselineArchitecture,
  skewNormalFamily,
  type Architecture,
} from '../../src/family/skew-normal.js';
import { linearFamily } from '../../src/family/linear.js';
import { familyFields, referenceCsv, type ResultRecord } from '../../src/run/results.js';
import { architectureRecord, writeRunFolder } from './results.js';

/** Run folders for the report's browser tests: the 1/8 family's results, made up, not trained. */

/** Three epochs of a member, its best at the last. */
export function fakeRecord(a: Architecture, k: number): ResultRecord {
  const best = 60 + ((k * 37) % 30) + 0.25;
  return {
    ...architectureRecord(a, 0, best),
    bestValTrain: best + 3,
    bestEpoch: 2,
    lastVal: best - 1,
    lastTrain: best + 4,
    trainAcc: [40, 70, best + 3],
    valAcc: [45, best - 5, best],
    trainLoss: [2, 1, 0.5],
    valLoss: [2, 1.2, 0.8],
    lr: [0.01, 0.005, 0.001],
    seconds: [1, 1, 1],
    microBatch: 128,
    finishedAt: '2026-11-29T00:00:00.000Z',
  };
}

export const family = skewNormalFamily({ widthMultiplier: 0.125 });
/** 13 architectures spread over the family. */
export const members = family.filter((_, i) => i % 9 === 0);
/** The baseline VGG and the members, one seed. */
export const records = [
  fakeRecord(baselineArchitecture({ widthMultiplier: 0.125 }), 99),
  ...members.map(fakeRecord),
];

/** Three seeds of every record, 0.5 points either side of seed 0: the same means. */
export const seeded = (list: ResultRecord[]): ResultRecord[] =>
  list.flatMap((r) => [
    r,
    ...[1, 2].map((seed) => {
      const shift = seed === 1 ? 0.5 : -0.5;
      return {
        ...r,
        seed,
        bestVal: r.bestVal + shift,
        bestValTrain: r.bestValTrain + shift,
        valAcc: r.valAcc.map((v) => v + shift),
        trainAcc: r.trainAcc.map((v) => v + shift),
      };
    }),
  ]);

const STUDY = { dataset: 'FashionMNIST', depth: 16, widthMultiplier: 0.125, seed: 0 };

/** A featshift run folder whose study plans `planned` (a live sweep has finished `list` of them). */
export function jsonlRun(
  dir: string,
  list: ResultRecord[],
  planned = list,
  study: Record<string, unknown> = {},
): void {
  writeRunFolder(
    dir,
    { ...STUDY, seeds: [...new Set(list.map((r) => r.seed))], ...study },
    [...new Set(planned.map((r) => r.id))],
    list.map((r) => JSON.stringify(r)),
  );
}

/** A run folder as the original code wrote it: model_NNN.csv, cumulative. */
export function csvRun(dir: string, list: ResultRecord[]): void {
  mkdirSync(dir, { recursive: true });
  list.forEach((r, i) => {
    writeFileSync(
      join(dir, `model_${String(r.id).padStart(3, '0')}.csv`),
      referenceCsv(list.slice(0, i + 1)),
    );
  });
}

/** The study of {@link halvingRun}: 30 epochs, warm restarts ending cycles at epochs 10 and 30. */
export const HALVING_STUDY = { halving: true, epochs: 30, lrWrEpochs: 10, lrWrMul: 2 };

/**
 * A successive-halving study of two seeds, as its sweep leaves it: the best third of the
 * architectures trained all 30 epochs, the others stopped at the rung of epoch 10.
 */
export function halvingRun(dir: string): void {
  const ranked = [...records].sort((a, b) => b.bestVal - a.bestVal);
  const survivors = new Set(ranked.slice(0, Math.ceil(ranked.length / 3)).map((r) => r.id));
  const curve = (best: number, epochs: number): number[] =>
    Array.from({ length: epochs }, (_, i) => best - 30 * (1 - (i + 1) / 30) ** 2);
  const halved = records.map((r): ResultRecord => {
    const epochs = survivors.has(r.id) ? 30 : 10;
    const valAcc = curve(r.bestVal, epochs);
    const trainAcc = valAcc.map((v) => v + 3);
    const best = valAcc[valAcc.length - 1] ?? r.bestVal;
    return {
      ...r,
      bestVal: best,
      bestValTrain: best + 3,
      bestEpoch: epochs - 1,
      lastVal: best,
      lastTrain: best + 3,
      valAcc,
      trainAcc,
      trainLoss: valAcc.map(() => 1),
      valLoss: valAcc.map(() => 1),
      lr: valAcc.map(() => 0.01),
      seconds: valAcc.map(() => 1),
      epochsTrained: epochs,
      stoppedAtRung: epochs === 30 ? null : 10,
    };
  });
  const list = halved.flatMap((r) => [
    r,
    {
      ...r,
      seed: 1,
      bestVal: r.bestVal - 0.4,
      valAcc: r.valAcc.map((v) => v - 0.4),
      trainAcc: r.trainAcc.map((v) => v - 0.4),
    },
  ]);
  jsonlRun(dir, list, list, HALVING_STUDY);
}

/** A study of the linear family held to MACs, three seeds: its members fall, stay level or rise. */
export function linearRun(dir: string): void {
  const held = linearFamily({ widthMultiplier: 0.125, hold: 'macs' });
  const list = [
    fakeRecord(baselineArchitecture({ widthMultiplier: 0.125 }), 99),
    ...held.map((a, k) => ({ ...fakeRecord(a, k), ...familyFields(a) })),
  ];
  jsonlRun(dir, seeded(list), seeded(list), { family: 'linear', hold: 'macs' });
}
