/**
 * The leader's side of shared-nothing replication as a small state machine without I/O:
 * what it knows of each follower, the in-sync replica set (ISR), the high watermark, and
 * which ISR change to ask the controller for. Time comes in as `nowMs` (monotonic);
 * ReplicatedLog wires it to fetches, timers and the controller.
 *
 * Rules (Kafka's, KIP-497 for the pending state):
 *  - A follower's progress is what its fetches say: a fetch at offset o means it holds
 *    everything below o. It is caught up at a fetch when o reaches the leader's log end at
 *    that moment, or the leader's log end at its previous fetch (it then was caught up at
 *    that previous fetch): `lastCaughtUpMs` is the latest such time.
 *  - The high watermark is the smallest log end over the maximal ISR (the committed ISR
 *    plus members of a pending expansion; members of a pending shrink still count). A
 *    follower whose log end is unknown (it has not fetched since this broker became
 *    leader) holds it where it is. It never moves backwards.
 *  - Shrink: a follower in the ISR that is neither at the leader's log end nor caught up
 *    within `replica.lag.time.max.ms` leaves it.
 *  - Expand: a replica outside the ISR joins once its log end reaches both the high
 *    watermark and the offset at which this leader's epoch started (so that it has
 *    truncated whatever an older leader left behind).
 *  - One change at a time: while a proposal waits for the controller, no other is made;
 *    after a refusal, none before `retryBackoffMs` has passed. The committed ISR changes
 *    only by the controller's word (an answer or a newer metadata version), ordered by the
 *    partition epoch.
 */

/** What the leader knows of one follower. */
export interface FollowerProgress {
  /** The follower's log end as its last fetch said; -1 while unknown. */
  logEndOffset: number;
  /** The last time the follower was known to be caught up (monotonic ms). */
  lastCaughtUpMs: number;
  /** When the follower last fetched (monotonic ms); -1 before its first fetch. */
  lastFetchMs: number;
  /** The leader's log end at that fetch; -1 before the first. */
  lastFetchLeaderLogEnd: number;
}

/** A follower's progress before it has fetched from this leader. */
export function unknownProgress(lastCaughtUpMs: number): FollowerProgress {
  return { logEndOffset: -1, lastCaughtUpMs, lastFetchMs: -1, lastFetchLeaderLogEnd: -1 };
}

/** The follower's progress after a fetch at `fetchOffset` while the leader's log ends at `leaderLogEnd`. */
export function afterFetch(prev: FollowerProgress, fetchOffset: number, leaderLogEnd: number, nowMs: number): FollowerProgress {
  let lastCaughtUpMs = prev.lastCaughtUpMs;
  if (fetchOffset >= leaderLogEnd) lastCaughtUpMs = Math.max(lastCaughtUpMs, nowMs);
  else if (prev.lastFetchMs >= 0 && fetchOffset >= prev.lastFetchLeaderLogEnd) lastCaughtUpMs = Math.max(lastCaughtUpMs, prev.lastFetchMs);
  return { logEndOffset: fetchOffset, lastCaughtUpMs, lastFetchMs: nowMs, lastFetchLeaderLogEnd: leaderLogEnd };
}

/** Kafka's "caught up": at the leader's log end, or caught up within the last `lagMaxMs`. */
export function isCaughtUp(p: FollowerProgress, leaderLogEnd: number, nowMs: number, lagMaxMs: number): boolean {
  return p.logEndOffset === leaderLogEnd || nowMs - p.lastCaughtUpMs <= lagMaxMs;
}

export interface HighWatermarkInput {
  self: number;
  current: number;
  leaderLogEnd: number;
  /** The maximal ISR: committed members plus those of a pending expansion. */
  isr: readonly number[];
  progress: ReadonlyMap<number, FollowerProgress>;
}

/** The high watermark: the smallest log end over the (maximal) ISR, never below `current`. */
export function highWatermarkOf(i: HighWatermarkInput): number {
  let hw = i.leaderLogEnd;
  for (const r of i.isr) {
    if (r === i.self) continue;
    const end = i.progress.get(r)?.logEndOffset ?? -1;
    hw = Math.min(hw, end);
  }
  return Math.max(i.current, hw);
}

/** ISR members that have fallen behind for longer than `lagMaxMs`, in ISR order. */
export function laggingReplicas(opts: {
  self: number;
  isr: readonly number[];
  progress: ReadonlyMap<number, FollowerProgress>;
  leaderLogEnd: number;
  nowMs: number;
  lagMaxMs: number;
}): number[] {
  return opts.isr.filter((r) => {
    if (r === opts.self) return false;
    const p = opts.progress.get(r);
    return p === undefined || !isCaughtUp(p, opts.leaderLogEnd, opts.nowMs, opts.lagMaxMs);
  });
}

/** Replicas outside the ISR whose log end has reached the high watermark and the leader epoch's start, in replica order. */
export function caughtUpReplicas(opts: {
  self: number;
  replicas: readonly number[];
  isr: readonly number[];
  progress: ReadonlyMap<number, FollowerProgress>;
  highWatermark: number;
  leaderEpochStartOffset: number;
}): number[] {
  return opts.replicas.filter((r) => {
    if (r === opts.self || opts.isr.includes(r)) return false;
    const end = opts.progress.get(r)?.logEndOffset ?? -1;
    return end >= opts.highWatermark && end >= opts.leaderEpochStartOffset;
  });
}

export type IsrProposal = { kind: 'shrink'; isr: number[]; removed: number[] } | { kind: 'expand'; isr: number[]; added: number[] };

