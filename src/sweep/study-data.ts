import { availableParallelism } from 'node:os';
import { loadDataset, requireDatasetSpec } from '../data/dataset.js';
import {
  firstFolderFiles,
  IMAGE_FOLDER_STATS,
  imageFolderClasses,
  loadImageFolders,
  type FolderFiles,
} from '../data/image-folder.js';
import { ImageFolderLoader } from '../data/image-folder-loader.js';
import { firstImages, type ImageSet } from '../data/image-set.js';
import { BatchLoader, type Batch } from '../data/loader.js';
import type { BatchSource } from '../train/trainer.js';
import { ParallelBatchLoader } from '../data/parallel-loader.js';
import type { StudyConfig } from '../run/study.js';
import type { Verification } from '../data/sources.js';

/** The dataset name of `--train-data` / `--val-data` studies (the reference calls it IMAGENET). */
export const IMAGE_FOLDER = 'ImageFolder';

/** A study's data, from the published files or from image folders, with how to feed it. */
export interface StudyData {
  name: string;
  classes: number;
  /** Channels the network is fed (3; 1 for KMNIST). */
  inputChannels: 1 | 3;
  /** Where the data came from, for environment.json. */
  sources: Record<string, unknown>[];
  /** The published files read, by path, and how each was verified (none for image folders). */
  verified: Map<string, Verification>;
  load: PublishedData | FolderData;
}

interface PublishedData {
  kind: 'published';
  train: ImageSet;
  test: ImageSet;
  spec: PublishedTransform;
}

interface PublishedTransform {
  mean: number[];
  std: number[];
  augment: boolean;
  resize: 'pillow' | 'tensor';
}

/** Image folders: their file lists, read from disk batch by batch as training goes. */
interface FolderData {
  kind: 'folder';
  train: FolderFiles;
  val: FolderFiles;
}

/** What the network's shape needs of a study's data, without reading the images. */
export async function studyDataShape(
  study: Pick<StudyConfig, 'dataset' | 'trainData'>,
): Promise<{ classes: number; inputChannels: 1 | 3 }> {
  if (study.dataset === IMAGE_FOLDER) {
    return {
      classes: (await imageFolderClasses(study.trainData as string)).length,
      inputChannels: 3,
    };
  }
  const spec = requireDatasetSpec(study.dataset);
  return { classes: spec.classes, inputChannels: spec.inputChannels };
}

/**
 * Reads the data a study trains on: a published dataset (verified, but for the files in
 * `verified`: a sweep's training process reads the files its sweep verified, and hashing them
 * again would cost it half a second before it trains), or image folders (listed, every file's
 * header checked unless `checkHeaders` is false: a training process or a queue's worker started
 * by a sweep that checked them).
 */
export async function loadStudyData(
  study: Pick<StudyConfig, 'dataset' | 'trainData' | 'valData'>,
  dataDir: string | null,
  options: { checkHeaders?: boolean; verified?: ReadonlyMap<string, Verification> } = {},
): Promise<StudyData> {
  if (study.dataset === IMAGE_FOLDER) {
    const trainDir = study.trainData as string;
    const valDir = study.valData as string;
    const folders = await loadImageFolders(trainDir, valDir, options);
    return {
      name: IMAGE_FOLDER,
      classes: folders.classes.length,
      inputChannels: 3,
      sources: [
        { split: 'train', folder: trainDir, images: folders.train.count },
        { split: 'val', folder: valDir, images: folders.val.count },
      ],
      verified: new Map(),
      load: { kind: 'folder', train: folders.train, val: folders.val },
    };
  }
  const data = await loadDataset(study.dataset, {
    ...(dataDir ? { dataDir } : {}),
    ...(options.verified ? { verified: options.verified } : {}),
  });
  const { spec } = data;
  return {
    name: spec.name,
    classes: spec.classes,
    inputChannels: spec.inputChannels,
    sources: data.files.map((f) => ({
      file: f.file.name,
      origin: f.origin,
      path: f.path,
      verifiedBy: f.verifiedBy,
    })),
    verified: new Map(data.files.map((f) => [f.path, f.verifiedBy])),
    load: {
      kind: 'published',
      train: data.train,
      test: data.test,
      spec: { mean: spec.mean, std: spec.std, augment: spec.augment, resize: spec.resize },
    },
  };
}

