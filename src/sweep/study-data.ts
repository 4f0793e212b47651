import { loadDataset, requireDatasetSpec } from '../data/dataset.js';
import {
  firstFolderImages,
  IMAGE_FOLDER_STATS,
  imageFolderClasses,
  loadImageFolders,
  type FolderImages,
} from '../data/image-folder.js';
import { ImageFolderLoader } from '../data/image-folder-loader.js';
import { firstImages, type ImageSet } from '../data/image-set.js';
import { BatchLoader, type Batch } from '../data/loader.js';
import { ParallelBatchLoader } from '../data/parallel-loader.js';
import type { StudyConfig } from '../run/study.js';

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
  load: { kind: 'published'; train: ImageSet; spec: PublishedTransform } | FolderData;
  test: ImageSet;
}

interface PublishedTransform {
  mean: number[];
  std: number[];
  augment: boolean;
  resize: 'pillow' | 'tensor';
}

interface FolderData {
  kind: 'folder';
  train: FolderImages;
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

/** Reads the data a study trains on: a published dataset (verified) or image folders. */
export async function loadStudyData(
  study: Pick<StudyConfig, 'dataset' | 'trainData' | 'valData' | 'patchSize'>,
  dataDir: string | null,
): Promise<StudyData> {
  if (study.dataset === IMAGE_FOLDER) {
    const trainDir = study.trainData as string;
    const valDir = study.valData as string;
    const folders = await loadImageFolders(trainDir, valDir, study.patchSize);
    return {
      name: IMAGE_FOLDER,
      classes: folders.classes.length,
      inputChannels: 3,
      sources: [
        { split: 'train', folder: trainDir, images: folders.train.count },
        { split: 'val', folder: valDir, images: folders.test.count },
      ],
      load: { kind: 'folder', train: folders.train },
      test: folders.test,
    };
  }
  const data = await loadDataset(study.dataset, dataDir ? { dataDir } : {});
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
    load: {
      kind: 'published',
      train: data.train,
      spec: { mean: spec.mean, std: spec.std, augment: spec.augment, resize: spec.resize },
    },
    test: data.test,
  };
}

/** Images a study trains on per epoch: its training subset, or every training image. */
export function trainImageCount(
  study: Pick<StudyConfig, 'trainSubset'>,
  data: Pick<StudyData, 'load'>,
): number {
  return Math.min(study.trainSubset ?? Infinity, data.load.train.count);
}

/** A source of training batches that may hold worker threads until closed. */
export interface TrainBatches {
  readonly batchesPerEpoch: number;
  batches(epoch: number, start?: number): Iterable<Batch> | AsyncIterable<Batch>;
  close(): Promise<void>;
}

/**
 * The loaders of a study for one seed: the same batches wherever it runs (locally or on a queue's
 * worker), the training order and augmentation drawn from the seed.
 */
export function buildLoaders(
  study: StudyConfig,
  data: StudyData,
  seed: number,
): { train: TrainBatches; test: BatchLoader; trainCount: number } {
  const testSet = firstImages(data.test, study.valSubset ?? undefined);
  if (data.load.kind === 'folder') {
    const normalize = study.normalizeData ? IMAGE_FOLDER_STATS : null;
    const trainSet = firstFolderImages(data.load.train, study.trainSubset ?? undefined);
    const loader = new ImageFolderLoader(trainSet, {
      batchSize: study.batchSize,
      patchSize: study.patchSize,
      seed,
      normalize,
    });
    return {
      train: loader,
      // Validation images are already centre-cropped to the patch size.
      test: new BatchLoader(testSet, { batchSize: study.batchSize, normalize }),
      trainCount: trainSet.count,
    };
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
    test: new BatchLoader(testSet, loaderOptions),
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
  private current: (ReturnType<typeof buildLoaders> & { seed: number }) | undefined;

  constructor(study: StudyConfig, data: StudyData) {
    this.study = study;
    this.data = data;
  }

  async of(seed: number): Promise<ReturnType<typeof buildLoaders>> {
    if (this.current?.seed !== seed) {
      await this.current?.train.close();
      this.current = { ...buildLoaders(this.study, this.data, seed), seed };
    }
    return this.current;
  }

  async close(): Promise<void> {
    await this.current?.train.close();
    this.current = undefined;
  }
}
