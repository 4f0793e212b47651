import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from './errors.js';
import type { ImageSet } from './image-set.js';
import { resizeBilinear } from './resize.js';

/** An image-folder dataset (the layout the original code used for ImageNet): train/ and val/. */
export interface ImageFolderDataset {
  classes: string[];
  train: ImageSet;
  test: ImageSet;
}

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Decodes a PNG or JPEG file to RGB bytes, channel-major. */
function decode(bytes: Buffer, file: string): { width: number; height: number; rgb: Uint8Array } {
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  try {
    if (extname(file).toLowerCase() === '.png') {
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxMemoryUsageInMB: 512,
      });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`unreadable image (${reason})`, file);
  }
  const plane = width * height;
  const rgb = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    rgb[i] = rgba[4 * i] as number;
    rgb[plane + i] = rgba[4 * i + 1] as number;
    rgb[2 * plane + i] = rgba[4 * i + 2] as number;
  }
  return { width, height, rgb };
}

async function classFolders(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    throw new DataError(
      'no such folder (an image-folder dataset needs train/ and val/ with one sub-folder per class)',
      root,
    );
  }
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function readSplit(root: string, classes: string[], size: number): Promise<ImageSet> {
  const files: { path: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    const dir = join(root, name);
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((f) => EXTENSIONS.has(extname(f).toLowerCase()))
      .sort();
    for (const f of names) files.push({ path: join(dir, f), label });
  }
  if (files.length === 0) throw new DataError('no PNG or JPEG images in any class folder', root);
  const plane = size * size;
  const images = new Uint8Array(files.length * 3 * plane);
  const labels = new Uint8Array(files.length);
  for (const [i, { path, label }] of files.entries()) {
    const { width, height, rgb } = decode(await readFile(path), path);
    // Each image to the patch size, per channel, as Pillow resizes an RGB image.
    images.set(resizeBilinear(rgb, 3, width, height, size, size), i * 3 * plane);
    labels[i] = label;
  }
  return { images, labels, count: files.length, channels: 3, size };
}

/**
 * Reads ROOT/train/CLASS/*.png|jpg and ROOT/val/CLASS/*.png|jpg, classes in sorted order (as
 * torchvision's ImageFolder numbers them), every image resized to `size` x `size` RGB.
 */
export async function loadImageFolder(root: string, size: number): Promise<ImageFolderDataset> {
  const classes = await classFolders(join(root, 'train'));
  if (classes.length === 0) throw new DataError('no class folders in train/', root);
  if (classes.length > 256)
    throw new DataError(
      `${classes.length} classes; featshift stores labels as bytes (at most 256)`,
      root,
    );
  const valClasses = await classFolders(join(root, 'val'));
  const missing = valClasses.filter((c) => !classes.includes(c));
  if (missing.length > 0)
    throw new DataError(`val/ has classes that train/ lacks: ${missing.join(', ')}`, root);
  const train = await readSplit(join(root, 'train'), classes, size);
  const test = await readSplit(join(root, 'val'), classes, size);
  return { classes, train, test };
}
