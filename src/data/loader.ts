import type { ImageSet } from './image-set.js';
import { mix32, permutation, Rng } from '../util/random.js';
import { resizeBilinear, resizeBilinearFloat } from './resize.js';

export interface LoaderOptions {
  batchSize: number;
  /** Side length fed to the network; images are resized to it once, up front (default: as stored). */
  patchSize?: number;
  /** Reshuffle every epoch (training); off keeps the file order (evaluation). */
  shuffle?: boolean;
  seed?: number;
  /** Random crop with zero padding ceil(0.1 P) and horizontal flip (the reference's CIFAR training). */
  augment?: boolean;
  /** Per-channel normalisation after scaling to [0, 1]; one value for grey images. */
  normalize?: { mean: readonly number[]; std: readonly number[] } | null;
  /** Global contrast normalisation of each image (zero mean, unit standard deviation). */
  gcn?: boolean;
  /** Channels of each batch image (default 3: grey images are repeated; 1 keeps them grey). */
  channels?: 1 | 3;
  /**
   * 'pillow' (default): the 8-bit images are resized once, up front, with Pillow's filter;
   * 'tensor': each image is scaled and normalised first, then resized in float32 as torch's
   * bilinear interpolation does (the reference's KMNIST).
   */
  resize?: 'pillow' | 'tensor';
}

/** One mini-batch, ready for the engine: images [count, C, P, P] in [0,1] (or normalised), labels. */
export interface Batch {
  index: number;
  count: number;
  x: Float32Array;
  y: BigInt64Array;
}

const f32 = Math.fround;

/**
 * Yields the batches of an epoch: seeded order, the last partial batch kept (as the reference's
 * DataLoader, drop_last off), grey images repeated to three channels. Each batch is built with
 * typed-array bulk operations: a per-channel lookup table maps bytes to normalised floats (the
 * same float32 arithmetic as ToTensor then Normalize), crops and flips are row copies.
 */
export class BatchLoader {
  readonly set: ImageSet;
  readonly patchSize: number;
  readonly batchSize: number;
  /** Channels of each batch image. */
  readonly channels: 1 | 3;
  private readonly floatResize: boolean;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly augment: boolean;
  private readonly padding: number;
  private readonly gcn: boolean;
  private readonly lut: Float32Array[]; // per output channel, byte -> float
  private readonly normalize: { mean: Float32Array; std: Float32Array } | null;

