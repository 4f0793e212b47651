import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** native/image.cc, typed: the data loaders' image kernels. */
export interface ImageKernels {
  /** Pillow's crop and bilinear resize of interleaved 8-bit bands, exactly. */
  resize(
    src: Uint8Array,
    stride: number,
    channels: number,
    left: number,
    top: number,
    width: number,
    height: number,
    outW: number,
    outH: number,
  ): Uint8Array;
  /**
   * The box of an RGB image resized to P x P and written into `x` from `offset` as three float
   * planes, mirrored when `flip` is set, each byte through its channel's table (768 floats).
   */
  patch(
    src: Uint8Array,
    stride: number,
    left: number,
    top: number,
    width: number,
    height: number,
    P: number,
    flip: boolean,
    tables: Float32Array,
    x: Float32Array,
    offset: number,
  ): void;
  /** Absent where the addon was built without libjpeg's headers. */
  decodeJpeg?: (bytes: Uint8Array) => {
    width: number;
    height: number;
    channels: number;
    data: Uint8Array;
  };
  /** The JPEG library it was built against, with decodeJpeg. */
  library?: string;
}

const ADDON = fileURLToPath(
  new URL('../../../build/Release/featshift_image.node', import.meta.url),
);
let kernels: ImageKernels | undefined;

/** The image kernels, loaded on first use (each loader thread loads them for itself). */
export function imageKernels(): ImageKernels {
  kernels ??= createRequire(import.meta.url)(ADDON) as ImageKernels;
  return kernels;
}
