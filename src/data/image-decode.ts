import { open, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { PNG } from 'pngjs';
import type SharpModule from 'sharp';
import { DataError } from './errors.js';
import { imageKernels, type ImageKernels } from './image-native.js';

/**
 * Image files as torchvision's ImageFolder reads them: PIL's `Image.open(path).convert('RGB')`.
 * JPEG goes through the system's libjpeg-turbo (native/image.cc; on Debian the library Pillow
 * itself decodes with), or through sharp where the addon was built without libjpeg (libvips's
 * mozjpeg, libjpeg-turbo's decoder: the same bytes, both checked against Debian's Pillow); PNG
 * through pngjs. Pixels come back interleaved, row by row, as PIL holds them. The system's
 * library is the default because it is faster: sharp's pipeline costs about 1.2 ms a call, more
 * than decoding a 256 px photograph.
 */

/** An 8-bit RGB image, its bands interleaved row by row (R G B R G B ...). */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** The extensions torchvision's ImageFolder takes; featshift decodes PNG and JPEG among them. */
export const IMAGE_EXTENSIONS = new Set([
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
 * to P + 32, so a 20000 x 1 strip would become 1,280,000 x 64 pixels. Photos, panoramas included,
 * stay far below.
 */
export const MAX_IMAGE_ASPECT = 32;

/** What an image file's header claims, read before any decoding. */
export interface ImageHeader {
  width: number;
  height: number;
  /** A JPEG's colour components (1 grey, 3 YCbCr or RGB, 4 CMYK or YCCK). */
  components?: number;
}

/** The size (and a JPEG's components) an image file's header claims; undefined when it cannot be read. */
export function headerSize(bytes: Uint8Array, ext: string): ImageHeader | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ext === '.png') {
    // The signature, then the IHDR chunk: length, type, width, height (big-endian).
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR')
      return undefined;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: walk the marker segments to the first start-of-frame (SOF0-15 but DHT, JPG, DAC).
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
      return {
        height: view.getUint16(at + 5),
        width: view.getUint16(at + 7),
        components: bytes[at + 9] as number,
      };
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** Refuses, by file name, an image too large or too elongated to take (see the limits above). */
function checkImageSize(width: number, height: number, file: string): void {
  if (width < 1 || height < 1) throw new DataError('an image without pixels', file);
  if (width * height > MAX_IMAGE_PIXELS)
    throw new DataError(
      `${width} x ${height} is ${((width * height) / 1e6).toFixed(1)} million pixels, above the limit of ${(MAX_IMAGE_PIXELS / 1e6).toFixed(1)} million (Pillow's decompression-bomb threshold): shrink it or move it out of the folder`,
      file,
    );
  const aspect = Math.max(width, height) / Math.min(width, height);
  if (aspect > MAX_IMAGE_ASPECT)
    throw new DataError(
      `${width} x ${height} is ${aspect.toFixed(0)} times longer than wide, above the limit of ${MAX_IMAGE_ASPECT}: crop it or move it out of the folder`,
      file,
    );
}

/** A file system failure under an image folder, as a refusal naming the path. */
export function fileProblem(error: unknown, path: string): DataError {
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

function supportedExtension(file: string): string {
  const ext = extname(file).toLowerCase();
  if (!DECODED.has(ext)) {
    throw new DataError(
      `${ext} images are not supported: featshift decodes PNG and JPEG; convert this file or move it out of the folder`,
      file,
    );
  }
  return ext;
}

/** What a file's first bytes claim, checked against the limits; undefined while no header is found in them. */
function claimedHeader(bytes: Uint8Array, file: string): ImageHeader | undefined {
  const claimed = headerSize(bytes, supportedExtension(file));
  if (claimed) checkImageSize(claimed.width, claimed.height, file);
  return claimed;
}

/** The header of a whole file, checked against the limits; a refusal by name when it has none. */
export function imageHeader(bytes: Uint8Array, file: string): ImageHeader {
  const claimed = claimedHeader(bytes, file);
  if (!claimed)
    throw new DataError(
      `unreadable image (no ${extname(file).toLowerCase() === '.png' ? 'PNG' : 'JPEG'} header)`,
      file,
    );
  return claimed;
}

/**
 * Reads only as much of an image file as its header needs (a JPEG's start of frame can follow
 * large metadata segments, so the read grows until it is found) and refuses, by name, a file that
 * is not a readable PNG or JPEG of an acceptable size. A whole folder is checked this way before
 * training, at the cost of one small read a file.
 */
export async function checkImageHeader(file: string): Promise<void> {
  supportedExtension(file);
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw fileProblem(error, file);
  }
  try {
    let bytes = new Uint8Array(4096);
    let length = 0;
    for (;;) {
      let read;
      try {
        ({ bytesRead: read } = await handle.read(bytes, length, bytes.length - length, length));
      } catch (error) {
        throw fileProblem(error, file);
      }
      length += read;
      const head = bytes.subarray(0, length);
      if (read === 0 || length < bytes.length) {
        imageHeader(head, file); // the whole file: a header, or a refusal
        return;
      }
      if (claimedHeader(head, file)) return;
      const grown = new Uint8Array(bytes.length * 4);
      grown.set(bytes);
      bytes = grown;
    }
  } finally {
    await handle.close();
  }
}

/** Whether JPEG files need sharp (the addon was built without libjpeg). */
export function jpegNeedsSharp(): boolean {
  return imageKernels().decodeJpeg === undefined;
}

/**
 * Which decoder reads JPEG files, for `featshift doctor` (either gives Pillow's pixels, so a run's
 * numbers do not depend on it).
 */
export function jpegDecoder(): string {
  return imageKernels().library ?? 'sharp (libvips with mozjpeg)';
}

let sharpModule: Promise<typeof SharpModule> | undefined;

/**
 * sharp, loaded on first use (the CLI starts without libvips). Each decode runs on one libvips
 * thread, concurrency coming from decoding several files at once, and without libvips's cache, so
 * that memory stays flat over a folder of any size.
 */
export function loadSharp(): Promise<typeof SharpModule> {
  sharpModule ??= import('sharp').then(
    ({ default: sharp }) => {
      sharp.concurrency(1);
      sharp.cache(false);
      return sharp;
    },
    (error: unknown) => {
      throw new DataError(
        `JPEG files need the addon built with libjpeg (sudo apt-get install libjpeg62-turbo-dev, then npm rebuild featshift) or the sharp package, which did not load (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
      );
    },
  );
  return sharpModule;
}

/** Pillow's MULDIV255: a * b / 255 rounded, in its integer form. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * PIL's convert('RGB') of a CMYK image (Pillow's cmyk2rgb, no colour management): each band is
 * (255 - K) - band * (255 - K) / 255. libvips would go through a CMYK profile instead.
 */
function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(3 * pixels);
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - (cmyk[4 * i + 3] as number);
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = nk - mulDiv255(cmyk[4 * i + c] as number, nk);
  }
  return rgb;
}

/** A JPEG decoded by the system's libjpeg-turbo, as Pillow decodes it. */
function decodeJpegNatively(
  decode: NonNullable<ImageKernels['decodeJpeg']>,
  bytes: Uint8Array,
): RgbImage {
  const { width, height, channels, data } = decode(bytes);
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { width, height, rgb: channels === 4 ? cmykToRgb(pixels, width * height) : pixels };
}

/**
 * A JPEG decoded as Pillow decodes it: by the system's libjpeg-turbo unless `through` is
 * 'sharp' (or the addon has no decoder).
 */
export async function decodeJpeg(
  bytes: Buffer,
  components: number | undefined,
  through: 'system' | 'sharp' = 'system',
): Promise<RgbImage> {
  const decode = imageKernels().decodeJpeg;
  if (decode && through === 'system') return decodeJpegNatively(decode, bytes);
  const sharp = await loadSharp();
  const image = sharp(bytes, {
    // As PIL: no colour management, no rotation from EXIF, a truncated file refused (PIL's
    // default) but libjpeg's warnings tolerated.
    ignoreIcc: true,
    autoOrient: false,
    failOn: 'truncated',
    limitInputPixels: MAX_IMAGE_PIXELS,
  });
  const cmyk = components === 4;
  // CMYK (and YCCK, which libjpeg turns into CMYK) comes out as the bands libjpeg gives PIL.
  const bands = cmyk
    ? image.pipelineColourspace('cmyk').toColourspace('cmyk')
    : image.toColourspace('srgb').removeAlpha();
  const { data, info } = await bands.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels !== (cmyk ? 4 : 3))
    throw new Error(`${info.channels} bands where ${cmyk ? 4 : 3} were expected`);
  const rgb = cmyk ? cmykToRgb(pixels, info.width * info.height) : pixels;
  return { width: info.width, height: info.height, rgb };
}

/** PIL's convert('RGB') of a PNG: grey repeated, an alpha channel dropped (not composited). */
function decodePng(bytes: Buffer): RgbImage {
  const png = PNG.sync.read(bytes);
  const { width, height, data } = png;
  const rgb = new Uint8Array(3 * width * height);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = data[i] as number;
    rgb[j + 1] = data[i + 1] as number;
    rgb[j + 2] = data[i + 2] as number;
  }
  return { width, height, rgb };
}

/** An image file's bytes, refused by name when it cannot be read. */
export async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw fileProblem(error, path);
  }
}

/**
 * Decodes a PNG or JPEG file's bytes to RGB, after checking the size its header claims (`claimed`,
 * where the caller has read it already); a file that does not decode, or decodes to another size
 * than its header says, is refused by name.
 */
export async function decodeImage(
  bytes: Buffer,
  file: string,
  claimed: ImageHeader = imageHeader(bytes, file),
): Promise<RgbImage> {
  let image: RgbImage;
  try {
    image =
      extname(file).toLowerCase() === '.png'
        ? decodePng(bytes)
        : await decodeJpeg(bytes, claimed.components);
  } catch (error) {
    const reason = error instanceof Error ? error.message.trim().split('\n')[0] : String(error);
    throw new DataError(`unreadable image (${reason})`, file);
  }
  if (claimed.width !== image.width || claimed.height !== image.height)
    throw new DataError(
      `unreadable image (its header says ${claimed.width} x ${claimed.height}, its data ${image.width} x ${image.height})`,
      file,
    );
  checkImageSize(image.width, image.height, file);
  return image;
}