export interface LeaderIsrOptions {
  self: number;
  replicas: readonly number[];
  isr: readonly number[];
  partitionEpoch: number;
  /** Where the high watermark starts (what this replica last knew, at most its log end). */
  highWatermark: number;
  /** The leader's log end when it became leader. */
  leaderEpochStartOffset: number;
  lagMaxMs: number;
  retryBackoffMs: number;
  nowMs: number;
}

/** The leader's ISR state for one partition. Mutated only through its methods; no I/O. */
export class LeaderIsr {
  readonly self: number;
  private replicaList: number[];
  private committed: number[];
  private epoch: number;
  private pendingProposal: IsrProposal | null = null;
  private notBeforeMs = 0;
  private hw: number;
  private readonly epochStart: number;
  private readonly lagMaxMs: number;
  private readonly retryBackoffMs: number;
  private readonly progress = new Map<number, FollowerProgress>();

  constructor(o: LeaderIsrOptions) {
    if (!o.isr.includes(o.self)) throw new Error(`leader ${o.self} is not in its ISR ${JSON.stringify(o.isr)}`);
    this.self = o.self;
    this.replicaList = [...o.replicas];
    this.committed = [...o.isr];
    this.epoch = o.partitionEpoch;
    this.hw = o.highWatermark;
    this.epochStart = o.leaderEpochStartOffset;
    this.lagMaxMs = o.lagMaxMs;
    this.retryBackoffMs = o.retryBackoffMs;
    // ISR members get a full lag period to show up, as in Kafka; the others have never been caught up.
    for (const r of o.replicas) if (r !== o.self) this.progress.set(r, unknownProgress(o.isr.includes(r) ? o.nowMs : -Infinity));
  }

  get isr(): readonly number[] {
    return this.committed;
  }
  get partitionEpoch(): number {
    return this.epoch;
  }
  get replicas(): readonly number[] {
    return this.replicaList;
  }
  get highWatermark(): number {
    return this.hw;
  }
  get pending(): IsrProposal | null {
    return this.pendingProposal;
  }
  progressOf(replica: number): FollowerProgress | undefined {
    return this.progress.get(replica);
  }

  /** Committed members plus those of a pending expansion. */
  maximalIsr(): number[] {
    const p = this.pendingProposal;
    if (p === null || p.kind === 'shrink') return [...this.committed];
    return [...new Set([...this.committed, ...p.isr])];
  }

  /** Records a follower's fetch; false when `replica` is not a follower of this partition (ignored). */
  recordFetch(replica: number, fetchOffset: number, leaderLogEnd: number, nowMs: number): boolean {
    const prev = this.progress.get(replica);
    if (prev === undefined) return false;
    this.progress.set(replica, afterFetch(prev, fetchOffset, leaderLogEnd, nowMs));
    return true;
  }

  /** Recomputes the high watermark for the leader's log end; true when it advanced. */
  updateHighWatermark(leaderLogEnd: number): boolean {
    const next = highWatermarkOf({ self: this.self, current: this.hw, leaderLogEnd, isr: this.maximalIsr(), progress: this.progress });
    if (next <= this.hw) return false;
    this.hw = next;
    return true;
  }

  /**
   * The ISR change to ask the controller for now, or null; a non-null answer is pending
   * until `settle`. Shrinking (lagging members) comes before expanding (caught-up ones).
   */
  propose(leaderLogEnd: number, nowMs: number): IsrProposal | null {
    if (this.pendingProposal !== null || nowMs < this.notBeforeMs) return null;
    const lagging = laggingReplicas({ self: this.self, isr: this.committed, progress: this.progress, leaderLogEnd, nowMs, lagMaxMs: this.lagMaxMs });
    if (lagging.length > 0) {
      this.pendingProposal = { kind: 'shrink', isr: this.committed.filter((r) => !lagging.includes(r)), removed: lagging };
      return this.pendingProposal;
    }
    const ready = caughtUpReplicas({
      self: this.self,
      replicas: this.replicaList,
      isr: this.committed,
      progress: this.progress,
      highWatermark: this.hw,
      leaderEpochStartOffset: this.epochStart,
    });
    if (ready.length > 0) {
      this.pendingProposal = { kind: 'expand', isr: [...this.committed, ...ready], added: ready };
      return this.pendingProposal;
    }
    return null;
  }

  /**
   * The controller answered the pending proposal: with the partition as it now is
   * (accepted, or refused because it had changed meanwhile), or not at all (null: refused
   * outright or unreachable; no new proposal before the backoff).
   */
  settle(answer: { isr: readonly number[]; partitionEpoch: number; replicas: readonly number[] } | null, nowMs: number): void {
    this.pendingProposal = null;
    if (answer === null) {
      this.notBeforeMs = nowMs + this.retryBackoffMs;
      return;
    }
    this.applyCommitted(answer, nowMs);
  }

  /** A committed state from the controller (an answer or a metadata version); older epochs are ignored. */
  applyCommitted(state: { isr: readonly number[]; partitionEpoch: number; replicas: readonly number[] }, nowMs: number): boolean {
    if (state.partitionEpoch <= this.epoch) return false;
    this.epoch = state.partitionEpoch;
    this.committed = [...state.isr];
    this.replicaList = [...state.replicas];
    for (const r of state.replicas) if (r !== this.self && !this.progress.has(r)) this.progress.set(r, unknownProgress(state.isr.includes(r) ? nowMs : -Infinity));
    for (const r of [...this.progress.keys()]) if (!state.replicas.includes(r)) this.progress.delete(r);
    return true;
  }
}
