/**
 * Failover and ownership decisions: pure functions from the metadata state to the
 * records that change it. Nothing here does I/O or reads a clock; the controller decides
 * *when* (a lease ran out, a broker registered, an admin asked) and these decide *what*.
 *
 * Rules (every ownership change bumps the partition's leaderEpoch; every change of
 * leader, replicas or ISR bumps its partitionEpoch):
 *  - shared-storage: a partition has one owner (replicas = isr = [owner]). When the owner
 *    dies its partitions go offline (leader -1, replicas still naming the last owner) and
 *    are recorded as a pending failover; once the beforeReassign hook has fenced the dead
 *    broker, each goes back to its last owner if that broker id is eligible again (a
 *    restarted process), else to the eligible broker with the fewest owned partitions (of
 *    that topic first). Offline partitions without a pending failover are given owners
 *    the same way whenever a broker becomes eligible, so that a cluster restarted as a
 *    whole gets its old placement back rather than everything on the first broker up.
 *  - shared-storage hand-over: moving a partition whose owner is alive (admin, drain,
 *    rebalance) only names the target (`handoverTo`); the owner uploads what it holds and
 *    releases the partition (handover.ts), and only then does ownership move. Planning
 *    counts a partition as its target's. If the owner dies meanwhile the target is kept
 *    as the preferred next owner of its failover; if the target dies, the hand-over is
 *    dropped and the owner keeps the partition.
 *  - shared-nothing: a dead broker leaves every ISR it is in, except as the last member
 *    (Kafka keeps the last ISR member so that it can return as leader). The leader is the
 *    first live replica, in replica order, that is in the ISR; with
 *    `unclean.leader.election.enable=true` a live replica outside the ISR may lead (and
 *    becomes the whole ISR); otherwise the partition is offline (leader -1) until an ISR
 *    member returns.
 */
import { topicConfigValue } from '../src/metadata/topic-configs.ts';
import { Tally, pickBroker, type PartitionUnits, type PlacementBroker } from './placement.ts';
import { eligibleBrokers, type MetadataRecord, type MetadataState, type PartitionRef, type PartitionState, type TopicState } from './state.ts';

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The partition with the given leader/replicas/isr, its epochs bumped as the rules say. */
export function withAssignment(p: PartitionState, next: { leader: number; replicas: number[]; isr: number[] }): PartitionState {
  const leaderChanged = next.leader !== p.leader;
  const changed = leaderChanged || !sameList(next.replicas, p.replicas) || !sameList(next.isr, p.isr);
  if (!changed) return p;
  return {
    index: p.index,
    leader: next.leader,
    leaderEpoch: leaderChanged ? p.leaderEpoch + 1 : p.leaderEpoch,
    partitionEpoch: p.partitionEpoch + 1,
    replicas: next.replicas,
    isr: next.isr,
  };
}

/** shared-nothing: the ISR and leader after the set of live brokers changed. */
export function electSharedNothing(p: PartitionState, live: ReadonlySet<number>, unclean: boolean): PartitionState {
  let isr = p.isr.filter((b) => live.has(b));
  // Kafka never empties the ISR: the last member stays recorded, so that only it may
  // lead again (unless unclean election is allowed).
  if (isr.length === 0) isr = p.isr.includes(p.leader) ? [p.leader] : [...p.isr];
  let leader = p.leader >= 0 && live.has(p.leader) && isr.includes(p.leader) ? p.leader : -1;
  if (leader < 0) leader = p.replicas.find((r) => live.has(r) && isr.includes(r)) ?? -1;
  if (leader < 0 && unclean) {
    leader = p.replicas.find((r) => live.has(r)) ?? -1;
    if (leader >= 0) isr = [leader];
  }
  return withAssignment(p, { leader, replicas: p.replicas, isr });
}

/**
 * shared-nothing: the partition with a new replica list (a reassignment). The ISR keeps
 * the live members that stay; the leader stays if it can, else the first live ISR
 * member in the new order. If none of the new replicas is in the ISR, the first live
 * one leads alone: moving the data itself belongs to the storage engine.
 */
export function withReplicas(p: PartitionState, replicas: number[], live: ReadonlySet<number>): PartitionState {
  let isr = p.isr.filter((b) => replicas.includes(b) && live.has(b));
  let leader = isr.includes(p.leader) ? p.leader : (replicas.find((r) => isr.includes(r)) ?? -1);
  if (leader < 0) {
    leader = replicas.find((r) => live.has(r)) ?? -1;
    isr = leader >= 0 ? [leader] : [];
  }
  return withAssignment(p, { leader, replicas, isr });
}

