import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemberName } from '../family/skew-normal.js';
import { LIVE_FILE } from './files.js';

/** A run in training now, as live.json holds it (src/sweep/live-status.ts writes it). */
export interface LiveUnit extends MemberName {
  id: number;
  seed: number;
  widths: number[];
  /** The epoch this piece of training ends at (a rung under successive halving). */
  untilEpoch: number;
  /** Epochs complete (0-based index of the one in training). */
  epoch: number;
  batch: number;
  batches: number | null;
  loss: number | null;
  /** The epochs finished while this sweep followed the run (1-based), and their accuracies. */
  epochs: number[];
  valAcc: number[];
  trainAcc: number[];
  /** Where it trains, when not in the sweep's own process (a queue's worker). */
  where: string | null;
  started: string;
}

export interface LiveStatus {
  /** When the sweep last wrote the file (ISO time). */
  updated: string;
  units: LiveUnit[];
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);
const orNull = (v: unknown): boolean => v === null || isNumber(v);

function isLiveUnit(u: unknown): u is LiveUnit {
  if (typeof u !== 'object' || u === null) return false;
  const r = u as Record<string, unknown>;
  return (
    [r.id, r.seed, r.untilEpoch, r.epoch, r.batch].every(isNumber) &&
    [r.xi, r.omega, r.alpha, r.batches, r.loss].every(orNull) &&
    [r.widths, r.epochs, r.valAcc, r.trainAcc].every(numbers) &&
    (r.where === null || typeof r.where === 'string') &&
    typeof r.started === 'string'
  );
}

/**
 * The runs in training in a run folder (none when no sweep writes it now). A file that does not
 * parse is named in `warning` and read as none: it only ever shows progress.
 */
export function readLiveStatus(dir: string): { status: LiveStatus | null; warning?: string } {
  const path = join(dir, LIVE_FILE);
  if (!existsSync(path)) return { status: null };
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    if (
      typeof raw.updated !== 'string' ||
      !Array.isArray(raw.units) ||
      !raw.units.every(isLiveUnit)
    )
      throw new Error('not the shape featshift writes');
    return { status: { updated: raw.updated, units: raw.units } };
  } catch (error) {
    return {
      status: null,
      warning: `${path}: the runs in training cannot be shown (${(error as Error).message})`,
    };
  }
}
