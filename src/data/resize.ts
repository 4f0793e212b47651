import { imageKernels } from './image-native.js';

/**
 * The resizes of the reference's transforms. Pillow's bilinear resize of 8-bit images is
 * reproduced operation for operation in native/image.cc (Pillow's libImaging/Resample.c, which
 * torchvision's `Resize` calls on PIL images): a separable triangle filter whose support widens
 * when shrinking, coefficients normalised to 22-bit fixed point, the horizontal pass first and
 * rounded to 8 bits before the vertical one. The reference resized 28 px MNIST-family images to
 * 32 px this way, and image folders' photographs; matching it keeps inputs identical. torch's
 * float bilinear interpolation (KMNIST) is below, in JavaScript.
 */

/** A rectangle of an image: its left column, top row, width and height in pixels. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes the `box` of an image of `channels` interleaved 8-bit bands, `stride` pixels a row, to
 * outW x outH, as Pillow's `image.crop(box).resize((outW, outH), BILINEAR)` does (native/image.cc:
 * the same arithmetic, 3-4 times faster than it ran here in JavaScript).
 */
export function resizeBox(
  src: Uint8Array,
  stride: number,
  channels: number,
  box: Box,
  outW: number,
  outH: number,
): Uint8Array {
  return imageKernels().resize(
    src,
    stride,
    channels,
    box.left,
    box.top,
    box.width,
    box.height,
    outW,
    outH,
  );
}

/**
 * Resizes `count` consecutive single-channel images of inW x inH bytes to outW x outH, as
 * Pillow's `Image.resize((outW, outH), BILINEAR)` does. Same size is a copy, as in Pillow.
 */
export function resizeBilinear(
  src: Uint8Array,
  count: number,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): Uint8Array {
  const out = new Uint8Array(count * outW * outH);
  const box = { left: 0, top: 0, width: inW, height: inH };
  for (let n = 0; n < count; n++) {
    const image = src.subarray(n * inW * inH, (n + 1) * inW * inH);
    out.set(resizeBox(image, inW, 1, box, outW, outH), n * outW * outH);
  }
  return out;
}

const f32 = Math.fround;

interface LinearTaps {
  index0: Int32Array;
  index1: Int32Array;
  lambda0: Float32Array;
  lambda1: Float32Array;
}

/**
 * torch's bilinear taps for one axis with align_corners false: the source position
 * scale * (i + 0.5) - 0.5 (never below 0), its two neighbours (the second clamped to the edge)
 * and their weights, all in float32 as ATen computes them for a float tensor.
 */
function linearTaps(inSize: number, outSize: number): LinearTaps {
  const taps: LinearTaps = {
    index0: new Int32Array(outSize),
    index1: new Int32Array(outSize),
    lambda0: new Float32Array(outSize),
    lambda1: new Float32Array(outSize),
  };
  const scale = f32(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    // ATen: (float scale) * (index + 0.5) - 0.5 evaluated in double, then stored as float.
    const source = Math.max(f32(scale * (i + 0.5) - 0.5), 0);
    const i0 = Math.min(Math.floor(source), inSize - 1);
    const lambda = Math.min(Math.max(f32(source - i0), 0), 1);
    taps.index0[i] = i0;
    taps.index1[i] = i0 + (i0 < inSize - 1 ? 1 : 0);
    taps.lambda1[i] = lambda;
    taps.lambda0[i] = f32(1 - lambda);
  }
  return taps;
}

const tapCache = new Map<string, LinearTaps>();
function cachedTaps(inSize: number, outSize: number): LinearTaps {
  const key = `${inSize}>${outSize}`;
  let t = tapCache.get(key);
  if (!t) tapCache.set(key, (t = linearTaps(inSize, outSize)));
  return t;
}

/**
 * Resizes one float32 plane of inW x inH to outW x outH into `out` at `offset`, as torch's
 * `F.interpolate(x, size, mode='bilinear')` (align_corners false, no antialiasing) does on CPU:
 * each output is (a w0 + b w1) h0 + (c w0 + d w1) h1, rounded to float32 at every operation. The
 * reference resized KMNIST this way, after normalising; a compiler's fused multiply-adds can move
 * a result by one float32 ulp.
 */
export function resizeBilinearFloat(
  src: Float32Array,
  inW: number,
  inH: number,
  out: Float32Array,
  offset: number,
  outW: number,
  outH: number,
): void {
  const h = cachedTaps(inH, outH);
  const w = cachedTaps(inW, outW);
  for (let y = 0; y < outH; y++) {
    const r0 = (h.index0[y] as number) * inW;
    const r1 = (h.index1[y] as number) * inW;
    const h0 = h.lambda0[y] as number;
    const h1 = h.lambda1[y] as number;
    for (let x = 0; x < outW; x++) {
      const c0 = w.index0[x] as number;
      const c1 = w.index1[x] as number;
      const w0 = w.lambda0[x] as number;
      const w1 = w.lambda1[x] as number;
      const top = f32(f32((src[r0 + c0] as number) * w0) + f32((src[r0 + c1] as number) * w1));
      const bottom = f32(f32((src[r1 + c0] as number) * w0) + f32((src[r1 + c1] as number) * w1));
      out[offset + y * outW + x] = f32(f32(top * h0) + f32(bottom * h1));
    }
  }
}
