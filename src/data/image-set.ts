/** Images in memory: `count` images of channels x size x size bytes (channel-major), and labels. */
export interface ImageSet {
  images: Uint8Array;
  /** Bytes for the published datasets; 32-bit for image folders of any number of classes. */
  labels: Uint8Array | Int32Array;
  count: number;
  channels: 1 | 3;
  size: number;
}

/** The first `n` images (for cheap studies); all of them when n is undefined or larger. */
export function firstImages(set: ImageSet, n: number | undefined): ImageSet {
  if (n === undefined || n >= set.count) return set;
  const per = set.channels * set.size * set.size;
  return {
    ...set,
    count: n,
    images: set.images.subarray(0, n * per),
    labels: set.labels.subarray(0, n),
  };
}

/** Counts of each label, for checks and reports. */
export function labelHistogram(set: ImageSet, classes: number): number[] {
  const h = new Array<number>(classes).fill(0);
  for (let i = 0; i < set.count; i++)
    h[set.labels[i] as number] = (h[set.labels[i] as number] ?? 0) + 1;
  return h;
}
