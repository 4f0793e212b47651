import { native, type DType, type HostArray, type NativeTensor } from './native.js';
import { checkDevice } from './runtime.js';

/**
 * Tensors live in libtorch's memory, not the JavaScript heap, so they must not wait for the
 * garbage collector: a 150-epoch run would otherwise grow without bound. Every tensor is freed by
 * `dispose()` or by the scope it was created in ({@link tidy}).
 */
const scopes: Set<Tensor>[] = [];

export class Tensor {
  readonly #handle: NativeTensor;

  /** Wraps a native tensor; it joins the innermost open scope. */
  constructor(handle: NativeTensor) {
    this.#handle = handle;
    scopes[scopes.length - 1]?.add(this);
  }

  /** @internal the native tensor, for the engine's operations. */
  get handle(): NativeTensor {
    return this.#handle;
  }

  get shape(): number[] {
    return this.#handle.shape();
  }

  get dtype(): DType {
    return this.#handle.dtype();
  }

  get device(): string {
    return this.#handle.device();
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get disposed(): boolean {
    return this.#handle.isDisposed();
  }

  /** Bytes of element storage. */
  get nbytes(): number {
    return this.#handle.nbytes();
  }

  dispose(): void {
    this.#handle.dispose();
    for (const scope of scopes) scope.delete(this);
  }

  /** A copy of the elements in a typed array, on the host, row-major. */
  data(): HostArray {
    return this.#handle.toTypedArray();
  }

  /** The elements as float32 (converting if needed). */
  toFloat32(): Float32Array {
    const d = this.#handle.toTypedArray();
    return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>, Number);
  }

  item(): number {
    return this.#handle.item();
  }

  to(device: string, dtype?: DType): Tensor {
    return new Tensor(this.#handle.to(checkDevice(device), dtype));
  }

  /** The same values laid out channels-last (NHWC in memory), which oneDNN convolves faster. */
  channelsLast(): Tensor {
    return new Tensor(this.#handle.contiguous('channels_last'));
  }

  contiguous(): Tensor {
    return new Tensor(this.#handle.contiguous('contiguous'));
  }

  get isChannelsLast(): boolean {
    return this.#handle.isChannelsLast();
  }

  get requiresGrad(): boolean {
    return this.#handle.requiresGrad();
  }

  /** Marks a leaf tensor as a parameter whose gradient autograd accumulates. */
  setRequiresGrad(on = true): this {
    this.#handle.setRequiresGrad(on);
    return this;
  }

  /** The accumulated gradient, or null before the first backward pass. */
  get grad(): Tensor | null {
    const g = this.#handle.grad();
    return g ? new Tensor(g) : null;
  }

  backward(): void {
    this.#handle.backward();
  }

  detach(): Tensor {
    return new Tensor(this.#handle.detach());
  }

  clone(): Tensor {
    return new Tensor(this.#handle.clone());
  }

  // In-place updates (no autograd history), for optimisers and initialisation.
  mul_(factor: number | Tensor): this {
    this.#handle.mul_(typeof factor === 'number' ? factor : factor.handle);
    return this;
  }

  add_(addend: number | Tensor, alpha = 1): this {
    this.#handle.add_(typeof addend === 'number' ? addend : addend.handle, alpha);
    return this;
  }

  copy_(source: Tensor): this {
    this.#handle.copy_(source.handle);
    return this;
  }

  zero_(): this {
    this.#handle.zero_();
    return this;
  }

  fill_(value: number): this {
    this.#handle.fill_(value);
    return this;
  }

  normal_(mean: number, std: number): this {
    this.#handle.normal_(mean, std);
    return this;
  }

  uniform_(low: number, high: number): this {
    this.#handle.uniform_(low, high);
    return this;
  }

  /** Zeroes the accumulated gradient in place, if there is one. */
  zeroGrad(): this {
    this.#handle.zeroGrad();
    return this;
  }
}

/** Anything that may hold tensors: what a scope's function returns is kept alive. */
type Kept = unknown;

function collect(value: Kept, into: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  const items: unknown[] = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...(value as Map<unknown, unknown>).values()]
      : Object.values(value);
  for (const item of items) collect(item, into, seen);
}

/**
 * Runs `fn` in a scope: every tensor it creates is disposed when it returns, except the tensors
 * in its result (which move to the enclosing scope). Asynchronous functions are not supported:
 * a scope must not stay open across an await.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) {
    if (keep.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}

/** Moves tensors out of every open scope: the caller now owns them and must dispose them. */
export function keep<T extends Tensor | readonly Tensor[]>(tensors: T): T {
  const list: readonly Tensor[] = tensors instanceof Tensor ? [tensors] : tensors;
  for (const t of list) for (const scope of scopes) scope.delete(t);
  return tensors;
}

/** Tensors currently tracked by open scopes (for tests and leak checks). */
export function trackedTensorCount(): number {
  return scopes.reduce((n, s) => n + s.size, 0);
}

function checkShape(shape: readonly number[]): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) {
      throw new RangeError(`a tensor shape needs non-negative integers, got [${shape.join(', ')}]`);
    }
  }
}

/** A tensor from host data (float32 unless the array says otherwise). */
export function tensor(
  data: HostArray | readonly number[],
  shape?: readonly number[],
  device = 'cpu',
): Tensor {
  const array = ArrayBuffer.isView(data) ? data : Float32Array.from(data);
  const dims = shape ?? [array.length];
  checkShape(dims);
  return new Tensor(native().fromTypedArray(array, dims, checkDevice(device)));
}

export function full(
  shape: readonly number[],
  value: number,
  dtype: DType = 'float32',
  device = 'cpu',
): Tensor {
  checkShape(shape);
  return new Tensor(native().full(shape, value, dtype, checkDevice(device)));
}

export const zeros = (shape: readonly number[], dtype: DType = 'float32', device = 'cpu'): Tensor =>
  full(shape, 0, dtype, device);

export const ones = (shape: readonly number[], dtype: DType = 'float32', device = 'cpu'): Tensor =>
  full(shape, 1, dtype, device);
