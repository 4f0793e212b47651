import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { DataError } from './errors.js';
import type { ImageSet } from './image-set.js';

/** The members of the CIFAR binary archives, and how to split them into train and test. */
const ARCHIVE_MEMBERS = {
  cifar10: {
    folder: 'cifar-10-batches-bin',
    train: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
    ],
    test: ['test_batch.bin'],
    labelBytes: 1,
    extra: ['batches.meta.txt', 'readme.html'],
  },
  cifar100: {
    folder: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    labelBytes: 2, // coarse, then fine: featshift uses the fine label
    extra: ['coarse_label_names.txt', 'fine_label_names.txt'],
  },
} as const;

const PIXELS = 3 * 32 * 32;

/**
 * Reads the record files out of a CIFAR binary tar.gz, in memory. Refused, with the member named:
 * paths that are absolute or climb out of the archive's folder, links, devices and anything but
 * regular files and the folder itself, and names the published archive does not have.
 */
export async function readCifarArchive(
  archive: string,
  format: 'cifar10' | 'cifar100',
): Promise<{ train: ImageSet; test: ImageSet }> {
  const members = ARCHIVE_MEMBERS[format];
  const wanted = new Set<string>([...members.train, ...members.test]);
  const known = new Set<string>([...wanted, ...members.extra]);
  const files = new Map<string, Buffer>();
  let refusal: DataError | undefined;
  const refuse = (why: string): void => {
    refusal ??= new DataError(why, archive);
  };
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = entry.path;
        const normal = posix.normalize(path);
        if (path.startsWith('/') || normal.startsWith('..') || normal.split('/').includes('..')) {
          refuse(`refused tar member '${path}': it escapes the archive's folder`);
        } else if (entry.type === 'Directory') {
          if (normal.replace(/\/$/, '') !== members.folder)
            refuse(`refused tar member '${path}': unexpected folder`);
        } else if (entry.type !== 'File' && entry.type !== 'OldFile') {
          refuse(`refused tar member '${path}': a ${entry.type}, not a regular file`);
        } else if (posix.dirname(normal) !== members.folder || !known.has(posix.basename(normal))) {
          refuse(
            `refused tar member '${path}': not a file of the published ${members.folder} archive`,
          );
        } else if (wanted.has(posix.basename(normal))) {
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => files.set(posix.basename(normal), Buffer.concat(chunks)));
          return;
        }
        entry.resume();
      },
    });
    parser.on('error', (e: Error) => {
      reject(new DataError(`damaged archive (${e.message})`, archive));
    });
    parser.on('end', () => {
      resolve();
    });
    const input = createReadStream(archive);
    input.on('error', reject);
    input.pipe(parser);
  });
  if (refusal) throw refusal;
  for (const name of wanted) {
    if (!files.has(name))
      throw new DataError(`the archive lacks ${members.folder}/${name}`, archive);
  }
  const read = (names: readonly string[]): ImageSet => {
    const record = members.labelBytes + PIXELS;
    const buffers = names.map((n) => {
      const b = files.get(n) as Buffer;
      if (b.length === 0 || b.length % record !== 0) {
        throw new DataError(
          `${members.folder}/${n} holds ${b.length} bytes, not a whole number of ${record}-byte records`,
          archive,
        );
      }
      return b;
    });
    const count = buffers.reduce((n, b) => n + b.length / record, 0);
    const images = new Uint8Array(count * PIXELS);
    const labels = new Uint8Array(count);
    let i = 0;
    for (const b of buffers) {
      for (let o = 0; o < b.length; o += record, i++) {
        labels[i] = b[o + members.labelBytes - 1] as number;
        images.set(b.subarray(o + members.labelBytes, o + record), i * PIXELS);
      }
    }
    return { images, labels, count, channels: 3, size: 32 };
  };
  return { train: read(members.train), test: read(members.test) };
}
