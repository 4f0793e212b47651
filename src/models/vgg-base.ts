import { UsageError } from '../errors.js';

/** The classifier width the reference picks for a patch size: 4096 above 100 px, else 512. */
export function classifierWidth(patchSize: number): number {
  return patchSize > 100 ? 4096 : 512;
}

/** k in D = 3k + 7: the number of convolutions in each of VGG's blocks 3, 4 and 5. */
export function convsPerDeepBlock(depth: number): number {
  if (!Number.isInteger(depth) || depth < 10 || (depth - 7) % 3 !== 0) {
    throw new UsageError(
      `depth must be 3k + 7 with k >= 1 (10, 13, 16, 19, 22, ...), got ${String(depth)}`,
      'depth',
    );
  }
  return (depth - 7) / 3;
}

/**
 * The standard VGG widths for depth D (docs/method.md §1): 64, 64, 128, 128, k x 256, 2k x 512,
 * then the two classifier widths. D = 16 gives VGG-D, whose 15 widths sum to 5248.
 */
export function vggBaseWidths(depth: number, patchSize = 32): number[] {
  const k = convsPerDeepBlock(depth);
  const c = classifierWidth(patchSize);
  return [64, 64, 128, 128, ...Array<number>(k).fill(256), ...Array<number>(2 * k).fill(512), c, c];
}
