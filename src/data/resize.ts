/**
 * Pillow's bilinear resize of 8-bit single-channel images, reproduced operation for operation
 * (Pillow's libImaging/Resample.c, which torchvision's `Resize` calls on PIL images): a separable
 * triangle filter whose support widens when shrinking, coefficients normalised to 22-bit fixed
 * point, the horizontal pass first and rounded to 8 bits before the vertical one. The reference
 * resized 28 px MNIST-family images to 32 px this way; matching it keeps inputs identical.
 */

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Int32Array; // ksize fixed-point weights per output pixel
}

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? (k[x] as number) / ww : 0;
      weights[xx * ksize + x] = Math.trunc(
        w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS),
      );
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

const cache = new Map<string, Coefficients>();
function cachedCoefficients(inSize: number, outSize: number): Coefficients {
  const key = `${inSize}>${outSize}`;
  let c = cache.get(key);
  if (!c) cache.set(key, (c = coefficients(inSize, outSize)));
  return c;
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
  if (inW === outW && inH === outH) {
    out.set(src.subarray(0, count * inW * inH));
    return out;
  }
  const h = cachedCoefficients(inW, outW);
  const v = cachedCoefficients(inH, outH);
  const needH = inW !== outW;
  const needV = inH !== outH;
  // Rows of the source the vertical pass reads.
  const first = needV ? (v.bounds[0] as number) : 0;
  const last = needV
    ? (v.bounds[outH * 2 - 2] as number) + (v.bounds[outH * 2 - 1] as number)
    : inH;
  const rows = last - first;
  const temp = new Uint8Array(outW * rows);
  for (let n = 0; n < count; n++) {
    const image = src.subarray(n * inW * inH, (n + 1) * inW * inH);
    let mid: Uint8Array;
    let midW: number;
    let rowOffset: number;
    if (needH) {
      for (let y = 0; y < rows; y++) {
        const row = (y + first) * inW;
        for (let xx = 0; xx < outW; xx++) {
          const xmin = h.bounds[xx * 2] as number;
          const xmax = h.bounds[xx * 2 + 1] as number;
          const base = xx * h.ksize;
          let ss = HALF;
          for (let x = 0; x < xmax; x++)
            ss += (image[row + x + xmin] as number) * (h.weights[base + x] as number);
          temp[y * outW + xx] = clip8(ss);
        }
      }
      mid = temp;
      midW = outW;
      rowOffset = first;
    } else {
      mid = image;
      midW = inW;
      rowOffset = 0;
    }
    const dst = out.subarray(n * outW * outH, (n + 1) * outW * outH);
    if (!needV) {
      dst.set(mid.subarray(0, outW * outH));
      continue;
    }
    for (let yy = 0; yy < outH; yy++) {
      const ymin = (v.bounds[yy * 2] as number) - rowOffset;
      const ymax = v.bounds[yy * 2 + 1] as number;
      const base = yy * v.ksize;
      for (let xx = 0; xx < outW; xx++) {
        let ss = HALF;
        for (let y = 0; y < ymax; y++)
          ss += (mid[(y + ymin) * midW + xx] as number) * (v.weights[base + y] as number);
        dst[yy * outW + xx] = clip8(ss);
      }
    }
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