/** Images a study trains on per epoch: its training subset, or every training image. */
export function trainImageCount(
  study: Pick<StudyConfig, 'trainSubset'>,
  data: Pick<StudyData, 'load'>,
): number {
  return Math.min(study.trainSubset ?? Infinity, data.load.train.count);
}

/** A source of batches (as the trainer reads them) that may hold loader threads until closed. */
export interface TrainBatches {
  readonly batchesPerEpoch: number;
  batches(epoch: number, start?: number): Iterable<Batch> | AsyncIterable<Batch>;
  close(): Promise<void>;
}

/**
 * How many loader threads read image folders: one beside training on the CPU (where a step costs
 * far more than decoding its images, and the cores train), every core but one (up to 8) for a GPU,
 * which trains faster than one thread decodes; FEATSHIFT_LOADER_THREADS overrides it. Published
 * datasets, cropped from memory, always take one.
 */
export function loaderThreadsFor(device: string, env = process.env): number {
  const given = Number(env.FEATSHIFT_LOADER_THREADS);
  if (Number.isInteger(given) && given >= 1) return given;
  return device === 'cpu' ? 1 : Math.max(1, Math.min(8, availableParallelism() - 1));
}

/**
 * The loaders of a study for one seed: the same batches wherever it runs (locally or on a queue's
 * worker), the training order and augmentation drawn from the seed. Closing `train` releases
 * the loader threads of both.
 */
export function buildLoaders(
  study: StudyConfig,
  data: StudyData,
  seed: number,
  loaderThreads = 1,
): { train: TrainBatches; test: BatchSource; trainCount: number } {
  if (data.load.kind === 'folder') {
    const trainSet = firstFolderFiles(data.load.train, study.trainSubset ?? undefined);
    const loader = new ImageFolderLoader(
      trainSet,
      firstFolderFiles(data.load.val, study.valSubset ?? undefined),
      {
        batchSize: study.batchSize,
        patchSize: study.patchSize,
        seed,
        normalize: study.normalizeData ? IMAGE_FOLDER_STATS : null,
        threads: loaderThreads,
      },
    );
    return { train: loader, test: loader.validation, trainCount: trainSet.count };
  }
  const { spec } = data.load;
  const trainSet = firstImages(data.load.train, study.trainSubset ?? undefined);
  const loaderOptions = {
    batchSize: study.batchSize,
    patchSize: study.patchSize,
    normalize: study.normalizeData ? { mean: spec.mean, std: spec.std } : null,
    gcn: study.gcn,
    channels: data.inputChannels,
    resize: spec.resize,
  };
  return {
    train: new ParallelBatchLoader(
      trainSet,
      { ...loaderOptions, shuffle: true, seed, augment: spec.augment },
      1,
    ),
    test: new BatchLoader(firstImages(data.load.test, study.valSubset ?? undefined), loaderOptions),
    trainCount: trainSet.count,
  };
}

/**
 * The loaders of the seed trained last, rebuilt when another seed comes (a sweep's units go seed
 * by seed): building them shuffles, and the training loader holds a worker thread until closed.
 */
export class SeedLoaders {
  private readonly study: StudyConfig;
  private readonly data: StudyData;
  private readonly loaderThreads: number;
  private current: (ReturnType<typeof buildLoaders> & { seed: number }) | undefined;

  constructor(study: StudyConfig, data: StudyData, loaderThreads = 1) {
    this.study = study;
    this.data = data;
    this.loaderThreads = loaderThreads;
  }

  async of(seed: number): Promise<ReturnType<typeof buildLoaders>> {
    if (this.current?.seed !== seed) {
      await this.current?.train.close();
      this.current = { ...buildLoaders(this.study, this.data, seed, this.loaderThreads), seed };
    }
    return this.current;
  }

  async close(): Promise<void> {
    await this.current?.train.close();
    this.current = undefined;
  }
}