  constructor(set: ImageSet, options: LoaderOptions) {
    const patch = options.patchSize ?? set.size;
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`the batch size must be a positive integer, got ${options.batchSize}`);
    }
    this.channels = options.channels ?? 3;
    if (this.channels === 1 && set.channels !== 1) {
      throw new RangeError('colour images cannot be fed as one channel');
    }
    this.floatResize = options.resize === 'tensor';
    if (this.floatResize && options.augment) {
      throw new RangeError('random crops are not defined on float-resized images');
    }
    this.set =
      patch === set.size || this.floatResize
        ? set
        : {
            ...set,
            size: patch,
            images: resizeBilinear(
              set.images,
              set.count * set.channels,
              set.size,
              set.size,
              patch,
              patch,
            ),
          };
    this.patchSize = patch;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.seed = options.seed ?? 0;
    this.augment = options.augment ?? false;
    this.padding = Math.ceil(0.1 * patch);
    this.gcn = options.gcn ?? false;
    const norm = options.normalize ?? null;
    const channelStat = (values: readonly number[], c: number): number =>
      values[values.length === 1 ? 0 : c] as number;
    this.normalize = norm
      ? {
          mean: Float32Array.from([0, 1, 2], (c) => channelStat(norm.mean, c)),
          std: Float32Array.from([0, 1, 2], (c) => channelStat(norm.std, c)),
        }
      : null;
    this.lut = [0, 1, 2].map((c) =>
      Float32Array.from({ length: 256 }, (_, v) => {
        const scaled = f32(v / 255);
        if (!this.normalize || this.gcn) return scaled;
        return f32(
          f32(scaled - (this.normalize.mean[c] as number)) / (this.normalize.std[c] as number),
        );
      }),
    );
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.set.count / this.batchSize);
  }

  /** The order of the images in an epoch. */
  order(epoch: number): Uint32Array {
    if (!this.shuffle) return Uint32Array.from({ length: this.set.count }, (_, i) => i);
    return permutation(this.set.count, new Rng(mix32(this.seed, epoch, 0x5eed)));
  }

  /** The batches of an epoch from `start` on; the same seed and epoch give the same batches. */
  *batches(epoch: number, start = 0): Generator<Batch> {
    const order = this.order(epoch);
    for (let b = start; b < this.batchesPerEpoch; b++) {
      yield this.build(order.subarray(b * this.batchSize, (b + 1) * this.batchSize), epoch, b);
    }
  }

  /** One batch of the given image indices; augmentation draws from a stream of its own. */
  build(indices: Uint32Array, epoch: number, index: number): Batch {
    const { set, patchSize: P, channels } = this;
    const plane = P * P;
    const count = indices.length;
    const x = new Float32Array(count * channels * plane);
    const y = new BigInt64Array(count);
    const rng = new Rng(mix32(this.seed, epoch, index, 0xa06));
    const row = new Uint8Array(P);
    const stored = set.size * set.size;
    const floatPlane = this.floatResize ? new Float32Array(stored) : null;
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      y[k] = BigInt(set.labels[i] as number);
      const image = k * channels * plane;
      if (floatPlane) {
        // Scale and normalise at the stored size, then interpolate (the reference's KMNIST).
        const lut = this.lut[0] as Float32Array;
        const source = set.images.subarray(i * stored, (i + 1) * stored);
        for (let q = 0; q < stored; q++) floatPlane[q] = lut[source[q] as number] as number;
        resizeBilinearFloat(floatPlane, set.size, set.size, x, image, P, P);
      } else {
        this.fillPillowResized(x, image, i, rng, row);
      }
      if (this.gcn) this.contrastNormalize(x.subarray(image, image + channels * plane), plane);
    }
    return { index, count, x, y };
  }

  /** One image already at the patch size: crop and flip when augmenting, bytes to floats. */
  private fillPillowResized(
    x: Float32Array,
    image: number,
    i: number,
    rng: Rng,
    row: Uint8Array,
  ): void {
    const { set, patchSize: P, padding, channels } = this;
    const plane = P * P;
    // Crop offsets in the padded image, then the flip: the reference's draw order.
    const top = this.augment ? rng.below(2 * padding + 1) - padding : 0;
    const left = this.augment ? rng.below(2 * padding + 1) - padding : 0;
    const flip = this.augment ? rng.next() < 0.5 : false;
    for (let c = 0; c < channels; c++) {
      const source = set.images.subarray((i * set.channels + (set.channels === 1 ? 0 : c)) * plane);
      const lut = this.lut[c] as Float32Array;
      const out = image + c * plane;
      for (let r = 0; r < P; r++) {
        const sr = r + top;
        if (sr < 0 || sr >= P) {
          row.fill(0);
        } else if (left === 0) {
          row.set(source.subarray(sr * P, sr * P + P));
        } else {
          row.fill(0);
          const from = Math.max(0, left);
          const to = Math.min(P, P + left);
          row.set(source.subarray(sr * P + from, sr * P + to), from - left);
        }
        const o = out + r * P;
        if (flip) for (let q = 0; q < P; q++) x[o + q] = lut[row[P - 1 - q] as number] as number;
        else for (let q = 0; q < P; q++) x[o + q] = lut[row[q] as number] as number;
      }
    }
  }

  /** Zero mean and unit standard deviation over the image, then the channel normalisation. */
  private contrastNormalize(image: Float32Array, plane: number): void {
    let sum = 0;
    for (const v of image) sum += v;
    const mean = sum / image.length;
    let sq = 0;
    for (const v of image) sq += (v - mean) * (v - mean);
    const scale = 1 / Math.max(Math.sqrt(sq / image.length), 1e-8);
    for (let i = 0; i < image.length; i++) {
      let v = ((image[i] as number) - mean) * scale;
      if (this.normalize) {
        const c = Math.floor(i / plane);
        v = (v - (this.normalize.mean[c] as number)) / (this.normalize.std[c] as number);
      }
      image[i] = v;
    }
  }
}
