import { memberKey, type MemberKey } from '../family/members.js';
import type { Architecture } from '../family/skew-normal.js';
import { unpause, type HalvingState, type RungDecision } from '../run/halving-state.js';
import { unitKey, type ResultRecord } from '../run/results.js';
import { runUnits, type RunUnit } from '../run/units.js';
import { ashaPromotions } from './asha.js';
import { promote } from './halving.js';

/**
 * Which runs of a study train, to which epoch, and what their results decide: the state machine
 * of a study, whatever trains its units (docs/method.md §7). Without halving every unit trains to
 * the end once. With successive halving, units train to a rung and pause there; who goes on is
 * decided by the synchronous rule (every entrant of a rung first reaches it: the local runner) or
 * asynchronously (ASHA: as soon as the results in so far allow, so that no worker of a queue waits
 * for the slowest member of a rung). The state is saved after every paused run and every decision,
 * so a stop or a crash resumes where it was.
 */

/** One piece of work for an executor: a unit trained to rung k (the last: to its end). */
export interface Work {
  unit: RunUnit;
  k: number;
  /** The epoch to pause at (a rung); undefined: train to the end. */
  untilEpoch: number | undefined;
}

/** What a race does outside itself: record, save, and say what it decided. */
export interface RaceIo {
  /** A run ended (trained to its end, by the recipe, or stopped at a rung): its results line. */
  finish(record: ResultRecord): Promise<void>;
  saveState(state: HalvingState): Promise<void>;
  /** The synchronous rule decided at a rung. */
  rung(decision: RungDecision): void;
  /** ASHA sent an architecture on to the rung at `epoch`. */
  promoted(id: MemberKey, epoch: number): void;
  /** A run paused at a rung, waiting for a decision. */
  paused(record: ResultRecord): void;
}

export interface RaceOptions {
  architectures: readonly Architecture[];
  seeds: readonly number[];
  /** The epochs runs pause at, the last being the study's end (without halving: only it). */
  rungs: readonly number[];
  eta: number;
  /** halving.json as read and checked before anything was written; none without halving. */
  state: HalvingState | undefined;
  /** ASHA instead of the synchronous rule. */
  asynchronous: boolean;
  /** The runs already in results.jsonl. */
  records: readonly ResultRecord[];
  /** The order in which the units of one batch of work start (longest first, where several run). */
  order: (units: RunUnit[]) => RunUnit[];
  io: RaceIo;
}

export class StudyRace {
  private readonly o: RaceOptions;
  private readonly byKey: Map<MemberKey, Architecture>;
  private readonly ended: Map<string, ResultRecord>;
  private ready: Work[] = [];
  /** The synchronous rule: the rung being raced to, and its entrants. */
  private k = 0;
  private active: MemberKey[];

  constructor(options: RaceOptions) {
    this.o = options;
    this.byKey = new Map(options.architectures.map((a) => [memberKey(a), a]));
    this.ended = new Map(options.records.map((r) => [unitKey(r, r.seed), r]));
    this.active = options.architectures.map(memberKey);
  }

  private get state(): HalvingState | undefined {
    return this.o.state;
  }

  private get last(): number {
    return this.o.rungs.length - 1;
  }

  /** The work rung k still owes its entrants: seeds not ended and not yet paused there. */
  private owed(k: number, ids: readonly MemberKey[]): Work[] {
    const rung = this.o.rungs[k] as number;
    const units = runUnits(
      ids.map((id) => this.byKey.get(id)).filter((a) => a !== undefined),
      this.o.seeds,
    ).filter((u) => {
      const key = unitKey(u.arch, u.seed);
      return !this.ended.has(key) && (this.state?.paused[key]?.valAcc.length ?? 0) < rung;
    });
    return this.o.order(units).map((unit) => ({
      unit,
      k,
      untilEpoch: k === this.last ? undefined : rung,
    }));
  }

  /** Takes up the race where the state says it stands: the first work to hand out. */
  async start(): Promise<void> {
    const ids = this.o.architectures.map(memberKey);
    const state = this.state;
    if (!state) this.ready = this.owed(0, ids);
    else if (this.o.asynchronous) {
      const promoted = (state.promoted ??= this.o.rungs.map(() => []));
      const rungs = promoted.map((entrants, k) => (k === 0 ? ids : entrants));
      this.ready = rungs.flatMap((entrants, k) => this.owed(k, entrants));
      await this.promoteAsync(false);
    } else {
      // Decisions already taken (a resumed sweep): finish recording their stopped runs.
      for (const decision of state.decisions) {
        await this.recordStopped(decision);
        this.active = decision.promoted;
      }
      this.k = state.decisions.length;
      this.ready = this.owed(this.k, this.active);
    }
  }

