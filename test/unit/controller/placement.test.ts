import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tally, placePartitions, planDrain, planRebalance, zoneOf, type PartitionUnits, type PlacementBroker } from '../../../controller/placement.ts';

const brokers = (...racks: (string | null)[]): PlacementBroker[] => racks.map((rack, i) => ({ id: i + 1, rack }));
const zonesOf = (bs: PlacementBroker[]): Map<number, string> => new Map(bs.map((b) => [b.id, zoneOf(b)]));

function place(bs: PlacementBroker[], count: number, rf: number, topic = 't', leaders = new Tally(), replicas = new Tally()): number[][] {
  return placePartitions({ topic, count, replicationFactor: rf, brokers: bs, leaders, replicas });
}

function countBy(lists: number[][], pick: (l: number[]) => number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const l of lists) for (const b of pick(l)) m.set(b, (m.get(b) ?? 0) + 1);
  return m;
}

describe('placePartitions', () => {
  const cases: { name: string; brokers: PlacementBroker[]; count: number; rf: number; leaders: Record<number, number>; replicas: Record<number, number> }[] = [
    { name: '12 partitions over 3 brokers', brokers: brokers(null, null, null), count: 12, rf: 1, leaders: { 1: 4, 2: 4, 3: 4 }, replicas: { 1: 4, 2: 4, 3: 4 } },
    { name: '12 partitions, rf 3 over 3 brokers', brokers: brokers('a', 'b', 'c'), count: 12, rf: 3, leaders: { 1: 4, 2: 4, 3: 4 }, replicas: { 1: 12, 2: 12, 3: 12 } },
    { name: '12 partitions, rf 2 over 3 brokers', brokers: brokers(null, null, null), count: 12, rf: 2, leaders: { 1: 4, 2: 4, 3: 4 }, replicas: { 1: 8, 2: 8, 3: 8 } },
    { name: '12 partitions, rf 3 over 6 brokers in 3 zones', brokers: brokers('a', 'a', 'b', 'b', 'c', 'c'), count: 12, rf: 3, leaders: { 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2 }, replicas: { 1: 6, 2: 6, 3: 6, 4: 6, 5: 6, 6: 6 } },
    { name: '5 partitions over 2 brokers', brokers: brokers(null, null), count: 5, rf: 1, leaders: { 1: 3, 2: 2 }, replicas: { 1: 3, 2: 2 } },
  ];
  for (const c of cases) {
    it(`balances: ${c.name}`, () => {
      const lists = place(c.brokers, c.count, c.rf);
      expect(lists).toHaveLength(c.count);
      expect(Object.fromEntries(countBy(lists, (l) => l.slice(0, 1)))).toEqual(c.leaders);
      expect(Object.fromEntries(countBy(lists, (l) => l))).toEqual(c.replicas);
      for (const l of lists) expect(new Set(l).size).toBe(c.rf);
    });
  }

  it('spreads the replicas of each partition over distinct zones', () => {
    const bs = brokers('a', 'a', 'b', 'b', 'c', 'c');
    for (const l of place(bs, 12, 3)) {
      expect(new Set(l.map((id) => bs[id - 1]?.rack)).size).toBe(3);
    }
  });

  it('spreads single-replica leaders over zones before filling one zone', () => {
    const bs = brokers('a', 'a', 'b', 'b');
    const lists = place(bs, 2, 1);
    expect(new Set(lists.map((l) => bs[(l[0] ?? 0) - 1]?.rack))).toEqual(new Set(['a', 'b']));
  });

  it('uses every zone when there are fewer zones than replicas', () => {
    const bs = brokers('a', 'a', 'b');
    for (const l of place(bs, 6, 3)) expect(new Set(l.map((id) => bs[id - 1]?.rack))).toEqual(new Set(['a', 'b']));
  });

  it('puts a new single-partition topic on the broker with the fewest partitions in the cluster', () => {
    const leaders = new Tally();
    const replicas = new Tally();
    place(brokers(null, null, null), 2, 1, 'old', leaders, replicas);
    expect(place(brokers(null, null, null), 1, 1, 'new', leaders, replicas)).toEqual([[3]]);
  });

  it('refuses a replication factor larger than the brokers', () => {
    expect(() => place(brokers(null, null), 1, 3)).toThrow(RangeError);
  });

  it('keeps its invariants for any brokers, zones and factor', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null }), { minLength: 1, maxLength: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (racks, count, rfWanted) => {
          const bs = brokers(...racks);
          const rf = Math.min(rfWanted, bs.length);
          const lists = place(bs, count, rf);
          const zoneCount = new Set(bs.map(zoneOf)).size;
          for (const l of lists) {
            expect(new Set(l).size).toBe(rf);
            expect(new Set(l.map((id) => zoneOf(bs[id - 1] ?? { id, rack: null }))).size).toBe(Math.min(rf, zoneCount));
          }
          const leaders = countBy(lists, (l) => l.slice(0, 1));
          const counts = bs.map((b) => leaders.get(b.id) ?? 0);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});

function units(topic: string, holders: number[][]): PartitionUnits[] {
  return holders.map((h, partition) => ({ topic, partition, holders: h }));
}

describe('planDrain', () => {
  it('moves every unit of the drained broker to the least-loaded others', () => {
    const bs = brokers(null, null, null);
    const parts = units('t', [[1], [2], [3], [1], [2], [3], [1], [2], [3]]);
    const moves = planDrain({ brokerId: 3, eligible: bs.filter((b) => b.id !== 3), zones: zonesOf(bs), partitions: parts });
    expect(moves?.map((m) => m.partition)).toEqual([2, 5, 8]);
    expect(moves?.every((m) => m.from === 3 && m.to !== 3)).toBe(true);
    const after = new Map<number, number>();
    for (const p of parts) {
      const to = moves?.find((m) => m.partition === p.partition)?.to ?? p.holders[0] ?? 0;
      after.set(to, (after.get(to) ?? 0) + 1);
    }
    expect(Math.abs((after.get(1) ?? 0) - (after.get(2) ?? 0))).toBeLessThanOrEqual(1);
  });

  it('replaces a replica with a broker in a zone the partition does not use yet', () => {
    const bs = brokers('a', 'b', 'c', 'c', 'a');
    const moves = planDrain({ brokerId: 3, eligible: bs.filter((b) => b.id !== 3), zones: zonesOf(bs), partitions: units('t', [[1, 2, 3]]) });
    expect(moves).toEqual([{ topic: 't', partition: 0, from: 3, to: 4 }]);
  });

  it('answers null when no broker can take a unit', () => {
    const bs = brokers(null, null);
    expect(planDrain({ brokerId: 2, eligible: bs.filter((b) => b.id !== 2), zones: zonesOf(bs), partitions: units('t', [[1, 2]]) })).toBeNull();
  });

  it('moves nothing for a broker that holds nothing', () => {
    const bs = brokers(null, null, null);
    expect(planDrain({ brokerId: 3, eligible: bs.slice(0, 2), zones: zonesOf(bs), partitions: units('t', [[1], [2]]) })).toEqual([]);
  });
});

describe('planRebalance', () => {
  function after(parts: PartitionUnits[], moves: { topic: string; partition: number; from: number; to: number }[]): PartitionUnits[] {
    const out = parts.map((p) => ({ ...p, holders: [...p.holders] }));
    for (const m of moves) {
      const p = out.find((q) => q.topic === m.topic && q.partition === m.partition);
      if (!p) throw new Error('move of an unknown partition');
      expect(p.holders).toContain(m.from);
      expect(p.holders).not.toContain(m.to);
      p.holders = p.holders.map((h) => (h === m.from ? m.to : h));
    }
    return out;
  }
  const spread = (parts: PartitionUnits[], ids: number[], topic?: string): number => {
    const t = Tally.of(parts);
    const counts = ids.map((id) => (topic ? t.topicCount(topic, id) : t.count(id)));
    return Math.max(...counts) - Math.min(...counts);
  };

  it('gives a broker added to 3 brokers its fair share of a 12-partition topic, with the fewest moves', () => {
    const bs = brokers(null, null, null, null);
    const parts = units('t', [[1], [2], [3], [1], [2], [3], [1], [2], [3], [1], [2], [3]]);
    const moves = planRebalance({ eligible: bs, zones: zonesOf(bs), partitions: parts });
    expect(moves).toHaveLength(3);
    expect(moves.every((m) => m.to === 4)).toBe(true);
    expect(spread(after(parts, moves), [1, 2, 3, 4], 't')).toBe(0);
  });

  it('moves nothing when balanced', () => {
    const bs = brokers(null, null, null);
    expect(planRebalance({ eligible: bs, zones: zonesOf(bs), partitions: units('t', [[1], [2], [3], [1]]) })).toEqual([]);
  });

  it('balances each topic and the cluster when topics sit on different brokers', () => {
    const bs = brokers(null, null);
    const parts = [...units('a', [[1], [1], [1], [1]]), ...units('b', [[2], [2]])];
    const moves = planRebalance({ eligible: bs, zones: zonesOf(bs), partitions: parts });
    const res = after(parts, moves);
    expect(spread(res, [1, 2], 'a')).toBe(0);
    expect(spread(res, [1, 2], 'b')).toBe(0);
    expect(spread(res, [1, 2])).toBe(0);
  });

  it('never lowers the number of zones a partition spans', () => {
    const bs = brokers('a', 'b', 'a');
    const parts = units('t', [[1, 2], [1, 2], [1, 2]]);
    const moves = planRebalance({ eligible: bs, zones: zonesOf(bs), partitions: parts });
    expect(moves.length).toBeGreaterThan(0);
    for (const p of after(parts, moves)) expect(new Set(p.holders.map((h) => bs[h - 1]?.rack)).size).toBe(2);
    for (const m of moves) expect(m.from).toBe(1);
  });

  it('leaves units of ineligible (dead or draining) brokers alone', () => {
    const bs = brokers(null, null, null);
    const moves = planRebalance({ eligible: bs.slice(0, 2), zones: zonesOf(bs), partitions: units('t', [[3], [3], [3], [1]]) });
    expect(moves.every((m) => m.from !== 3)).toBe(true);
  });
});
