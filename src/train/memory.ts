import { readFileSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { OutOfMemoryError } from '../engine/errors.js';
import { releaseHostMemory } from '../engine/runtime.js';
import { UsageError } from '../errors.js';
import type { VggPlan } from '../models/vgg-plan.js';

const GiB = 1024 ** 3;

/** Divisors of n, largest first: the micro-batch sizes the reference allows. */
export function divisorsDescending(n: number): number[] {
  const out: number[] = [];
  for (let d = n; d >= 1; d--) if (n % d === 0) out.push(d);
  return out;
}

/**
 * The default CPU budget: 90 % of the memory the system reports as available. It only decides
 * whether a study's micro-batch fits (else the run is refused, or split with --allow-split), never
 * which micro-batch a run uses, so that the same study gives the same numbers on any host.
 */
export function defaultMemoryLimit(): number {
  return Math.floor(0.9 * freemem());
}

/** A micro-batch that does not fit the memory budget, and no permission to split further. */
export class MemoryBudgetError extends UsageError {
  constructor(message: string) {
    super(message, 'memory-limit');
    this.name = 'MemoryBudgetError';
  }
}

const gib = (bytes: number): string => `${(bytes / GiB).toFixed(2)} GiB`;

function statusKiB(field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync('/proc/self/status', 'utf8'),
    );
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident memory that `fn` adds to the process, measured by the kernel: the high-water mark
 * is reset first (writing 5 to /proc/self/clear_refs), then read after. Undefined where Linux's
 * /proc is not available.
 */
export function measurePeakBytes(fn: () => void): number | undefined {
  releaseHostMemory(0);
  const before = statusKiB('VmRSS');
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    fn();
    return undefined;
  }
  fn();
  const peak = statusKiB('VmHWM');
  if (before === undefined || peak === undefined) return undefined;
  return Math.max(0, peak - before) * 1024;
}

/**
 * The reference's memory estimate for a VGG (its `gpu_usage`, in bits over 8 GiB: inputs,
 * 32-bit weights and every layer's output) and the requirement it compared with free memory:
 * 4 x estimate + 1 GiB. Shown beside featshift's measurement.
 */
export function referenceMemoryEstimate(
  plan: VggPlan,
  batch: number,
): { estimateBytes: number; requiredBytes: number } {
  let bits = 32 * batch * plan.colors * plan.patchSize * plan.patchSize;
  let size = plan.patchSize;
  const blocks = new Map<number, typeof plan.convs>();
  for (const c of plan.convs) blocks.set(c.block, [...(blocks.get(c.block) ?? []), c]);
  for (const convs of blocks.values()) {
    for (const c of convs)
      bits += 32 * 9 * c.inChannels * c.outChannels + 32 * size * size * c.outChannels * batch;
    size = Math.floor(size / 2);
    bits += 32 * size * size * (convs[convs.length - 1]?.outChannels ?? 0) * batch;
  }
  const [fc1, fc2, fc3] = plan.linears;
  if (fc1 && fc2 && fc3) {
    bits +=
      32 * (fc1.inFeatures * fc1.outFeatures + fc2.inFeatures * fc2.outFeatures) +
      32 * fc3.inFeatures * fc3.outFeatures;
    bits += 32 * batch * (fc1.outFeatures * 2 + fc3.outFeatures);
  }
  const estimateBytes = (bits / (8 * GiB)) * GiB;
  return { estimateBytes, requiredBytes: 4 * estimateBytes + GiB };
}

export interface MicroBatchChoice {
  microBatch: number;
  /** True when the study's micro-batch did not fit and a smaller one was taken. */
  split: boolean;
  /** Measured peak bytes of one forward and backward pass at that size. */
  measuredBytes: number | undefined;
  budgetBytes: number;
  reference: { estimateBytes: number; requiredBytes: number };
}

type Probe = (microBatch: number) => number | undefined;

/** A probe's measurement, or 'oom' when the pass ran out of memory. */
function measure(probe: Probe, m: number): number | undefined | 'oom' {
  try {
    return probe(m);
  } catch (error) {
    if (error instanceof OutOfMemoryError) return 'oom';
    throw error;
  }
}

/**
 * The largest divisor of the batch size, up to `largest`, whose measured forward and backward
 * pass fits the budget. `probe(m)` runs one real pass at micro-batch m and returns its peak bytes
 * (undefined when it cannot be measured, which then trusts the size), or throws an out-of-memory
 * error. Two small probes predict the rest linearly; the chosen size is then measured itself,
 * stepping down while it does not fit.
 */
