import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { native, type HostMemory, type NativeBuildInfo } from './native.js';

/**
 * Process-wide engine settings. The intra-op thread count starts at every core (or
 * FEATSHIFT_THREADS) when the addon loads; Debian's libtorch alone would use one.
 */
export function setThreads(count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`the thread count must be a positive integer, got ${String(count)}`);
  }
  native().setNumThreads(count);
}

export function threads(): number {
  return native().getNumThreads();
}

/** Seeds libtorch's generators (initialisation, dropout). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`a seed must be a non-negative integer, got ${seed}`);
  native().manualSeed(seed);
}

/**
 * Runs `fn` in bf16 mixed precision on a device when `on` (as torch.autocast(device,
 * dtype=torch.bfloat16)): convolutions and linear layers in bf16, batch norm, the loss and the
 * optimiser on the fp32 master weights. Leaving clears the bf16 weight copies.
 */
export function withAutocast<T>(on: boolean, device: string, fn: () => T): T {
  if (!on) return fn();
  const n = native();
  const kind = device.startsWith('cuda') ? 'cuda' : 'cpu';
  n.setAutocast(true, kind);
  try {
    return fn();
  } finally {
    n.setAutocast(false, kind);
  }
}

/**
 * The compute capability of a CUDA device as the driver reports it (nvidia-smi), or undefined
 * where it cannot tell (no nvidia-smi, or one too old to know the field). `cuda:N` counts the
 * devices CUDA_VISIBLE_DEVICES leaves visible, as CUDA does; nvidia-smi counts them all.
 */
export function cudaComputeCapability(
  device: string,
): { major: number; minor: number } | undefined {
  const index = Number(device.split(':')[1] ?? 0);
  const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',').map((d) => d.trim());
  const physical = visible && visible[0] !== '' ? visible[index] : String(index);
  if (physical === undefined) return undefined;
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=compute_cap', '--format=csv,noheader,nounits', '-i', physical],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 },
    );
    const m = /^\s*(\d+)\.(\d+)\s*$/.exec(out);
    return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why bf16 cannot train on a device, or null when it can: a CPU needs AVX-512 BF16 or AMX (else
 * oneDNN emulates bf16, slower than fp32); a CUDA GPU compute capability 8 or above (Ampere on;
 * before it bf16 has no tensor cores). Where the driver cannot say, a GPU is taken as able.
 */
export function bf16Unsupported(device: string): string | null {
  if (device.startsWith('cuda')) {
    const cc = cudaComputeCapability(device);
    return cc && cc.major < 8
      ? `${device} has compute capability ${cc.major}.${cc.minor}, below 8.0, so bf16 would run without tensor cores`
      : null;
  }
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return 'the CPU flags cannot be read (/proc/cpuinfo)';
  }
  return /\b(avx512_bf16|amx_bf16)\b/.test(flags)
    ? null
    : 'this CPU has neither AVX-512 BF16 nor AMX, so bf16 would only be emulated';
}

/** Runs `fn` with autograd off (evaluation), restoring the previous mode after. */
export function noGrad<T>(fn: () => T): T {
  const n = native();
  const before = n.isGradEnabled();
  n.setGradEnabled(false);
  try {
    return fn();
  } finally {
    n.setGradEnabled(before);
  }
}

let cachedInfo: NativeBuildInfo | undefined;

/** What this libtorch is and can do (asked once: its config text is slow to produce). */
export function buildInfo(): NativeBuildInfo {
  return (cachedInfo ??= native().buildInfo());
}

/** Native tensors not yet disposed or collected: flat across training steps when nothing leaks. */
export function liveTensorCount(): number {
  return native().liveTensors();
}

/** The devices this libtorch can use: 'cpu', then 'cuda:0', 'cuda:1', ... */
export function devices(): string[] {
  const info = buildInfo();
  const list = ['cpu'];
  if (info.cudaAvailable) for (let i = 0; i < info.cudaDeviceCount; i++) list.push(`cuda:${i}`);
  return list;
}

/**
 * Checks a device name before anything is allocated on it, with a message that says what this
 * libtorch offers instead of libtorch's dispatcher dump.
 */
export function checkDevice(device: string): string {
  const match = /^(cpu|cuda)(?::(\d+))?$/.exec(device);
  if (!match) throw new RangeError(`unknown device '${device}': use cpu or cuda:N`);
  if (match[1] === 'cpu') return 'cpu';
  const info = buildInfo();
  if (!info.builtWithCuda && !info.cudaAvailable) {
    throw new RangeError(
      `device ${device} asked for, but this libtorch (${info.version}) has no CUDA: rebuild the addon with LIBTORCH pointing at a CUDA libtorch`,
    );
  }
  const index = Number(match[2] ?? 0);
  if (!info.cudaAvailable || index >= info.cudaDeviceCount) {
    throw new RangeError(
      `device ${device} is not available: this machine has ${info.cudaDeviceCount} CUDA device(s)`,
    );
  }
  return `cuda:${index}`;
}

/**
 * Hands the memory freed tensors left behind back to the system, when more than `thresholdBytes`
 * is held: the CPU block cache's blocks (kept for the next step's tensors of the same size) and
 * glibc's free chunks. The trainer calls it once an epoch, after evaluation; after every step it
 * cost up to a third of the step time (each step then page-faults its memory in again), for 10 to
 * 30 % less peak memory. Returns the bytes that were held.
 */
export function releaseHostMemory(thresholdBytes = 128 * 2 ** 20): number {
  return native().releaseHostMemory(thresholdBytes);
}

/** What the CPU block cache and the C heap hold now (see {@link HostMemory}). */
export function hostMemory(): HostMemory {
  return native().hostMemory();
}