/** shared-storage: the partition owned by `owner` (an ownership change ends any hand-over). */
export function withOwner(p: PartitionState, owner: number): PartitionState {
  return withAssignment(p, { leader: owner, replicas: [owner], isr: [owner] });
}

/** shared-storage: the partition with a hand-over to `to` (undefined: none). Not an ownership change. */
export function withHandover(p: PartitionState, to: number | undefined): PartitionState {
  if (p.handoverTo === to) return p;
  const { handoverTo: _old, ...rest } = p;
  return to === undefined ? rest : { ...rest, handoverTo: to };
}

function pendingFailoverOf(state: MetadataState, topicId: string, partition: number): boolean {
  for (const refs of state.pendingFailovers.values()) if (refs.some((r) => r.topicId === topicId && r.partition === partition)) return true;
  return false;
}

/**
 * shared-storage: a move of partition `p` of topic `t` to `to`. A live owner hands the
 * partition over (or keeps it, when `to` is the owner itself: any hand-over is
 * cancelled); an offline partition waiting for its dead owner's WAL recovery keeps `to`
 * as the owner it gets afterwards; any other offline partition is assigned at once
 * (there are no writes in flight to lose).
 */
export function moveOwner(state: MetadataState, t: TopicState, p: PartitionState, to: number): PartitionState {
  if (p.leader >= 0) return withHandover(p, to === p.leader ? undefined : to);
  if (pendingFailoverOf(state, t.id, p.index)) return withHandover(p, to);
  return withOwner(p, to);
}

export function uncleanAllowed(topic: TopicState): boolean {
  return topicConfigValue('unclean.leader.election.enable', topic.config) === 'true';
}

function liveSet(state: MetadataState, except?: number): Set<number> {
  const out = new Set<number>();
  for (const b of state.brokers.values()) if (b.alive && b.id !== except) out.add(b.id);
  return out;
}

/** What each broker holds, in placement terms, for this mode. */
export function unitsOf(state: MetadataState): PartitionUnits[] {
  const out: PartitionUnits[] = [];
  for (const t of state.topics.values()) {
    for (const p of t.partitions) {
      // A partition being handed over counts as its target's: that is where it is going.
      const owner = p.handoverTo ?? p.leader;
      const holders = state.mode === 'shared-storage' ? (owner >= 0 ? [owner] : []) : p.replicas;
      out.push({ topic: t.name, partition: p.index, holders });
    }
  }
  return out;
}

function placementBrokers(state: MetadataState): PlacementBroker[] {
  return eligibleBrokers(state).map((b) => ({ id: b.id, rack: b.rack }));
}

/**
 * shared-storage: the owner for an offline partition: the target of its interrupted
 * hand-over if eligible, else its last owner if eligible, else the least loaded.
 */
function ownerFor(p: PartitionState, topic: string, brokers: readonly PlacementBroker[], tally: Tally): PlacementBroker | undefined {
  const last = p.replicas[0];
  return brokers.find((b) => b.id === p.handoverTo) ?? brokers.find((b) => b.id === last) ?? pickBroker({ topic, candidates: brokers, tally });
}

/**
 * A broker died (its lease ran out, or it shut down): the records that declare it dead
 * and take away what it led. In shared-storage mode its partitions go offline and a
 * pending failover is recorded; `planFailoverCompletion` finishes it. `uploaded`: the
 * broker shut down cleanly with nothing left in its WAL, so the failover needs no WAL
 * recovery (unless an earlier failover of the same broker is still pending).
 */
export function planBrokerDeath(state: MetadataState, deadId: number, opts: { uploaded?: boolean } = {}): MetadataRecord[] {
  const dead = state.brokers.get(deadId);
  if (!dead?.alive) return [];
  const records: MetadataRecord[] = [{ type: 'broker-dead', id: deadId }];
  if (state.mode === 'shared-storage') {
    // A broker that died again before its previous failover finished: keep those too.
    const earlier = state.pendingFailovers.get(deadId);
    const refs: PartitionRef[] = [...(earlier ?? [])];
    for (const t of state.topics.values()) {
      for (const p of t.partitions) {
        if (p.leader === deadId) {
          // The target of an interrupted hand-over stays named: it is the preferred next owner.
          const offline = withAssignment(p, { leader: -1, replicas: p.replicas, isr: p.isr });
          records.push({ type: 'partition-changed', topic: t.name, partition: withHandover(offline, p.handoverTo === deadId ? undefined : p.handoverTo) });
          refs.push({ topic: t.name, topicId: t.id, partition: p.index });
        } else if (p.handoverTo === deadId) {
          // The target died: the owner keeps the partition and takes writes again.
          records.push({ type: 'partition-changed', topic: t.name, partition: withHandover(p, undefined) });
        }
      }
    }
    // Recorded even when empty, so that the hook fences the dead broker's WAL log in all cases.
    const uploaded = opts.uploaded === true && earlier === undefined;
    records.push({ type: 'failover-pending', brokerId: deadId, partitions: refs, ...(uploaded ? { uploaded: true } : {}) });
    return records;
  }
  const live = liveSet(state, deadId);
  for (const t of state.topics.values()) {
    const unclean = uncleanAllowed(t);
    for (const p of t.partitions) {
      if (!p.replicas.includes(deadId) && !p.isr.includes(deadId) && p.leader !== deadId) continue;
      const next = electSharedNothing(p, live, unclean);
      if (next !== p) records.push({ type: 'partition-changed', topic: t.name, partition: next });
    }
  }
  return records;
}

