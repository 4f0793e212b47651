import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EngineError, OutOfMemoryError } from './errors.js';
import { UsageError } from '../errors.js';

/** The element types the engine stores. */
export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'bool';

export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** One libtorch tensor held by the addon (native/addon.cc). */
export interface NativeTensor {
  shape(): number[];
  dtype(): DType;
  device(): string;
  dispose(): void;
  isDisposed(): boolean;
  toTypedArray(): HostArray;
  item(): number;
  to(device: string, dtype?: DType): NativeTensor;
  contiguous(format: 'contiguous' | 'channels_last'): NativeTensor;
  isChannelsLast(): boolean;
  setRequiresGrad(on: boolean): void;
  requiresGrad(): boolean;
  grad(): NativeTensor | null;
  backward(): void;
  detach(): NativeTensor;
  clone(): NativeTensor;
  mul_(factor: number | NativeTensor): NativeTensor;
  add_(addend: number | NativeTensor, alpha?: number): NativeTensor;
  copy_(source: NativeTensor): NativeTensor;
  zero_(): NativeTensor;
  fill_(value: number): NativeTensor;
  normal_(mean: number, std: number): NativeTensor;
  uniform_(low: number, high: number): NativeTensor;
  zeroGrad(): NativeTensor;
  nbytes(): number;
}

/**
 * Where CPU tensors live (FEATSHIFT_HOST_ALLOCATOR): tcmalloc's page heap, loaded at run time,
 * with tensors of 1 MiB and more that 2 MiB huge pages fit closely in the block cache's huge-page
 * blocks (native/tcmalloc-heap.cc;
 * the default where the system has libtcmalloc_minimal.so.4), featshift's block cache alone
 * (native/cpu-block-cache.cc; the default elsewhere), or libtorch's own.
 */
export type HostAllocator = 'tcmalloc' | 'block-cache' | 'libtorch';
const HOST_ALLOCATORS: readonly string[] = ['tcmalloc', 'block-cache', 'libtorch'];

/** What the CPU tensors' allocator and the C heap hold. */
export interface HostMemory {
  allocator: HostAllocator;
  /** Freed tensor memory the allocator keeps for the next tensors, still resident. */
  cachedBytes: number;
  /** Held by tensors (the block cache counts blocks of 4 KiB and more; tcmalloc, all). */
  inUseBytes: number;
  /** The most of that in use at once since the allocator last handed memory back. */
  peakInUseBytes: number;
  /**
   * The block cache's (and the tcmalloc heap's blocks of 1 MiB and more), ever: bytes of freed
   * blocks whose pages the kernel moved to a request no kept block held, and bytes of new pages
   * mapped. 0 with libtorch's allocator.
   */
  movedBytes: number;
  mappedBytes: number;
  /** Free chunks the C heap holds (glibc). */
  heapFreeBytes: number;
  /**
   * The process's own malloc, which libtorch's other buffers come from: tcmalloc where it was
   * preloaded (the featshift command does: scripts/with-tcmalloc.sh), else glibc's (or another).
   */
  processMalloc: 'tcmalloc' | 'glibc' | 'other';
}

export interface NativeBuildInfo {
  version: string;
  config: string;
  parallel: string;
  mkldnn: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  builtWithCuda: boolean;
}

export type BinaryOp = 'add' | 'mul';
export type UnaryOp = 'sum' | 'square';

/** The addon's exports, typed: nothing untyped crosses into TypeScript. */
export interface NativeModule {
  fromTypedArray(data: HostArray, shape: readonly number[], device: string): NativeTensor;
  full(shape: readonly number[], value: number, dtype: DType, device: string): NativeTensor;
  conv2d(
    x: NativeTensor,
    w: NativeTensor,
    b: NativeTensor | null,
    stride: number,
    padding: number,
  ): NativeTensor;
  batchNorm(
    x: NativeTensor,
    weight: NativeTensor | null,
    bias: NativeTensor | null,
    runningMean: NativeTensor | null,
    runningVar: NativeTensor | null,
    training: boolean,
    momentum: number,
    eps: number,
  ): NativeTensor;
  relu_(x: NativeTensor): NativeTensor;
  maxPool2d(x: NativeTensor, kernel: number, stride: number): NativeTensor;
  linear(x: NativeTensor, w: NativeTensor, b: NativeTensor | null): NativeTensor;
  dropout(x: NativeTensor, p: number, training: boolean): NativeTensor;
  reshape(x: NativeTensor, shape: readonly number[]): NativeTensor;
  crossEntropy(logits: NativeTensor, targets: NativeTensor): NativeTensor;
  topkCorrect(logits: NativeTensor, targets: NativeTensor, k: number): number;
  binary(op: BinaryOp, a: NativeTensor, b: NativeTensor | number, alpha?: number): NativeTensor;
  unary(op: UnaryOp, a: NativeTensor): NativeTensor;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  setAutocast(enabled: boolean, device: 'cpu' | 'cuda'): void;
  getNumThreads(): number;
  setGradEnabled(on: boolean): void;
  isGradEnabled(): boolean;
  liveTensors(): number;
  installHostAllocator(name: HostAllocator): boolean;
  releaseHostMemory(thresholdBytes: number): number;
  hostMemory(): HostMemory;
  buildInfo(): NativeBuildInfo;
  setErrorClasses(engine: typeof EngineError, outOfMemory: typeof OutOfMemoryError): void;
}

const ADDON = fileURLToPath(
  new URL('../../../build/Release/featshift_native.node', import.meta.url),
);

let loaded: NativeModule | undefined;
let loadError: Error | undefined;

/** The addon, loaded on first use; a clear error when it was not built or cannot load. */
export function native(): NativeModule {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  // Where CPU tensors live: tcmalloc where the system has it, else the block cache (auto).
  const allocator = process.env.FEATSHIFT_HOST_ALLOCATOR || 'auto';
  if (allocator !== 'auto' && !HOST_ALLOCATORS.includes(allocator)) {
    throw new UsageError(
      `FEATSHIFT_HOST_ALLOCATOR=${allocator} is not an allocator: use auto, tcmalloc, block-cache or libtorch, or leave it unset`,
    );
  }
  try {
    if (!existsSync(ADDON)) {
      throw new Error(
        `the native addon is not built (${ADDON} is missing): run 'npm run build:addon' (needs libtorch: 'bash scripts/setup-debian.sh', or LIBTORCH=/path/to/libtorch)`,
      );
    }
    const require = createRequire(import.meta.url);
    const addon = require(ADDON) as NativeModule;
    if (allocator === 'auto') {
      if (!addon.installHostAllocator('tcmalloc')) addon.installHostAllocator('block-cache');
    } else if (!addon.installHostAllocator(allocator as HostAllocator)) {
      throw new Error(
        'FEATSHIFT_HOST_ALLOCATOR=tcmalloc, but libtcmalloc_minimal.so.4 cannot be loaded: install it (apt-get install libtcmalloc-minimal4) or choose auto',
      );
    }
    addon.setErrorClasses(EngineError, OutOfMemoryError);
    // Debian's libtorch starts with one intra-op thread: default to every core, or
    // FEATSHIFT_THREADS.
    const fromEnv = Number(process.env.FEATSHIFT_THREADS);
    addon.setNumThreads(
      Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism(),
    );
    loaded = addon;
    return loaded;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    loadError = new Error(`featshift's libtorch addon did not load: ${reason}`);
    throw loadError;
  }
}
