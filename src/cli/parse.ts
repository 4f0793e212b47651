import { InvalidArgumentError } from 'commander';
import type { GridRange } from '../family/skew-normal.js';

/** Option-value parsers: each throws commander's InvalidArgumentError with a one-line reason. */

export function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) {
    throw new InvalidArgumentError(`expected an integer, got '${value}'.`);
  }
  return n;
}

export function positiveInteger(value: string): number {
  const n = integer(value);
  if (n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'.`);
  return n;
}

/** A seed: an integer from 0 to 2^32 - 1, the size of every generator featshift seeds. */
export function seed(value: string): number {
  const n = integer(value);
  if (n < 0 || n > 2 ** 32 - 1)
    throw new InvalidArgumentError(`expected a seed between 0 and ${2 ** 32 - 1}, got '${value}'.`);
  return n;
}

/** A positive count, or 'auto' (chosen by measurement). */
export function countOrAuto(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer or auto, got '${value}'.`);
  }
  return n;
}

export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`expected a number, got '${value}'.`);
  }
  return n;
}

export function positiveNumber(value: string): number {
  const n = finiteNumber(value);
  if (n <= 0) throw new InvalidArgumentError(`expected a positive number, got '${value}'.`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = finiteNumber(value);
  if (n < 0) throw new InvalidArgumentError(`expected 0 or a positive number, got '${value}'.`);
  return n;
}

/** MIN:MAX:STEP, as in `--alpha -40:40:4`; a single number means that value alone. */
export function gridRange(value: string): GridRange {
  const parts = value.split(':');
  const numbers = parts.map((p) => Number(p));
  if (
    (parts.length !== 1 && parts.length !== 3) ||
    parts.some((p) => p.trim() === '') ||
    !numbers.every(Number.isFinite)
  ) {
    throw new InvalidArgumentError(
      `expected MIN:MAX:STEP (such as 0:5.5:0.5) or one number, got '${value}'.`,
    );
  }
  const [min, max, step] = numbers as [number, number?, number?];
  if (max === undefined || step === undefined) return { min, max: min, step: 1 };
  if (step <= 0) throw new InvalidArgumentError(`the STEP of '${value}' must be positive.`);
  if (max < min) throw new InvalidArgumentError(`the grid '${value}' is empty: MAX is below MIN.`);
  return { min, max, step };
}

/** '10,30,70': positive integers. */
export function integerList(value: string): number[] {
  const parts = value.split(',');
  if (!parts.every((p) => /^\s*\d+\s*$/.test(p)) || parts.map(Number).some((n) => n < 1)) {
    throw new InvalidArgumentError(`expected positive integers such as 10,30,70, got '${value}'.`);
  }
  return parts.map(Number);
}

export { InvalidArgumentError as InvalidArgument } from 'commander';

/** '4G', '512M', '2.5GiB' or bytes. */
export function byteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError(`expected a size such as 4G or 512M, got '${value}'.`);
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[(m[2] ?? '').toLowerCase()] ?? 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}
