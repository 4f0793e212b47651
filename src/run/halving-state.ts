import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { compareMemberKeys, isMemberKey, memberKey, type MemberKey } from '../family/members.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { HALVING_FILE } from './files.js';
import { resultLineProblem, unitKey, type ResultRecord } from './results.js';

/** One rung's decision: every architecture's standing there, and those that went on. */
export interface RungDecision {
  rung: number;
  /** By memberKey: the id, qualified for a linear member ('linear:3'). */
  standings: { id: MemberKey; bestVals: number[] }[];
  promoted: MemberKey[];
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
  promoted?: MemberKey[][];
}

/** What a halving state is checked against: the study's rungs and rule, its units and results. */
export interface HalvingCheck {
  rungs: readonly number[];
  eta: number;
  ids: readonly MemberKey[];
  seeds: readonly number[];
  /** The runs already in results.jsonl. */
  records: readonly ResultRecord[];
  /** The rule that picks who goes on from a rung's standings (src/sweep/halving.ts). */
  promote: (
    standings: readonly { id: MemberKey; bestVals: number[] }[],
    eta: number,
  ) => MemberKey[];
}

const sameIds = (a: readonly MemberKey[], b: readonly MemberKey[]): boolean =>
  a.length === b.length &&
  [...a].sort(compareMemberKeys).every((x, i) => x === [...b].sort(compareMemberKeys)[i]);

/**
 * Why a parsed halving.json cannot be this run's state, or undefined when it can: its rungs and
 * eta are the study's; each decision is at its rung, ranks architectures that were still in the
 * race with accuracies, and promotes exactly those the rule promotes from its standings; every
 * paused run is a valid result of the study paused at a rung it was sent to; every result stopped
 * at a rung was stopped by a decision there; ASHA's promotions name architectures of the rung
 * before. A state that fails is never resumed from: it would train or record a different study.
 */
