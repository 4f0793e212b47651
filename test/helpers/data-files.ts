import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';

/** IDX bytes: magic 0x0000 08 NDIM, big-endian sizes, data. */
export function idx(dims: number[], data: Uint8Array): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** Writes a small MNIST-format dataset (gzipped IDX files with the published names) into dir. */
export function writeMnistLike(dir: string, train = 20, test = 10): void {
  mkdirSync(dir, { recursive: true });
  const images = (n: number): Uint8Array =>
    Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256);
  const labels = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 10);
  writeFileSync(
    join(dir, 'train-images-idx3-ubyte.gz'),
    gzipSync(idx([train, 28, 28], images(train))),
  );
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([train], labels(train))));
  writeFileSync(
    join(dir, 't10k-images-idx3-ubyte.gz'),
    gzipSync(idx([test, 28, 28], images(test))),
  );
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([test], labels(test))));
}

/** CIFAR-10 binary records: label byte, then 3072 pixels whose value encodes (image, channel). */
export function cifarRecords(n: number, first: number): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    out[i * 3073] = (first + i) % 10;
    for (let p = 0; p < 3072; p++)
      out[i * 3073 + 1 + p] = (first + i + Math.floor(p / 1024) * 50) % 256;
  }
  return out;
}

/**
 * Writes cifar-10-binary.tar.gz with the real member names (and optional extra members, such as a
 * hostile '../x') into dir, and returns its path.
 */
export async function writeCifarArchive(
  dir: string,
  extra: (root: string) => Promise<string[]> | string[] = () => [],
): Promise<string> {
  const root = join(dir, 'src');
  const folder = join(root, 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  const names = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
  ];
  names.forEach((n, b) => {
    writeFileSync(join(folder, n), cifarRecords(3, b * 3));
  });
  writeFileSync(join(folder, 'test_batch.bin'), cifarRecords(4, 100));
  writeFileSync(join(folder, 'batches.meta.txt'), 'airplane\n');
  const members = ['cifar-10-batches-bin', ...(await extra(root))];
  const archive = join(dir, 'cifar-10-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: root, preservePaths: true }, members);
  return archive;
}

export const gzip = (bytes: Uint8Array): Uint8Array => gzipSync(bytes);

/** Writes cifar-100-binary.tar.gz (train.bin, test.bin; coarse then fine label bytes) into dir. */
export async function writeCifar100Archive(dir: string): Promise<string> {
  const root = join(dir, 'src100');
  const folder = join(root, 'cifar-100-binary');
  mkdirSync(folder, { recursive: true });
  const records = (n: number): Uint8Array => {
    const out = new Uint8Array(n * 3074);
    for (let i = 0; i < n; i++) {
      out[i * 3074] = i % 20; // coarse
      out[i * 3074 + 1] = (i * 7) % 100; // fine
      out.fill(i, i * 3074 + 2, (i + 1) * 3074);
    }
    return out;
  };
  writeFileSync(join(folder, 'train.bin'), records(5));
  writeFileSync(join(folder, 'test.bin'), records(2));
  writeFileSync(join(folder, 'fine_label_names.txt'), 'apple\n');
  const archive = join(dir, 'cifar-100-binary.tar.gz');
  await create({ gzip: true, file: archive, cwd: root }, ['cifar-100-binary']);
  return archive;
}
