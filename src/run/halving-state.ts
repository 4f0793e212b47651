import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { HALVING_FILE } from './files.js';
import type { ResultRecord } from './results.js';

/** One rung's decision: every architecture's standing there, and those that went on. */
export interface RungDecision {
  rung: number;
  standings: { id: number; bestVals: number[] }[];
  promoted: number[];
}

/**
 * What a halving sweep keeps between rungs (halving.json, written atomically): the decisions
 * taken, and each run paused at a rung with its numbers so far (its checkpoint holds the rest),
 * keyed by unitKey. A resumed sweep takes up exactly where this says it stands.
 */
export interface HalvingState {
  rungs: number[];
  eta: number;
  decisions: RungDecision[];
  paused: Record<string, ResultRecord>;
  /** On a queue (ASHA): promoted[k], the architectures sent on to rung k. */
  promoted?: number[][];
}

export function readHalvingState(dir: string, rungs: number[], eta: number): HalvingState {
  const path = join(dir, HALVING_FILE);
  if (!existsSync(path)) return { rungs, eta, decisions: [], paused: {} };
  let state: Partial<HalvingState>;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as Partial<HalvingState>;
  } catch {
    state = {};
  }
  if (
    !Array.isArray(state.decisions) ||
    typeof state.paused !== 'object' ||
    JSON.stringify(state.rungs) !== JSON.stringify(rungs) ||
    state.eta !== eta
  ) {
    throw new UsageError(
      `${path} is not this run's halving state (edited or damaged): restore it, or start a new run`,
      'resume',
    );
  }
  return state as HalvingState;
}

/** Forgets a paused run that has ended (its line is in results.jsonl). */
export function unpause(state: HalvingState, key: string): void {
  state.paused = Object.fromEntries(Object.entries(state.paused).filter(([k]) => k !== key));
}

export async function writeHalvingState(dir: string, state: HalvingState): Promise<void> {
  await writeFileAtomic(join(dir, HALVING_FILE), `${JSON.stringify(state)}\n`);
}