export function halvingStateProblem(raw: unknown, check: HalvingCheck): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'not a JSON object';
  const s = raw as Partial<Record<keyof HalvingState, unknown>>;
  if (JSON.stringify(s.rungs) !== JSON.stringify(check.rungs) || s.eta !== check.eta)
    return `its rungs ${JSON.stringify(s.rungs)} and eta ${JSON.stringify(s.eta)} are not this study's (${check.rungs.join(', ')}; ${check.eta})`;
  if (!Array.isArray(s.decisions)) return 'decisions is not a list';
  if (s.decisions.length > check.rungs.length - 1)
    return `${s.decisions.length} decisions for ${check.rungs.length - 1} rungs before the last`;
  const isId = isMemberKey;
  // entrants[k]: the architectures that race to rung k.
  const entrants: MemberKey[][] = [[...check.ids]];
  for (const [k, d] of (s.decisions as unknown[]).entries()) {
    const where = `decision ${k + 1}`;
    if (d === null || typeof d !== 'object') return `${where} is not an object`;
    const { rung, standings, promoted } = d as Partial<RungDecision>;
    if (rung !== check.rungs[k])
      return `${where} is at rung ${JSON.stringify(rung)}, not ${check.rungs[k]}`;
    if (!Array.isArray(standings) || !Array.isArray(promoted) || !promoted.every(isId))
      return `${where} needs standings and a list of promoted ids`;
    for (const st of standings as unknown[]) {
      const { id, bestVals } = (st ?? {}) as Partial<{ id: unknown; bestVals: unknown }>;
      if (!isId(id) || !(entrants[k] as MemberKey[]).includes(id))
        return `${where} ranks ${JSON.stringify(id)}, not an architecture in the race to rung ${rung}`;
      if (
        !Array.isArray(bestVals) ||
        bestVals.length === 0 ||
        bestVals.length > check.seeds.length ||
        !bestVals.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100)
      )
        return `${where}: id ${id} has no accuracies between 0 and 100, one per seed`;
    }
    const ranked = standings as { id: MemberKey; bestVals: number[] }[];
    if (new Set(ranked.map((x) => x.id)).size !== ranked.length)
      return `${where} ranks an id twice`;
    const rule = check.promote(ranked, check.eta);
    if (!sameIds(rule, promoted))
      return `${where} promotes ${JSON.stringify(promoted)}, but its standings promote ${JSON.stringify(rule)}`;
    entrants.push(rule);
  }
  const decisions = s.decisions as RungDecision[];
  const queued = s.promoted !== undefined;
  if (queued) {
    // On a queue (ASHA) promoted[k] lists the architectures sent on to rung k (k >= 1).
    if (!Array.isArray(s.promoted) || s.promoted.length !== check.rungs.length)
      return `promoted must hold one list per rung (${check.rungs.length})`;
    const lists = s.promoted as unknown[];
    for (const [k, list] of lists.entries()) {
      const before = k <= 1 ? check.ids : (lists[k - 1] as MemberKey[]);
      if (!Array.isArray(list) || !list.every((x) => isId(x) && before.includes(x)))
        return `promoted[${k}] must list ids sent on from the rung before`;
      if (k >= 1) entrants[k] = list as MemberKey[];
    }
  }
  const paused = s.paused;
  if (paused === null || typeof paused !== 'object' || Array.isArray(paused))
    return 'paused is not an object';
  for (const [key, value] of Object.entries(paused as Record<string, unknown>)) {
    const problem = resultLineProblem(value, { ids: check.ids, seeds: check.seeds });
    if (problem !== undefined) return `paused run ${key}: ${problem}`;
    const r = value as ResultRecord;
    const id = memberKey(r);
    if (key !== unitKey(r, r.seed)) return `paused run ${key} holds id ${id}, seed ${r.seed}`;
    // Paused at the end of rung j: it must have been sent to rung j, and no later decision ranks it.
    const j = check.rungs.indexOf(r.valAcc.length);
    if (j < 0 || j >= check.rungs.length - 1 || (!queued && j > decisions.length))
      return `paused run ${key} stands at epoch ${r.valAcc.length}, no rung reached yet`;
    if (!(entrants[j] ?? []).includes(id))
      return `paused run ${key} was not sent to the rung of epoch ${check.rungs[j]}`;
    if (decisions.slice(j + 1).some((d) => d.standings.some((x) => x.id === id)))
      return `paused run ${key} stands at epoch ${r.valAcc.length}, yet a later rung ranked it`;
  }
  for (const r of check.records) {
    if (r.stoppedAtRung === null || r.stoppedAtRung === undefined) continue;
    const k = check.rungs.indexOf(r.stoppedAtRung);
    const d = decisions[k];
    // On a queue (ASHA) a stop is recorded once nothing can promote the run any more.
    const id = memberKey(r);
    if (!queued && (!d || d.promoted.includes(id) || !d.standings.some((x) => x.id === id)))
      return `results.jsonl records id ${id}, seed ${r.seed} as stopped at the rung of epoch ${r.stoppedAtRung}, which no decision here did`;
    if (r.valAcc.length > r.stoppedAtRung)
      return `results.jsonl records id ${id}, seed ${r.seed} as stopped at epoch ${r.stoppedAtRung} after ${r.valAcc.length} epochs`;
  }
  return undefined;
}

/**
 * The halving state of a run folder (a fresh one where there is none), checked against the study
 * and its results before anything is trained or written (see halvingStateProblem).
 */
export function readHalvingState(dir: string, check: HalvingCheck): HalvingState {
  const path = join(dir, HALVING_FILE);
  if (!existsSync(path))
    return { rungs: [...check.rungs], eta: check.eta, decisions: [], paused: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    raw = undefined;
  }
  const problem = raw === undefined ? 'not JSON' : halvingStateProblem(raw, check);
  if (problem !== undefined) {
    throw new UsageError(
      `${path}: ${problem}: the file was edited or damaged; restore it, or start a new run`,
      'resume',
    );
  }
  return raw as HalvingState;
}

/** Forgets a paused run that has ended (its line is in results.jsonl). */
export function unpause(state: HalvingState, key: string): void {
  state.paused = Object.fromEntries(Object.entries(state.paused).filter(([k]) => k !== key));
}

export async function writeHalvingState(dir: string, state: HalvingState): Promise<void> {
  await writeFileAtomic(join(dir, HALVING_FILE), `${JSON.stringify(state)}\n`);
}
