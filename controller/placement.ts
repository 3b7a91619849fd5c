/**
 * Placement: which brokers hold which partitions. Pure functions over counts; no I/O,
 * no clock, deterministic (ties broken by broker id), so every decision is reproducible
 * and tested by tables of cases.
 *
 * Goals, in order:
 *  1. the replicas of one partition are on distinct brokers, and on distinct zones
 *     whenever enough zones have eligible brokers (a broker without a zone label counts
 *     as a zone of its own);
 *  2. each topic is spread evenly (its partitions' leaders, then replicas, differ by at
 *     most one between brokers when placed from scratch), so a topic's load uses every
 *     broker;
 *  3. the cluster is spread evenly (counts over all topics break ties of 2), and within
 *     that, leaders are spread over zones.
 *
 * A "unit" is what a broker holds of a partition: in shared-storage mode the ownership
 * (leader) only; in shared-nothing mode each replica. Drains and rebalances move units.
 */

export interface PlacementBroker {
  id: number;
  rack: string | null;
}

/** A partition as placement sees it: who holds its units. */
export interface PartitionUnits {
  topic: string;
  partition: number;
  /** shared-storage: [owner] (or [] when offline); shared-nothing: the replica list. */
  holders: number[];
}

export interface Move {
  topic: string;
  partition: number;
  from: number;
  to: number;
}

/** Brokers without a zone label are each a zone of their own. */
export function zoneOf(b: PlacementBroker): string {
  return b.rack ?? `\u0000broker-${b.id}`;
}

/** Units per broker: over the whole cluster and per topic. */
export class Tally {
  private readonly total = new Map<number, number>();
  private readonly byTopic = new Map<string, Map<number, number>>();

  add(topic: string, broker: number, n = 1): void {
    this.total.set(broker, (this.total.get(broker) ?? 0) + n);
    let t = this.byTopic.get(topic);
    if (!t) this.byTopic.set(topic, (t = new Map<number, number>()));
    t.set(broker, (t.get(broker) ?? 0) + n);
  }
  remove(topic: string, broker: number): void {
    this.add(topic, broker, -1);
  }
  count(broker: number): number {
    return this.total.get(broker) ?? 0;
  }
  topicCount(topic: string, broker: number): number {
    return this.byTopic.get(topic)?.get(broker) ?? 0;
  }

  static of(partitions: Iterable<PartitionUnits>): Tally {
    const t = new Tally();
    for (const p of partitions) for (const h of p.holders) t.add(p.topic, h);
    return t;
  }
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The best broker for one more unit of `topic`: first one whose zone is not in
 * `avoidZones`, then the fewest units of this topic, then the fewest units in all, then
 * the zone with the fewest units of this topic, then the lowest id.
 */
export function pickBroker(opts: { topic: string; candidates: readonly PlacementBroker[]; tally: Tally; avoidZones?: ReadonlySet<string> }): PlacementBroker | undefined {
  const { topic, candidates, tally } = opts;
  const zoneTopic = new Map<string, number>();
  for (const c of candidates) zoneTopic.set(zoneOf(c), (zoneTopic.get(zoneOf(c)) ?? 0) + tally.topicCount(topic, c.id));
  let best: PlacementBroker | undefined;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const key = [opts.avoidZones?.has(zoneOf(c)) ? 1 : 0, tally.topicCount(topic, c.id), tally.count(c.id), zoneTopic.get(zoneOf(c)) ?? 0, c.id];
    if (!best || compareKeys(key, bestKey) < 0) {
      best = c;
      bestKey = key;
    }
  }
  return best;
}

/**
 * Replica lists for `count` new partitions of `topic` (the first replica is the
 * preferred leader). Adds what it places to both tallies. The caller checks that
 * `replicationFactor` is in [1, brokers.length].
 */
export function placePartitions(opts: {
  topic: string;
  count: number;
  replicationFactor: number;
  brokers: readonly PlacementBroker[];
  leaders: Tally;
  replicas: Tally;
}): number[][] {
  const { topic, brokers, leaders, replicas } = opts;
  if (opts.replicationFactor < 1 || opts.replicationFactor > brokers.length) {
    throw new RangeError(`replication factor ${opts.replicationFactor} needs between 1 and ${brokers.length} brokers`);
  }
  const out: number[][] = [];
  for (let i = 0; i < opts.count; i++) {
    // The leader is chosen by leader counts, so that leadership spreads as evenly as replicas.
    const leader = pickBroker({ topic, candidates: brokers, tally: leaders });
    if (!leader) throw new RangeError('no broker to place a partition on');
    const chosen = [leader];
    const usedZones = new Set([zoneOf(leader)]);
    while (chosen.length < opts.replicationFactor) {
      const rest = brokers.filter((b) => !chosen.includes(b));
      const next = pickBroker({ topic, candidates: rest, tally: replicas, avoidZones: usedZones });
      if (!next) throw new RangeError('no broker left for a replica');
      chosen.push(next);
      usedZones.add(zoneOf(next));
    }
    leaders.add(topic, leader.id);
    for (const b of chosen) replicas.add(topic, b.id);
    out.push(chosen.map((b) => b.id));
  }
  return out;
}