/**
 * shared-storage: the beforeReassign hook for `deadId` has finished; its offline
 * partitions get owners. Partitions deleted or re-created meanwhile, or given an owner by
 * an admin, are skipped. Without an eligible broker they stay offline (and are picked up
 * by `planOfflineRecovery` when one registers).
 */
export function planFailoverCompletion(state: MetadataState, deadId: number): MetadataRecord[] {
  const refs = state.pendingFailovers.get(deadId);
  if (!refs) return [];
  const records: MetadataRecord[] = [];
  const brokers = placementBrokers(state);
  const tally = Tally.of(unitsOf(state));
  for (const ref of refs) {
    const t = state.topics.get(ref.topic);
    const p = t?.id === ref.topicId ? t.partitions[ref.partition] : undefined;
    if (!p || p.leader >= 0) continue;
    const owner = ownerFor(p, ref.topic, brokers, tally);
    if (!owner) continue;
    tally.add(ref.topic, owner.id);
    records.push({ type: 'partition-changed', topic: ref.topic, partition: withOwner(p, owner.id) });
  }
  records.push({ type: 'failover-done', brokerId: deadId });
  return records;
}

/**
 * Offline partitions that can be brought back now: in shared-storage mode those not
 * waiting for a failover hook get the least-loaded eligible owner; in shared-nothing
 * mode leaders are elected again (an ISR member may have come back).
 */
export function planOfflineRecovery(state: MetadataState): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  if (state.mode === 'shared-storage') {
    const pending = new Set<string>();
    for (const refs of state.pendingFailovers.values()) for (const r of refs) pending.add(`${r.topicId}\u0000${r.partition}`);
    const brokers = placementBrokers(state);
    const tally = Tally.of(unitsOf(state));
    for (const t of state.topics.values()) {
      for (const p of t.partitions) {
        if (p.leader >= 0 || pending.has(`${t.id}\u0000${p.index}`)) continue;
        const owner = ownerFor(p, t.name, brokers, tally);
        if (!owner) return records;
        tally.add(t.name, owner.id);
        records.push({ type: 'partition-changed', topic: t.name, partition: withOwner(p, owner.id) });
      }
    }
    return records;
  }
  const live = liveSet(state);
  for (const t of state.topics.values()) {
    const unclean = uncleanAllowed(t);
    for (const p of t.partitions) {
      if (p.leader >= 0) continue;
      const next = electSharedNothing(p, live, unclean);
      if (next !== p) records.push({ type: 'partition-changed', topic: t.name, partition: next });
    }
  }
  return records;
}

/**
 * The records that carry out unit moves (from a drain, a rebalance or an admin); in
 * shared-storage mode a move of a live owner's partition is a hand-over (see moveOwner).
 */
export function planMoves(state: MetadataState, moves: readonly { topic: string; partition: number; from: number; to: number }[]): MetadataRecord[] {
  const live = liveSet(state);
  const next = new Map<string, { topic: string; p: PartitionState }>();
  for (const m of moves) {
    const k = `${m.topic}\u0000${m.partition}`;
    const p = next.get(k)?.p ?? state.topics.get(m.topic)?.partitions[m.partition];
    if (!p) continue;
    const t = state.topics.get(m.topic);
    if (!t) continue;
    const moved =
      state.mode === 'shared-storage'
        ? moveOwner(state, t, p, m.to)
        : withReplicas(
            p,
            p.replicas.map((r) => (r === m.from ? m.to : r)),
            live,
          );
    next.set(k, { topic: m.topic, p: moved });
  }
  const records: MetadataRecord[] = [];
  for (const { topic, p } of next.values()) {
    if (p !== state.topics.get(topic)?.partitions[p.index]) records.push({ type: 'partition-changed', topic, partition: p });
  }
  return records;
}
