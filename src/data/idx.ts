import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/** An IDX array (the MNIST family's format): unsigned bytes with their dimensions. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Decompresses a gzip file's bytes, with an error that names the file. */
export function gunzipFile(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new DataError('not a gzip file (bad magic bytes); delete it and fetch it again', file);
  }
  try {
    return gunzipSync(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(`damaged gzip stream (${reason}); delete it and fetch it again`, file);
  }
}

/**
 * Parses an IDX file of unsigned bytes: magic 0x00 0x00 0x08 NDIM, NDIM big-endian sizes, then
 * exactly the product of the sizes in bytes. Anything else is refused: featshift never trains on a
 * partly read dataset.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
  if (bytes.length < 4) throw new DataError(`truncated IDX file (${bytes.length} bytes)`, file);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new DataError(
      `wrong magic number 0x${magic} (an IDX file of unsigned bytes starts with 0x000008)`,
      file,
    );
  }
  const ndim = bytes[3] as number;
  if (expectedDims !== undefined && ndim !== expectedDims) {
    throw new DataError(`expected an IDX array of ${expectedDims} dimensions, found ${ndim}`, file);
  }
  if (bytes.length < 4 + 4 * ndim) throw new DataError('truncated IDX header', file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndim;
  if (bytes.length - start !== count) {
    const what = bytes.length - start < count ? 'truncated' : 'too long';
    throw new DataError(
      `${what}: the header promises ${count} bytes of data, the file holds ${bytes.length - start}`,
      file,
    );
  }
  return { dims, data: bytes.subarray(start) };
}
