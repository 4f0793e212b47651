import { BatchWorkers, prefetched } from './batch-workers.js';
import {
  decodeImage,
  imageHeader,
  jpegNeedsSharp,
  loadSharp,
  readImageFile,
} from './image-decode.js';
import {
  centreBox,
  pythonRound,
  resizeShorterSide,
  shorterSideTo,
  type FolderFiles,
} from './image-folder.js';
import type { Batch } from './loader.js';
import { imageKernels } from './image-native.js';
import { mix32, permutation, Rng } from '../util/random.js';

export interface ImageFolderLoaderOptions {
  batchSize: number;
  patchSize: number;
  seed: number;
  normalize: { mean: readonly number[]; std: readonly number[] } | null;
  /** Loader threads reading and transforming batches ahead of training (default 1). */
  threads?: number;
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
 * What each byte value of each channel becomes, 256 floats a channel: scaled to [0, 1]
 * (ToTensor), then normalised.
 */
export function channelTables(normalize: ImageFolderLoaderOptions['normalize']): Float32Array {
  return Float32Array.from({ length: 768 }, (_, i) => {
    const c = i >> 8;
    const scaled = Math.fround((i & 255) / 255);
    if (!normalize) return scaled;
    return Math.fround(
      Math.fround(scaled - (normalize.mean[c] as number)) / (normalize.std[c] as number),
    );
  });
}

/** Every file of a batch, read at once; the first that cannot be read, in the batch's order, is named. */
async function readAll(paths: readonly string[]): Promise<Buffer[]> {
  const results = await Promise.allSettled(paths.map(readImageFile));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<Buffer>).value);
}

/** One batch's files, as a loader thread is asked for them. */
export interface FolderBatchJob {
  kind: 'train' | 'validation';
  paths: string[];
  labels: Int32Array;
  epoch: number;
  index: number;
}

/**
 * Reads, decodes and transforms one batch of image files as the reference does: for training, the
 * shorter side resized to P + 32, a random resized crop resized to P x P and a random horizontal
 * flip; for validation, the same resize and the centre P x P crop; then scaling to [0, 1] and the
 * optional normalisation. Every draw comes from (seed, epoch, batch) and is made in the batch's
 * order from the sizes the files' headers give, so that decoding can finish in any order.
 */
export async function buildFolderBatch(
  job: FolderBatchJob,
  options: Pick<ImageFolderLoaderOptions, 'patchSize' | 'seed'>,
  tables: Float32Array,
): Promise<Batch> {
  const P = options.patchSize;
  const count = job.paths.length;
  const x = new Float32Array(count * 3 * P * P);
  const y = BigInt64Array.from(job.labels, (label) => BigInt(label));
  const files = await readAll(job.paths);
  const headers = files.map((bytes, k) => imageHeader(bytes, job.paths[k] as string));
  const rng = new Rng(mix32(options.seed, job.epoch, job.index, 0xa06));
  const draws = headers.map((claimed) => {
    if (job.kind === 'validation') return undefined;
    const size = shorterSideTo(claimed.width, claimed.height, P + 32);
    const box = randomResizedCropBox(size.width, size.height, rng);
    return { box, flip: rng.next() < 0.5 };
  });
  // One image at a time, so that a thread holds one decoded image, not a batch of them.
  for (const [k, bytes] of files.entries()) {
    const path = job.paths[k] as string;
    const resized = resizeShorterSide(await decodeImage(bytes, path, headers[k]), P);
    const draw = draws[k];
    // The training crop resized to P x P, or the centre P x P of validation, as it stands.
    const box = draw?.box ?? centreBox(resized.width, resized.height, P);
    imageKernels().patch(
      resized.rgb,
      resized.width,
      box.left,
      box.top,
      box.width,
      box.height,
      P,
      draw?.flip ?? false,
      tables,
      x,
      k * 3 * P * P,
    );
  }
  return { index: job.index, count, x, y };
}

/** What a folder's loader threads are started with. */
export type FolderWorkerData = Pick<ImageFolderLoaderOptions, 'patchSize' | 'seed' | 'normalize'>;

/**
 * Batches of image folders read from disk as training goes (torchvision's ImageFolder with a
 * DataLoader's workers): loader threads read, decode and transform the files of the next batches
 * while the engine trains, so memory holds the batches in flight and never the folder. The
 * training order and every augmentation draw come from (seed, epoch, batch), so any batch can be
 * rebuilt on resume, whatever the number of threads. `validation` serves the validation split
 * through the same threads.
 */
export class ImageFolderLoader {
  readonly batchSize: number;
  readonly validation: {
    readonly batchesPerEpoch: number;
    batches(epoch: number, start?: number): AsyncGenerator<Batch>;
  };
  private readonly train: FolderFiles;
  private readonly options: ImageFolderLoaderOptions;
  private workers: Promise<BatchWorkers<FolderBatchJob>> | undefined;

  constructor(train: FolderFiles, val: FolderFiles, options: ImageFolderLoaderOptions) {
    this.train = train;
    this.options = options;
    this.batchSize = options.batchSize;
    const size = options.batchSize;
    this.validation = {
      batchesPerEpoch: Math.ceil(val.count / size),
      batches: (epoch, start = 0) =>
        this.stream(Math.ceil(val.count / size), start, (index) => ({
          kind: 'validation',
          paths: val.paths.slice(index * size, (index + 1) * size),
          labels: val.labels.slice(index * size, (index + 1) * size),
          epoch,
          index,
        })),
    };
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.train.count / this.batchSize);
  }

  batches(epoch: number, start = 0): AsyncGenerator<Batch> {
    const order = permutation(this.train.count, new Rng(mix32(this.options.seed, epoch, 0x5eed)));
    const size = this.batchSize;
    return this.stream(this.batchesPerEpoch, start, (index) => {
      const indices = order.subarray(index * size, (index + 1) * size);
      return {
        kind: 'train',
        paths: Array.from(indices, (i) => this.train.paths[i] as string),
        labels: Int32Array.from(indices, (i) => this.train.labels[i] as number),
        epoch,
        index,
      };
    });
  }

  private async *stream(
    total: number,
    start: number,
    job: (index: number) => FolderBatchJob,
  ): AsyncGenerator<Batch> {
    const workers = await this.start();
    yield* prefetched(start, total, 2 * workers.threads, (index) => workers.request(job(index)));
  }

  /** The loader threads, started on first use (sharp is loaded here first, as it must be before any thread loads it). */
  private start(): Promise<BatchWorkers<FolderBatchJob>> {
    this.workers ??= (jpegNeedsSharp() ? loadSharp() : Promise.resolve()).then(() => {
      const data: FolderWorkerData = {
        patchSize: this.options.patchSize,
        seed: this.options.seed,
        normalize: this.options.normalize,
      };
      return new BatchWorkers(
        new URL('./folder-worker.js', import.meta.url),
        data,
        this.options.threads ?? 1,
      );
    });
    return this.workers;
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = undefined;
    await (await workers)?.close();
  }
}
