export * as ops from './ops.js';
export { classifyBlas, loadedBlas, matmulGflops, type BlasInfo } from './blas.js';
export { Tensor, tidy, keep, tensor, full, zeros, ones, trackedTensorCount } from './tensor.js';
export {
  setThreads,
  threads,
  manualSeed,
  noGrad,
  buildInfo,
  devices,
  checkDevice,
  releaseHostMemory,
  hostMemory,
  liveTensorCount,
} from './runtime.js';
export type { DType, HostAllocator, HostArray, HostMemory, NativeBuildInfo } from './native.js';
export { EngineError, OutOfMemoryError } from './errors.js';
