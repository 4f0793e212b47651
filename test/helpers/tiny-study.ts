import { skewNormalFamily } from '../../src/family/skew-normal.js';

/** The VGG-10 family at 1/16 of its features: tiny networks for end-to-end tests. */
export const tinyFamily = skewNormalFamily({ depth: 10, widthMultiplier: 0.0625 });

/** The ids of the n cheapest members (by MACs), ascending, as --ids wants them. */
export function cheapestIds(n: number): number[] {
  return [...tinyFamily]
    .sort((a, b) => a.macs - b.macs)
    .slice(0, n)
    .map((a) => a.id)
    .sort((a, b) => a - b);
}

/**
 * Study options of a tiny sweep of `ids` on Fashion-MNIST (batch 64), in a fixed layout: tests
 * compare separate runs bit for bit, and a timed choice (--layout auto) could differ between them.
 */
export function tinyStudy(ids: readonly number[]): string[] {
  return [
    '--dataset',
    'FashionMNIST',
    '--depth',
    '10',
    '--width-multiplier',
    '0.0625',
    '--ids',
    ids.join(','),
    '--batch-size',
    '64',
    '--layout',
    'nchw',
  ];
}

/** A whole tiny sweep command: `epochs` epochs (one warm-restart cycle) on subsets, one thread. */
export function tinySweep(ids: readonly number[], epochs: number, train: number): string[] {
  return [
    'sweep',
    ...tinyStudy(ids),
    '--threads',
    '1',
    '--epochs',
    String(epochs),
    '--lr-wr-epochs',
    String(epochs),
    '--train-subset',
    String(train),
    '--val-subset',
    '128',
  ];
}

/**
 * A tiny successive-halving sweep: warm-restart cycles of 1, 2, 4, ... epochs (rungs at their
 * ends), the best half on, and no abandon rule (a 1-epoch first cycle on a few hundred images
 * would abandon every run before the first rung).
 */
export function tinyHalvingSweep(ids: readonly number[], epochs: number, train: number): string[] {
  return [
    ...tinySweep(ids, epochs, train),
    '--lr-wr-epochs',
    '1',
    '--lr-wr-mul',
    '2',
    '--no-abandon',
    '--halving',
    '--eta',
    '2',
  ];
}