/** Distinct zones of a holder list, under a zone map of every known broker. */
function zoneCount(holders: readonly number[], zones: ReadonlyMap<number, string>): number {
  return new Set(holders.map((h) => zones.get(h) ?? `\u0000broker-${h}`)).size;
}

/**
 * Moves every unit `brokerId` holds to another eligible broker (a drain). Returns null
 * when some unit has no broker to go to. `eligible` excludes the drained broker.
 */
export function planDrain(opts: {
  brokerId: number;
  eligible: readonly PlacementBroker[];
  zones: ReadonlyMap<number, string>;
  partitions: readonly PartitionUnits[];
}): Move[] | null {
  const tally = Tally.of(opts.partitions);
  const moves: Move[] = [];
  for (const p of opts.partitions) {
    if (!p.holders.includes(opts.brokerId)) continue;
    const others = p.holders.filter((h) => h !== opts.brokerId);
    const candidates = opts.eligible.filter((b) => !p.holders.includes(b.id));
    const avoidZones = new Set(others.map((h) => opts.zones.get(h) ?? `\u0000broker-${h}`));
    const to = pickBroker({ topic: p.topic, candidates, tally, avoidZones });
    if (!to) return null;
    tally.remove(p.topic, opts.brokerId);
    tally.add(p.topic, to.id);
    moves.push({ topic: p.topic, partition: p.partition, from: opts.brokerId, to: to.id });
  }
  return moves;
}

/**
 * Moves that even out units between eligible brokers: first within each topic (until
 * its counts differ by at most one), then over the cluster, by moves that do not undo
 * a topic's balance. A move never puts two replicas of a partition on one broker and
 * never lowers the number of zones a partition spans. Units held by ineligible brokers
 * (dead, draining) are left alone: failover and drain move those.
 */
export function planRebalance(opts: {
  eligible: readonly PlacementBroker[];
  zones: ReadonlyMap<number, string>;
  partitions: readonly PartitionUnits[];
}): Move[] {
  const eligible = [...opts.eligible].sort((a, b) => a.id - b.id);
  if (eligible.length < 2) return [];
  const holders = new Map(opts.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, [...p.holders]]));
  const tally = Tally.of(opts.partitions);
  const moves: Move[] = [];
  const topics = [...new Set(opts.partitions.map((p) => p.topic))].sort();
  const movesMax = opts.partitions.reduce((n, p) => n + p.holders.length, 0);

  const canMove = (p: PartitionUnits, from: number, to: number): boolean => {
    const hs = holders.get(`${p.topic}\u0000${p.partition}`) ?? [];
    if (!hs.includes(from) || hs.includes(to)) return false;
    const after = hs.map((h) => (h === from ? to : h));
    return zoneCount(after, opts.zones) >= zoneCount(hs, opts.zones);
  };
  const apply = (p: PartitionUnits, from: number, to: number): void => {
    const k = `${p.topic}\u0000${p.partition}`;
    holders.set(k, (holders.get(k) ?? []).map((h) => (h === from ? to : h)));
    tally.remove(p.topic, from);
    tally.add(p.topic, to);
    moves.push({ topic: p.topic, partition: p.partition, from, to });
  };

  // Pass 1: each topic on its own. The source is the broker with the most units of the
  // topic (ties: the most units in all); the destination the fewest (ties: fewest in all).
  for (const topic of topics) {
    const parts = opts.partitions.filter((p) => p.topic === topic);
    while (moves.length < movesMax) {
      const bySrc = [...eligible].sort((a, b) => compareKeys([-tally.topicCount(topic, a.id), -tally.count(a.id), a.id], [-tally.topicCount(topic, b.id), -tally.count(b.id), b.id]));
      const byDst = [...eligible].sort((a, b) => compareKeys([tally.topicCount(topic, a.id), tally.count(a.id), a.id], [tally.topicCount(topic, b.id), tally.count(b.id), b.id]));
      let moved = false;
      for (const src of bySrc) {
        for (const dst of byDst) {
          if (tally.topicCount(topic, src.id) - tally.topicCount(topic, dst.id) <= 1) break;
          const p = parts.find((q) => canMove(q, src.id, dst.id));
          if (p) {
            apply(p, src.id, dst.id);
            moved = true;
            break;
          }
        }
        if (moved) break;
      }
      if (!moved) break;
    }
  }

  // Pass 2: the cluster. Move only units of a topic the source holds more of than the
  // destination, so that pass 1's balance survives.
  while (moves.length < movesMax) {
    const bySrc = [...eligible].sort((a, b) => tally.count(b.id) - tally.count(a.id) || a.id - b.id);
    const byDst = [...eligible].sort((a, b) => tally.count(a.id) - tally.count(b.id) || a.id - b.id);
    let moved = false;
    for (const src of bySrc) {
      for (const dst of byDst) {
        if (tally.count(src.id) - tally.count(dst.id) <= 1) break;
        const p = opts.partitions.find((q) => tally.topicCount(q.topic, src.id) > tally.topicCount(q.topic, dst.id) && canMove(q, src.id, dst.id));
        if (p) {
          apply(p, src.id, dst.id);
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) break;
  }
  return moves;
}