  /** The work that may start now, each piece handed out once. */
  take(): Work[] {
    const out = this.ready;
    this.ready = [];
    return out;
  }

  /** A unit came back trained: paused at its rung, or ended. */
  async trained(work: Work, record: ResultRecord, paused: boolean): Promise<void> {
    const key = unitKey(work.unit.arch, work.unit.seed);
    const state = this.state;
    if (state && paused) {
      state.paused[key] = record;
      await this.o.io.saveState(state);
      this.o.io.paused(record);
    } else if (!this.ended.has(key)) {
      // The end, or the recipe's own stop (abandoned, diverged): recorded as trained.
      this.ended.set(key, record);
      await this.o.io.finish(record);
      if (state) {
        unpause(state, key);
        await this.o.io.saveState(state);
      }
    }
    if (state && this.o.asynchronous) await this.promoteAsync(false);
  }

  /**
   * Nothing is training and nothing is waiting: decide what comes next. True when there is new
   * work; false when the race is over.
   */
  async idle(): Promise<boolean> {
    const state = this.state;
    if (!state) return false;
    while (this.ready.length === 0) {
      if (this.o.asynchronous) {
        if ((await this.promoteAsync(true)) > 0) continue;
        await this.endAsync(state);
        return false;
      }
      if (this.k >= this.last) return false;
      await this.decide(state);
    }
    return true;
  }

  /** The synchronous rule at the rung every entrant has reached: who goes on, who stops there. */
  private async decide(state: HalvingState): Promise<void> {
    const rung = this.o.rungs[this.k] as number;
    const standings = this.active
      .map((id) => ({
        id,
        bestVals: this.o.seeds
          .map((seed) => state.paused[unitKey(id, seed)]?.bestVal)
          .filter((v): v is number => v !== undefined),
      }))
      .filter((s) => s.bestVals.length > 0);
    const decision: RungDecision = { rung, standings, promoted: promote(standings, this.o.eta) };
    state.decisions.push(decision);
    await this.o.io.saveState(state);
    this.o.io.rung(decision);
    await this.recordStopped(decision);
    this.active = decision.promoted;
    this.k++;
    this.ready = this.owed(this.k, this.active);
  }

  /** Records the paused runs of the architectures a decision stopped, at that rung. */
  private async recordStopped(decision: RungDecision): Promise<void> {
    const state = this.state as HalvingState;
    for (const id of this.active) {
      if (decision.promoted.includes(id)) continue;
      for (const seed of this.o.seeds) {
        const key = unitKey(id, seed);
        const paused = state.paused[key];
        if (!paused || this.ended.has(key)) continue;
        await this.endPaused(state, key, { ...paused, stoppedAtRung: decision.rung });
      }
    }
  }

  private async endPaused(state: HalvingState, key: string, record: ResultRecord): Promise<void> {
    this.ended.set(key, record);
    await this.o.io.finish(record);
    unpause(state, key);
    await this.o.io.saveState(state);
  }

  /** ASHA: sends on whoever the results so far allow; the number sent on. */
  private async promoteAsync(idle: boolean): Promise<number> {
    const state = this.state as HalvingState;
    const promoted = state.promoted as MemberKey[][];
    const next = ashaPromotions(
      {
        rungs: this.o.rungs,
        eta: this.o.eta,
        seeds: this.o.seeds,
        ids: this.o.architectures.map(memberKey),
        promoted,
        paused: state.paused,
        ended: this.ended,
      },
      idle,
    );
    for (const [k, id] of next) {
      (promoted[k] as MemberKey[]).push(id);
      await this.o.io.saveState(state);
      this.o.io.promoted(id, this.o.rungs[k] as number);
      this.ready.push(...this.owed(k, [id]));
    }
    return next.length;
  }

  /** ASHA with nothing left to run and no one to send on: every paused run stops where it is. */
  private async endAsync(state: HalvingState): Promise<void> {
    for (const [key, paused] of Object.entries(state.paused)) {
      if (this.ended.has(key)) continue;
      await this.endPaused(state, key, { ...paused, stoppedAtRung: paused.valAcc.length });
    }
  }
}
