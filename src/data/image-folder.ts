import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from './errors.js';
import type { ImageSet } from './image-set.js';
import { resizeBilinear } from './resize.js';

/**
 * Image folders, the reference's IMAGENET dataset: `--train-data DIR` and `--val-data DIR`, each
 * with one sub-folder per class, read as torchvision's ImageFolder reads them (classes in sorted
 * order, files in sorted order, sub-folders of a class included) and transformed as the
 * reference's IMAGENET class does (docs/method.md §4): the shorter side resized to P + 32 with
 * Pillow's bilinear filter; for validation the centre P x P crop; for training a random resized
 * crop and flip per epoch (see ImageFolderLoader).
 */

/** Training images after the deterministic part of the transform: shorter side P + 32, RGB. */
export interface FolderImages {
  count: number;
  /** Channel-major RGB bytes of each image. */
  images: Uint8Array[];
  widths: Int32Array;
  heights: Int32Array;
  labels: Int32Array;
}

export interface ImageFolderDataset {
  classes: string[];
  train: FolderImages;
  /** Validation images resized and centre-cropped to P x P. */
  test: ImageSet;
}

/** ImageNet's statistics, which the reference normalises image folders with (--normalize-data). */
export const IMAGE_FOLDER_STATS = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** The extensions torchvision's ImageFolder takes; featshift decodes PNG and JPEG among them. */
const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.ppm',
  '.bmp',
  '.pgm',
  '.tif',
  '.tiff',
  '.webp',
]);
const DECODED = new Set(['.png', '.jpg', '.jpeg']);

/**
 * The largest image featshift decodes: Pillow's own decompression-bomb threshold (it warns above
 * 89,478,485 pixels, a 9459 x 9459 image), since past it a small file can claim gigabytes.
 */
export const MAX_IMAGE_PIXELS = 89_478_485;
/**
 * The most elongated image featshift takes (long side / short side): the shorter side is resized
 * to P + 32 and kept in memory, so a 20000 x 1 strip would become 1,280,000 x 64 pixels. Photos,
 * panoramas included, stay far below.
 */
export const MAX_IMAGE_ASPECT = 32;

/** The width and height an image file's header claims, read before any decoding; undefined when it cannot be read. */
export function headerSize(
  bytes: Buffer,
  ext: string,
): { width: number; height: number } | undefined {
  if (ext === '.png') {
    // The signature, then the IHDR chunk: length, type, width, height (big-endian).
    if (bytes.length < 24 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  // JPEG: walk the marker segments to the first start-of-frame (SOF0-15 but DHT, JPG, DAC).
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    at += 2 + bytes.readUInt16BE(at + 2);
  }
  return undefined;
}

/** Refuses, by file name, an image too large or too elongated to hold (see the limits above). */
function checkImageSize(width: number, height: number, file: string): void {
  if (width * height > MAX_IMAGE_PIXELS)
    throw new DataError(
      `${width} x ${height} is ${((width * height) / 1e6).toFixed(1)} million pixels, above the limit of ${(MAX_IMAGE_PIXELS / 1e6).toFixed(1)} million (Pillow's decompression-bomb threshold): shrink it or move it out of the folder`,
      file,
    );
  const aspect = Math.max(width, height) / Math.max(1, Math.min(width, height));
  if (aspect > MAX_IMAGE_ASPECT)
    throw new DataError(
      `${width} x ${height} is ${aspect.toFixed(0)} times longer than wide, above the limit of ${MAX_IMAGE_ASPECT}: crop it or move it out of the folder`,
      file,
    );
}

interface Decoded {
  width: number;
  height: number;
  /** Channel-major RGB. */
  rgb: Uint8Array;
}

/**
 * Decodes a PNG or JPEG file to RGB bytes, as PIL's convert('RGB') does: grey is repeated, an
 * alpha channel is dropped (not composited).
 */
function decode(bytes: Buffer, file: string): Decoded {
  const ext = extname(file).toLowerCase();
  if (!DECODED.has(ext)) {
    throw new DataError(
      `${ext} images are not supported: featshift decodes PNG and JPEG; convert this file or move it out of the folder`,
      file,
    );
  }
  const claimed = headerSize(bytes, ext);
  if (claimed) checkImageSize(claimed.width, claimed.height, file);
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxMemoryUsageInMB: 512,
        maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`unreadable image (${reason})`, file);
  }
  if (width < 1 || height < 1) throw new DataError('an image without pixels', file);
  checkImageSize(width, height, file);
  const plane = width * height;
  const rgb = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    rgb[i] = rgba[4 * i] as number;
    rgb[plane + i] = rgba[4 * i + 1] as number;
    rgb[2 * plane + i] = rgba[4 * i + 2] as number;
  }
  return { width, height, rgb };
}

