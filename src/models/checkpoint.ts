import { readFile } from 'node:fs/promises';
import { tensor, type Tensor } from '../engine/tensor.js';
import type { DType, HostArray } from '../engine/native.js';
import { CheckpointError } from './errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/**
 * Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length, a JSON header mapping each tensor name to its dtype, shape and
 * byte range, then the raw little-endian data. PyTorch, JAX and others read it, and loading it
 * cannot execute code. Free-form string metadata rides in the header's `__metadata__`.
 */

const TO_SAFETENSORS: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  int32: 'I32',
  int64: 'I64',
  uint8: 'U8',
  bool: 'BOOL',
};

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface Checkpoint {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export async function saveCheckpoint(
  path: string,
  tensors: readonly { name: string; tensor: Tensor }[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, HeaderEntry | Record<string, string>> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, tensor: t } of tensors) {
    const dtype = TO_SAFETENSORS[t.dtype];
    if (!dtype) throw new Error(`cannot save tensor '${name}' of dtype ${t.dtype}`);
    const data = t.data();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  await writeFileAtomic(path, Buffer.concat([length, headerBytes, ...chunks]));
}

export async function loadCheckpoint(path: string, device = 'cpu'): Promise<Checkpoint> {
  const file = await readFile(path);
  const fail = (why: string): never => {
    throw new CheckpointError(`${path} is not a valid checkpoint: ${why}`, path);
  };
  if (file.byteLength < 8) fail('shorter than its 8-byte header length');
  const headerLength = Number(file.readBigUInt64LE(0));
  if (8 + headerLength > file.byteLength) fail('the header runs past the end of the file');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return fail('the header is not JSON');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as HeaderEntry;
    const [begin, end] = entry.data_offsets;
    if (dataStart + end > file.byteLength || begin > end)
      fail(`tensor '${name}' runs past the end of the file`);
    // Copy into an aligned buffer: typed arrays need their element alignment.
    const bytes = new Uint8Array(file.subarray(dataStart + begin, dataStart + end));
    const array = typedArray(entry.dtype, bytes.buffer, name, path);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (array.length !== count)
      fail(`tensor '${name}' holds ${array.length} values for shape [${entry.shape.join(', ')}]`);
    tensors.set(name, tensor(array, entry.shape, device));
  }
  return { tensors, metadata };
}

function typedArray(dtype: string, buffer: ArrayBuffer, name: string, path: string): HostArray {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return new Float64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer);
    default:
      throw new CheckpointError(
        `${path}: tensor '${name}' has dtype ${dtype}, which featshift does not read`,
        path,
      );
  }
}
