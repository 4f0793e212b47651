import { cropRgb, pythonRound, resizeRgb, type FolderImages } from './image-folder.js';
import type { Batch } from './loader.js';
import { mix32, permutation, Rng } from '../util/random.js';

export interface ImageFolderLoaderOptions {
  batchSize: number;
  patchSize: number;
  seed: number;
  normalize: { mean: readonly number[]; std: readonly number[] } | null;
}

/** The scale and aspect-ratio ranges of torchvision's RandomResizedCrop, the reference's defaults. */
const SCALE = [0.08, 1] as const;
const LOG_RATIO = [Math.log(3 / 4), Math.log(4 / 3)] as const;

/**
 * torchvision's RandomResizedCrop.get_params with the reference's defaults: up to ten tries of
 * an area share in [0.08, 1] and a log-uniform aspect ratio in [3/4, 4/3], then the centre crop
 * clamped to those ratios. The draws come from featshift's seeded stream, not torch's.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
): { top: number; left: number; width: number; height: number } {
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (SCALE[0] + (SCALE[1] - SCALE[0]) * rng.next());
    const ratio = Math.exp(LOG_RATIO[0] + (LOG_RATIO[1] - LOG_RATIO[0]) * rng.next());
    const w = pythonRound(Math.sqrt(target * ratio));
    const h = pythonRound(Math.sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return {
        top: rng.below(height - h + 1),
        left: rng.below(width - w + 1),
        width: w,
        height: h,
      };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < 3 / 4) h = pythonRound(w / (3 / 4));
  else if (inRatio > 4 / 3) w = pythonRound(h * (4 / 3));
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    width: w,
    height: h,
  };
}

/**
 * Training batches of an image folder, as the reference transforms them: a random resized crop
 * of the (already shorter-side-resized) image, resized to P x P with Pillow's bilinear filter, a
 * random horizontal flip, scaling to [0, 1] and the optional normalisation. The order and every
 * draw come from (seed, epoch, batch), so any batch can be rebuilt on resume.
 */
export class ImageFolderLoader {
  readonly batchSize: number;
  private readonly set: FolderImages;
  private readonly options: ImageFolderLoaderOptions;
  private readonly lut: Float32Array[];

  constructor(set: FolderImages, options: ImageFolderLoaderOptions) {
    this.set = set;
    this.options = options;
    this.batchSize = options.batchSize;
    const norm = options.normalize;
    this.lut = [0, 1, 2].map((c) =>
      Float32Array.from({ length: 256 }, (_, v) => {
        const scaled = Math.fround(v / 255);
        if (!norm) return scaled;
        return Math.fround(
          Math.fround(scaled - (norm.mean[c] as number)) / (norm.std[c] as number),
        );
      }),
    );
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.set.count / this.batchSize);
  }

  /** Nothing to release: batches are built on the calling thread. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  *batches(epoch: number, start = 0): Generator<Batch> {
    const order = permutation(this.set.count, new Rng(mix32(this.options.seed, epoch, 0x5eed)));
    for (let b = start; b < this.batchesPerEpoch; b++) {
      yield this.build(order.subarray(b * this.batchSize, (b + 1) * this.batchSize), epoch, b);
    }
  }

  build(indices: Uint32Array, epoch: number, index: number): Batch {
    const P = this.options.patchSize;
    const plane = P * P;
    const count = indices.length;
    const x = new Float32Array(count * 3 * plane);
    const y = new BigInt64Array(count);
    const rng = new Rng(mix32(this.options.seed, epoch, index, 0xa06));
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      const image = {
        width: this.set.widths[i] as number,
        height: this.set.heights[i] as number,
        rgb: this.set.images[i] as Uint8Array,
      };
      const box = randomResizedCropBox(image.width, image.height, rng);
      const flip = rng.next() < 0.5;
      const patch = resizeRgb(cropRgb(image, box.top, box.left, box.width, box.height), P, P);
      y[k] = BigInt(this.set.labels[i] as number);
      for (let c = 0; c < 3; c++) {
        const lut = this.lut[c] as Float32Array;
        for (let r = 0; r < P; r++) {
          const from = c * plane + r * P;
          const to = (k * 3 + c) * plane + r * P;
          for (let q = 0; q < P; q++)
            x[to + q] = lut[patch.rgb[from + (flip ? P - 1 - q : q)] as number] as number;
        }
      }
    }
    return { index, count, x, y };
  }
}