/**
 * torchvision's Resize(size) with one number: the shorter side becomes `size`, the longer one
 * size * long / short, truncated.
 */
export function shorterSideTo(
  width: number,
  height: number,
  size: number,
): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Channel-major RGB resized with Pillow's bilinear filter (each band alike, as Pillow does). */
export function resizeRgb(image: Decoded, width: number, height: number): Decoded {
  return {
    width,
    height,
    rgb: resizeBilinear(image.rgb, 3, image.width, image.height, width, height),
  };
}

/** The rectangle [left, left + width) x [top, top + height) of channel-major RGB. */
export function cropRgb(
  image: Decoded,
  top: number,
  left: number,
  width: number,
  height: number,
): Decoded {
  const rgb = new Uint8Array(3 * width * height);
  for (let c = 0; c < 3; c++) {
    for (let r = 0; r < height; r++) {
      const from = c * image.width * image.height + (top + r) * image.width + left;
      rgb.set(image.rgb.subarray(from, from + width), c * width * height + r * width);
    }
  }
  return { width, height, rgb };
}

/** Python's round(): halves to even, as torchvision's CenterCrop computes its offsets. */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The reference's validation transform of one image: Resize(P + 32), then CenterCrop(P). */
export function validationTransform(image: Decoded, patchSize: number): Decoded {
  const size = shorterSideTo(image.width, image.height, patchSize + 32);
  const resized = resizeRgb(image, size.width, size.height);
  const top = pythonRound((resized.height - patchSize) / 2);
  const left = pythonRound((resized.width - patchSize) / 2);
  return cropRgb(resized, top, left, patchSize, patchSize);
}

/** Python's order of strings (by code point), which torchvision sorts classes and files in. */
export function byCodePoint(a: string, b: string): number {
  // Array.from iterates code points: an astral character is one element, not two halves.
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** A file system failure under an image folder, as a refusal naming the path. */
function fileProblem(error: unknown, path: string): DataError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ELOOP'
      ? 'a symbolic link that loops'
      : code === 'ENOENT'
        ? 'a symbolic link to nothing (or a file that vanished)'
        : code === 'EISDIR'
          ? 'a folder where an image was expected'
          : code === 'EACCES' || code === 'EPERM'
            ? 'not readable (permissions)'
            : `not readable (${code ?? String(error)})`;
  return new DataError(`${why}: fix or remove it`, path);
}

/** fs.stat following links, refused by name when it fails. */
async function statOf(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (error) {
    throw fileProblem(error, path);
  }
}

async function classFolders(root: string, what: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    throw new DataError(
      `no such folder: ${what} needs a folder with one sub-folder of images per class`,
      root,
    );
  }
  // Folders and links to folders, as os.scandir's is_dir() follows links.
  const names: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() || (e.isSymbolicLink() && (await statOf(join(root, e.name))).isDirectory()))
      names.push(e.name);
  }
  return names.sort(byCodePoint);
}

/** The classes of an image folder (its sub-folders, sorted), without reading any image. */
export function imageFolderClasses(root: string): Promise<string[]> {
  return classFolders(root, '--train-data');
}

/**
 * Every image file under a class folder, in ImageFolder's order: torchvision walks the folder
 * following links (os.walk(followlinks=True)), sorts the folders it finds by path and each
 * folder's files by name. A link that loops, or leads nowhere, is refused by name.
 */
