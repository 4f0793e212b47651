import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import pLimit from 'p-limit';
import { DataError } from './errors.js';
import { checkImageHeader, fileProblem, IMAGE_EXTENSIONS, type RgbImage } from './image-decode.js';
import { resizeBox, type Box } from './resize.js';

/**
 * Image folders, the reference's IMAGENET dataset: `--train-data DIR` and `--val-data DIR`, each
 * with one sub-folder per class, listed as torchvision's ImageFolder lists them (classes in sorted
 * order, files in sorted order, sub-folders of a class included) and transformed as the
 * reference's IMAGENET class does (docs/method.md §4): the shorter side resized to P + 32 with
 * Pillow's bilinear filter; for validation the centre P x P crop; for training a random resized
 * crop and flip per epoch. Images are read from disk batch by batch (see ImageFolderLoader), so
 * memory does not grow with the folder: only its file list is held, about 100 bytes an image.
 */

/** The images of one split: their paths in ImageFolder's order and their class indices. */
export interface FolderFiles {
  count: number;
  paths: string[];
  labels: Int32Array;
}

export interface ImageFolderDataset {
  classes: string[];
  train: FolderFiles;
  val: FolderFiles;
}

/** ImageNet's statistics, which the reference normalises image folders with (--normalize-data). */
export const IMAGE_FOLDER_STATS = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

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

/** An RGB image resized with Pillow's bilinear filter (torchvision's Resize on a PIL image). */
export function resizeRgb(image: RgbImage, width: number, height: number): RgbImage {
  const whole = { left: 0, top: 0, width: image.width, height: image.height };
  return { width, height, rgb: resizeBox(image.rgb, image.width, 3, whole, width, height) };
}

/** The reference's Resize(P + 32): the shorter side to P + 32, as torchvision computes it. */
export function resizeShorterSide(image: RgbImage, patchSize: number): RgbImage {
  const size = shorterSideTo(image.width, image.height, patchSize + 32);
  // Already that size: Pillow would copy it unchanged, and nothing here writes to it.
  if (size.width === image.width && size.height === image.height) return image;
  return resizeRgb(image, size.width, size.height);
}

/** Python's round(): halves to even, as torchvision's CenterCrop computes its offsets. */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** torchvision's CenterCrop(P) of an image: the P x P box, its offsets rounded as Python rounds. */
export function centreBox(width: number, height: number, patchSize: number): Box {
  return {
    top: pythonRound((height - patchSize) / 2),
    left: pythonRound((width - patchSize) / 2),
    width: patchSize,
    height: patchSize,
  };
}

/** The box of an image as an image of its own (what Pillow's crop() makes). */
export function cropRgb(image: RgbImage, box: Box): RgbImage {
  return {
    width: box.width,
    height: box.height,
    rgb: resizeBox(image.rgb, image.width, 3, box, box.width, box.height),
  };
}

/** The reference's validation transform of one image: Resize(P + 32), then CenterCrop(P). */
export function validationTransform(image: RgbImage, patchSize: number): RgbImage {
  const resized = resizeShorterSide(image, patchSize);
  return cropRgb(resized, centreBox(resized.width, resized.height, patchSize));
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

/** How many image headers are read at once when a folder is checked. */
const HEADER_READS = 64;

/**
 * Reads every file's header, a bounded number at a time; of several bad files the first in
 * ImageFolder's order is named.
 */
async function checkHeaders(paths: readonly string[]): Promise<void> {
  const limit = pLimit(HEADER_READS);
  for (let from = 0; from < paths.length; from += 16 * HEADER_READS) {
    const chunk = paths.slice(from, from + 16 * HEADER_READS);
    const results = await Promise.allSettled(chunk.map((p) => limit(() => checkImageHeader(p))));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * Lists `--train-data` and `--val-data` folders: classes from the training folder's sub-folders
 * (the validation folder must have the same ones, so that a label means one class in both) and
 * every image file of each split. With `checkHeaders` (the default), each file's header is read
 * and a file that is not a PNG or JPEG of an acceptable size is refused by name before any
 * training; a file whose data does not decode is refused by name when a batch reaches it.
 */
export async function loadImageFolders(
  trainDir: string,
  valDir: string,
  options: { checkHeaders?: boolean } = {},
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
  const splits = [await listSplit(trainDir, classes), await listSplit(valDir, classes)];
  const [train, val] = splits.map((files): FolderFiles => ({
    count: files.length,
    paths: files.map((f) => f.path),
    labels: Int32Array.from(files, (f) => f.label),
  })) as [FolderFiles, FolderFiles];
  if (options.checkHeaders ?? true) await checkHeaders([...train.paths, ...val.paths]);
  return { classes, train, val };
}

/** The first `n` files (for cheap studies); all of them when n is undefined or larger. */
export function firstFolderFiles(set: FolderFiles, n: number | undefined): FolderFiles {
  if (n === undefined || n >= set.count) return set;
  return { count: n, paths: set.paths.slice(0, n), labels: set.labels.subarray(0, n) };
}
