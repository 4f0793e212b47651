/** The datasets of the paper (docs/method.md §4): their published files, checksums and traits. */

export type DatasetName = 'MNIST' | 'FashionMNIST' | 'KMNIST' | 'CIFAR10' | 'CIFAR100';
export const DATASET_NAMES: readonly DatasetName[] = [
  'MNIST',
  'FashionMNIST',
  'KMNIST',
  'CIFAR10',
  'CIFAR100',
];

export interface PublishedFile {
  /** File name as published. */
  name: string;
  /** MD5 of the file as published. */
  md5: string;
  /** SHA-256 of the decompressed content, where known (accepts re-compressed copies). */
  contentSha256?: string;
  /** Decompressed size in bytes, where known. */
  contentBytes?: number;
}

export interface DatasetSpec {
  name: DatasetName;
  format: 'idx' | 'cifar10' | 'cifar100';
  classes: number;
  /** Side length and channels of the stored images. */
  size: number;
  channels: 1 | 3;
  /** Base URLs tried in order. */
  mirrors: string[];
  files: PublishedFile[];
  /** Per-channel mean and std for the optional normalisation (docs/method.md §4). */
  mean: number[];
  std: number[];
  /**
   * Channels the network is fed: grey images are repeated to three, except KMNIST, which the
   * reference feeds as one channel (its first convolution then takes one).
   */
  inputChannels: 1 | 3;
  /**
   * How images reach the patch size: 'pillow' resizes the 8-bit image with Pillow's bilinear
   * filter before scaling to [0, 1] (torchvision's Resize on a PIL image); 'tensor' scales and
   * normalises first, then resizes the float image with torch's bilinear interpolation (the
   * reference's KMNIST).
   */
  resize: 'pillow' | 'tensor';
  /** Random crop with padding and horizontal flip while training (CIFAR). */
  augment: boolean;
  /** Folders where a system package installs the files (Debian's dataset-fashion-mnist). */
  systemDirs: string[];
}

const idxFiles = (md5: [string, string, string, string]): PublishedFile[] =>
  [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ].map((name, i) => ({ name, md5: md5[i] as string }));

const MNIST_STATS = { mean: [0.1307], std: [0.3081] };
/** Pillow's 8-bit resize, three channels in (grey ones repeated): every dataset but KMNIST. */
const PILLOW_RGB = { inputChannels: 3, resize: 'pillow' } as const;

export const DATASETS: Record<DatasetName, DatasetSpec> = {
  MNIST: {
    name: 'MNIST',
    format: 'idx',
    classes: 10,
    size: 28,
    channels: 1,
    mirrors: [
      'https://ossci-datasets.s3.amazonaws.com/mnist/',
      'http://yann.lecun.com/exdb/mnist/',
    ],
    files: idxFiles([
      'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'd53e105ee54ea40749a09fcbcd1e9432',
      '9fb629c4189551a2d022fa330f9573f3',
      'ec29112dd5afa0611ce80d1b7f02629c',
    ]),
    ...MNIST_STATS,
    ...PILLOW_RGB,
    augment: false,
    systemDirs: [],
  },
  FashionMNIST: {
    name: 'FashionMNIST',
    format: 'idx',
    classes: 10,
    size: 28,
    channels: 1,
    mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
    files: [
      {
        name: 'train-images-idx3-ubyte.gz',
        md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        contentSha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        contentBytes: 47040016,
      },
      {
        name: 'train-labels-idx1-ubyte.gz',
        md5: '25c81989df183df01b3e8a0aad5dffbe',
        contentSha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        contentBytes: 60008,
      },
      {
        name: 't10k-images-idx3-ubyte.gz',
        md5: 'bef4ecab320f06d8554ea6380940ec79',
        contentSha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        contentBytes: 7840016,
      },
      {
        name: 't10k-labels-idx1-ubyte.gz',
        md5: 'bb300cfdad3c16e7a12a480ee83cd310',
        contentSha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
        contentBytes: 10008,
      },
    ],
    ...MNIST_STATS,
    ...PILLOW_RGB,
    augment: false,
    systemDirs: ['/usr/share/datasets/fashion-mnist'],
  },
  KMNIST: {
    name: 'KMNIST',
    format: 'idx',
    classes: 10,
    size: 28,
    channels: 1,
    mirrors: ['http://codh.rois.ac.jp/kmnist/dataset/kmnist/'],
    files: idxFiles([
      'bdb82020997e1d708af4cf47b453dcf7',
      'e144d726b3acfaa3e44228e80efcd344',
      '5c965bf0a639b31b8f53240b1b52f4d7',
      '7320c461ea6c1c855c0b718fb2a4b134',
    ]),
    // The reference's own KMNIST loader: one channel, KMNIST's statistics, float resize.
    mean: [0.190362019974657],
    std: [0.3474631837640068],
    inputChannels: 1,
    resize: 'tensor',
    augment: false,
    systemDirs: [],
  },
  CIFAR10: {
    name: 'CIFAR10',
    format: 'cifar10',
    classes: 10,
    size: 32,
    channels: 3,
    mirrors: ['https://www.cs.toronto.edu/~kriz/'],
    files: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' }],
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2023, 0.1994, 0.201],
    ...PILLOW_RGB,
    augment: true,
    systemDirs: [],
  },
  CIFAR100: {
    name: 'CIFAR100',
    format: 'cifar100',
    classes: 100,
    size: 32,
    channels: 3,
    mirrors: ['https://www.cs.toronto.edu/~kriz/'],
    files: [{ name: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' }],
    mean: [0.5071, 0.4866, 0.4409],
    std: [0.2009, 0.1984, 0.2023],
    ...PILLOW_RGB,
    augment: true,
    systemDirs: [],
  },
};

/** The spec of a dataset by name, case-insensitively ('fashion-mnist' and 'fashionmnist' too). */
export function datasetSpec(name: string): DatasetSpec | undefined {
  const key = name.replace(/[-_\s]/g, '').toLowerCase();
  return DATASET_NAMES.map((n) => DATASETS[n]).find((s) => s.name.toLowerCase() === key);
}