export function chooseMicroBatch(
  batchSize: number,
  budgetBytes: number,
  probe: Probe,
  plan: VggPlan,
  largest = batchSize,
): MicroBatchChoice {
  const reference = referenceMemoryEstimate(plan, batchSize);
  const split = largest < batchSize;
  const candidates = divisorsDescending(batchSize).filter((d) => d <= largest);
  const small = candidates[candidates.length - 1] as number;
  const second = candidates.length > 1 ? (candidates[candidates.length - 2] as number) : small;
  const a = measure(probe, small);
  if (a === 'oom' || (a !== undefined && a > budgetBytes)) {
    throw new MemoryBudgetError(
      `not even a micro-batch of ${small} fits the memory budget (${gib(budgetBytes)}; measured ${a === 'oom' ? 'out of memory' : gib(a)}): raise --memory-limit or use a smaller model`,
    );
  }
  if (a === undefined) {
    // Not measurable (a GPU, where a pass either fits or runs out of memory): the largest size
    // whose pass runs.
    const fits = candidates.find((m) => m === small || measure(probe, m) !== 'oom') ?? small;
    return { microBatch: fits, split, measuredBytes: undefined, budgetBytes, reference };
  }
  const b = second === small ? a : measure(probe, second);
  const slope =
    b === 'oom' || b === undefined || second === small
      ? a / small
      : Math.max(0, (b - a) / (second - small));
  const intercept = b === 'oom' || b === undefined || second === small ? 0 : a - slope * small;
  for (const m of candidates) {
    if (m !== small && intercept + slope * m > budgetBytes * 1.05) continue;
    const measured =
      m === small ? a : m === second && typeof b === 'number' ? b : measure(probe, m);
    if (measured === 'oom' || (measured !== undefined && measured > budgetBytes)) continue;
    return { microBatch: m, split, measuredBytes: measured, budgetBytes, reference };
  }
  return { microBatch: small, split, measuredBytes: a, budgetBytes, reference };
}

/** What a study asks of the micro-batch, and what this host allows. */
export interface MicroBatchPolicy {
  /** The study's micro-batch: a divisor of the batch size (the batch size itself by default). */
  requested: number;
  /**
   * When the requested size does not fit: split further (recorded as `split`) instead of
   * refusing. Always on for a GPU, where the reference splits too.
   */
  allowSplit: boolean;
  budgetBytes: number;
}

/**
 * The micro-batch an architecture trains with. The study's own size when its measured pass fits,
 * whatever the host's free memory, so that the same study gives the same numbers everywhere;
 * otherwise a clear refusal, or, where splitting is allowed, the largest smaller divisor that fits.
 * The probe is called only for sizes it must measure.
 */
export function planMicroBatch(
  batchSize: number,
  policy: MicroBatchPolicy,
  probe: Probe,
  plan: VggPlan,
  /**
   * Peak bytes of the requested size measured already (a whole training step, more than a
   * pass takes): trusted where it fits the budget, else the size is measured by `probe`.
   */
  known?: number,
): MicroBatchChoice {
  const { requested, budgetBytes } = policy;
  const measured = known !== undefined && known <= budgetBytes ? known : measure(probe, requested);
  if (measured !== 'oom' && (measured === undefined || measured <= budgetBytes)) {
    return {
      microBatch: requested,
      split: false,
      measuredBytes: measured,
      budgetBytes,
      reference: referenceMemoryEstimate(plan, batchSize),
    };
  }
  const need = measured === 'oom' ? 'runs out of memory' : `needs ${gib(measured)}`;
  if (!policy.allowSplit) {
    throw new MemoryBudgetError(
      `a micro-batch of ${requested} images ${need}, more than the memory budget of ${gib(budgetBytes)}: raise --memory-limit, give a smaller --micro-batch, or --allow-split to split it here (batch-norm statistics, and so the numbers, then depend on this machine's memory)`,
    );
  }
  const smaller = divisorsDescending(batchSize).find((d) => d < requested);
  if (smaller === undefined) {
    throw new MemoryBudgetError(
      `not even a micro-batch of ${requested} fits the memory budget (${gib(budgetBytes)}; it ${need}): raise --memory-limit or use a smaller model`,
    );
  }
  return chooseMicroBatch(batchSize, budgetBytes, probe, plan, smaller);
}