async function imageFiles(dir: string): Promise<string[]> {
  const folders: { path: string; files: string[] }[] = [];
  const seen = new Set<string>();
  const walk = async (path: string): Promise<void> => {
    let real: string;
    try {
      real = await realpath(path);
    } catch (error) {
      throw fileProblem(error, path);
    }
    if (seen.has(real))
      throw new DataError('a symbolic link that loops back into its own folder: remove it', path);
    seen.add(real);
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      throw fileProblem(error, path);
    }
    const files: string[] = [];
    const subfolders: string[] = [];
    for (const e of entries) {
      const full = join(path, e.name);
      const isDir = e.isDirectory() || (e.isSymbolicLink() && (await statOf(full)).isDirectory());
      if (isDir) subfolders.push(full);
      else if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(e.name);
    }
    folders.push({ path, files: files.sort(byCodePoint) });
    for (const f of subfolders) await walk(f);
  };
  await walk(dir);
  return folders
    .sort((a, b) => byCodePoint(a.path, b.path))
    .flatMap((f) => f.files.map((name) => join(f.path, name)));
}

/** An image file's bytes, refused by name when it cannot be read. */
async function readImage(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw fileProblem(error, path);
  }
}

async function listSplit(
  root: string,
  classes: readonly string[],
): Promise<{ path: string; label: number }[]> {
  const files: { path: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    for (const path of await imageFiles(join(root, name))) files.push({ path, label });
  }
  if (files.length === 0) throw new DataError('no images in any class folder', root);
  const empty = classes.filter((_, label) => !files.some((f) => f.label === label));
  if (empty.length > 0)
    throw new DataError(
      `class folder${empty.length > 1 ? 's' : ''} ${empty.map((c) => `'${c}'`).join(', ')} hold${empty.length > 1 ? '' : 's'} no image: every class needs images in both splits`,
      root,
    );
  return files;
}

/**
 * Reads `--train-data` and `--val-data` folders: classes from the training folder's sub-folders
 * (the validation folder must have the same ones, so that a label means one class in both),
 * training images resized to a shorter side of P + 32, validation images also centre-cropped
 * to P x P. A file that cannot be decoded is refused by name.
 */
export async function loadImageFolders(
  trainDir: string,
  valDir: string,
  patchSize: number,
): Promise<ImageFolderDataset> {
  const classes = await classFolders(trainDir, '--train-data');
  if (classes.length === 0) throw new DataError('no class folders', trainDir);
  if (classes.length === 1)
    throw new DataError(
      `one class folder ('${classes[0] ?? ''}'): a classifier needs at least two classes`,
      trainDir,
    );
  const valClasses = await classFolders(valDir, '--val-data');
  const missing = valClasses.filter((c) => !classes.includes(c));
  const absent = classes.filter((c) => !valClasses.includes(c));
  if (missing.length > 0 || absent.length > 0) {
    throw new DataError(
      `the class folders differ from those of ${trainDir}${missing.length ? ` (only here: ${missing.join(', ')})` : ''}${absent.length ? ` (missing here: ${absent.join(', ')})` : ''}: give both splits the same class folders`,
      valDir,
    );
  }
  const trainFiles = await listSplit(trainDir, classes);
  const train: FolderImages = {
    count: trainFiles.length,
    images: [],
    widths: new Int32Array(trainFiles.length),
    heights: new Int32Array(trainFiles.length),
    labels: Int32Array.from(trainFiles, (f) => f.label),
  };
  for (const [i, { path }] of trainFiles.entries()) {
    const image = decode(await readImage(path), path);
    const size = shorterSideTo(image.width, image.height, patchSize + 32);
    const resized = resizeRgb(image, size.width, size.height);
    train.images.push(resized.rgb);
    train.widths[i] = resized.width;
    train.heights[i] = resized.height;
  }
  const valFiles = await listSplit(valDir, classes);
  const plane = 3 * patchSize * patchSize;
  const test: ImageSet = {
    count: valFiles.length,
    channels: 3,
    size: patchSize,
    images: new Uint8Array(valFiles.length * plane),
    labels: Int32Array.from(valFiles, (f) => f.label),
  };
  for (const [i, { path }] of valFiles.entries()) {
    test.images.set(
      validationTransform(decode(await readImage(path), path), patchSize).rgb,
      i * plane,
    );
  }
  return { classes, train, test };
}

/** The first `n` training images (for cheap studies); all of them when n is undefined or larger. */
export function firstFolderImages(set: FolderImages, n: number | undefined): FolderImages {
  if (n === undefined || n >= set.count) return set;
  return {
    count: n,
    images: set.images.slice(0, n),
    widths: set.widths.subarray(0, n),
    heights: set.heights.subarray(0, n),
    labels: set.labels.subarray(0, n),
  };
}
