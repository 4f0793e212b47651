import { readFile } from 'node:fs/promises';
import { readCifarArchive } from './cifar.js';
import { DataError } from './errors.js';
import { gunzipFile, parseIdx } from './idx.js';
import type { ImageSet } from './image-set.js';
import { datasetSpec, DATASET_NAMES, type DatasetSpec } from './registry.js';
import { locateDataset, type LocatedFile, type SourceOptions } from './sources.js';
import { UsageError } from '../errors.js';

export interface Dataset {
  spec: DatasetSpec;
  train: ImageSet;
  test: ImageSet;
  files: LocatedFile[];
}

async function readIdxPair(
  images: LocatedFile,
  labels: LocatedFile,
  size: number,
): Promise<ImageSet> {
  const content = async (f: LocatedFile): Promise<Uint8Array> =>
    f.content ?? gunzipFile(await readFile(f.path), f.path);
  const img = parseIdx(await content(images), images.path, 3);
  const lab = parseIdx(await content(labels), labels.path, 1);
  const [count = 0, rows, cols] = img.dims;
  if (rows !== size || cols !== size) {
    throw new DataError(`images are ${rows}x${cols}, expected ${size}x${size}`, images.path);
  }
  if (lab.dims[0] !== count) {
    throw new DataError(`${lab.dims[0]} labels for ${count} images in ${images.path}`, labels.path);
  }
  return { images: img.data, labels: lab.data, count, channels: 1, size };
}

/** Resolves a dataset name or throws a usage error listing the known ones. */
export function requireDatasetSpec(name: string): DatasetSpec {
  const spec = datasetSpec(name);
  if (!spec)
    throw new UsageError(
      `unknown dataset '${name}': choose ${DATASET_NAMES.join(', ')}`,
      'dataset',
    );
  return spec;
}

/** Locates, verifies and reads a dataset's train and test splits into memory. */
export async function loadDataset(name: string, options: SourceOptions = {}): Promise<Dataset> {
  const spec = requireDatasetSpec(name);
  const files = await locateDataset(spec, options);
  const byName = (n: string): LocatedFile => files.find((f) => f.file.name === n) as LocatedFile;
  if (spec.format === 'idx') {
    const train = await readIdxPair(
      byName('train-images-idx3-ubyte.gz'),
      byName('train-labels-idx1-ubyte.gz'),
      spec.size,
    );
    const test = await readIdxPair(
      byName('t10k-images-idx3-ubyte.gz'),
      byName('t10k-labels-idx1-ubyte.gz'),
      spec.size,
    );
    return { spec, train, test, files };
  }
  const archive = files[0] as LocatedFile;
  const { train, test } = await readCifarArchive(archive.path, spec.format);
  return { spec, train, test, files };
}
