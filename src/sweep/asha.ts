import { compareMemberKeys, type MemberKey } from '../family/members.js';
import { unitKey, type ResultRecord } from '../run/results.js';

/**
 * Asynchronous successive halving (ASHA) for the queue: instead of waiting for every
 * architecture to reach a rung, an architecture goes on as soon as it is among the best 1/eta of
 * those that have reached the rung so far, so that no worker waits for the slowest member of a
 * rung. The rule per rung is the synchronous one (src/sweep/halving.ts): mean best validation
 * accuracy over seeds, ties to the smaller id, the baseline always on; but taken on the results
 * in so far, so an architecture promoted early stays promoted even if later ones overtake it, and
 * a rung may send on more than the synchronous floor(n / eta). When nothing is left to run and a
 * rung has promoted no one, its best goes on anyway (at least one reaches the end).
 */

export interface AshaInput {
  rungs: readonly number[];
  eta: number;
  seeds: readonly number[];
  /** Architectures that start at the first rung. */
  ids: readonly MemberKey[];
  /** promoted[k]: the architectures sent on to rung k (k >= 1). */
  promoted: readonly (readonly MemberKey[])[];
  /** The runs paused at a rung, and the ended ones (results.jsonl), by unitKey. */
  paused: Readonly<Record<string, ResultRecord>>;
  ended: ReadonlyMap<string, ResultRecord>;
}

/** The architectures at rung k: all for the first, else those promoted to it. */
const entrants = (input: AshaInput, k: number): readonly MemberKey[] =>
  k === 0 ? input.ids : (input.promoted[k] ?? []);

/**
 * Each architecture's standing at rung k, for those whose every seed has trained to it and none
 * of which ended by the recipe (abandoned or diverged): the mean of the seeds' best validation
 * accuracy up to the rung.
 */
function standings(input: AshaInput, k: number): { id: MemberKey; mean: number }[] {
  const rung = input.rungs[k] as number;
  const out: { id: MemberKey; mean: number }[] = [];
  for (const id of entrants(input, k)) {
    const bests: number[] = [];
    for (const seed of input.seeds) {
      const key = unitKey(id, seed);
      const run = input.paused[key] ?? input.ended.get(key);
      if (!run || run.valAcc.length < rung || run.abandoned || run.diverged) break;
      bests.push(Math.max(...run.valAcc.slice(0, rung)));
    }
    if (bests.length === input.seeds.length)
      out.push({ id, mean: bests.reduce((a, b) => a + b, 0) / bests.length });
  }
  return out;
}

/**
 * The promotions the results in so far allow: [rung index it goes to, id] pairs not taken yet.
 * `idle` (nothing queued or running) lets a rung that has promoted no one send on its best.
 */
export function ashaPromotions(input: AshaInput, idle: boolean): [number, MemberKey][] {
  const out: [number, MemberKey][] = [];
  for (let k = 0; k < input.rungs.length - 1; k++) {
    const already = new Set(input.promoted[k + 1] ?? []);
    const ranked = standings(input, k).sort(
      (a, b) => b.mean - a.mean || compareMemberKeys(a.id, b.id),
    );
    const members = ranked.filter((s) => s.id !== 0);
    let keep = Math.floor(members.length / input.eta);
    if (idle && keep === 0 && members.length > 0 && ![...already].some((id) => id !== 0)) keep = 1;
    const chosen = members.slice(0, keep).map((s) => s.id);
    if (ranked.some((s) => s.id === 0)) chosen.push(0);
    for (const id of chosen) if (!already.has(id)) out.push([k + 1, id]);
  }
  return out;
}
